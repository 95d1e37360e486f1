"""Benchmark: a spherical particle under a constant surface flux (Crank's series).

A core of radius R inside a concentric solid-electrolyte shell whose outer surface is the Li
counter electrode is spherically symmetric, so the galvanostatic current crosses the core
surface uniformly: a constant inward flux N = I/(F 4 pi R^2) of Li. Crank (The Mathematics of
Diffusion, 2nd ed., 1975, eq. 6.33 with the flux condition of sec. 6.3.2) gives
    c(R, t) - c0 = (N R/D) [3 tau + 1/5 - 2 sum_n exp(-beta_n^2 tau)/beta_n^2],  tau = D t/R^2,
beta_n the positive roots of tan(beta) = beta; the series is 0 at tau = 0 (sum 1/beta_n^2 =
1/10), and for long times c_surf - c_avg -> N R/(5 D). The 2D cross-section is a cylinder:
c_surf - c_avg -> N R/(4 D). The whole ParticleProblem runs (kinetics, ion conduction,
galvanostatic constraint); only one orthant is meshed (symmetry planes need no condition).
"""

from __future__ import annotations

import gmsh
import numpy as np
from dolfinx import fem
from mpi4py import MPI

from femsolver import tags
from femsolver.materials.active import active_material
from femsolver.mesh import Domain, gmsh_mesh
from femsolver.problems.particle.problem import ParticleProblem
from femsolver.physics.constants import FARADAY
from femsolver.time_stepping import time_steps
from femsolver.verification import Row, observed_rate, solving
from femsolver.verification.domains import make_case
from geometries.common import NM

TITLE = "Sphere under a constant surface flux (Crank)"
R = 5e-6  # m, core radius
R_OUT = 6e-6  # m, counter electrode (outer surface of the solid electrolyte)
D_S = 4e-15  # m2/s (NMC811, Chen 2020)
C_MAX = 63104.0  # mol/m3
X0 = 0.3
FLUX_SCALE = 0.1  # N R/(D c_max): the surface excess in x per unit of Crank's bracket
TAU_END = 0.2  # tau at which c_surf is compared
TAU_LONG = 1.0  # the series' transient is exp(-beta_1^2 tau) ~ 2e-9 of the limit by then
H_SEQUENCE = [0.25 / 2 ** j for j in range(5)]  # h / R
STEPS_FINE = 128  # BDF2 steps to TAU_END in the h series: time error ~1e-6, below the h error
DT_SEQUENCE = [4 * 2 ** j for j in range(5)]  # steps to TAU_END in the dt series (h = R/8)
LEVELS = {0: 2, 1: 3, 2: 4, 3: 5}
SCALED = "abs, in N R/(D c_max)"

SETUP = f"""\
Core radius R = {R * 1e6:g} um, D_s = {D_S:g} m2/s, c_max = {C_MAX:g} mol/m3, x0 = {X0:g}, inside
a solid-electrolyte shell up to {R_OUT * 1e6:g} um whose outer surface is the Li counter electrode
(axisymmetric (r, z) quarter section, gmsh, uniform element size h). Galvanostatic discharge at the
C-rate that makes N R/(D c_max) = {FLUX_SCALE:g}; the symmetric geometry makes the flux uniform.
Three rows: (1) x_surf at tau = D t/R^2 = {TAU_END:g} (mean over the core surface) against the
series, h = R/4 / 2^j with {STEPS_FINE} BDF2 steps (the time error is below the mesh error); (2) the
same for M = 4 x 2^j steps on the h = R/8 mesh, measured against a run with 4x more steps than the
last (the time error alone); (3) c_surf - c_avg at tau = {TAU_LONG:g} on the finest mesh against N
R/(5 D). Errors are in units of N R/(D c_max), the natural scale of the surface excess in x.

Reference: J. Crank, *The Mathematics of Diffusion*, 2nd ed. (1975), sec. 6.3.2 / eq. 6.33:
c(R, t) - c0 = (N R/D)[3 tau + 1/5 - 2 sum exp(-beta_n^2 tau)/beta_n^2], tan(beta_n) = beta_n.
"""


