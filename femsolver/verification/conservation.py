"""Benchmark 8: conservation of charge and salt, and no anion flux through the electrodes.

- Charge: the working interface carries -i_app x projected area (anodic, the galvanostatic
  constraint) and the counter electrode +i_app x projected area (div i = 0 in between).
- Salt: a closed cell keeps integral of (c - c0) = 0, in time (the anion balance has no
  boundary flux) and in a steady solve (the inventory constraint).
- Anions: N- . n = 0 at the electrodes is the natural boundary condition of the salt balance.
  The flux through a boundary part G is measured as the variationally consistent flux
  (Hughes et al., Comput. Methods Appl. Mech. Eng. 190, 2000): with chi = 1 at the nodes of G
  and 0 elsewhere (P1),
      integral_G N- . n chi = integral (N- . grad chi - dc/dt chi) dx,
  assembled from the transport law (E2) and the time derivative, not from the residual. Any
  boundary term for the anions in the residual would show up here.
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from femsolver import tags
from femsolver.physics.constants import FARADAY
from femsolver.physics.electrolyte import anion_flux
from femsolver.problems.cell.problem import CellProblem
from femsolver.time_stepping import time_steps
from femsolver.verification import Row, relative_error, solving
from femsolver.verification.domains import rectangle_domain
from femsolver.verification.planar_steady import (
    C0,
    D_MINUS,
    D_PLUS,
    I0,
    QUIET,
    L,
    W,
    limiting_current,
    make_case,
    planar,
)
from femsolver.verification.planar_transient import concentration

TITLE = "8. Conservation"
# A two-dimensional cell: 30 % of the working interface active, the rest blocking.
W2, H2, T2 = 20e-6, 20e-6, 5e-6

SETUP = f"""\
Three cells, none refined (the checks are at round-off, whatever the level): (a) the closed planar
cell of benchmark 1 (ny = 40, P1), transient at 0.7 i_lim to t = 2 s from dt = 0.05 s (adaptive
steps), BDF1 and BDF2; every step is checked; at the end the spread c(L) - c(0) is compared with
the Fourier series of benchmark 2; (b) the same cell, steady, at 0.8 i_lim; (c) a 2D cell
{W2 * 1e6:g} um x {H2 * 1e6:g} um (16 x 16 triangles), the left 30 % of the working interface
active, BDF2 at 5 A/m2 to 0.2 s (the diffusion time H^2/(pi^2 D) is 0.04 s). Currents are integrals
of the Butler-Volmer current over each electrode divided by the projected width; salt is integral
of (c - c0)/c0 over the electrolyte divided by its area; anion fluxes are the consistent boundary
fluxes (module docstring) divided by the cation flux i_app W/F.

