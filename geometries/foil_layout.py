"""Where the active sites and particles of a Li-foil surface go: a regular layout or rejection
sampling, with errors that say what to change when they do not fit. `params` is a
geometries.li_foil.LiFoilGeometry (not imported: li_foil builds with this module).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from femsolver.errors import GeometryError
from geometries.common import NM

# Narrowest electrolyte gap (fraction of the particle diameter) allowed between a particle and
# another particle, a wall or the top/bottom: thinner gaps need a far finer mesh, touching
# particles give degenerate geometry.
MIN_GAP = 0.05

MAX_DRAWS = 1000  # random draws per site or particle before rejection sampling gives up


@dataclass(frozen=True)
class Layout:
    """Where the features go, nm."""

    sites: np.ndarray  # (n, dim - 1): centres of the active sites on the flat surface
    particles: np.ndarray  # (m, dim): particle centres


def layout(params) -> Layout:
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


def _area_text(params) -> str:
    sides = [params.width, params.resolved_depth][:params.dimension - 1]
    return " x ".join(f"{s * NM:g} nm" for s in sides)


def _check_particle_height(params, gap: float) -> None:
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


def _feature_name(params) -> str:
    if params.surface == "bare":
        return f"active sites of {params.site_width * NM:g} nm"
    if params.surface == "prs":
        return (f"active sites of {params.site_width * NM:g} nm carrying particles of "
                f"{params.particle_diameter * NM:g} nm")
    return f"particles of {params.particle_diameter * NM:g} nm"


def _crowding_hint(params) -> str:
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
