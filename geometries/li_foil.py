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
from femsolver.errors import GeometryError
from geometries.common import (
    NM, MeshExtent, add_physical_groups, graded_size_field, is_flat, mesh_sizes, plane_distance,
    sphere_distance, sphere_measure)

DEFAULT_ACTIVE_FRACTION = {"bare": 0.08, "prs": 0.56, "ers": 1.0}  # paper 001, Fig. S6

# Narrowest electrolyte gap (fraction of the particle diameter) allowed between a particle and
# another particle, a wall or the top/bottom: thinner gaps need a far finer mesh, touching
# particles give degenerate geometry.
MIN_GAP = 0.05

MAX_DRAWS = 1000  # random draws per site or particle before rejection sampling gives up


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


@dataclass(frozen=True)
class Layout:
    """Where the features go, nm."""

    sites: np.ndarray  # (n, dim - 1): centres of the active sites on the flat surface
    particles: np.ndarray  # (m, dim): particle centres


def layout(params: LiFoilGeometry) -> Layout:
    """Positions of the active sites and particles; GeometryError if they cannot fit."""
    dim = params.dimension
    extent = np.array([params.width, params.resolved_depth][:dim - 1]) * NM
    site, diameter = params.site_width * NM, params.particle_diameter * NM
    gap = MIN_GAP * diameter
    _check_particle_height(params, gap)
    if params.surface == "ers":
        count, min_side, min_distance = params.resolved_particle_count, 0.0, diameter + gap
    elif params.surface == "prs":
        count, min_side, min_distance = params.site_count, site, diameter + gap
    else:
        count, min_side, min_distance = params.site_count, site, 0.0
    if params.surface != "ers" and count == 0:
        raise GeometryError(
            f"no active site: active_fraction x area / site area = "
            f"{params.resolved_active_fraction} x {_area_text(params)} rounds to 0 sites of "
            f"{site:g} nm; raise geometry.active_fraction or lower geometry.site_width")
    # Closest a centre may come to a wall: half a site, or a particle radius plus the gap
    margin = max(min_side / 2, diameter / 2 + gap if min_distance else 0.0)
    if params.axisymmetric:  # the one site on the axis, and its particle (prs)
        height = diameter / 2 - params.particle_embedding * diameter
        particles = [[0.0, height]] if params.surface == "prs" else []
        return Layout(sites=np.zeros((1, 1)), particles=np.array(particles).reshape(-1, dim))
    if params.site_layout == "regular":
        centres = _regular(count, extent)
        _check_regular(centres, extent, margin, min_side, min_distance, params)
    else:
        rng = np.random.default_rng(params.seed)
        centres = _random(count, extent, margin, min_side, min_distance, rng, params)
    if params.surface == "bare":
        return Layout(sites=centres, particles=np.empty((0, dim)))
    # Particle centres sit d/2 - embedding d above the flat surface
    height = np.full((count, 1), diameter / 2 - params.particle_embedding * diameter)
    particles = np.hstack([centres, height])
    return Layout(sites=centres if params.surface == "prs" else np.empty((0, dim - 1)),
                  particles=particles)


def _area_text(params: LiFoilGeometry) -> str:
    sides = [params.width, params.resolved_depth][:params.dimension - 1]
    return " x ".join(f"{s * NM:g} nm" for s in sides)


def _check_particle_height(params: LiFoilGeometry, gap: float) -> None:
    """Particles must stay clear of the counter electrode and the current collector."""
    if params.resolved_particle_count == 0:
        return
    diameter = params.particle_diameter * NM
    top = diameter * (1 - params.particle_embedding)
    bottom = diameter * params.particle_embedding
    if top > params.electrolyte_height * NM - gap:
        raise GeometryError(f"particles rise {top:g} nm above the surface and touch the counter "
                            f"electrode (electrolyte_height {params.electrolyte_height * NM:g} nm)")
    if bottom > params.electrode_thickness * NM - gap:
        raise GeometryError(f"particles reach {bottom:g} nm into the Li slab and touch the "
                            f"current collector (electrode_thickness "
                            f"{params.electrode_thickness * NM:g} nm)")


