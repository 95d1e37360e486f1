"""Li-metal foil surface under an electrolyte box (seed paper 001, section 5, Figs. S6-S9).

The study area is `width` (x 'depth' in 3D) wide: a Li slab below y = 0 (z = 0 in 3D), the
electrolyte above, the flat counter electrode at the top. Three surface states:

- bare: flat Li; active sites (segments / squares of `site_width`) cover `active_fraction`,
  the rest of the surface is blocked by the native passivation layer.
- prs: PRS@Li, a lithiated silica particle centred on every active site, fused with the Li.
  The exposed particle surface and the uncovered flat parts of the sites are active.
- ers: ERS@Li, fully reconstructed: particles present and the whole interface active.

`axisymmetric = true` (bare or prs): the (r, z) section of a cylindrical cell of radius `width`
(x = r >= 0, the axis at r = 0 a symmetry boundary) with one circular active site of diameter
`site_width` centred on the axis (prs: carrying a particle, a sphere on the axis); the active
fraction is then (site_width / (2 width))^2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from femsolver.schema import check_keys, param
from geometries.common import (
    NM, MeshExtent, add_physical_groups, graded_size_field, is_flat, mesh_sizes, plane_distance,
    sphere_distance, sphere_measure)
from geometries.foil_layout import layout

DEFAULT_ACTIVE_FRACTION = {"bare": 0.08, "prs": 0.56, "ers": 1.0}  # paper 001, Fig. S6


@dataclass(frozen=True)
class LiFoilGeometry:
    """Parameters of the Li-foil family, SI units (the builder converts to nm)."""

    surface: str = param("bare", "surface state: bare Li foil, prs (PRS@Li) or ers (ERS@Li)",
                         choices=("bare", "prs", "ers"))
    dimension: int = param(2, "2 (cross-section, x-y) or 3 (box, surface in x-y, normal z)",
                           choices=(2, 3))
    width: float = param(500e-9, "width of the study area along x, m", positive=True)
    depth: float | None = param(None, "3D only: depth of the study area along y, m "
                                "(default: width)", positive=True)
    electrolyte_height: float = param(500e-9, "electrolyte thickness from the flat surface to "
                                      "the counter electrode, m", positive=True)
    electrode_thickness: float = param(100e-9, "thickness of the Li slab below the surface, m",
                                       positive=True)
    active_fraction: float | None = param(
        None, "active fraction of the projected surface, 1 (default by surface: bare 0.08, "
        "prs 0.56, ers 1)", fraction=True)
    site_width: float = param(20e-9, "width of an active site (segment; square in 3D), m",
                              positive=True)
    site_layout: str = param("regular", "placement of the sites (ers: of the particles): "
                             "regular (equal gaps) or random (seeded)",
                             choices=("regular", "random"))
    particle_diameter: float = param(20e-9, "lithiated silica particle diameter, m",
                                     positive=True)
    particle_count: int | None = param(
        None, "number of particles (default: prs one per active site; ers width / (2 diameter) "
        "in 2D, (width x depth) / (2 diameter)^2 in 3D; bare none)", nonnegative=True)
    particle_embedding: float = param(
        0.5, "fraction of the particle diameter below the flat surface, 1", at_least=0, below=1)
    axisymmetric: bool = param(
        False, "2D only: (r, z) section of a cylindrical cell of radius `width`, x = r, with one "
        "circular active site of diameter `site_width` on the axis (surface bare, or prs: with "
        "its particle)")
    seed: int = param(1, "random seed for site_layout = random", nonnegative=True)
    mesh_electrode: bool | None = param(
        None, "mesh the Li slab and the particles' insides (default: only for a resolved "
        "electrode, electrode.equipotential = false; an equipotential electrode needs no "
        "cells and its surface is then a boundary of the electrolyte)")

    def __post_init__(self):
        check_keys(self, "geometry")
        if self.axisymmetric and (self.dimension != 2 or self.surface == "ers"
                                  or self.active_fraction is not None):
            raise ValueError("'geometry.axisymmetric' needs dimension = 2 and surface = 'bare' "
                             "or 'prs' without active_fraction (one site of site_width on the "
                             "axis)")
        if self.axisymmetric and self.site_width / 2 >= self.width:
            raise ValueError("'geometry.site_width' / 2 must be below the cell radius "
                             "'geometry.width' for an axisymmetric foil")
        if self.depth is not None and self.dimension == 2:
            raise ValueError("'geometry.depth' only applies to dimension = 3")
        if self.surface == "ers" and self.resolved_active_fraction != 1:
            raise ValueError("'geometry.active_fraction' must be 1 for surface = 'ers' "
                             "(the whole reconstructed interface is active)")
        if self.surface == "bare" and self.particle_count:
            raise ValueError("'geometry.particle_count' must be 0 for surface = 'bare'")
        if self.surface != "bare" and self.resolved_particle_count < 1:
            raise ValueError(f"no particle of diameter {self.particle_diameter:g} m fits on the "
                             f"surface for surface = '{self.surface}' (geometry.width = "
                             f"{self.width:g} m); widen geometry.width or set "
                             "geometry.particle_count")
        if self.surface == "prs" and self.particle_count not in (None, self.site_count):
            raise ValueError(f"'geometry.particle_count' must equal the number of active sites "
                             f"({self.site_count}) for surface = 'prs', got {self.particle_count}")

    @property
    def reference_length(self) -> float:
        """Length unit of the problem and of the default mesh sizes, m."""
        return self.electrolyte_height

    @property
    def resolved_depth(self) -> float:
        """Depth along y in 3D, m."""
        return self.depth if self.depth is not None else self.width

    @property
    def projected_area(self) -> float:
        """Projected area of the surface: m (width) in 2D, m2 in 3D and in axisymmetry (the
        disc of radius width)."""
        if self.axisymmetric:
            return math.pi * self.width ** 2
        return self.width if self.dimension == 2 else self.width * self.resolved_depth

    @property
    def resolved_active_fraction(self) -> float:
        """Active fraction of the projected surface, 1."""
        if self.active_fraction is not None:
            return self.active_fraction
        if self.axisymmetric:  # the disc of the one site on the axis
            return (self.site_width / (2 * self.width)) ** 2
        return DEFAULT_ACTIVE_FRACTION[self.surface]

    @property
    def site_count(self) -> int:
        """Number of active sites (ers: 0, the whole interface is active)."""
        if self.surface == "ers":
            return 0
        if self.axisymmetric:
            return 1
        site_area = self.site_width ** (self.dimension - 1)
        return round(self.resolved_active_fraction * self.projected_area / site_area)

    @property
    def resolved_particle_count(self) -> int:
        """Number of particles on the surface."""
        if self.particle_count is not None:
            return self.particle_count
        if self.surface == "prs":
            return self.site_count
        if self.surface == "ers":
            cell = (2 * self.particle_diameter) ** (self.dimension - 1)
            return round(self.projected_area / cell)
        return 0


    @property
    def electrode_meshed(self) -> bool:
        """Whether the builder meshes the electrode (mesh_electrode; None, as when the
        parameters are made in Python rather than read from a case: yes)."""
        return self.mesh_electrode is not False

    def mesh_extent(self, mesh) -> MeshExtent:
        """The surface (and the particles on it) graded; the electrode slab if it is meshed."""
        h_fine, h_bulk = (h / NM for h in mesh_sizes(self.reference_length, mesh))
        count, r = self.resolved_particle_count, self.particle_diameter / 2
        section = self.width if self.dimension == 2 else self.projected_area  # what is meshed
        if self.electrode_meshed:  # whole particle surfaces, meshed on both sides
            volume = section * (self.electrolyte_height + self.electrode_thickness)
            surface = section + count * sphere_measure(self.dimension, r, self.axisymmetric)
            return MeshExtent(self.dimension, volume, surface, 0.0, h_fine, h_bulk)
        # The electrolyte alone: the flat surface less the particles' footprints, plus their
        # exposed caps, graded on the electrolyte side only. The centre is r (1 - 2 e) high.
        height = r * (1 - 2 * self.particle_embedding)
        if self.dimension == 2:
            exposed, footprint = 2 * r * math.acos(-height / r), 2 * math.sqrt(r**2 - height**2)
        else:
            exposed, footprint = 2 * math.pi * r * (r + height), math.pi * (r**2 - height**2)
        if self.axisymmetric:  # the section holds half of the particle's circle
            exposed, footprint = exposed / 2, footprint / 2
        surface = section + count * (exposed - footprint)
        return MeshExtent(self.dimension, section * self.electrolyte_height, surface,
                          0.0, h_fine, h_bulk, one_sided=surface)


def _slab(occ, dim: int, width: float, depth: float, bottom: float, height: float):
    """Rectangle (2D) or box (3D) spanning the study area between bottom and bottom + height."""
    if dim == 2:
        return (2, occ.addRectangle(0, bottom, 0, width, height))
    return (3, occ.addBox(0, 0, bottom, width, depth, height))


def _particle(occ, dim: int, centre: np.ndarray, radius: float, axisymmetric: bool = False):
    """A disk (2D; in axisymmetry its half at r >= 0, on the axis) or a sphere (3D)."""
    if axisymmetric:
        disk = occ.addDisk(centre[0], centre[1], 0, radius, radius)
        half = occ.addRectangle(0, centre[1] - radius, 0, radius, 2 * radius)
        return occ.intersect([(2, disk)], [(2, half)])[0][0]
    if dim == 2:
        return (2, occ.addDisk(centre[0], centre[1], 0, radius, radius))
    return (3, occ.addSphere(*centre, radius))


def _site(occ, dim: int, centre: np.ndarray, side: float, axisymmetric: bool = False):
    """Active site on the flat surface: a segment (2D) or a square (3D); in axisymmetry the
    radius of the disc on the axis, from r = 0 to side / 2."""
    if dim == 2:
        ends = [occ.addPoint(max(centre[0] + s * side / 2, 0.0 if axisymmetric else -np.inf),
                             0, 0) for s in (-1, 1)]
        return (1, occ.addLine(*ends))
    return (2, occ.addRectangle(centre[0] - side / 2, centre[1] - side / 2, 0, side, side))


def build(model, params: LiFoilGeometry, mesh) -> None:
    """Add the Li-foil geometry to `model` (OCC, nm), its physical groups and size field.

    `mesh` is the case's MeshParams (sizes in m). Raises GeometryError for layouts that do not
    fit. Leaves meshing to the caller.
    """
    dim, occ = params.dimension, model.occ
    features = layout(params)
    width, depth = params.width * NM, params.resolved_depth * NM
    height, thickness = params.electrolyte_height * NM, params.electrode_thickness * NM
    radius = params.particle_diameter * NM / 2

    meshed = params.electrode_meshed
    electrolyte = [_slab(occ, dim, width, depth, 0, height)]
    electrode = [_slab(occ, dim, width, depth, -thickness, thickness)] if meshed else []
    particles = [_particle(occ, dim, c, radius, params.axisymmetric) for c in features.particles]
    sites = [_site(occ, dim, c, params.site_width * NM, params.axisymmetric)
             for c in features.sites]
    if particles:
        if sites:  # the part of a site under its particle is inside the electrode
            sites, _ = occ.cut(sites, particles, removeTool=False)
        electrolyte, _ = occ.cut(electrolyte, particles, removeTool=not meshed)
        if meshed:
            electrode, _ = occ.fuse(electrode, particles)
    # Particle centres become mesh nodes inside a meshed electrode; the size field measures
    # from them
    centres = [(0, occ.addPoint(*c, 0) if dim == 2 else occ.addPoint(*c))
               for c in features.particles] if meshed else []
    if sites or centres:
        _, children = occ.fragment(electrolyte + electrode, sites + centres)
    else:  # nothing to split (OCC's fragment returns nothing without tools)
        children = [[region] for region in electrolyte + electrode]
    occ.synchronize()

    def tags_of(first: int, count: int) -> list[int]:
        return sorted({t for parent in children[first:first + count] for _, t in parent})

    regions = len(electrolyte) + len(electrode)
    electrolyte_cells = tags_of(0, len(electrolyte))
    electrode_cells = tags_of(len(electrolyte), len(electrode))
    site_facets = set(tags_of(regions, len(sites)))
    centre_points = tags_of(regions + len(sites), len(centres))
    facets = [t for _, t in model.getEntities(dim - 1)]
    if params.surface == "ers":
        active = set(facets)
    else:
        active = site_facets | {t for t in facets if not is_flat(model, dim - 1, t)}
    add_physical_groups(model, dim, electrolyte_cells, electrode_cells, active,
                        top=height, bottom=-thickness if meshed else 0.0,
                        lateral=(width, depth)[:dim - 1])

    h_min, h_max = mesh_sizes(params.reference_length, mesh)
    distances = [plane_distance(model, "Abs(y)" if dim == 2 else "Abs(z)")]
    if centre_points:
        distances.append(_particle_distance(model, centre_points, radius))
    elif not meshed:
        distances += [sphere_distance(model, c, radius) for c in features.particles]
    graded_size_field(model, distances, h_min, h_max)


def _particle_distance(model, centre_points: list[int], radius: float) -> int:
    """Exact distance to the nearest particle surface: | distance to the nearest centre - r |.

    (Equal radii and no overlap make the nearest centre's sphere the nearest surface.) Cheaper
    than gmsh's Distance to surfaces, which tessellates every sphere.
    """
    centres = model.mesh.field.add("Distance")
    model.mesh.field.setNumbers(centres, "PointsList", centre_points)
    field = model.mesh.field.add("MathEval")
    model.mesh.field.setString(field, "F", f"Abs(F{centres} - {radius!r})")
    return field
