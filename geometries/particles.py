"""Gmsh helpers shared by the particle families (core_shell, composite): nm, OCC.

A particle is a set of concentric layers (core, optional coating, optional shell) given as
full disks / balls. Everything is fragmented with the box at once; the pieces inside the box
are the box's children and take the region of the innermost layer that contains them
(core > coating > shell > matrix), so overlapping shells stay SHELL, a shell running into
another core is ACTIVE, and nothing outside the box survives.
"""

from __future__ import annotations

import itertools

from dataclasses import dataclass, field

import numpy as np

from femsolver import tags
from femsolver.errors import GeometryError
from geometries.common import GRADING, add_group, boundary, centre_of_mass

# Seed 003 (Li6PS5Cl@NMC811): densities, kg/m3
CORE_DENSITY = 4800.0
SHELL_DENSITY = 1640.0


def shell_thickness_from_mass(core_radius: float, shell_mass_fraction: float,
                              core_density: float = CORE_DENSITY,
                              shell_density: float = SHELL_DENSITY) -> float:
    """Shell thickness t from ((R + t)^3 - R^3) / R^3 = (m_shell / m_core)(rho_core / rho_shell).

    `shell_mass_fraction` is the shell's share of the particle mass (5 wt% -> 0.05, so
    m_shell / m_core = 0.05 / 0.95). Same units as core_radius.
    """
    ratio = shell_mass_fraction / (1 - shell_mass_fraction) * core_density / shell_density
    return core_radius * ((1 + ratio) ** (1 / 3) - 1)


@dataclass
class Layers:
    """Full (uncut) OCC shapes of every particle layer, and the contact-spot lenses (bare)."""

    core: list = field(default_factory=list)
    coating: list = field(default_factory=list)
    shell: list = field(default_factory=list)
    spots: list = field(default_factory=list)  # lens = core ∩ disk/ball around a spot centre


def disk_or_ball(occ, dim: int, centre, radius: float):
    """(dim, tag) of a disk (2D, z = 0 plane) or a ball."""
    if dim == 2:
        return (2, occ.addDisk(centre[0], centre[1], 0, radius, radius))
    return (3, occ.addSphere(*centre, radius))


def box(occ, dim: int, extent) -> tuple[int, int]:
    """[0, extent] rectangle (2D) or box (3D); extent is (x, [y,] z), nm."""
    if dim == 2:
        return (2, occ.addRectangle(0, 0, 0, extent[0], extent[1]))
    return (3, occ.addBox(0, 0, 0, *extent))


def spot_lens(occ, dim: int, centre, core_radius: float, direction, chord: float):
    """The part of the core within `chord` of the surface point centre + R direction.

    Its boundary on the core surface is a contact spot (an arc, ring or cap of angular
    half-width 2 asin(chord / 2R)).
    """
    point = np.asarray(centre) + core_radius * np.asarray(direction)
    tool = disk_or_ball(occ, dim, point, chord)
    core = disk_or_ball(occ, dim, centre, core_radius)
    lens, _ = occ.intersect([tool], [core])
    return lens


def _clip(model, shape, container) -> list:
    """The part of `shape` (a full disk or ball) inside the box.

    OCC sometimes returns a disk crossing a wall uncut (seen for one disk out of 30 in 2D; the
    same disk moved by 1e-12 is cut), and the fragment then leaves it reaching outside. A shape
    that crosses a wall but keeps its whole area is redone scaled by 1 + 1e-9 about its centre.
    """
    occ = model.occ
    low, high = np.array(occ.getBoundingBox(*container)).reshape(2, 3)
    for _ in range(4):
        lo, hi = np.array(occ.getBoundingBox(*shape)).reshape(2, 3)
        slack = 1e-6 * (hi - lo).max()
        crosses = np.any(lo < low - slack) or np.any(hi > high + slack)
        whole = occ.getMass(*shape)
        pieces, _ = occ.intersect([shape], occ.copy([container]), removeObject=False)
        if not crosses or sum(occ.getMass(*p) for p in pieces) < whole * (1 - 1e-9):
            if shape not in pieces:
                occ.remove([shape], recursive=True)
            return pieces
        occ.remove([p for p in pieces if p != shape], recursive=True)
        occ.dilate([shape], *occ.getCenterOfMass(*shape), *(3 * [1 + 1e-9]))
    raise GeometryError("OCC could not clip a particle to the box")


@dataclass(frozen=True)
class Regions:
    """Volume (2D: surface) entity tags of each region after the fragment."""

    active: list[int]
    coating: list[int]
    shell: list[int]
    matrix: list[int]
    spots: list[int]  # the ACTIVE pieces that are contact-spot lenses


def fragment(model, dim: int, container, layers: Layers) -> Regions:
    """Clip all layers to the box, fragment it with them and sort the pieces by region."""
    occ = model.occ
    groups = [[piece for shape in group for piece in _clip(model, shape, container)]
              for group in (layers.spots, layers.core, layers.coating, layers.shell)]
    tools = [s for g in groups for s in g]
    _, children = occ.fragment([container], tools)
    inside = {t for _, t in children[0]}
    owner = {}  # piece -> index of the innermost group containing it (0: spot ... 3: shell)
    start = 1
    for k, group in enumerate(groups):
        for parent in children[start:start + len(group)]:
            for _, t in parent:
                owner[t] = min(owner.get(t, k), k)
        start += len(group)
    outside = {t for parent in children[1:] for _, t in parent} - inside
    if outside:
        occ.remove([(dim, t) for t in sorted(outside)], recursive=True)
    occ.synchronize()
    by_group = {k: sorted(t for t in inside if owner.get(t) == k) for k in range(5)}
    by_group[4] = sorted(t for t in inside if t not in owner)
    return Regions(active=by_group[0] + by_group[1], coating=by_group[2], shell=by_group[3],
                   matrix=by_group[4], spots=by_group[0])


