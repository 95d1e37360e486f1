"""Composite cathode volume: N core-shell particles packed in a box of solid electrolyte.

Core radii are drawn from a log-normal distribution (mean `mean_radius`, relative standard
deviation `radius_spread`, seeded); the box side L is set so that the cores fill exactly
`active_fraction` of it: L^d = sum of core volumes / fraction. The packing is periodic (a
particle crossing a wall re-enters on the other side, so the box holds exactly that fraction).
It is found by energy minimisation, not random sequential addition (which stalls near 38 % in
3D): random centres, FIRE on the overlap energy of the cores inflated by the gap, then
push-apart sweeps that clear the near tangencies; a stuck start is retried from a new random
start. docs/particles.md gives the fractions it reaches.

Cores keep a gap of at least `min_gap` mean radii; shells may overlap each other and other
cores (the core wins: see geometries/particles.py). Surfaces that would nearly touch (shell on
shell, shell on core, sphere on wall) are kept at least TANGENCY_GAP apart, since near
tangencies give OCC slivers that gmsh cannot mesh. Bottom (z = 0) CURRENT_COLLECTOR, top
COUNTER: the faces of the conductivity measurement; the side walls ELECTROLYTE_SIDES.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from femsolver.schema import check_keys, param
from femsolver.errors import GeometryError
from geometries.common import NM, MeshExtent, sphere_measure
from geometries.particles import (
    CORE_DENSITY, SHELL_DENSITY, Layers, add_particle_groups, band_size_field, box,
    check_curves_apart, delaunay_on_spheres, disk_or_ball, fragment, shell_thickness_from_mass)

TANGENCY_GAP = 0.02  # mean radii: smallest distance between two surfaces that do not cross
CROSSING_TOLERANCE = 1e-6  # mean radii: curves closer than this cross (see check_curves_apart)
MARGIN = 0.002  # mean radii: how far beyond a band's edge the penalty pushes
FIRE_STEPS = 5000  # minimisation steps of one random start
MAX_SWEEPS = 2000  # push-apart sweeps that clear the near tangencies afterwards
ATTEMPTS = 5  # random starts before the target is declared unreachable


@dataclass(frozen=True)
class CompositeGeometry:
    """Parameters of the composite family, SI units (the builder converts to nm)."""

    dimension: int = param(2, "2 (disks in a square) or 3 (spheres in a cube)", choices=(2, 3))
    particle_count: int = param(12, "number of particles N", positive=True)
    mean_radius: float = param(10.5e-6, "mean core radius, m", positive=True)
    radius_spread: float = param(0.2, "relative standard deviation of the core radius "
                                 "(log-normal), 1; 0 for equal cores")
    active_fraction: float = param(0.511, "core (active-material) volume fraction of the box, "
                                   "1 (seed 003: 51.1 % NMC811)", fraction=True)
    shell_thickness: float | None = param(
        None, "shell thickness, m (default: each particle's from shell_mass_fraction)",
        positive=True)
    shell_mass_fraction: float = param(0.05, "shell share of the particle mass, 1; 0: no shell")
    core_density: float = param(CORE_DENSITY, "core density, kg/m3", positive=True)
    shell_density: float = param(SHELL_DENSITY, "shell density, kg/m3", positive=True)
    min_gap: float = param(0.05, "smallest gap between two cores, in mean radii", positive=True)
    seed: int = param(1, "random seed of the radii and the packing", nonnegative=True)

    def __post_init__(self):
        check_keys(self, "geometry")
        if not 0 <= self.radius_spread < 1:
            raise ValueError(f"'geometry.radius_spread' must be in [0, 1), got "
                             f"{self.radius_spread}")
        if not 0 <= self.shell_mass_fraction < 1:
            raise ValueError(f"'geometry.shell_mass_fraction' must be in [0, 1), got "
                             f"{self.shell_mass_fraction}")

    @property
    def axisymmetric(self) -> bool:
        return False

    @cached_property
    def radii(self) -> np.ndarray:
        """Core radii, m, largest first (placing big ones first helps the relaxation)."""
        rng = np.random.default_rng(self.seed)
        sigma = math.sqrt(math.log(1 + self.radius_spread ** 2))
        draws = rng.normal(-sigma ** 2 / 2, sigma, self.particle_count)
        return np.sort(self.mean_radius * np.exp(draws))[::-1]

    @cached_property
    def shells(self) -> np.ndarray:
        """Shell thickness of each particle, m."""
        if self.shell_thickness is not None:
            return np.full(self.particle_count, self.shell_thickness)
        if self.shell_mass_fraction == 0:
            return np.zeros(self.particle_count)
        return shell_thickness_from_mass(self.radii, self.shell_mass_fraction,
                                         self.core_density, self.shell_density)

    @cached_property
    def box_size(self) -> float:
        """Side L of the square / cube, m: the cores fill active_fraction of it."""
        d = self.dimension
        unit = math.pi if d == 2 else 4 * math.pi / 3
        return float((unit * np.sum(self.radii ** d) / self.active_fraction) ** (1 / d))

    @property
    def reference_length(self) -> float:
        return self.mean_radius

    @property
    def projected_area(self) -> float:
        """Area of the collector face: m (2D), m2 (3D)."""
        return self.box_size ** (self.dimension - 1)

    def mesh_sizes(self, mesh) -> tuple[float, float]:
        """(h in the shells, h_bulk), m. Defaults: 2D two elements across the mean shell, at
        most R/25, bulk R/4; 3D R/6 and R/3 (meshes in seconds; shells under-resolved)."""
        R, t = self.mean_radius, float(np.mean(self.shells))
        if self.dimension == 2:
            h, h_bulk = min(R / 25, t / 2) if t else R / 25, R / 4
        else:
            h, h_bulk = R / 6, R / 3
        h = mesh.h_interface if mesh.h_interface is not None else h
        h_bulk = mesh.h_bulk if mesh.h_bulk is not None else h_bulk
        return h, max(h, h_bulk)

    def mesh_extent(self, mesh) -> MeshExtent:
        """Every core surface meshed at h through its shell."""
        h, h_bulk = self.mesh_sizes(mesh)
        surface = sum(sphere_measure(self.dimension, r) for r in self.radii)
        return MeshExtent(self.dimension, self.box_size ** self.dimension, surface,
                          float(np.mean(self.shells)), h, h_bulk)


@dataclass(frozen=True)
class Packing:
    """Periodic packing: centres in [0, L)^d, core radii and shell thicknesses, m."""

    centres: np.ndarray
    radii: np.ndarray
    shells: np.ndarray
    size: float
    sweeps: int  # push-apart sweeps used after the minimisation

    @property
    def fraction(self) -> float:
        d = self.centres.shape[1]
        unit = math.pi if d == 2 else 4 * math.pi / 3
        return float(unit * np.sum(self.radii ** d) / self.size ** d)

    def min_gap(self) -> float:
        """Smallest gap between two cores (periodic images included), m."""
        gaps = _distances(self.centres, self.size)[0] - (self.radii[:, None] + self.radii)
        return float(gaps.min())


def _distances(x: np.ndarray, size: float):
    """Distances and unit vectors from j to i for every periodic shift of j, shifts first.

    All 3^d shifts, not just the minimum image: a box of a few particles across lets a pair
    meet through two images at once. A particle and its own images are at inf.
    """
    d = x.shape[1]
    shifts = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=d))) * size
    delta = x[None, :, None, :] - x[None, None, :, :] - shifts[:, None, None, :]
    dist = np.linalg.norm(delta, axis=3)
    dist += np.where(np.eye(len(x)), np.inf, 0.0)  # own images: checked once in pack()
    with np.errstate(invalid="ignore", divide="ignore"):
        unit = np.where(np.isfinite(dist[..., None]), delta / dist[..., None], 0.0)
    return dist, unit


def _forbidden(radii, shells, gap, tangency):
    """Per pair: forbidden centre-distance intervals [(low, high)], as (N, N, k, 2) arrays.

    Cores closer than the gap; and near tangency of shell-shell, shell-core pairs.
    """
    ri, rj = radii[:, None], radii[None, :]
    ti, tj = shells[:, None], shells[None, :]
    core = ri + rj
    bands = [(np.zeros_like(core), core + gap)]
    for touch in (core + ti, core + tj, core + ti + tj):
        active = np.broadcast_to((ti > 0) | (tj > 0), core.shape)
        bands.append((np.where(active, touch - tangency, 0), np.where(active, touch + tangency, 0)))
    return bands


def _wall_levels(radii, shells) -> np.ndarray:
    """Radii of the surfaces that must not graze a wall: cores and shell outer surfaces."""
    return np.stack([radii, radii + shells], axis=1)


def pack(params: CompositeGeometry) -> Packing:
    """Random centres; FIRE minimisation of the core overlap energy (gap and TANGENCY_GAP
    included), then push-apart sweeps that also clear the near tangencies of shells and walls.

    Lengths are scaled by the mean radius inside. GeometryError if either does not converge.
    """
    d, n, unit = params.dimension, params.particle_count, params.mean_radius
    radii, shells, size = params.radii / unit, params.shells / unit, params.box_size / unit
    if 2 * radii[0] + params.min_gap > size:
        raise _unreachable(params, "the largest core does not fit between its periodic images "
                           "(raise geometry.particle_count)")
    rng = np.random.default_rng(params.seed + 1)
    bands = _forbidden(radii, shells, params.min_gap, TANGENCY_GAP)
    levels = _wall_levels(radii, shells)
    for _ in range(ATTEMPTS):  # a fresh random start when one gets stuck
        x = _fire(rng.uniform(0, size, (n, d)), radii, size, params.min_gap + TANGENCY_GAP)
        for sweep in range(MAX_SWEEPS if x is not None else 0):
            step = _forces(x, size, bands, levels)
            if step is None:
                return Packing(x * unit, params.radii, params.shells, params.box_size, sweep)
            x = np.mod(x + step / 2, size)  # each of a pair moves half
    raise _unreachable(params, f"no packing without overlaps and near tangencies in "
                       f"{ATTEMPTS} random starts")


def _fire(x, radii, size, gap):
    """Minimise E = 1/2 sum over pairs of max(0, r_i + r_j + gap - d_ij)^2 with FIRE (Bitzek
    et al., Phys. Rev. Lett. 97, 170201 (2006); unit masses) until no pair overlaps; None if
    it does not within FIRE_STEPS."""
    contact = radii[:, None] + radii[None, :] + gap
    v = np.zeros_like(x)
    dt, alpha, positive = 0.05, 0.1, 0
    for _ in range(FIRE_STEPS):
        dist, unit = _distances(x, size)
        overlap = np.maximum(contact - dist, 0.0)
        if overlap.max() < 1e-9:
            return x
        force = np.sum(overlap[..., None] * unit, axis=(0, 2))
        if np.sum(force * v) > 0:
            v = (1 - alpha) * v + alpha * np.linalg.norm(v) * force / np.linalg.norm(force)
            positive += 1
            if positive > 5:
                dt, alpha = min(dt * 1.1, 0.5), alpha * 0.99
        else:
            v[:] = 0.0
            dt, alpha, positive = dt * 0.5, 0.1, 0
        v += force * dt
        x = np.mod(x + v * dt, size)
    return None


def _forces(x, size, bands, levels):
    """Moves taking every pair out of its forbidden bands, MARGIN beyond their far edge (apart:
    moving a pair closer could only drop it into the core-gap band), and every wall-grazing
    sphere to the nearer side of its band; None if nothing is in a band. A pair's move is
    counted on both particles."""
    dist, unit = _distances(x, size)
    force = np.zeros_like(x)
    clean = True
    for low, high in bands:
        inside = (dist > low) & (dist < high)
        if not inside.any():
            continue
        clean = False
        force += np.sum(np.where(inside, high + MARGIN - dist, 0.0)[..., None] * unit,
                        axis=(0, 2))
    wall = np.minimum(x, size - x)  # (n, d) distance of each centre to the nearest wall
    side = np.where(x < size / 2, 1.0, -1.0)
    for level in levels.T:
        off = wall - level[:, None]
        graze = (np.abs(off) < TANGENCY_GAP) & (level[:, None] > 0)
        if graze.any():
            clean = False
            target = np.where(off >= 0, TANGENCY_GAP + MARGIN, -TANGENCY_GAP - MARGIN)
            force += np.where(graze, (target - off) * side, 0.0)
    return None if clean else force


def _unreachable(params: CompositeGeometry, why: str) -> GeometryError:
    return GeometryError(
        f"'geometry.active_fraction' = {params.active_fraction:g} is unreachable for "
        f"{params.particle_count} particles in {params.dimension}D with min_gap "
        f"{params.min_gap:g} mean radii: {why}; lower geometry.active_fraction or "
        f"geometry.min_gap")


def images(centre: np.ndarray, radius: float, size: float) -> list[np.ndarray]:
    """The centre and its periodic copies whose sphere of `radius` reaches into the box."""
    shifts = []
    for c in centre:
        axis = [0.0]
        if c - radius < 0:
            axis.append(size)
        if c + radius > size:
            axis.append(-size)
        shifts.append(axis)
    return [centre + np.array(s) for s in itertools.product(*shifts)]


def build(model, params: CompositeGeometry, mesh) -> None:
    """Add the packed volume (OCC, nm), its physical groups and size field to `model`."""
    dim, occ = params.dimension, model.occ
    packing = pack(params)
    size = packing.size * NM
    layers, bands = Layers(), []
    for centre, r, t in zip(packing.centres * NM, packing.radii * NM, packing.shells * NM):
        for c in images(centre, r + t, size):
            if np.all((c + r + t > 0) & (c - r - t < size)):
                layers.core.append(disk_or_ball(occ, dim, c, r))
                if t > 0:
                    layers.shell.append(disk_or_ball(occ, dim, c, r + t))
                bands.append((c, r, r + t))
    regions = fragment(model, dim, box(occ, dim, [size] * dim), layers)
    if dim == 2:
        check_curves_apart(model, CROSSING_TOLERANCE * params.mean_radius * NM, "geometry.seed")
    add_particle_groups(model, dim, regions, size, bare=False, collector="all", axis=False)
    h, h_bulk = (x * NM for x in params.mesh_sizes(mesh))
    band_size_field(model, dim, [(bands, h)], h_bulk)
    delaunay_on_spheres(model)
