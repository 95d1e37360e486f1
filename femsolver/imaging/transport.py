"""Effective conductivity and tortuosity of an image (or mesh-file) domain in each direction.

For each direction the conduction problem of `femsolver.effective` is solved between the two
faces of the box normal to it (CG + GAMG: direct solvers do not fit image-sized 3D problems),
and reported beside what TauFactor and PoreSpy report and the bounds:

- relative conductivity sigma_eff / sigma_ref (TauFactor's D_rel), MacMullin number
  sigma_ref / sigma_eff (PoreSpy's formation factor);
- tortuosity factor tau = eps sigma_ref / sigma_eff with eps the conducting volume fraction
  (TauFactor's tau), and with eps the fraction in components spanning the two faces
  (PoreSpy's tortuosity, which uses the porosity after trimming non-percolating pores);
- multi-phase: tau = sigma_mean / sigma_eff, sigma_mean = sum eps_i sigma_i (TauFactor's
  MultiPhaseSolver);
- bounds for isotropic media: Wiener (arithmetic / harmonic means), Hashin-Shtrikman
  (Hashin & Shtrikman 1962; Torquato 2002, eq. 21.23), Bruggeman's relation eps^1.5 (3D) /
  eps^2 (2D) for one conducting phase, and the symmetric Bruggeman effective medium.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from femsolver.effective import (ITERATIVE, conducting_tags, cross_section, figures,
                                 solve_potential)
from femsolver.imaging import labels as roles
from femsolver.measures import measure

DIRECTIONS = {"x": 0, "y": 1, "z": 2}
# Below this sigma_eff / sigma_ref no conducting path joins the faces: what is left is the
# FLOATING_MASS term's trace (~1e-12) and the iterative solve's (rtol 1e-10; measured 1e-9 on
# two 4-voxel columns that touch along an edge only)
BLOCKED = 1e-6
# GAMG without aggressive coarsening on the first level: its graph squaring and aggregation
# took 8 of GAMG's 13 s set-up on a 96^3 blobs image (2 ranks); without it the 128^3 image's
# linear solve took 14 s instead of 27 s, 15 CG iterations instead of 17, same sigma_eff to 1e-10.
# SOR smoothing: the default Chebyshev-Jacobi, whose eigenvalue estimate a floating cluster
# (singular to round-off) spoils, made the preconditioner indefinite on 2 ranks on a 2D picture
# with 25 % void (PETSc reason -8; tests/test_images_voxels.py)
IMAGE_SOLVER = {**ITERATIVE, "pc_gamg_aggressive_coarsening": 0,
                "mg_levels_ksp_type": "richardson", "mg_levels_pc_type": "sor"}


def hashin_shtrikman(fractions, sigmas, dim: int) -> tuple[float, float]:
    """(lower, upper) HS bounds of an isotropic mixture: Lambda(s) = [sum phi_i / (sigma_i +
    (d-1) s)]^-1 - (d-1) s at s = min / max sigma (the lower bound is 0 with an insulator)."""
    phi, sigma = np.asarray(fractions, float), np.asarray(sigmas, float)

    def bound(s):
        if s == 0:
            return 0.0
        return 1.0 / np.sum(phi / (sigma + (dim - 1) * s)) - (dim - 1) * s

    return bound(sigma.min()), bound(sigma.max())


def wiener(fractions, sigmas) -> tuple[float, float]:
    """(harmonic, arithmetic) means: layers across and along the field."""
    phi, sigma = np.asarray(fractions, float), np.asarray(sigmas, float)
    present = phi > 0  # a phase of zero fraction (no void) adds nothing, whatever its sigma
    harmonic = 0.0 if np.any(sigma[present] == 0) else 1.0 / np.sum(phi[present] / sigma[present])
    return harmonic, float(np.sum(phi * sigma))


def effective_medium(fractions, sigmas, dim: int) -> float:
    """Symmetric Bruggeman: sum phi_i (sigma_i - s) / (sigma_i + (d-1) s) = 0, by bisection
    (the sum falls monotonically in s)."""
    phi, sigma = np.asarray(fractions, float), np.asarray(sigmas, float)
    low, high = 0.0, float(sigma.max())
    for _ in range(200):
        s = 0.5 * (low + high)
        if np.sum(phi * (sigma - s) / (sigma + (dim - 1) * s)) > 0:
            low = s
        else:
            high = s
    return 0.5 * (low + high)


def _box(msh) -> np.ndarray:
    """Bounding-box side lengths of a distributed mesh."""
    x = msh.geometry.x[:, :msh.topology.dim]
    low = x.min(axis=0) if len(x) else np.full(x.shape[1], np.inf)
    high = x.max(axis=0) if len(x) else np.full(x.shape[1], -np.inf)
    msh.comm.Allreduce(MPI.IN_PLACE, low, op=MPI.MIN)
    msh.comm.Allreduce(MPI.IN_PLACE, high, op=MPI.MAX)
    return high - low


def region_fractions(domain) -> dict[int, float]:
    """Volume fraction of each cell tag in the bounding box (unmeshed voids count as volume)."""
    msh = domain.mesh
    dx = measure("dx", domain, subdomain_data=domain.cell_tags)
    present = msh.comm.allreduce({int(t) for t in np.unique(domain.cell_tags.values)},
                                 op=MPI.BOR)
    box = float(np.prod(_box(msh)))
    return {t: msh.comm.allreduce(fem.assemble_scalar(fem.form(1.0 * dx(t))), op=MPI.SUM) / box
            for t in sorted(present)}


@dataclass(frozen=True)
class VoxelRegions:
    """The regions of an image's voxels: the conductivity of each tag (`sigma`, indexed by tag,
    0 where none is given or the region insulates), the largest one and the volume fraction of
    each region present."""

    sigma: np.ndarray
    sigma_max: float
    fractions: dict[int, float]


def voxel_regions(tag_of: np.ndarray, voxels: int, conductivities: dict[int, float],
                  comm) -> VoxelRegions:
    """`tag_of`: region tags of a rank's voxels; `voxels`: the image's number of voxels."""
    present = comm.allreduce({int(t) for t in np.unique(tag_of)} - {roles.VOID}, op=MPI.BOR)
    conducting = conducting_tags(present, conductivities)
    sigma = np.zeros(max(max(present, default=0), max(conducting)) + 1)
    for t in conducting:
        sigma[t] = conductivities[t]
    counts = {t: int(np.count_nonzero(tag_of == t)) for t in present}
    return VoxelRegions(sigma, max(conductivities[t] for t in conducting),
                        {t: comm.allreduce(counts[t]) / voxels for t in sorted(present)})


def directional_effective(domain, conductivities: dict[int, float], sigma_ref: float,
                          directions=("x", "y", "z"), spanning: dict | None = None,
                          petsc_options: dict | None = None) -> list[dict]:
    """One row of figures per direction (SI), on a dolfinx domain. `conductivities`: {region
    tag: S/m}, other regions insulating; `sigma_ref`: the phase conductivity tau refers to;
    `spanning`: {axis: fraction of the conducting phase in spanning components} (PoreSpy's
    tau), if known."""

    def solve(axis):
        run = solve_potential(domain, conductivities, axis=axis, floating=True,
                              petsc_options=petsc_options or IMAGE_SOLVER)
        result = figures(domain, run, sigma_ref)
        return result.sigma_eff, result.height, cross_section(domain, axis)

    return direction_rows(region_fractions(domain), domain.mesh.topology.dim, conductivities,
                          sigma_ref, directions, spanning, solve)


def direction_rows(fractions: dict[int, float], dim: int, conductivities: dict[int, float],
                   sigma_ref: float, directions, spanning: dict | None, solve) -> list[dict]:
    """The rows of `directional_effective` from the region volume fractions and
    `solve(coordinate axis) -> (sigma_eff S/m, length m, cross-section m2)`."""
    void = 1.0 - sum(fractions.values())
    phis = [*fractions.values(), void]
    sigmas = [conductivities.get(t, 0.0) for t in fractions] + [0.0]
    eps = sum(f for t, f in fractions.items() if conductivities.get(t, 0.0) > 0)
    sigma_mean = sum(f * conductivities.get(t, 0.0) for t, f in fractions.items())
    hs_lower, hs_upper = hashin_shtrikman(phis, sigmas, dim)
    wiener_lower, wiener_upper = wiener(phis, sigmas)
    single = len({s for s in sigmas if s > 0}) == 1
    rows = []
    for name in directions:
        axis = DIRECTIONS[name]
        if axis >= dim:
            raise ValueError(f"direction {name!r} does not exist in a {dim}D domain")
        start = time.perf_counter()
        sigma_eff, length, area = solve(axis)
        seconds = time.perf_counter() - start
        relative = sigma_eff / sigma_ref
        percolates = relative > BLOCKED
        eps_span = eps * spanning[axis] if spanning and axis in spanning else None

        def over(value):  # value / relative conductivity; None (infinite) if blocked
            return value / relative if percolates and value is not None else None

        rows.append({
            "direction": name, "percolates": percolates, "sigma_eff_S_m": sigma_eff,
            "sigma_ref_S_m": sigma_ref, "relative_conductivity": relative,
            "macmullin_number": over(1.0), "conducting_fraction": eps,
            "tortuosity_factor": over(eps), "spanning_fraction": eps_span,
            "tortuosity_factor_spanning": over(eps_span),
            "tortuosity_factor_multiphase": over(sigma_mean / sigma_ref),
            "hashin_shtrikman_lower": hs_lower / sigma_ref,
            "hashin_shtrikman_upper": hs_upper / sigma_ref,
            "wiener_lower": wiener_lower / sigma_ref, "wiener_upper": wiener_upper / sigma_ref,
            "bruggeman_relation": eps ** (1.5 if dim == 3 else 2.0) if single else None,
            "effective_medium": effective_medium(phis, sigmas, dim) / sigma_ref,
            "length_m": length, "area_m": area, "solve_seconds": seconds,
        })
    return rows


def table(rows: list[dict]) -> str:
    """Markdown table: one column per direction."""
    lines = [("sigma_eff (S/m)", "sigma_eff_S_m", ".5g"),
             ("sigma_eff / sigma_ref (TauFactor D_rel)", "relative_conductivity", ".5f"),
             ("MacMullin number sigma_ref / sigma_eff", "macmullin_number", ".4f"),
             ("conducting fraction eps (TauFactor VF)", "conducting_fraction", ".4f"),
             ("tortuosity factor eps sigma_ref / sigma_eff (TauFactor tau)",
              "tortuosity_factor", ".4f"),
             ("spanning fraction (PoreSpy effective porosity)", "spanning_fraction", ".4f"),
             ("tortuosity factor with it (PoreSpy tau)", "tortuosity_factor_spanning", ".4f"),
             ("multi-phase tau sigma_mean / sigma_eff (TauFactor)",
              "tortuosity_factor_multiphase", ".4f"),
             ("Hashin-Shtrikman bounds / sigma_ref", None, None),
             ("Wiener bounds / sigma_ref", None, None),
             ("Bruggeman eps^1.5 (3D), eps^2 (2D)", "bruggeman_relation", ".4f"),
             ("Bruggeman effective medium / sigma_ref", "effective_medium", ".4f"),
             ("solve time (s)", "solve_seconds", ".1f")]
    head = "| quantity | " + " | ".join(r["direction"] for r in rows) + " |"
    out = [head, "|---|" + "---|" * len(rows)]
    for title, key, fmt in lines:
        if key is None:
            which = "hashin_shtrikman" if title.startswith("Hashin") else "wiener"
            cells = [f"{r[which + '_lower']:.4f} - {r[which + '_upper']:.4f}" for r in rows]
        else:
            cells = ["-" if r[key] is None else format(r[key], fmt) for r in rows]
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    return "\n".join(out)

