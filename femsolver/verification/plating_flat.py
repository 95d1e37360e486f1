"""Benchmark: a flat Li electrode plated at constant current grows uniformly.

The electrolyte is meshed alone (the equipotential electrode is its lower boundary). Every
interface node moves at v = i M / (rho F), so the thickness after t is i t M / (rho F); the
electrolyte loses exactly that volume (Li conservation, G4) and keeps its salt (G2). The same
in axisymmetry, where the strip is the (r, z) section of a disc electrode of radius W in a
cylindrical cell (volumes 2 pi r-weighted, G4 a cubic in s). Also the building block of the
plating benchmarks: `electrolyte_box`, an electrolyte-only structured mesh with a surface
`y = shape(x)`.
"""

from __future__ import annotations

import numpy as np
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femsolver import tags
from femsolver.mesh import Domain
from femsolver.physics.constants import FARADAY
from femsolver.plating.remesh import salt
from femsolver.plating.stepping import PlatingStepper
from femsolver.plating.surface import boundary
from femsolver.verification import Row, relative_error
from femsolver.verification.domains import make_case

TITLE = "Plating: uniform growth of a flat electrode"
W, H = 100e-9, 400e-9  # width and electrolyte height, m
I_APP = 25.0  # A/m2, the seed's 2.5 mA/cm2
M_LI, RHO_LI = 6.941e-3, 534.0
QUIET = lambda message: None

SETUP = f"""\
A flat Li electrode under {H * 1e9:g} nm of electrolyte ({W * 1e9:g} nm wide strip, 8 x 32 P1
triangles, the electrode not meshed), dilute 1 M salt with D+ = D- = 1e-9 m2/s, i0 = 10 A/m2,
galvanostatic i = {I_APP:g} A/m2 (the seed's 2.5 mA/cm2), plated for 20 s with steps limited
to plating.step_fraction = 0.2 of the local edge length (no remeshing needed).

Reference: every point of the surface moves at v = i M/(rho F) with M = 6.941e-3 kg/mol, rho =
534 kg/m3 (M/rho = 1.30e-5 m3/mol): thickness = i t M/(rho F) = {I_APP * 20 * M_LI / RHO_LI /
FARADAY * 1e9:.4f} nm after 20 s; the electrolyte loses the plated volume, the salt inventory
(the integral of c) is unchanged.

Axisymmetric: the same strip as the (r, z) section of a cylindrical cell of radius {W * 1e9:g} nm
(r = x, the axis at x = 0 a symmetry boundary); the same thickness, the Li volume
i pi W^2 t M/(rho F), the salt c0 pi W^2 H (every volume 2 pi r-weighted).
"""