def eigenvalues(n: int) -> np.ndarray:
    """The first n positive roots of tan(beta) = beta, one in each (k pi, k pi + pi/2), by
    bisection on sin(beta) - beta cos(beta) (tan without its poles), which rises there."""
    k = np.arange(1, n + 1)
    lo, hi = k * np.pi, k * np.pi + np.pi / 2
    sign = (-1.0) ** k  # sin - beta cos has sign (-1)^(k+1) at k pi, (-1)^k at k pi + pi/2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = sign * (np.sin(mid) - mid * np.cos(mid)) < 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def crank_surface(tau: float, terms: int = 200) -> float:
    """Crank's bracket: (c_surf - c0) / (N R/D) for a sphere under constant flux N."""
    beta = eigenvalues(terms)
    # The tail sum_{n > terms} 1/beta_n^2 ~ 1/(pi^2 terms) matters only at tau -> 0.
    return float(3 * tau + 0.2 - 2 * np.sum(np.exp(-beta**2 * tau) / beta**2))


def _ball(occ, d: int, radius: float) -> tuple[int, int]:
    """A ball (3D) or disk (2D) of `radius` (nm) cut to the first orthant."""
    if d == 3:
        shape, block = occ.addSphere(0, 0, 0, radius), occ.addBox(0, 0, 0, *[2 * radius] * 3)
    else:
        shape, block = occ.addDisk(0, 0, 0, radius, radius), occ.addRectangle(
            0, 0, 0, 2 * radius, 2 * radius)
    return occ.intersect([(d, shape)], [(d, block)])[0]


def _curved(model, d: int, volumes, r: float) -> set[int]:
    """Boundary entities of `volumes` off the symmetry planes (centre of mass off every axis)."""
    out = set()
    for _, f in model.getBoundary([(d, t) for t in volumes], oriented=False):
        if np.all(np.abs(model.occ.getCenterOfMass(d - 1, f)[:d]) > 1e-6 * r):
            out.add(f)
    return out


def _build(d: int, h: float) -> None:
    """Core and shell orthant on rank 0's gmsh model (nm), tagged for a ParticleProblem."""
    model, occ = gmsh.model, gmsh.model.occ
    r = R * NM
    occ.fragment(_ball(occ, d, R_OUT * NM), _ball(occ, d, r))
    occ.synchronize()
    core, shell = [], []
    for _, tag in model.getEntities(d):
        inside = np.linalg.norm(occ.getCenterOfMass(d, tag)) < 0.75 * r
        (core if inside else shell).append(tag)
    interface = _curved(model, d, core, r)
    counter = _curved(model, d, shell, r) - interface
    for dimension, entities, tag in ((d, core, tags.ACTIVE), (d, shell, tags.MATRIX),
                                     (d - 1, interface, tags.PARTICLE_ACTIVE),
                                     (d - 1, counter, tags.COUNTER)):
        model.addPhysicalGroup(dimension, sorted(entities), tag)
    gmsh.option.setNumber("Mesh.MeshSizeMin", h * NM)
    gmsh.option.setNumber("Mesh.MeshSizeMax", h * NM)
    model.mesh.generate(d)


def concentric_domain(h: float, dim: int = 2, axisymmetric: bool = True,
                      comm=MPI.COMM_WORLD) -> Domain:
    """The core (ACTIVE, radius R) and shell (MATRIX, to R_OUT) orthant with element size h (m).

    dim 2 + axisymmetric: the (r, z >= 0) section of the spheres; dim 2: a quarter of the disks
    (a cylinder per metre of depth); dim 3: an octant of the spheres.
    """
    msh, cell_tags, facet_tags = gmsh_mesh(lambda: _build(dim, h), dim, comm)
    return Domain(msh, cell_tags, facet_tags, projected_area=np.nan,
                  reference_length=R, axisymmetric=axisymmetric)


