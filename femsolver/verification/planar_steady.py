"""Benchmark 1: the steady planar Li | Li cell, dilute binary salt, closed and open.

One row of quadrilaterals makes the discrete problem exactly one-dimensional. In the steady
closed cell the anions do not move (N- = 0: they are blocked at both electrodes), so
f grad phi = grad c / c and the whole current is carried by the cations:
    i = F N+ = -2 F D+ grad c   ->   c(y) = c0 + i_app (y - L/2) / (2 F D+)
(the inventory fixes the mean at c0; (1 - t+)/D = 1/(2 D+) with the ambipolar D), and
    phi(0) - phi(L) = (RT/F) ln(c(0)/c(L)).
c(0) reaches 0 at i_lim = 4 F D+ c0 / L. An open cell (c = c0 held at the counter electrode by
a well-mixed reservoir) has c(y) = c0 + i_app (y - L) / (2 F D+) and half that limiting current.
"""

from __future__ import annotations

import numpy as np
from dolfinx.mesh import CellType
from mpi4py import MPI

from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.problems.cell.problem import CellProblem
from femsolver.verification import Row, observed_rate, relative_error, solving
from femsolver.verification.domains import make_case, rectangle_domain

TITLE = "1. Steady planar Li | Li cell"
L = 100e-6  # electrode gap, m
W = 5e-6  # strip width, m
T = 10e-6  # working-electrode slab, m
D_PLUS, D_MINUS = 1.5e-9, 0.8e-9  # t+ = 0.652
C0 = 1000.0
I0 = 10.0
TEMPERATURE = 298.15
QUIET = lambda message: None
SIZES = {0: (50, 100), 1: (50, 100, 200), 2: (50, 100, 200, 400), 3: (50, 100, 200, 400, 800)}

SETUP = f"""\
Two flat Li electrodes L = {L * 1e6:g} um apart, c0 = {C0:g} mol/m3, D+ = {D_PLUS:g} m2/s, D- =
{D_MINUS:g} m2/s (t+ = {D_PLUS / (D_PLUS + D_MINUS):.3f}), i0 = {I0:g} A/m2, alpha_a = alpha_c =
0.5, galvanostatic, steady solve (the closed cell with the salt-inventory constraint). One row of
quadrilaterals ({W * 1e6:g} um wide, ny = 50, 100, 200, ... elements over L, P1; level 0 uses two
meshes, each level one more): the discrete problem is one-dimensional. The open cell holds c = c0
at the counter electrode (`electrolyte.reservoir_at_counter`). Near the limiting current the steady
solve is reached by continuation in the current (0.5, 0.9, 0.99 i_lim).

Reference (N- = 0 at steady state; Newman & Thomas-Alyea, *Electrochemical Systems*, 3rd ed., ch.
11-12; issue 3):
- closed: c(y) = c0 + i (y - L/2)/(2 F D+) = c0 + (1 - t+) i (y - L/2)/(F D), limiting current
  i_lim = 4 F D+ c0 / L; open: c(y) = c0 + i (y - L)/(2 F D+), i_lim = 2 F D+ c0 / L.
- cell voltage V = eta'_w - eta'_c + 2 (RT/F) ln(c(0)/c(L)), with Newman's surface overpotentials
  eta' = (2RT/F) asinh(i_n / (2 i0 (c_s/c0)^(1/2))) at the local concentrations c_s (i_n anodic: -i
  at the working, +i at the counter electrode); closed cell: c(0)/c(L) = (1 - i/i_lim)/(1 +
  i/i_lim). It is computed from the formula, independently of the code's kinetics form (K1).
"""


def planar(ny, comm=MPI.COMM_WORLD, **sections):
    """The verification cell (case, domain) with ny elements across the gap; `sections`
    override the case (electrolyte and kinetics default to the values above)."""
    sections.setdefault("electrolyte", {"D_cation": D_PLUS, "D_anion": D_MINUS, "c0": C0})
    sections.setdefault("kinetics", {"i0": I0})
    case = make_case(**sections)
    return case, rectangle_domain(W, L, T, 1, ny, 4, comm=comm, cell=CellType.quadrilateral)


def solve_steady(case, domain, comm=MPI.COMM_WORLD) -> CellProblem:
    p = CellProblem(case, domain)
    with solving(p, comm) as newton:
        converged, _ = newton.solve()
    if not converged:
        raise RuntimeError("the steady planar cell did not converge")
    return p


def limiting_current(open_cell: bool = False) -> float:
    """c(0) reaches 0 at i_lim = 4 F D+ c0 / L (closed), 2 F D+ c0 / L (open), A/m2."""
    return (2 if open_cell else 4) * FARADAY * D_PLUS * C0 / L


