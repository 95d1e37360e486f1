"""One core-shell cathode particle on the current collector in a solid-electrolyte box (seed 003).

The core (radius R, e.g. NMC811) sits on the collector: the plane z = 0 (y = 0 in 2D) cuts a
flat disk of radius `collector_contact_radius` off it (CURRENT_COLLECTOR). Around it an optional
meshed coating (LiNbO3; by default the coating is an interface film of the physics, not meshed)
and a shell of thickness t (Li6PS5Cl), in a matrix box whose top, `separator_thickness` above
the particle, is the counter electrode. Three sections: 2D (x, y) cross-section, 2D
axisymmetric (r, z) half-section of the sphere, 3D sphere in a square box.

variant = "bare": no shell; the core touches the matrix only at `contact_spots` spots covering
`contact_fraction` of its free surface (arcs in 2D, rings in axisymmetry, caps in 3D); the rest
of the core surface is PARTICLE_BLOCKING. contact_fraction = 1 is a fully wetted core (a particle
in a liquid): all of its free surface is PARTICLE_ACTIVE, there are no spots and no blocking part.
The voids are modelled as that blocking interface on a conforming mesh, not as holes: a void is
an insulating gap of unknown, sub-micron thickness, and the ion path around it is not resolved
in the matrix either way, while a blocking interface leaves the mesh free of nanometre slivers
and keeps one mesh for the shell and bare variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from femsolver.schema import check_keys, param
from femsolver.errors import GeometryError
from geometries.common import NM, MeshExtent, sphere_measure
from geometries.particles import (
    CORE_DENSITY, SHELL_DENSITY, Layers, add_particle_groups, band_size_field, box,
    delaunay_on_spheres, disk_or_ball, fragment, shell_thickness_from_mass, spot_lens)

SEED_CORE_RADIUS = 10.5e-6  # m: R implied by 516 nm at 5 wt% in seed 003 (see docs/particles.md)
MIN_WALL_GAP = 0.01  # closest the particle may come to a side wall, in core radii
SPOT_GAP = 0.5  # free surface kept between two spots (and the collector), in spot half-widths
MAX_DRAWS = 1000  # random draws per spot before giving up


@dataclass(frozen=True)
class CoreShellGeometry:
    """Parameters of the core_shell family, SI units (the builder converts to nm)."""

    dimension: int = param(2, "2 (cross-section or axisymmetric section) or 3 (sphere in a box)",
                           choices=(2, 3))
    axisymmetric: bool = param(False, "2D only: (r, z) half-section of a sphere (x = r >= 0)")
    variant: str = param("shell", "shell (core-shell particle) or bare (core touching the matrix "
                         "at contact spots only)", choices=("shell", "bare"))
    core_radius: float = param(SEED_CORE_RADIUS, "core radius R, m", positive=True)
    shell_thickness: float | None = param(
        None, "shell thickness t, m (default: from shell_mass_fraction by mass balance)",
        positive=True)
    shell_mass_fraction: float = param(0.05, "shell share of the particle mass (5 wt% = 0.05), "
                                       "used when shell_thickness is not given, 1", fraction=True)
    core_density: float = param(CORE_DENSITY, "core density, kg/m3 (NMC811, seed 003)",
                                positive=True)
    shell_density: float = param(SHELL_DENSITY, "shell density, kg/m3 (Li6PS5Cl, seed 003)",
                                 positive=True)
    coating_thickness: float | None = param(
        None, "coating (e.g. LiNbO3) thickness between core and shell, m (none by default)",
        positive=True)
    coating_meshed: bool = param(False, "mesh the coating as a region (COATING); false: the "
                                 "coating is an interface film of the physics")
    contact_fraction: float = param(0.3, "bare: share of the free core surface touching the "
                                    "matrix (area; arc length in 2D), 1; 1: fully wetted, "
                                    "contact_spots unused",
                                    fraction=True)
    contact_spots: int = param(6, "bare: number of contact spots (arcs, rings or caps)",
                               positive=True)
    contact_layout: str = param("regular", "bare: spot placement, regular or random (seeded)",
                                choices=("regular", "random"))
    seed: int = param(1, "random seed of contact_layout = random", nonnegative=True)
    width: float | None = param(
        None, "lateral extent, m: box width (2D), box side (3D), cylinder radius "
        "(axisymmetric); default: a gap of R/2 between particle and wall", positive=True)
    separator_thickness: float | None = param(
        None, "matrix above the particle top up to the counter electrode, m (default R/2)",
        positive=True)
    collector_contact_radius: float | None = param(
        None, "radius of the flat core contact on the collector, m (default R/5)", positive=True)

    def __post_init__(self):
        check_keys(self, "geometry")
        if self.axisymmetric and self.dimension != 2:
            raise ValueError("'geometry.axisymmetric' needs dimension = 2")
        if self.variant == "bare" and self.shell_thickness is not None:
            raise ValueError("'geometry.shell_thickness' does not apply to variant = 'bare'")
        if self.variant == "bare" and self.coating_meshed:
            raise ValueError("'geometry.coating_meshed' needs variant = 'shell' (a bare "
                             "particle's coating is an interface film)")
        if self.shell_mass_fraction >= 1:
            raise ValueError("'geometry.shell_mass_fraction' must be below 1")
        if self.coating_meshed and self.coating_thickness is None:
            raise ValueError("'geometry.coating_thickness' is needed with coating_meshed = true")
        if (self.variant == "shell" and self.coating_thickness is not None
                and self.coating_thickness >= self.resolved_shell_thickness):
            raise ValueError(f"'geometry.coating_thickness' ({self.coating_thickness:g} m) must "
                             f"be thinner than the shell ({self.resolved_shell_thickness:g} m)")
        if self.resolved_contact_radius >= self.core_radius:
            raise ValueError(f"'geometry.collector_contact_radius' must be smaller than the core "
                             f"radius {self.core_radius:g} m")
        room = self.resolved_width - self.outer_radius * (1 if self.axisymmetric else 2)
        if room < MIN_WALL_GAP * self.core_radius * (1 if self.axisymmetric else 2):
            raise ValueError(f"'geometry.width' ({self.resolved_width:g} m) leaves no room around "
                             f"the particle of outer radius {self.outer_radius:g} m")

    @property
    def reference_length(self) -> float:
        return self.core_radius

    @property
    def resolved_shell_thickness(self) -> float:
        """Shell thickness t, m (0 for a bare particle)."""
        if self.variant == "bare":
            return 0.0
        if self.shell_thickness is not None:
            return self.shell_thickness
        return shell_thickness_from_mass(self.core_radius, self.shell_mass_fraction,
                                         self.core_density, self.shell_density)

    @property
    def meshed_coating(self) -> float:
        """Thickness of the meshed coating layer, m (0 if the coating is a film or absent)."""
        return self.coating_thickness if self.coating_meshed else 0.0

    @property
    def outer_radius(self) -> float:
        """Radius of the particle's outer surface (core + meshed coating + shell), m."""
        return self.core_radius + self.meshed_coating + self.resolved_shell_thickness

    @property
    def resolved_width(self) -> float:
        if self.width is not None:
            return self.width
        half = self.outer_radius + self.core_radius / 2
        return half if self.axisymmetric else 2 * half

    @property
    def resolved_separator(self) -> float:
        if self.separator_thickness is not None:
            return self.separator_thickness
        return self.core_radius / 2

    @property
    def resolved_contact_radius(self) -> float:
        if self.collector_contact_radius is not None:
            return self.collector_contact_radius
        return self.core_radius / 5

    @property
    def centre_height(self) -> float:
        """Height of the core centre above the collector, m."""
        return math.sqrt(self.core_radius ** 2 - self.resolved_contact_radius ** 2)

    @property
    def height(self) -> float:
        """Box height from the collector to the counter electrode, m."""
        return self.centre_height + self.outer_radius + self.resolved_separator

    @property
    def projected_area(self) -> float:
        """Box cross-section: m (2D width), m2 (3D; axisymmetric pi W^2)."""
        if self.axisymmetric:
            return math.pi * self.resolved_width ** 2
        return self.resolved_width ** (self.dimension - 1)

    def mesh_sizes(self, mesh) -> tuple[float, float, float]:
        """(h in the shell, h in the meshed coating, h_bulk), m.

        mesh.h_interface overrides the shell size. Default in 2D: two elements across the
        shell, at most R/50. In 3D R/10, which meshes in seconds but leaves a seed shell (t =
        R/20) under-resolved: resolving it (h_interface = t/2) takes ~750k cells and 90 s of
        gmsh. A meshed coating gets two elements across (or h_interface if finer); the bulk
        R/5 unless mesh.h_bulk is set.
        """
        t = self.resolved_shell_thickness
        if self.dimension == 3:
            h_shell = self.core_radius / 10
        else:
            h_shell = min(self.core_radius / 50, t / 2) if t else self.core_radius / 50
        if mesh.h_interface is not None:
            h_shell = mesh.h_interface
        h_coating = min(self.meshed_coating / 2, h_shell) if self.meshed_coating else h_shell
        h_bulk = mesh.h_bulk if mesh.h_bulk is not None else self.core_radius / 5
        return h_shell, h_coating, max(h_bulk, h_shell)

    def mesh_extent(self, mesh) -> MeshExtent:
        """The core surface meshed at the shell size through shell and coating."""
        h_shell, _, h_bulk = self.mesh_sizes(mesh)
        width = self.resolved_width
        volume = (width if self.dimension == 2 else width ** 2) * self.height
        surface = sphere_measure(self.dimension, self.core_radius, self.axisymmetric)
        return MeshExtent(self.dimension, volume, surface, self.outer_radius - self.core_radius,
                          h_shell, h_bulk)


