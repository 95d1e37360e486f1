"""Benchmark 7: manufactured solutions for the coupled (c, phi[, phi_s]) system with
Butler-Volmer boundaries.

The exact fields are put into the production residual with ufl.replace; subtracting that
residual adds exactly the sources that make them the solution. Observed L2/H1 rates must
reach the element's optimal ones (P1: 2/1, P2: 3/2).
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI

from femsolver.problems.cell.problem import CellProblem
from femsolver.verification import Row, observed_rate, solving
from femsolver.verification.domains import integrate, make_case, rectangle_domain

TITLE = "7. Manufactured solutions"
L = 1e-6  # m
T = 0.25e-6  # electrode thickness, m
# (degree, equipotential electrode, coarsest n, electrolyte model); each level adds one
# refinement up to FINEST (Newton: 4 quadratic iterations at n = 128, P1, both electrodes).
CONFIGURATIONS = ((1, True, 8, "dilute"), (1, False, 8, "dilute"), (2, True, 4, "dilute"),
                  (1, True, 8, "concentrated"), (2, True, 4, "concentrated"))
# Electrolyte, kinetics and current of each model (the concentrated one: Nyman's LiPF6
# properties, a concentration-dependent thermodynamic factor).
MODELS = {
    "dilute": ({"D_cation": 1.3e-9, "D_anion": 0.7e-9},
               {"i0": 5e4, "alpha_a": 0.4, "alpha_c": 0.6}, 3e4),
    "concentrated": ({"model": "concentrated", "material": "LiPF6_EC_EMC_Nyman2008",
                      "thermodynamic_factor": "1 + 0.3*c/1000"},
                     {"i0": 1e4, "alpha_a": 0.4, "alpha_c": 0.6}, 5e3),
}
FINEST = 128
QUIET = lambda message: None

SETUP = f"""\
Electrode [0, L] x [-T, 0] below electrolyte [0, L]^2 (L = {L * 1e6:g} um, T = {T * 1e6:g} um),
structured triangles n x n (n = 8, 16, ..., 128 for P1; 4, 8, ..., 128 for P2, as many as the level
allows; the electrode n/4 rows), the left 60 % of the interface active; D+ = 1.3e-9, D- = 0.7e-9
m2/s, i0 = 5e4 A/m2, alpha_a = 0.4, alpha_c = 0.6, galvanostatic 3e4 A/m2, steady. Exact fields
(nondimensional; X = x/L, Y = y/L): u = c/c0 - 1 = 0.2 cos(pi X) cos(1.5 Y) + 0.1 Y, phi F/RT = 0.3
sin(1.2 X + 0.4) exp(-0.5 Y) + 0.2 Y, psi F/RT = 0.05 cos(pi X) (Y + T/L) (resolved electrode), V
F/RT = -0.7. The exact fields are substituted into the production residual (`ufl.replace`);
subtracting it adds the sources (volume, Butler-Volmer interface and galvanostatic constraint) that
make them the solution. L2 errors are divided by L. Rates are observed over the last refinement.
The concentrated (Newman) electrolyte runs the same exact fields (phi is then the potential of a Li
reference electrode, Phi) with the LiPF6 EC:EMC properties of Nyman 2008 (kappa(c), D(c), t+ =
0.2594) and a thermodynamic factor 1 + 0.3 c/(1000 mol/m3), i0 = 1e4 A/m2, 5e3 A/m2, equipotential
electrode.

