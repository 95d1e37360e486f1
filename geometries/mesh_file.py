"""A mesh made by another tool (anything meshio reads: Gmsh .msh 2/4, VTU, Abaqus .inp, MED,
XDMF, ...), its cell regions and boundary facets mapped to femsolver's roles by the case:

    [geometry]
    kind = "mesh_file"
    path = "cell.msh"
    length_unit = 1e-6                       # metres per file unit (the file is in um)
    regions = {"electrolyte" = "electrolyte", "2" = "electrode"}   # file region -> role
    boundaries = {"top" = "counter", "active" = "working_active"}   # file facet set -> role

File regions are named by their physical name (Gmsh) or number. Rank 0 reads the file and
checks it; the cells and nodes are scattered in equal chunks and dolfinx partitions them in
parallel (no rank holds the mesh after that).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from femsolver import tags
from femsolver.schema import check_keys, param
from geometries.common import MeshExtent

CELL_DATA_KEYS = ("gmsh:physical", "medit:ref", "CellEntityIds", "cell_tags", "tags")


@functools.lru_cache(maxsize=4)
def _summary(path: str) -> dict:
    """Dimension, cell count and box of a mesh file (read once per process, for the case)."""
    from femsolver.imaging.meshio_load import read_checked

    mesh = read_checked(path)
    return {"dim": mesh.dim, "cells": len(mesh.cells), "box": mesh.box}


@dataclass(frozen=True)
class MeshFileGeometry:
    """Parameters of the mesh_file family."""

    path: str | None = param(None, "mesh file meshio reads (.msh, .vtu, .inp, .med, .xdmf, ...)")
    length_unit: float = param(1.0, "metres per length unit of the file (1e-6: micrometres)",
                               positive=True)
    regions: dict = param({}, "file cell region (physical name or number) -> role: "
                          + ", ".join(tags.REGIONS))
    boundaries: dict = param({}, "file facet set (physical name or number) -> role: "
                             + ", ".join(tags.BOUNDARIES))
    problem: str = param("cell", "the problem solved on it: cell (electrolyte | electrode) or "
                         "particle", choices=("cell", "particle"))

    def __post_init__(self):
        check_keys(self, "geometry")
        if self.path is None:
            raise ValueError("missing key 'geometry.path'")
        for key, table, allowed in (("regions", self.regions, tags.REGIONS),
                                    ("boundaries", self.boundaries, tags.BOUNDARIES)):
            for name, role in table.items():
                if role not in allowed:
                    raise ValueError(f"'geometry.{key}.{name}' must be one of "
                                     f"{', '.join(allowed)}, got {role!r}")
        if not self.regions:
            raise ValueError("'geometry.regions' is empty: map the file's cell regions to roles")
        _summary(self.path)  # a missing or unusable file is bad input, found now

    @property
    def dimension(self) -> int:
        return _summary(self.path)["dim"]

    @property
    def box(self) -> np.ndarray:
        """Bounding-box side lengths, m."""
        return np.asarray(_summary(self.path)["box"]) * self.length_unit

    @property
    def reference_length(self) -> float:
        return float(self.box[0])

    @property
    def projected_area(self) -> float:
        return float(np.prod(self.box[:-1]))

    def mesh_extent(self, mesh) -> MeshExtent:
        """Exact: the file's cell count (predict_cells of this extent is that count)."""
        from geometries.image import ELEMENT

        dim, h = self.dimension, self.reference_length
        return MeshExtent(dim, _summary(self.path)["cells"] * ELEMENT[dim] * h ** dim,
                          0.0, 0.0, h, h)


def load(params: MeshFileGeometry, mesh_params, comm):
    """(mesh, cell tags, facet tags) in metres; mesh.refine uniform refinements (simplices)."""
    from femsolver.imaging.meshio_load import distribute
    from femsolver.meshtags import refine

    mesh, cell_tags, facet_tags = distribute(params, comm)
    for _ in range(mesh_params.refine):
        mesh, cell_tags, facet_tags = refine(mesh, cell_tags, facet_tags)
    return mesh, cell_tags, facet_tags