def spot_directions(params: CoreShellGeometry) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors to the spot centres (n, dim) and the spots' angular half-widths (n,).

    Polar angle theta is measured from the downward axis; the collector disk covers theta <
    theta0 = asin(a / R). Spots share the free surface equally: arcs of equal length (2D),
    rings of equal area (axisymmetric), equal caps (3D).
    """
    n, f = params.contact_spots, params.contact_fraction
    theta0 = math.asin(params.resolved_contact_radius / params.core_radius)
    rng = np.random.default_rng(params.seed)
    random = params.contact_layout == "random"
    if params.axisymmetric:  # rings: equal intervals of u = -cos(theta), which is area
        u0, spacing = -math.cos(theta0), (1 + math.cos(theta0)) / n
        width = f * spacing
        if random:
            centres = _random_1d(n, u0, 1.0, width, rng, params)
        else:
            centres = u0 + (np.arange(n) + 0.5) * spacing
        t1, t2 = np.arccos(-(centres - width / 2)), np.arccos(-(centres + width / 2))
        theta, half = (t1 + t2) / 2, (t2 - t1) / 2
        return np.stack([np.sin(theta), -np.cos(theta)], axis=1), half
    if params.dimension == 2:  # arcs around the whole free circle
        free = 2 * math.pi - 2 * theta0
        half = np.full(n, f * free / n / 2)
        if random:
            theta = _random_1d(n, theta0, theta0 + free, 2 * half[0], rng, params)
        else:
            theta = theta0 + (np.arange(n) + 0.5) * free / n
        return np.stack([np.sin(theta), -np.cos(theta)], axis=1), half
    # 3D caps: 1 - cos(beta) = f (1 + cos theta0) / n
    beta = math.acos(1 - f * (1 + math.cos(theta0)) / n)
    lowest = theta0 + beta * (1 + SPOT_GAP)  # polar angle of the lowest allowed cap centre
    if random:
        directions = _random_caps(n, lowest, beta, rng, params)
    else:  # Fibonacci spiral over the free zone: nearly uniform spacing
        u = -math.cos(lowest) + (np.arange(n) + 0.5) * (1 + math.cos(lowest)) / n
        phi = np.arange(n) * math.pi * (3 - math.sqrt(5))
        s = np.sqrt(1 - u ** 2)
        directions = np.stack([s * np.cos(phi), s * np.sin(phi), u], axis=1)
        _check_caps(directions, beta, params)
    return directions, np.full(n, beta)


def _random_1d(n, low, high, width, rng, params) -> np.ndarray:
    """n non-overlapping intervals of `width` (plus the gap) with centres drawn in [low, high]."""
    margin = width / 2 * (1 + SPOT_GAP)
    placed: list[float] = []
    for _ in range(MAX_DRAWS * n):
        x = rng.uniform(low + margin, high - margin)
        if all(abs(x - y) >= 2 * margin for y in placed):
            placed.append(x)
            if len(placed) == n:
                return np.sort(np.array(placed))
    raise _crowded(params)


def _random_caps(n, lowest, beta, rng, params) -> np.ndarray:
    """Uniform directions above polar angle `lowest`, caps kept apart (rejection sampling)."""
    placed = []
    for _ in range(MAX_DRAWS * n):
        u = rng.uniform(-math.cos(lowest), 1)
        phi = rng.uniform(0, 2 * math.pi)
        s = math.sqrt(1 - u * u)
        d = np.array([s * math.cos(phi), s * math.sin(phi), u])
        if all(np.arccos(np.clip(d @ p, -1, 1)) >= 2 * beta * (1 + SPOT_GAP) for p in placed):
            placed.append(d)
            if len(placed) == n:
                return np.array(placed)
    raise _crowded(params)


def _check_caps(directions, beta, params) -> None:
    cosines = np.clip(directions @ directions.T, -1, 1)
    np.fill_diagonal(cosines, -1)
    if np.arccos(cosines.max()) < 2 * beta * (1 + SPOT_GAP / 2):
        raise _crowded(params)


def _crowded(params) -> GeometryError:
    return GeometryError(
        f"{params.contact_spots} contact spots covering {params.contact_fraction:g} of the core "
        f"surface do not fit apart ({params.contact_layout} layout): lower "
        f"geometry.contact_fraction or geometry.contact_spots")


def build(model, params: CoreShellGeometry, mesh) -> None:
    """Add the particle geometry (OCC, nm), its physical groups and size field to `model`."""
    dim, occ = params.dimension, model.occ
    R = params.core_radius * NM
    coating = params.meshed_coating * NM
    outer = params.outer_radius * NM
    width, height = params.resolved_width * NM, params.height * NM
    zc = params.centre_height * NM
    if params.axisymmetric:
        centre = np.array([0.0, zc])
    elif dim == 2:
        centre = np.array([width / 2, zc])
    else:
        centre = np.array([width / 2, width / 2, zc])

    layers = Layers(core=[disk_or_ball(occ, dim, centre, R)])
    if coating:
        layers.coating.append(disk_or_ball(occ, dim, centre, R + coating))
    wetted = params.variant == "bare" and params.contact_fraction >= 1
    if params.variant == "shell":
        layers.shell.append(disk_or_ball(occ, dim, centre, outer))
    elif not wetted:
        directions, half = spot_directions(params)
        for d, beta in zip(directions, half):
            layers.spots += spot_lens(occ, dim, centre, R, d, 2 * R * math.sin(beta / 2))
    extent = (width, height) if dim == 2 else (width, width, height)
    regions = fragment(model, dim, box(occ, dim, extent), layers)
    add_particle_groups(model, dim, regions, height, bare=params.variant == "bare" and not wetted,
                        collector="core", axis=params.axisymmetric)

    h_shell, h_coating, h_bulk = (h * NM for h in params.mesh_sizes(mesh))
    levels = [([(centre, R, outer)], h_shell)]
    if coating:
        levels.append(([(centre, R, R + coating)], h_coating))
    band_size_field(model, dim, levels, h_bulk)
    delaunay_on_spheres(model)