Reference: exact conservation laws of the model (docs/physics.md E4, E5, C1).
"""


class Balances:
    """Charge, salt and consistent anion fluxes of a CellProblem at its current state."""

    def __init__(self, p: CellProblem, width: float, height: float, comm):
        self.p, self.width, self.comm = p, width, comm
        el = p.case.electrolyte
        self.i_app = p.case.control.current_density
        self.volume = width * height
        V = p.space
        y = V.tabulate_dof_coordinates()[:, 1]
        dx = ufl.dx(domain=p.mesh_e)
        self.u_dot = fem.Function(V)
        self.older = fem.Function(V)  # u two steps back, for BDF2's derivative
        N = anion_flux(p.u, p.phi, p.model.D_anion)  # only grad phi enters: phi_ref drops out
        self.anion = {}
        for name, at in (("working", 0.0), ("counter", height)):
            chi = fem.Function(V)
            chi.x.array[np.isclose(y, at, rtol=0, atol=1e-9 * height)] = 1.0
            flux = el.c0 * (ufl.inner(N, ufl.grad(chi)) - self.u_dot * chi)
            self.anion[name] = fem.form(flux * dx)
        self.working = fem.form(p.i_working * p.dA, entity_maps=p.entity_maps)
        self.counter = fem.form(p.i_counter * p.ds(tags.COUNTER), entity_maps=p.entity_maps)
        self.salt = fem.form(p.u * dx)
        self.salt_magnitude = fem.form(abs(p.u) * dx)

    def _sum(self, form) -> float:
        return self.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def after_step(self) -> dict[str, float]:
        """Balances after an accepted step of `time_steps` (u_n = u, u_nn = the previous u)."""
        p = self.p
        a0, a1, a2 = (float(a.value) for a in p.bdf)
        self.u_dot.x.array[:] = a0 * p.u_values + a1 * p.u_nn.x.array + a2 * self.older.x.array
        values = self.now()
        self.older.x.array[:] = p.u_nn.x.array
        return values

    def now(self) -> dict[str, float]:
        """Relative errors: currents against i_app, salt against the volume (and against
        integral of |c - c0| for steady solves), anion fluxes against the cation flux."""
        cation = self.i_app * self.width / FARADAY
        return {
            "working": relative_error(self._sum(self.working) / self.width, -self.i_app),
            "counter": relative_error(self._sum(self.counter) / self.width, self.i_app),
            "salt": abs(self._sum(self.salt)) / self.volume,
            "salt_relative": abs(self._sum(self.salt)) / self._sum(self.salt_magnitude),
            "anion_working": abs(self._sum(self.anion["working"])) / cation,
            "anion_counter": abs(self._sum(self.anion["counter"])) / cation,
        }


def transient(case, domain, width, height, comm):
    """Largest balance errors over all steps, the problem and its last step."""
    p = CellProblem(case, domain)
    balances = Balances(p, width, height, comm)
    worst = {}
    with solving(p, comm) as newton:
        for step in time_steps(p, newton, case.time, QUIET):
            for key, value in balances.after_step().items():
                worst[key] = max(worst.get(key, 0.0), value)
    return worst, p, step


def _rows(name, worst, steady=False) -> list[Row]:
    over = "" if steady else ", largest over the steps"
    rows = [
        Row(name, f"working-electrode current / (-i_app){over}", 1.0, "C1",
            1.0 + worst["working"], worst["working"], "rel", 1e-8),
        Row(name, f"counter-electrode current / i_app{over}", 1.0, "div i = 0",
            1.0 + worst["counter"], worst["counter"], "rel", 1e-8),
    ]
    if steady:
        rows.append(Row(name, "salt: |integral (c - c0)| / integral |c - c0|", 0.0, "E5",
                        worst["salt_relative"], worst["salt_relative"], "abs", 1e-12))
    else:
        rows.append(Row(name, f"salt: |integral (c - c0)| / (c0 area){over}", 0.0, "E5",
                        worst["salt"], worst["salt"], "abs", 1e-13))
    rows += [Row(name, f"anion flux through the {e} electrode / cation flux{over}", 0.0,
                 "N- . n = 0", worst[f"anion_{e}"], worst[f"anion_{e}"], "abs", 1e-12)
             for e in ("working", "counter")]
    return rows


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    rows = []
    i_app = 0.7 * limiting_current()
    for scheme in ("bdf1", "bdf2"):
        case, domain = planar(40, comm, control={"current_density": i_app},
                              time={"end": 2.0, "dt": 0.05, "scheme": scheme})
        worst, p, step = transient(case, domain, W, L, comm)
        name = f"{TITLE}: closed planar cell, {scheme.upper()}"
        rows += _rows(name, worst)
        # The profile really developed, as the Fourier series says.
        c = C0 * (1 + p.u_values)
        spread = (comm.allreduce(np.max(c, initial=-np.inf), op=MPI.MAX)
                  - comm.allreduce(np.min(c, initial=np.inf), op=MPI.MIN))
        exact = np.ptp(concentration(np.array([0.0, L]), step.time, i_app))
        rows.append(Row(name, f"c(L) - c(0) (mol/m3) at t = {step.time:g} s", exact,
                        "benchmark 2's Fourier series", spread, relative_error(spread, exact),
                        "rel", 0.05))

    case, domain = planar(40, comm, control={"current_density": 0.8 * limiting_current()},
                          time={"mode": "steady"})
    p = CellProblem(case, domain)
    with solving(p, comm) as newton:
        if not newton.solve()[0]:
            raise RuntimeError("conservation: the steady planar cell did not converge")
    balances = Balances(p, W, L, comm).now()
    rows += _rows(f"{TITLE}: closed planar cell, steady", balances, steady=True)

    case = make_case(electrolyte={"D_cation": D_PLUS, "D_anion": D_MINUS, "c0": C0},
                     kinetics={"i0": I0}, control={"current_density": 5.0},
                     time={"end": 0.2, "dt": 0.01})
    domain = rectangle_domain(W2, H2, T2, 16, 16, 4, active=lambda x: x[0] < 0.3 * W2, comm=comm)
    worst, _, _ = transient(case, domain, W2, H2, comm)
    rows += _rows(f"{TITLE}: 2D cell, 30 % active, BDF2", worst)
    return rows