def electrolyte_box(width, height, nx, ny, shape=lambda x: 0.0 * x, active=lambda x: True,
                    comm=MPI.COMM_WORLD, axisymmetric: bool = False) -> Domain:
    """Electrolyte-only structured triangle mesh over y from shape(x) to `height` (m): the
    working interface is the bottom (WORKING_ACTIVE where `active(midpoint)`, else
    WORKING_BLOCKING), the counter electrode the top, the sides x = 0, width.
    `axisymmetric`: the (r, z) section of a cylinder of radius `width` (x = r)."""
    msh = dmesh.create_rectangle(comm, [[0.0, 0.0], [width, height]], [nx, ny],
                                 cell_type=dmesh.CellType.triangle,
                                 ghost_mode=dmesh.GhostMode.shared_facet)
    x = msh.geometry.x
    x[:, 1] = shape(x[:, 0]) * (1 - x[:, 1] / height) + x[:, 1]
    tdim = 2
    cmap = msh.topology.index_map(tdim)
    cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
    cell_tags = dmesh.meshtags(msh, tdim, cells, np.full(len(cells), tags.ELECTROLYTE,
                                                        dtype=np.int32))
    msh.topology.create_connectivity(tdim - 1, tdim)
    tol = 1e-9 * max(width, height)
    bottom = dmesh.locate_entities_boundary(
        msh, 1, lambda p: np.isclose(p[1], shape(p[0]), rtol=0, atol=tol))
    walls = dmesh.locate_entities_boundary(
        msh, 1, lambda p: np.isclose(p[0], 0, atol=tol) | np.isclose(p[0], width, atol=tol))
    mid = dmesh.compute_midpoints(msh, 1, bottom)
    is_active = np.array([bool(active(p)) for p in mid], dtype=bool)
    groups = {tags.WORKING_ACTIVE: bottom[is_active], tags.WORKING_BLOCKING: bottom[~is_active],
              tags.COUNTER: dmesh.locate_entities_boundary(
                  msh, 1, lambda p: np.isclose(p[1], height, rtol=0, atol=tol)),
              tags.ELECTROLYTE_SIDES: walls}
    facets = np.concatenate(list(groups.values()))
    values = np.concatenate([np.full(len(f), t, dtype=np.int32) for t, f in groups.items()])
    order = np.argsort(facets)
    facet_tags = dmesh.meshtags(msh, tdim - 1, facets[order], values[order])
    return Domain(msh, cell_tags, facet_tags, reference_length=height,
                  projected_area=np.pi * width ** 2 if axisymmetric else width,
                  axisymmetric=axisymmetric)


def plating_case(**sections):
    """A plating case (defaults of the benchmarks) with `sections` overriding."""
    sections.setdefault("plating", {})
    sections["plating"] = {"enabled": True, **sections["plating"]}
    sections.setdefault("control", {"current_density": I_APP})
    sections.setdefault("solver", {"rtol": 1e-12})
    return make_case(**sections)


def run_to_end(case, domain, comm) -> PlatingStepper:
    stepper = PlatingStepper(case, domain, comm, QUIET)
    stepper.start()
    for _ in stepper.steps():
        pass
    return stepper


AXISYMMETRIC = f"Axisymmetric (r, z): a disc electrode of radius {W * 1e9:g} nm"


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    return _rows(TITLE, level, comm, False) + _rows(AXISYMMETRIC, level, comm, True)


def _rows(group: str, level: int, comm, axisymmetric: bool) -> list[Row]:
    end = 20.0
    case = plating_case(time={"end": end, "dt": 1.0, "dt_max": 2.0, "scheme": "bdf1"})
    domain = electrolyte_box(W, H, 8, 32 * 2 ** level, comm=comm, axisymmetric=axisymmetric)
    area = domain.projected_area  # W, or pi W^2
    unit, formula = ("m3", "i pi W^2 t") if axisymmetric else ("m2 per m of depth", "i W t")
    stepper = run_to_end(case, domain, comm)
    try:
        y = boundary(stepper.domain).interface().points[:, :, 1]
        thickness = I_APP * end * M_LI / (RHO_LI * FARADAY)
        plated = I_APP * area * end * M_LI / (RHO_LI * FARADAY)
        spread = float(y.max() - y.min())
        salt_change = (salt(stepper.problem) - area * H) / (area * H)
        return [
            Row(group, "mean thickness (m) after 20 s", thickness, "i t M/(rho F)",
                float(y.mean()), relative_error(float(y.mean()), thickness), "rel", 1e-9),
            Row(group, "spread of the surface height / thickness", 0.0, "uniform growth",
                spread / thickness, spread / thickness, "abs", 1e-9),
            Row(group, f"Li volume: electrolyte volume lost ({unit})", plated,
                f"{formula} M/(rho F)", stepper.deposited_volume,
                relative_error(stepper.deposited_volume, plated), "rel", 1e-9),
            Row(group, "salt inventory change / inventory", 0.0, "closed cell: integral of c kept",
                salt_change, abs(salt_change), "abs", 1e-10),
        ]
    finally:
        stepper.close()
