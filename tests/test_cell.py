"""Whole-cell checks against analytic results: steady closed planar cell, conservation of
charge and salt, and the two working-electrode models."""

import numpy as np
import pytest
import ufl
from dolfinx import fem
from dolfinx.mesh import CellType
from mpi4py import MPI

from femsolver import tags
from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.physics.kinetics import butler_volmer_inverse
from femsolver.problem import CellProblem
from femsolver.solver import start_newton, time_steps
from helpers import integrate, make_case, rectangle_domain

L = 100e-6  # electrode gap, m
W = 5e-6  # strip width, m
T = 10e-6  # working-electrode slab, m
D_PLUS, D_MINUS = 1.5e-9, 0.8e-9
C0 = 1000.0
I0 = 10.0
QUIET = lambda message: None  # noqa: E731


def planar(ny, **sections):
    sections.setdefault("electrolyte", {"D_cation": D_PLUS, "D_anion": D_MINUS, "c0": C0})
    sections.setdefault("kinetics", {"i0": I0})
    case = make_case(**sections)
    # One row of quadrilaterals: the discrete problem is exactly one-dimensional.
    return case, rectangle_domain(W, L, T, 1, ny, 4, cell=CellType.quadrilateral)


def solve_steady(case, domain):
    p = CellProblem(case, domain)
    newton = start_newton(p, case.solver, MPI.COMM_WORLD, QUIET)
    converged, _ = newton.solve()
    assert converged
    return p


def limiting_current():
    """Closed binary cell: c(0) reaches 0 at i_lim = 4 F D+ c0 / L."""
    return 4 * FARADAY * D_PLUS * C0 / L


def analytic_steady(i_app, temperature=298.15):
    """c(y) and cell voltage of the steady closed planar Li|Li cell (docs/verification)."""
    VT = thermal_voltage(temperature)

    def c(y):  # N- = 0 and N+ = -i/F give grad c = i / (2 F D+), inventory kept
        return C0 + i_app * (y - L / 2) / (2 * FARADAY * D_PLUS)

    eta_w = butler_volmer_inverse(-i_app, I0, 0.5, 0.5, c(0) / C0)
    eta_c = butler_volmer_inverse(i_app, I0, 0.5, 0.5, c(L) / C0)
    # phi(0) - phi(L) = (RT/F) ln(c(0)/c(L)) since N- = 0.
    return c, VT * (eta_w - eta_c + np.log(c(0) / c(L)))


def test_steady_planar_cell_matches_analytic_profile_and_voltage():
    i_app = 0.5 * limiting_current()
    c_exact, V_exact = analytic_steady(i_app)
    errors = []
    for ny in (50, 100):
        case, domain = planar(ny, control={"current_density": i_app}, time={"mode": "steady"})
        p = solve_steady(case, domain)
        y = p.u.function_space.tabulate_dof_coordinates()[:, 1]
        c_err = np.max(np.abs(C0 * (1 + p.u.x.array) - c_exact(y)), initial=0.0)
        errors.append((MPI.COMM_WORLD.allreduce(c_err, op=MPI.MAX),
                       abs(p.V.x.array[0] * p.thermal_voltage - V_exact)))
    (c1, V1), (c2, V2) = errors
    # The linear profile is nodally exact for P1; the voltage error (the potential is
    # logarithmic) is a discretisation error falling as h^2.
    assert max(c1, c2) < 1e-9 * C0
    assert V2 < 2e-6 and V1 / V2 == pytest.approx(4, rel=0.05)


def test_steady_closed_cell_keeps_salt_inventory():
    case, domain = planar(40, control={"current_density": 0.8 * limiting_current()},
                          time={"mode": "steady"})
    p = solve_steady(case, domain)
    u_mean = integrate(p.u * ufl.dx(domain=p.mesh_e))
    assert abs(u_mean) < 1e-12 * integrate(abs(p.u) * ufl.dx(domain=p.mesh_e))


@pytest.mark.parametrize("scheme", ["bdf1", "bdf2"])
def test_transient_conserves_charge_and_salt(scheme):
    i_app = 0.7 * limiting_current()
    case, domain = planar(40, control={"current_density": i_app},
                          time={"end": 2.0, "dt": 0.05, "scheme": scheme})
    p = CellProblem(case, domain)
    newton = start_newton(p, case.solver, MPI.COMM_WORLD, QUIET)
    working = fem.form(p.i_working * p.dA, entity_maps=p.entity_maps)
    counter = fem.form(p.i_counter * p.ds(tags.COUNTER), entity_maps=p.entity_maps)
    salt = fem.form(p.u * ufl.dx(domain=p.mesh_e))
    for step in time_steps(p, newton, case.time, QUIET):
        comm = MPI.COMM_WORLD
        i_w = comm.allreduce(fem.assemble_scalar(working), op=MPI.SUM) / W
        i_c = comm.allreduce(fem.assemble_scalar(counter), op=MPI.SUM) / W
        assert i_w == pytest.approx(-i_app, rel=1e-8)
        assert i_c == pytest.approx(i_app, rel=1e-8)  # charge in = charge out
        assert abs(comm.allreduce(fem.assemble_scalar(salt), op=MPI.SUM)) < 1e-13 * L * W
    assert step.time == pytest.approx(2.0)
    assert np.ptp(p.u.x.array) > 0.1  # the concentration profile really developed


def test_equipotential_and_ohmic_electrode_agree_at_li_conductivity():
    voltages = []
    for equipotential in (True, False):
        case, domain = planar(40, control={"current_density": 5.0}, time={"mode": "steady"},
                              electrode={"equipotential": equipotential, "conductivity": 1.26e7})
        voltages.append(solve_steady(case, domain).V.x.array[0] * thermal_voltage(298.15))
    # The only difference is the ohmic drop in the Li slab, -i t / sigma = -4e-12 V.
    assert abs(voltages[1] - voltages[0] + 5.0 * T / 1.26e7) < 1e-14


def test_resolved_electrode_adds_slab_ohmic_drop():
    sigma, i_app = 0.01, 5.0
    voltages = []
    for equipotential in (True, False):
        case, domain = planar(40, control={"current_density": i_app}, time={"mode": "steady"},
                              electrode={"equipotential": equipotential, "conductivity": sigma})
        voltages.append(solve_steady(case, domain).V.x.array[0] * thermal_voltage(298.15))
    # Plating current flows from the interface down to the current collector, so the collector
    # (where V is measured) sits lower than the interface by the slab's ohmic drop i t / sigma.
    assert voltages[1] - voltages[0] == pytest.approx(-i_app * T / sigma, rel=1e-9)


def test_iterative_solver_reproduces_direct_solver():
    """Fieldsplit + GAMG (solver.linear = iterative) and MUMPS give the same transient."""
    results = []
    for linear in ("direct", "iterative"):
        case, domain = planar(40, control={"current_density": 0.7 * limiting_current()},
                              time={"end": 0.5, "dt": 0.05}, solver={"linear": linear},
                              electrode={"equipotential": False, "conductivity": 0.01})
        p = CellProblem(case, domain)
        newton = start_newton(p, case.solver, MPI.COMM_WORLD, QUIET)
        for _ in time_steps(p, newton, case.time, QUIET):
            pass
        results.append((p.V.x.array[0], p.u.x.array.copy(), p.psi.x.array.copy()))
    (V1, u1, psi1), (V2, u2, psi2) = results
    assert V2 == pytest.approx(V1, rel=1e-9)
    assert np.allclose(u2, u1, rtol=0, atol=1e-9) and np.allclose(psi2, psi1, rtol=0, atol=1e-9)
