"""Planar cell: a flat working electrode and a flat counter electrode `length` apart.

A thin strip (2D) or square column (3D) that behaves as a 1D cell: the reference problem
for the solver (analytic limiting current, ohmic drop). The working-electrode slab lies below
y = 0 (z = 0 in 3D), the counter electrode is the top of the electrolyte at y = length.
`axisymmetric = true`: the strip is the (r, z) section of a cylindrical cell of radius `width`
(x = r, the axis at r = 0), its electrodes discs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from femsolver.schema import check_keys, param
from geometries.common import (
    NM, MeshExtent, add_physical_groups, graded_size_field, mesh_sizes, plane_distance)


@dataclass(frozen=True)
class PlanarGeometry:
    """Parameters of the planar family, SI units (the builder converts to nm)."""

    dimension: int = param(2, "2 (strip, x-y) or 3 (square column, normal z)", choices=(2, 3))
    length: float = param(100e-6, "electrode gap: electrolyte thickness from y = 0 to the "
                          "counter electrode, m", positive=True)
    width: float | None = param(None, "width of the strip (and depth of the column in 3D), m "
                                "(default: length / 20)", positive=True)
    electrode_thickness: float | None = param(
        None, "thickness of the working-electrode slab below y = 0, m (default: length / 10)",
        positive=True)
    axisymmetric: bool = param(False, "2D only: (r, z) section of a cylindrical cell of radius "
                               "`width`, x = r")
    mesh_electrode: bool | None = param(
        None, "mesh the working-electrode slab (default: only for a resolved electrode, "
        "electrode.equipotential = false; otherwise its surface is a boundary of the "
        "electrolyte)")

    def __post_init__(self):
        check_keys(self, "geometry")
        if self.axisymmetric and self.dimension != 2:
            raise ValueError("'geometry.axisymmetric' needs dimension = 2")

    @property
    def reference_length(self) -> float:
        """Length unit of the problem and of the default mesh sizes, m."""
        return self.length

    @property
    def resolved_width(self) -> float:
        """Width (and 3D depth), m."""
        return self.width if self.width is not None else self.length / 20

    @property
    def resolved_electrode_thickness(self) -> float:
        """Thickness of the working-electrode slab, m."""
        if self.electrode_thickness is not None:
            return self.electrode_thickness
        return self.length / 10

    @property
    def projected_area(self) -> float:
        """Projected electrode area: m (width) in 2D, m2 in 3D and axisymmetric (a disc)."""
        if self.axisymmetric:
            return math.pi * self.resolved_width ** 2
        return self.resolved_width ** (self.dimension - 1)


    @property
    def electrode_meshed(self) -> bool:
        """Whether the builder meshes the slab (mesh_electrode; None, as when the parameters
        are made in Python rather than read from a case: yes)."""
        return self.mesh_electrode is not False

    def mesh_extent(self, mesh) -> MeshExtent:
        """Both electrodes graded; the electrode slab if it is meshed."""
        h_fine, h_bulk = (h / NM for h in mesh_sizes(self.reference_length, mesh))
        area = self.resolved_width ** (self.dimension - 1)  # of the meshed section
        slab = self.resolved_electrode_thickness if self.electrode_meshed else 0.0
        return MeshExtent(self.dimension, area * (self.length + slab), 2 * area, 0.0, h_fine,
                          h_bulk, one_sided=0.0 if self.electrode_meshed else area)


def _column(occ, dim: int, width: float, bottom: float, height: float):
    """Strip (2D) or square column (3D) of `width` from `bottom` to `bottom + height` (nm)."""
    if dim == 2:
        return (2, occ.addRectangle(0, bottom, 0, width, height))
    return (3, occ.addBox(0, 0, bottom, width, width, height))


def build(model, params: PlanarGeometry, mesh) -> None:
    """Add the planar cell to `model` (OCC, nm), its physical groups and a size field graded
    towards both electrodes. `mesh` is the case's MeshParams (sizes in m)."""
    dim, occ = params.dimension, model.occ
    width, length = params.resolved_width * NM, params.length * NM
    thickness = params.resolved_electrode_thickness * NM
    electrolyte = _column(occ, dim, width, 0, length)
    if params.electrode_meshed:
        electrode = _column(occ, dim, width, -thickness, thickness)
        # Fragmenting makes the shared face one entity, so the interface mesh is conforming
        _, children = occ.fragment([electrolyte], [electrode])
    else:
        children = [[electrolyte], []]
    occ.synchronize()

    everything = {t for _, t in model.getEntities(dim - 1)}
    add_physical_groups(model, dim, [t for _, t in children[0]], [t for _, t in children[1]],
                        active=everything, top=length,
                        bottom=-thickness if params.electrode_meshed else 0.0,
                        lateral=(width, width)[:dim - 1])

    normal = "y" if dim == 2 else "z"
    h_min, h_max = mesh_sizes(params.reference_length, mesh)
    distances = [plane_distance(model, f"Abs({normal})"),
                 plane_distance(model, f"Abs({normal} - {length!r})")]
    graded_size_field(model, distances, h_min, h_max)