def add_particle_groups(model, dim: int, regions: Regions, height: float, bare: bool,
                        collector: str, axis: bool) -> None:
    """Physical groups of the regions, the core surface and the outer walls.

    The core surface facing another region is PARTICLE_ACTIVE (bare: only on the spot lenses;
    the rest PARTICLE_BLOCKING). Outer walls: top (z = height) COUNTER; bottom (z = 0)
    CURRENT_COLLECTOR where the core touches it (collector = "core") or all of it ("all");
    with `axis` the r = 0 line is left untagged; the rest ELECTROLYTE_SIDES.
    """
    for entities, tag in ((regions.active, tags.ACTIVE), (regions.coating, tags.COATING),
                          (regions.shell, tags.SHELL), (regions.matrix, tags.MATRIX)):
        add_group(model, dim, entities, tag)
    conducting = regions.coating + regions.shell + regions.matrix
    around_core = boundary(model, dim, regions.active)
    interface = around_core & boundary(model, dim, conducting)
    if bare:
        lens_faces = {abs(t) for _, t in model.getBoundary(
            [(dim, t) for t in regions.spots], combined=False, oriented=False)}
        active = interface & lens_faces
    else:
        active = interface
    add_group(model, dim - 1, active, tags.PARTICLE_ACTIVE)
    add_group(model, dim - 1, interface - active, tags.PARTICLE_BLOCKING)

    outer = {tags.COUNTER: [], tags.CURRENT_COLLECTOR: [], tags.ELECTROLYTE_SIDES: []}
    tolerance = 1e-9 * height
    for entity in boundary(model, dim, regions.active + conducting):
        com = centre_of_mass(model, dim - 1, entity)
        z = com[dim - 1]
        if abs(z - height) < tolerance:
            outer[tags.COUNTER].append(entity)
        elif abs(z) < tolerance and (collector == "all" or entity in around_core):
            outer[tags.CURRENT_COLLECTOR].append(entity)
        elif not (axis and abs(com[0]) < tolerance):
            outer[tags.ELECTROLYTE_SIDES].append(entity)
    for tag, entities in outer.items():
        add_group(model, dim - 1, entities, tag)


def band_size_field(model, dim: int, levels, h_max: float) -> None:
    """Element size h inside bands r_in <= |x - c| <= r_out, graded to h_max away from them.

    `levels` is a list of (bands, h), bands a list of (centre, r_in, r_out), nm: each level is
    one MathEval with the exact distance to its nearest band (cheaper than gmsh's Distance
    field, which tessellates every sphere); the size is the smallest over the levels.
    """
    coords = "xyz"[:dim]
    f = model.mesh.field
    thresholds = []
    for bands, h in levels:
        terms = []
        for centre, r_in, r_out in bands:
            radius = "+".join(f"({c}-({float(x)!r}))^2" for c, x in zip(coords, centre))
            mid, half = float(r_in + r_out) / 2, float(r_out - r_in) / 2
            terms.append(f"Max(Abs(Sqrt({radius})-{mid!r})-{half!r},0)")
        distance = terms[0]
        for term in terms[1:]:
            distance = f"Min({distance},{term})"
        d = f.add("MathEval")
        f.setString(d, "F", distance)
        threshold = f.add("Threshold")
        f.setNumber(threshold, "InField", d)
        f.setNumber(threshold, "SizeMin", min(h, h_max))
        f.setNumber(threshold, "SizeMax", h_max)
        f.setNumber(threshold, "DistMin", 0.0)
        f.setNumber(threshold, "DistMax", max(h_max - h, 0.0) / GRADING)
        thresholds.append(threshold)
    smallest = f.add("Min")
    f.setNumbers(smallest, "FieldsList", thresholds)
    f.setAsBackgroundMesh(smallest)


def delaunay_on_spheres(model) -> None:
    """Mesh spherical faces with gmsh's Delaunay (2D algorithm 5): the default frontal mesher
    can fold triangles over the rim of a sphere cap cut by a wall that is not normal to the
    sphere's OCC pole axis (z) ("overlapping facets")."""
    for _, surface in model.getEntities(2):
        if model.getType(2, surface) == "Sphere":
            model.mesh.setAlgorithm(2, surface, 5)


def check_curves_apart(model, tolerance: float, key: str) -> None:
    """Raise GeometryError if two curves of a 2D model that share no vertex come within
    `tolerance` (nm, the builders' unit) of each other: they cross without an intersection
    vertex (OCC's fragment missed it), and gmsh's 2D mesher would retry the recovery of their
    crossing 1D meshes for ever (a 30-particle composite never finished)."""
    curves = []
    for _, tag in model.getEntities(1):
        box = np.reshape(model.getBoundingBox(1, tag), (2, 3))
        ends = {abs(v) for _, v in model.getBoundary([(1, tag)], oriented=False)}
        curves.append((tag, box[0] - tolerance, box[1] + tolerance, ends))
    for (a, lo_a, hi_a, ends_a), (b, lo_b, hi_b, ends_b) in itertools.combinations(curves, 2):
        if ends_a & ends_b or np.any(hi_a < lo_b) or np.any(hi_b < lo_a):
            continue
        gap = model.occ.getDistance(1, a, 1, b)[0]
        if 0 <= gap < tolerance:
            raise GeometryError(
                f"the geometry has two curves that cross without meeting ({gap:.3g} nm "
                f"apart), which gmsh cannot mesh; change {key}")
