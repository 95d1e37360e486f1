"""Whole-cell checks beyond the verification benchmarks: the two working-electrode models and
the two linear solvers. The analytic cell, its conservation checks and the manufactured
solutions are in femsolver/verification (tests/test_verification.py)."""

import numpy as np
import pytest
from mpi4py import MPI

from femsolver.physics.constants import thermal_voltage
from femsolver.problems.cell.problem import CellProblem
from femsolver import solver
from femsolver.solver import start_newton
from femsolver.time_stepping import time_steps
from femsolver.verification.planar_steady import QUIET, T, limiting_current, planar, solve_steady


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
        results.append((p.V.x.array[0], p.u_values.copy(), p.psi.x.array.copy()))
    (V1, u1, psi1), (V2, u2, psi2) = results
    assert V2 == pytest.approx(V1, rel=1e-9)
    assert np.allclose(u2, u1, rtol=0, atol=1e-9) and np.allclose(psi2, psi1, rtol=0, atol=1e-9)


def test_auto_solver_takes_mumps_unless_it_would_not_fit(monkeypatch):
    """solver.linear = auto: direct while the estimated factorisation fits in the memory a node
    has available (or when that is unknown), iterative beyond; steady closed cells (inventory
    multiplier) stay direct."""
    case, domain = planar(40, control={"current_density": 5.0}, time={"end": 0.1, "dt": 0.05})
    assert case.solver.linear == "auto"
    p = CellProblem(case, domain)
    comm = MPI.COMM_WORLD
    for available, expected in ((None, "direct"), (1e15, "direct"), (1.0, "iterative")):
        monkeypatch.setattr(solver, "available_memory", lambda: available)
        assert solver.choose_linear(p, comm)[0] == expected
    steady, steady_domain = planar(40, control={"current_density": 5.0}, time={"mode": "steady"})
    assert solver.choose_linear(CellProblem(steady, steady_domain), comm)[0] == "direct"
    # Linear in N in 2D; in 3D the factor's fill makes it N^(4/3) above the reference size.
    n = 8 * solver.DIRECT_REFERENCE_DOFS
    assert solver.direct_memory(n, 2) == pytest.approx(n * solver.DIRECT_BYTES_PER_DOF[2])
    assert solver.direct_memory(n, 3) == pytest.approx(2 * n * solver.DIRECT_BYTES_PER_DOF[3])