Reference: a priori estimates for Lagrange elements of degree k (Brenner & Scott, *The Mathematical
Theory of Finite Element Methods*, ch. 5): L2 error ~ h^(k+1), H1 ~ h^k; the method of manufactured
solutions (Roache, *J. Fluids Eng.* 124, 4 (2002)).
"""


def exact_fields(x):
    """Nondimensional u = c/c0 - 1, phi (RT/F) and psi (RT/F) as ufl expressions of x (m)."""
    X, Y = x[0] / L, x[1] / L
    u = 0.2 * ufl.cos(np.pi * X) * ufl.cos(1.5 * Y) + 0.1 * Y
    phi = 0.3 * ufl.sin(1.2 * X + 0.4) * ufl.exp(-0.5 * Y) + 0.2 * Y
    psi = 0.05 * ufl.cos(np.pi * X) * (Y + T / L)
    return u, phi, psi


def solve_mms(n, degree, equipotential, comm=MPI.COMM_WORLD,
              model: str = "dilute") -> dict[str, float]:
    """Error norms of one manufactured solve on the n x n mesh."""
    electrolyte, kinetics, current = MODELS[model]
    case = make_case(
        electrolyte=electrolyte,
        electrode={"equipotential": equipotential, "conductivity": 1e-2},
        kinetics=kinetics,
        control={"current_density": current},
        time={"mode": "steady"},
        solver={"rtol": 1e-12})
    domain = rectangle_domain(L, L, T, n, n, max(n // 4, 1),
                              active=lambda p: p[0] < 0.6 * L, comm=comm)
    p = CellProblem(case, domain, degree=degree)
    V_exact = -0.7
    u_e, phi_e, psi_e = exact_fields(ufl.SpatialCoordinate(domain.mesh))
    mapping = {p.fields: ufl.as_vector([u_e, phi_e]), p.V: ufl.as_ufl(V_exact), p.unknowns[-1]: ufl.as_ufl(0.0)}
    if p.resolved:
        mapping[p.psi] = psi_e  # vanishes on the current collector like the discrete psi
    p.residual = ufl.extract_blocks(p.residual_form - ufl.replace(p.residual_form, mapping))
    with solving(p, comm) as newton:
        converged, _ = newton.solve()
    if not converged:
        raise RuntimeError(f"manufactured solution: no convergence (n = {n}, P{degree})")

    xe = ufl.SpatialCoordinate(p.mesh_e)
    u_e, phi_e, psi_e = exact_fields(xe)
    dx = ufl.dx(domain=p.mesh_e)

    def norm(form):
        return integrate(form, comm) ** 0.5

    # L2 norms divided by L: all errors are nondimensional.
    errors = {
        "u_L2": norm((p.u - u_e) ** 2 * dx) / L,
        "u_H1": norm(ufl.inner(ufl.grad(p.u - u_e), ufl.grad(p.u - u_e)) * dx),
        "phi_L2": norm((p.phi - phi_e) ** 2 * dx) / L,
        "phi_H1": norm(ufl.inner(ufl.grad(p.phi - phi_e), ufl.grad(p.phi - phi_e)) * dx),
        "V": abs(p.V.x.array[0] - V_exact),
    }
    if p.resolved:
        xs = ufl.SpatialCoordinate(p.electrode.mesh)
        psi_es = exact_fields(xs)[2]
        errors["psi_L2"] = norm((p.psi - psi_es) ** 2 * ufl.dx(domain=p.electrode.mesh)) / L
    return errors


# norm: (text, expected order minus the degree, allowed shortfall)
NORMS = {
    "u_L2": ("c/c0 in L2", 1, 0.15),
    "u_H1": ("c/c0 in H1", 0, 0.1),
    "phi_L2": ("phi F/RT in L2", 1, 0.15),
    "phi_H1": ("phi F/RT in H1", 0, 0.1),
    "psi_L2": ("phi_s F/RT (electrode) in L2", 1, 0.15),
    # The electrode potential is a boundary average: its error need not be superconvergent.
    "V": ("V F/RT (working electrode)", 1, 0.5),
}


def rows_for(degree: int, equipotential: bool, coarsest: int, model: str, level: int,
             comm=MPI.COMM_WORLD) -> list[Row]:
    """Rate rows of one configuration on n = coarsest x (1, 2, 4, ...): 3 + level meshes,
    n <= FINEST."""
    sizes = [coarsest * 2 ** j for j in range(3 + level) if coarsest * 2 ** j <= FINEST]
    runs = [solve_mms(n, degree, equipotential, comm, model) for n in sizes]
    electrode = "equipotential" if equipotential else "resolved"
    name = f"{TITLE} (P{degree}, {electrode} electrode)"
    if model != "dilute":
        name = f"{TITLE} (P{degree}, {model} electrolyte)"
    rows = []
    for key, (text, extra, allowed) in NORMS.items():
        if key not in runs[0]:
            continue
        series = tuple((L / n, r[key]) for n, r in zip(sizes, runs))
        rate = observed_rate(series)
        expected = degree + extra
        rows.append(Row(name, f"order of the error of {text}", float(expected),
                        f"P{degree}: h^{expected}", rate, max(0.0, expected - rate),
                        "shortfall", allowed, rate=rate, series=series))
    return rows


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    return [row for configuration in CONFIGURATIONS
            for row in rows_for(*configuration, level, comm)]