def analytic_steady(i_app, open_cell: bool = False):
    """c(y) (mol/m3) and the cell voltage (V) of the steady planar cell at current i_app."""
    VT = thermal_voltage(TEMPERATURE)
    middle = L if open_cell else L / 2

    def c(y):  # N- = 0 and N+ = -i/F give grad c = i / (2 F D+)
        return C0 + i_app * (y - middle) / (2 * FARADAY * D_PLUS)

    def eta(i_n, c_s):  # Newman's surface overpotential, alpha_a = alpha_c = 1/2
        return 2 * VT * np.arcsinh(i_n / (2 * I0 * np.sqrt(c_s / C0)))

    c_w, c_c = c(0.0), c(L)
    return c, eta(-i_app, c_w) - eta(i_app, c_c) + 2 * VT * np.log(c_w / c_c)


def _solve(ny, fractions, open_cell, comm):
    """Steady solves at i = fraction x i_lim, by continuation.

    Per fraction: the largest nodal error of c (mol/m3), c at the working electrode (mol/m3)
    and the cell voltage (V).
    """
    i_lim = limiting_current(open_cell)
    electrolyte = {"D_cation": D_PLUS, "D_anion": D_MINUS, "c0": C0,
                   "reservoir_at_counter": open_cell}
    case, domain = planar(ny, comm, electrolyte=electrolyte,
                          control={"current_density": fractions[0] * i_lim},
                          time={"mode": "steady"})
    p = CellProblem(case, domain)
    y = p.space.tabulate_dof_coordinates()[:, 1]
    at_working = np.isclose(y, 0.0, rtol=0, atol=1e-9 * L)
    results = {}
    with solving(p, comm) as newton:
        for fraction in fractions:  # each solve starts from the previous solution
            p.applied.value = fraction * i_lim
            converged, _ = newton.solve()
            if not converged:
                raise RuntimeError(f"steady planar cell: no convergence at {fraction} i_lim")
            c_exact, _ = analytic_steady(fraction * i_lim, open_cell)
            c = C0 * (1 + p.u_values)
            c_error = np.max(np.abs(c - c_exact(y)), initial=0.0)
            c_working = np.max(c[at_working], initial=-np.inf)
            results[fraction] = (comm.allreduce(c_error, op=MPI.MAX),
                                 comm.allreduce(c_working, op=MPI.MAX),
                                 p.V.x.array[0] * p.thermal_voltage)
    return results


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    rows = []
    sizes = SIZES[level]
    for open_cell in (False, True):
        cell = "open" if open_cell else "closed"
        i_lim = limiting_current(open_cell)
        lim_text = "2 F D+ c0/L" if open_cell else "4 F D+ c0/L"
        runs = [_solve(ny, (0.5, 0.9, 0.99), open_cell, comm) for ny in sizes]
        h = [L / ny for ny in sizes]
        c_err = max(r[0.5][0] for r in runs)  # on every mesh
        V = runs[-1][0.5][2]
        _, V_exact = analytic_steady(0.5 * i_lim, open_cell)
        V_series = tuple((hk, abs(r[0.5][2] - V_exact)) for hk, r in zip(h, runs))
        rate = observed_rate(V_series)
        name = f"{TITLE} ({cell})"
        rows += [
            Row(name, "max |c - c_exact| / c0 at the nodes (every mesh), i = 0.5 i_lim", 0.0,
                "c = c0 + i (y - L/2)/(2 F D+)" if not open_cell else "c = c0 + i (y - L)/(2 F D+)",
                c_err / C0, c_err / C0, "abs / c0", 1e-9),
            Row(name, "cell voltage (V), i = 0.5 i_lim", V_exact,
                "eta'_w - eta'_c + 2 (RT/F) ln(c(0)/c(L))", V, V_series[-1][1], "abs, V", 2e-6,
                rate=rate, series=V_series),
            # The linear profile is nodally exact for P1; the potential is logarithmic, so
            # the voltage has a discretisation error falling as h^2.
            Row(name, "order of the voltage error in h", 2.0, "P1, smooth solution", rate,
                abs(rate - 2.0), "abs", 0.07, rate=rate),
        ]
        _, c_w, V_lim = runs[-1][0.99]
        _, V_lim_exact = analytic_steady(0.99 * i_lim, open_cell)
        V_lim_series = tuple((hk, abs(r[0.99][2] - V_lim_exact)) for hk, r in zip(h, runs))
        c_w_exact = C0 * (1 - 0.99)
        rows += [
            Row(name, "c at the working electrode (mol/m3), i = 0.99 i_lim", c_w_exact,
                f"c0 (1 - i/i_lim), i_lim = {lim_text} = {i_lim:.4g} A/m2",
                c_w, abs(c_w - c_w_exact) / C0, "abs / c0", 1e-9),
            Row(name, "cell voltage (V), i = 0.99 i_lim", V_lim_exact,
                "eta'_w - eta'_c + 2 (RT/F) ln(c(0)/c(L))", V_lim,
                relative_error(V_lim, V_lim_exact), "rel", 5e-3,
                rate=observed_rate(V_lim_series), series=V_lim_series),
        ]
    return rows
