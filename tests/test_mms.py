"""Manufactured solutions for the coupled (c, phi[, phi_s]) system with Butler-Volmer boundaries.

The exact fields are put into the production residual with ufl.replace; subtracting that
residual adds exactly the sources that make them the solution. Observed L2/H1 rates must
reach the element's optimal ones (P1: 2/1, P2: 3/2).
"""

import numpy as np
import pytest
import ufl
from mpi4py import MPI

from femsolver.problem import CellProblem
from femsolver.solver import start_newton
from helpers import integrate, make_case, rectangle_domain

L = 1e-6  # m
T = 0.25e-6  # electrode thickness, m


def exact_fields(x):
    """Nondimensional u = c/c0 - 1, phi (RT/F) and psi (RT/F) as ufl expressions of x (m)."""
    X, Y = x[0] / L, x[1] / L
    u = 0.2 * ufl.cos(np.pi * X) * ufl.cos(1.5 * Y) + 0.1 * Y
    phi = 0.3 * ufl.sin(1.2 * X + 0.4) * ufl.exp(-0.5 * Y) + 0.2 * Y
    psi = 0.05 * ufl.cos(np.pi * X) * (Y + T / L)
    return u, phi, psi


def solve_mms(n, degree, equipotential):
    case = make_case(
        electrolyte={"D_cation": 1.3e-9, "D_anion": 0.7e-9},
        electrode={"equipotential": equipotential, "conductivity": 1e-2},
        kinetics={"i0": 5e4, "alpha_a": 0.4, "alpha_c": 0.6},
        control={"current_density": 3e4},
        time={"mode": "steady"},
        solver={"rtol": 1e-12})
    domain = rectangle_domain(L, L, T, n, n, max(n // 4, 1),
                              active=lambda p: p[0] < 0.6 * L)
    p = CellProblem(case, domain, degree=degree)
    V_exact = -0.7
    u_e, phi_e, psi_e = exact_fields(ufl.SpatialCoordinate(domain.mesh))
    mapping = {p.u: u_e, p.phi: phi_e, p.V: ufl.as_ufl(V_exact), p.unknowns[-1]: ufl.as_ufl(0.0)}
    if p.resolved:
        mapping[p.psi] = psi_e  # vanishes on the current collector like the discrete psi
    p.residual = ufl.extract_blocks(p.residual_form - ufl.replace(p.residual_form, mapping))
    newton = start_newton(p, case.solver, MPI.COMM_WORLD, progress=lambda m: None)
    converged, _ = newton.solve()
    assert converged

    xe = ufl.SpatialCoordinate(p.mesh_e)
    u_e, phi_e, psi_e = exact_fields(xe)
    dx = ufl.dx(domain=p.mesh_e)
    errors = {
        "u_L2": integrate((p.u - u_e) ** 2 * dx) ** 0.5,
        "u_H1": integrate(ufl.inner(ufl.grad(p.u - u_e), ufl.grad(p.u - u_e)) * dx) ** 0.5,
        "phi_L2": integrate((p.phi - phi_e) ** 2 * dx) ** 0.5,
        "phi_H1": integrate(ufl.inner(ufl.grad(p.phi - phi_e), ufl.grad(p.phi - phi_e)) * dx) ** 0.5,
        "V": abs(p.V.x.array[0] - V_exact),
    }
    if p.resolved:
        xs = ufl.SpatialCoordinate(p.electrode.mesh)
        psi_es = exact_fields(xs)[2]
        errors["psi_L2"] = integrate((p.psi - psi_es) ** 2 * ufl.dx(domain=p.electrode.mesh)) ** 0.5
    return errors


def observed_rates(degree, equipotential, sizes):
    runs = [solve_mms(n, degree, equipotential) for n in sizes]
    return {k: [np.log2(a[k] / b[k]) for a, b in zip(runs, runs[1:])] for k in runs[0]}, runs


@pytest.mark.parametrize("degree, equipotential, sizes", [
    (1, True, (8, 16, 32)),
    (1, False, (8, 16, 32)),
    (2, True, (4, 8, 16)),
])
def test_mms_rates(degree, equipotential, sizes):
    rates, runs = observed_rates(degree, equipotential, sizes)
    print(degree, equipotential, rates, runs[-1])
    for field in ("u", "phi"):
        assert rates[f"{field}_L2"][-1] > degree + 1 - 0.15
        assert rates[f"{field}_H1"][-1] > degree - 0.1
    if not equipotential:
        assert rates["psi_L2"][-1] > degree + 1 - 0.15
    assert rates["V"][-1] > degree + 1 - 0.5  # the electrode potential is a boundary average
