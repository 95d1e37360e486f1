"""One (coated) inclusion at the centre of a box: the unit cell of the effective-property checks.

A core of radius R, an optional shell of thickness t, centred in a box (2D: W x H rectangle,
the cell of a square array of cylinders; axisymmetric: cylinder of radius W; 3D: W x W x H).
Insulating side walls and the bottom / top faces make it the unit cell of a periodic array in a
field along z (y in 2D): Hashin's coated sphere and cylinder, Maxwell's dilute limit
(femsolver/verification/hashin.py, maxwell.py). Bottom CURRENT_COLLECTOR, top COUNTER.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from femsolver.schema import check_keys, param
from geometries.common import NM, MeshExtent, sphere_measure
from geometries.particles import (
    Layers, add_particle_groups, band_size_field, box, delaunay_on_spheres, disk_or_ball,
    fragment)


@dataclass(frozen=True)
class InclusionGeometry:
    """Parameters of the inclusion family, SI units (the builder converts to nm)."""

    dimension: int = param(2, "2 (plane or axisymmetric section) or 3", choices=(2, 3))
    axisymmetric: bool = param(False, "2D only: (r, z) section, the inclusion is a sphere")
    core_radius: float = param(1e-6, "inclusion (core) radius R, m", positive=True)
    shell_thickness: float | None = param(None, "shell thickness t, m (none by default)",
                                          positive=True)
    width: float = param(4e-6, "box width (2D), side (3D) or cylinder radius (axisymmetric), m",
                         positive=True)
    height: float = param(4e-6, "box height along the field, m", positive=True)

    def __post_init__(self):
        check_keys(self, "geometry")
        if self.axisymmetric and self.dimension != 2:
            raise ValueError("'geometry.axisymmetric' needs dimension = 2")
        half_width = self.width if self.axisymmetric else self.width / 2
        if self.outer_radius >= min(half_width, self.height / 2):
            raise ValueError(f"'geometry.width' / 'geometry.height' leave no room around the "
                             f"inclusion of outer radius {self.outer_radius:g} m")

    @property
    def outer_radius(self) -> float:
        return self.core_radius + (self.shell_thickness or 0.0)

    @property
    def reference_length(self) -> float:
        return self.core_radius

    @property
    def projected_area(self) -> float:
        if self.axisymmetric:
            return math.pi * self.width ** 2
        return self.width ** (self.dimension - 1)

    def mesh_sizes(self, mesh) -> tuple[float, float]:
        """(h at the inclusion, h_bulk), m: default R/10 and R/2."""
        h = mesh.h_interface if mesh.h_interface is not None else self.core_radius / 10
        h_bulk = mesh.h_bulk if mesh.h_bulk is not None else self.core_radius / 2
        return h, max(h, h_bulk)

    def mesh_extent(self, mesh) -> MeshExtent:
        """The inclusion's surface meshed at h through its shell."""
        h, h_bulk = self.mesh_sizes(mesh)
        volume = (self.width if self.dimension == 2 else self.width ** 2) * self.height
        surface = sphere_measure(self.dimension, self.core_radius, self.axisymmetric)
        return MeshExtent(self.dimension, volume, surface, self.shell_thickness or 0.0, h, h_bulk)


def build(model, params: InclusionGeometry, mesh) -> None:
    """Add the box and its centred inclusion (OCC, nm), physical groups and size field."""
    dim, occ = params.dimension, model.occ
    width, height = params.width * NM, params.height * NM
    R, outer = params.core_radius * NM, params.outer_radius * NM
    if params.axisymmetric:
        centre = (0.0, height / 2)
    elif dim == 2:
        centre = (width / 2, height / 2)
    else:
        centre = (width / 2, width / 2, height / 2)
    layers = Layers(core=[disk_or_ball(occ, dim, centre, R)])
    if params.shell_thickness:
        layers.shell.append(disk_or_ball(occ, dim, centre, outer))
    extent = (width, height) if dim == 2 else (width, width, height)
    regions = fragment(model, dim, box(occ, dim, extent), layers)
    add_particle_groups(model, dim, regions, height, bare=False, collector="all",
                        axis=params.axisymmetric)
    h, h_bulk = (x * NM for x in params.mesh_sizes(mesh))
    band_size_field(model, dim, [([(centre, R, outer)], h)], h_bulk)
    delaunay_on_spheres(model)
