"""Benchmark: Hashin's coated sphere and coated cylinder (neutral inclusions).

An insulating core of radius R in a shell of conductivity sigma_s and outer radius R + t does
not disturb a uniform field in a matrix of conductivity
    sphere:   sigma_m = sigma_s 2(1 - f)/(2 + f),   f = (R/(R + t))^3,
    cylinder: sigma_m = sigma_s (1 - f)/(1 + f),    f = (R/(R + t))^2
(Hashin, J. Appl. Mech. 29, 143 (1962); Milton, *The Theory of Composites*, sec. 7.2). The
unperturbed field p = dV (1 - z/H) satisfies every condition of a box around the inclusion
(p given at the bottom and top, insulating sides), so it is the exact solution outside the
shell: the box's sigma_eff equals sigma_m and the potential on the side walls is linear.
"""

from __future__ import annotations

import numpy as np
import ufl
from mpi4py import MPI

from femsolver import tags
from femsolver.case import MeshParams
from femsolver.effective import figures, solve_potential
from femsolver.measures import measure
from femsolver.mesh import build_domain
from femsolver.verification import Row, observed_rate
from femsolver.verification.domains import integrate
from geometries.inclusion import InclusionGeometry

TITLE = "Hashin's coated sphere and cylinder"
R, T = 1e-6, 0.4e-6  # core radius and shell thickness, m
SIGMA_SHELL = 1.0  # S/m
CASES = {  # name: geometry (sphere: axisymmetric section; cylinder: plane section)
    "sphere": InclusionGeometry(axisymmetric=True, core_radius=R, shell_thickness=T,
                                width=2.5 * R, height=5 * R),
    "cylinder": InclusionGeometry(core_radius=R, shell_thickness=T, width=5 * R, height=5 * R),
}
# h at the shell, h_bulk: halved along the sequence
SEQUENCE = [(T / 4 / 2 ** j, R / 2 / 2 ** j) for j in range(5)]
LEVELS = {0: 3, 1: 3, 2: 4, 3: 5}
TOLERANCE = {"sigma": 1e-4, "wall": 1e-5}  # level 0 reaches 4e-5 and 3e-6; both fall as h^2

SETUP = f"""\
`inclusion` geometry: an insulating core (R = {R * 1e6:g} um) in a shell (t = {T * 1e6:g} um,
sigma_s = {SIGMA_SHELL:g} S/m) centred in a box of matrix with the Hashin conductivity; sphere: the
axisymmetric section (cylinder of radius 2.5 R, height 5 R), cylinder: the plane section (5 R x 5
R). `femsolver.effective` applies dV between the bottom and the top face (insulating sides, P1).
Checked: sigma_eff/sigma_m - 1 and the RMS deviation of the side-wall potential from the linear
profile dV (1 - z/H), relative to dV, under refinement (h at the shell t/4 / 2^j, bulk R/2 /
2^j; j = 0..2 at level 0). Control: the same sphere in a matrix of the shell's conductivity (not
the Hashin value) must perturb sigma_eff by far more than the Hashin error, or the check could
not fail.

Reference: Hashin, *J. Appl. Mech.* 29, 143 (1962); Milton, *The Theory of Composites* (2002),
sec. 7.2. sigma_m = sigma_s 2(1 - f)/(2 + f), f = (R/(R + t))^3 (sphere); sigma_s (1 - f)/(1 + f),
f = (R/(R + t))^2 (cylinder).
"""


def hashin_matrix(shape: str, sigma_shell: float = SIGMA_SHELL) -> float:
    """Matrix conductivity that makes the coated inclusion neutral, S/m."""
    d = 3 if shape == "sphere" else 2
    f = (R / (R + T)) ** d
    return sigma_shell * (2 * (1 - f) / (2 + f) if d == 3 else (1 - f) / (1 + f))


def neutrality(shape: str, h: float, h_bulk: float, sigma_matrix: float, comm=MPI.COMM_WORLD):
    """(sigma_eff/sigma_m - 1, RMS wall deviation / dV) on one mesh."""
    domain = build_domain(CASES[shape], MeshParams(h_interface=h, h_bulk=h_bulk), comm)
    conductivities = {tags.SHELL: SIGMA_SHELL, tags.MATRIX: sigma_matrix}
    run = solve_potential(domain, conductivities)
    result = figures(domain, run, sigma_matrix)
    z = ufl.SpatialCoordinate(domain.mesh)[1]
    ds = measure("ds", domain, subdomain_data=domain.facet_tags)(tags.ELECTROLYTE_SIDES)
    linear = run.voltage * (1 - z / run.height)
    deviation = integrate((run.potential - linear) ** 2 * ds, comm)
    wall = integrate(1.0 * ds, comm)
    return result.ratio - 1, float(np.sqrt(deviation / wall)) / run.voltage


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    sequence = SEQUENCE[:LEVELS[level]]
    rows = []
    for shape in CASES:
        sigma_m = hashin_matrix(shape)
        errors = [neutrality(shape, h, hb, sigma_m, comm) for h, hb in sequence]
        source = ("sigma_m = sigma_s 2(1 - f)/(2 + f)" if shape == "sphere"
                  else "sigma_m = sigma_s (1 - f)/(1 + f)")
        sigma_series = tuple((h, abs(e[0])) for (h, _), e in zip(sequence, errors))
        wall_series = tuple((h, e[1]) for (h, _), e in zip(sequence, errors))
        rows += [
            Row(TITLE, f"coated {shape}: sigma_eff / sigma_m", 1.0, source,
                1 + errors[-1][0], sigma_series[-1][1], "rel", TOLERANCE["sigma"],
                rate=observed_rate(sigma_series), series=sigma_series),
            Row(TITLE, f"coated {shape}: side-wall potential, RMS deviation from linear / dV",
                None, "p = dV (1 - z/H) outside the shell", None, wall_series[-1][1],
                "rms / dV", TOLERANCE["wall"], rate=observed_rate(wall_series),
                series=wall_series),
        ]
    # Control: a wrong matrix (the shell's conductivity) perturbs the field
    h, hb = sequence[-1]
    control, _ = neutrality("sphere", h, hb, SIGMA_SHELL, comm)
    hashin_error = rows[0].error
    rows.append(Row(TITLE, "control: coated sphere in a matrix of sigma_s, |sigma_eff/sigma_m - 1| "
                    "must exceed 10 x the Hashin error", 10 * hashin_error,
                    "shortfall = max(0, 1 - deviation / (10 x Hashin error))", abs(control),
                    max(0.0, 1 - abs(control) / (10 * hashin_error)), "shortfall", 0.0))
    return rows