def c_rate(shape: int = 3) -> float:
    """The C-rate (1/h) of FLUX_SCALE for a sphere (shape 3) or cylinder (2): I = N F A with
    A/V = shape/R, and 1C = density x specific capacity."""
    N = FLUX_SCALE * D_S * C_MAX / R
    mat = active_material(make_case().active)  # the named material's density and capacity
    return N * FARADAY * shape / R / (mat.density * mat.specific_capacity)


def particle_case(rate: float, tau_end: float, steps: int):
    t_end = tau_end * R**2 / D_S
    return make_case(
        active={"diffusivity": D_S, "max_concentration": C_MAX, "initial_stoichiometry": X0},
        control={"c_rate": rate},
        time={"end": t_end, "dt": t_end / steps, "growth": 1.0})


def simulate(domain, case, comm=MPI.COMM_WORLD) -> dict:
    """Run the particle to case.time.end: x_surf (mean over the core surface), x_avg and the
    problem."""
    problem = ParticleProblem(case, domain)
    surface = fem.form(problem.stoichiometry("-") * problem.dA, entity_maps=problem.entity_maps)
    with solving(problem, comm) as newton:
        for _ in time_steps(problem, newton, case.time, lambda m: None):
            pass
        x_surf = problem._assemble(surface) / problem.active_area
        x_avg = problem.lithium_inventory() / (C_MAX * problem.core_volume)
    return {"x_surf": x_surf, "x_avg": x_avg, "problem": problem}


def _x_surf(h_rel: float, steps: int, tau: float = TAU_END, comm=MPI.COMM_WORLD) -> dict:
    return simulate(concentric_domain(h_rel * R, comm=comm),
                    particle_case(c_rate(3), tau, steps), comm)


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    n = LEVELS[level]
    reference = X0 + FLUX_SCALE * crank_surface(TAU_END)
    x_h = [_x_surf(h, STEPS_FINE, comm=comm)["x_surf"] for h in H_SEQUENCE[:n]]
    h_series = tuple((h * R, abs(x - reference) / FLUX_SCALE) for h, x in zip(H_SEQUENCE, x_h))
    dt_steps = DT_SEQUENCE[:n]
    mesh = H_SEQUENCE[1]
    x_ref_dt = _x_surf(mesh, 4 * dt_steps[-1], comm=comm)["x_surf"]
    x_dt = [_x_surf(mesh, M, comm=comm)["x_surf"] for M in dt_steps]
    t_end = TAU_END * R**2 / D_S
    dt_series = tuple((t_end / M, abs(x - x_ref_dt) / FLUX_SCALE) for M, x in zip(dt_steps, x_dt))
    long = _x_surf(H_SEQUENCE[n - 1], round(STEPS_FINE * TAU_LONG / TAU_END), TAU_LONG, comm)
    excess = (long["x_surf"] - long["x_avg"]) / FLUX_SCALE
    return [
        Row(TITLE, f"x_surf at tau = {TAU_END:g}, mesh refined", reference,
            "Crank eq. 6.33 at r = R", x_h[-1], h_series[-1][1], SCALED, 1e-3,
            rate=observed_rate(h_series), series=h_series),
        Row(TITLE, f"x_surf at tau = {TAU_END:g}, time step refined (h = R/8)", x_ref_dt,
            f"the same run with {4 * dt_steps[-1]} steps", x_dt[-1], dt_series[-1][1], SCALED,
            1e-3, rate=observed_rate(dt_series), series=dt_series, step="dt"),
        Row(TITLE, f"(c_surf - c_avg) / (N R/D) at tau = {TAU_LONG:g}", 0.2,
            "long-time limit N R/(5 D)", excess, abs(excess - 0.2), SCALED, 5e-3),
    ]