def _regular(count: int, extent: np.ndarray) -> np.ndarray:
    """Evenly spaced centres with equal gaps (half gaps at the walls).

    In 3D the points fill near-square rows along y; rows differ by at most one point so the
    count (hence the active fraction) stays exact.
    """
    if count == 0:
        return np.empty((0, len(extent)))
    if len(extent) == 1:
        return ((np.arange(count) + 0.5) * extent[0] / count)[:, None]
    rows = min(count, max(1, round(math.sqrt(count * extent[1] / extent[0]))))
    per_row = [count // rows + (1 if j < count % rows else 0) for j in range(rows)]
    centres = [((i + 0.5) * extent[0] / k, (j + 0.5) * extent[1] / rows)
               for j, k in enumerate(per_row) for i in range(k)]
    return np.array(centres).reshape(-1, 2)


def _conflicts(candidate: np.ndarray, placed: np.ndarray, min_side: float,
               min_distance: float) -> bool:
    """True if `candidate` overlaps a placed site (squares / segments of side `min_side`) or
    comes closer than `min_distance` to a placed particle centre."""
    if len(placed) == 0:
        return False
    offset = np.abs(placed - candidate)
    tolerance = 1e-9 * max(min_side, min_distance)
    overlap = np.all(offset < min_side - tolerance, axis=1)
    too_close = np.linalg.norm(offset, axis=1) < min_distance - tolerance
    return bool(np.any(overlap | too_close))


def _feature_name(params: LiFoilGeometry) -> str:
    if params.surface == "bare":
        return f"active sites of {params.site_width * NM:g} nm"
    if params.surface == "prs":
        return (f"active sites of {params.site_width * NM:g} nm carrying particles of "
                f"{params.particle_diameter * NM:g} nm")
    return f"particles of {params.particle_diameter * NM:g} nm"


def _crowding_hint(params: LiFoilGeometry) -> str:
    """What to change when the features do not fit, and the gap rule if particles are present."""
    if params.surface == "bare":
        return "lower geometry.active_fraction or geometry.site_width"
    gap = MIN_GAP * params.particle_diameter * NM
    rule = (f"particles need an electrolyte gap of at least {gap:g} nm ({MIN_GAP:g} diameter) "
            f"to each other and to the walls")
    if params.surface == "prs":
        return f"{rule}; lower geometry.active_fraction, site_width or particle_diameter"
    return f"{rule}; lower geometry.particle_count or geometry.particle_diameter"


def _check_regular(centres, extent, margin, min_side, min_distance, params) -> None:
    """The regular layout must keep sites apart, particles apart and both inside the walls."""
    inside = np.all((centres >= margin * (1 - 1e-9)) & (centres <= extent - margin * (1 - 1e-9)))
    apart = not any(_conflicts(c, centres[i + 1:], min_side, min_distance)
                    for i, c in enumerate(centres))
    if not (inside and apart):
        raise GeometryError(
            f"{len(centres)} {_feature_name(params)} do not fit in a regular layout on "
            f"{_area_text(params)}: {_crowding_hint(params)}")


def _random(count, extent, margin, min_side, min_distance, rng, params) -> np.ndarray:
    """Rejection sampling: uniform draws, rejecting any that overlap a feature already placed."""
    low, high = np.full(len(extent), margin), extent - margin
    placed = np.empty((0, len(extent)))
    if count and np.all(high >= low):
        for _ in range(MAX_DRAWS * count):
            candidate = rng.uniform(low, high)
            if not _conflicts(candidate, placed, min_side, min_distance):
                placed = np.vstack([placed, candidate])
                if len(placed) == count:
                    return placed
    if count == 0:
        return placed
    raise GeometryError(
        f"could not place {count} {_feature_name(params)} at random without overlap on "
        f"{_area_text(params)} (seed {params.seed}, {MAX_DRAWS * count} draws): "
        f"{_crowding_hint(params)}, or use site_layout = 'regular'")


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
