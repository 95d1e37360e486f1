"""Smoothed label surfaces (`cells = "smoothed"`): the Kuhn simplices of `voxels.voxel_mesh`,
the same cells, regions and facet tags, with the grid nodes on label interfaces moved onto a
smooth surface.

Each role's indicator f is blurred: 2 G_s - G_(s sqrt 2) (`blur`), s = sqrt(w / FEATURE)
voxels (1 to MAX_SIGMA) for features w voxels wide (`feature_width`): a blur fixed in voxels
keeps the terraces of a digitised plane at a fixed size in voxels, so the area would not
converge. A grid node whose voxels hold exactly two roles a < b (void counts as a role) moves
to the level set f_b - f_a = L_b - L_a by NEWTON Newton steps along the gradient, each axis
clipped to MAX_STEP voxels; a node on a box face moves within the face. Nodes at triple
junctions, split node copies (edge and corner contacts) and nodes off the interfaces stay.
Then, SHRINK times, the moves of the nodes of every simplex left with less than MIN_VOLUME of
its volume are cut to the largest fraction that leaves it 2 MIN_VOLUME (the last time:
dropped): a simplex whose nodes all lie on the surface would be flat, and its nodes end a
small distance off the surface instead of on the staircase. A simplex that is still not
positive is a GeometryError. The levels L (0 for the lowest role code) are found by
VOLUME_ROUNDS secant steps so that each role keeps its voxels' volume: the image's volume
fractions (TauFactor's, PoreSpy's) stay exact.

Slab parallelism: every rank computes the moves of its node planes from its slab plus the
neighbours' role codes on each side (the blur reaches `radius` planes, the interpolation 2,
and each shrinking round one more), so it finds the moves a serial run finds for those nodes,
and the planes shared by two ranks move alike; the volumes and the feature width are summed
over every rank's own voxels.
"""

from __future__ import annotations

import math

import numpy as np
from mpi4py import MPI
from scipy import ndimage

from femsolver.errors import GeometryError
from femsolver.imaging import labels as roles
from femsolver.imaging.voxels import CORNERS, GROUPS, SIMPLICES, Grid

# Gaussian width sigma = sqrt(w / FEATURE) voxels, within [1, MAX_SIGMA], w = the features'
# width (`feature_width`): a digitised plane's terraces leave ripples whose area falls like a
# power of sigma, the curvature error (sigma / w)^4 grows: sigma ~ sqrt(w) balances them
FEATURE = 4.0
MAX_SIGMA = 8.0
NEWTON = 6
MAX_STEP = 0.8  # voxels per axis: a staircase node can lie farther than 1/2 from the surface
SHRINK = 4
BISECTION = 20  # steps of the fraction of the moves kept around a flat simplex
VOLUME_ROUNDS = 5
MIN_VOLUME = 0.01  # of the unmoved simplex's
OUTSIDE = -1  # role code beyond the box


def with_halo(codes: np.ndarray, k0: int, n0: int, comm: MPI.Comm, halo: int):
    """(planes [e0, e1) of the image's role codes, e0): this rank's slab and up to `halo`
    planes of its neighbours' on each side (from however many ranks hold them)."""
    k1 = k0 + len(codes)
    wanted = comm.allgather((max(0, k0 - halo), min(n0, k1 + halo)))
    send = [codes[min(max(a, k0), k1) - k0:max(min(b, k1), k0) - k0] for a, b in wanted]
    planes = [p for p in comm.alltoall(send) if len(p)]  # rank order is plane order
    return np.concatenate(planes), wanted[comm.rank][0]


def feature_width(codes: np.ndarray, k0: int, n0: int, comm: MPI.Comm, present: list) -> float:
    """dim x volume / interface (voxel faces), voxels, the smallest over the roles: ~ the
    radius / 1.5 of a digitised ball (1.27 in 2D), a layer's thickness x dim / 2 (x dim on a
    box face)."""
    ext, e0 = with_halo(codes, k0, n0, comm, 1)
    block = ext[k0 - e0:k0 - e0 + len(codes) + 1]  # own planes and the next one
    faces = np.zeros(len(present), dtype=np.int64)
    for axis in range(codes.ndim):
        a = block if axis == 0 else block[:len(codes)]
        one, two = (a[tuple(slice(i, a.shape[axis] - 1 + i) if d == axis else slice(None)
                             for d in range(a.ndim))] for i in (0, 1))
        faces += [np.count_nonzero((one != two) & ((one == c) | (two == c))) for c in present]
    volume = np.array([np.count_nonzero(codes == c) for c in present])
    faces, volume = comm.allreduce(faces), comm.allreduce(volume)
    width = codes.ndim * volume[faces > 0] / faces[faces > 0]
    return float(width.min()) if len(width) else FEATURE


def blur(indicator: np.ndarray, sigma: float) -> np.ndarray:
    """2 G_s - G_(s sqrt 2) of an indicator: a Gaussian's level set moves by s^2 / 2 x the
    curvature (heat flow for a time s^2 / 2); extrapolated to zero time, convex shapes keep
    their volume. Truncated at `radius(sigma)` planes."""
    return sum(weight * ndimage.gaussian_filter(indicator, s, truncate=radius(sigma) / s)
               for weight, s in ((2, sigma), (-1, sigma * math.sqrt(2))))


def radius(sigma: float) -> int:
    """Planes the blur reaches: 4 x the wider Gaussian's width."""
    return math.ceil(4 * sigma * math.sqrt(2))


def _node_roles(ext: np.ndarray, dim: int):
    """(moving, lower, upper) over the nodes of `ext`'s voxels: whether a node's voxels hold
    exactly two roles and one face-connected group of meshed voxels, and the two codes."""
    pad = np.pad(ext.astype(np.int16), 1, constant_values=OUTSIDE)
    around = np.stack([pad[tuple(slice(a, a + m - 1) for a, m in zip(d, pad.shape))]
                       for d in CORNERS[dim]])
    inside = around != OUTSIDE
    lower = np.where(inside, around, np.iinfo(np.int16).max).min(axis=0)
    upper = around.max(axis=0)
    two = np.all(~inside | (around == lower) | (around == upper), axis=0)
    meshed = inside & (around != roles.CODES["void"])
    mask = sum(meshed[p].astype(np.int64) << p for p in range(2 ** dim))
    groups = sum(meshed[p] & (GROUPS[dim][mask, p] == p) for p in range(2 ** dim))
    return two & (lower != upper) & (groups <= 1), lower, upper


def _newton(fields, nodes, lower, upper, target, faces, h):
    """Moves (voxels, array axes) of `nodes` (corner indices in the extended grid) towards
    f_upper - f_lower = target, each axis clipped to MAX_STEP, zero across box faces."""
    slopes = {code: np.gradient(f) for code, f in fields.items()}
    move = np.zeros(nodes.shape)
    for _ in range(NEWTON):
        at = (nodes + move - 0.5).T  # voxel-centre coordinates (linear interpolation)
        phi, grad = -target, np.zeros(nodes.shape)
        for code, field in fields.items():
            sign = (upper == code).astype(float) - (lower == code)
            if sign.any():
                for array, out in ((field, phi), *zip(slopes[code], grad.T)):
                    out += sign * ndimage.map_coordinates(array, at, order=1, mode="nearest")
        grad_m = grad / h  # per metre
        norm = np.sum(grad_m ** 2, axis=1)
        step = np.divide(-phi, norm, out=np.zeros_like(phi), where=norm > 1e-12 / h.min() ** 2)
        move = np.clip(move + step[:, None] * grad_m / h, -MAX_STEP, MAX_STEP)
        move[faces] = 0.0
    return move


def _volumes(x: np.ndarray) -> np.ndarray:
    """Signed volumes (x dim!) of simplices with vertex coordinates x (cells, dim + 1, dim)."""
    return np.linalg.det(x[:, 1:] - x[:, :1])


class NodeMoves:
    """Moves of the grid nodes of one rank's slab (metres, coordinate order x, y[, z])."""

    def __init__(self, codes: np.ndarray, k0: int, grid: Grid, comm: MPI.Comm):
        dim, h = grid.dim, grid.spacing
        present = sorted(set().union(*comm.allgather(set(np.unique(codes).tolist()))))
        width = feature_width(codes, k0, grid.shape[0], comm, present)
        self.sigma = min(max(math.sqrt(width / FEATURE), 1.0), MAX_SIGMA)
        ext, e0 = with_halo(codes, k0, grid.shape[0], comm, radius(self.sigma) + SHRINK + 4)
        k1 = k0 + len(codes)
        self.e0, self.grid, self.comm = e0, grid, comm
        self.moving, self.lower, self.upper = _node_roles(ext, dim)
        self.nodes = np.argwhere(self.moving)
        absolute = self.nodes + np.array([e0] + [0] * (dim - 1))
        self.faces = (absolute == 0) | (absolute == np.array(grid.shape))
        self.fields = {int(c): blur((ext == c).astype(float), self.sigma) for c in np.unique(ext)}
        self.cells, voxels = self._simplices(ext)
        self.unmoved = _volumes(self.cells * h)
        self.own = (voxels[:, 0] + e0 >= k0) & (voxels[:, 0] + e0 < k1)
        self.cell_code = ext[tuple(voxels.T)]
        # interface nodes per role (~ its interface area, voxel faces): the first secant slope
        mine = (absolute[:, 0] >= k0) & (absolute[:, 0] < k1)
        lower, upper = self.lower[self.moving], self.upper[self.moving]
        area = {c: comm.allreduce(int(np.count_nonzero(mine & ((lower == c) | (upper == c)))))
                for c in present}
        level, change = dict.fromkeys(present, 0.0), self._place(dict.fromkeys(present, 0.0))
        slope = {c: -area[c] * self.sigma * math.factorial(dim) * np.prod(h) for c in present}
        best = (max(map(abs, change.values())), level)
        for _ in range(VOLUME_ROUNDS):  # secant steps; the first role is the reference
            following = {c: level[c] - change[c] / slope[c] if c != present[0] and slope[c] < 0
                         else level[c] for c in present}
            changed = self._place(following)
            slope = {c: (changed[c] - change[c]) / (following[c] - level[c])
                     if following[c] != level[c] else slope[c] for c in present}
            level, change = following, changed
            best = min(best, (max(map(abs, change.values())), level), key=lambda b: b[0])
        if best[1] is not level:  # the shrinking makes the volume a rough function of the levels
            self._place(best[1])
        ratio = _volumes((self.cells + self.move[self._index]) * h) / self.unmoved
        own = ratio[self.own]
        worst = comm.allreduce(float(own.min()) if len(own) else math.inf, op=MPI.MIN)
        if worst <= 0:
            raise GeometryError(f"geometry.cells = 'smoothed': a moved simplex is inverted "
                                f"(volume ratio {worst:.3g}); use cells = 'simplices'")

    @property
    def _index(self):
        return tuple(np.moveaxis(self.cells, -1, 0))

    def _place(self, level: dict) -> dict:
        """Move the interface nodes to the levels `level` (then `_shrink`): the volume change
        of each role (x dim!, summed over the ranks' own voxels)."""
        lower, upper = self.lower[self.moving], self.upper[self.moving]
        target = np.array([level[c] for c in upper]) - np.array([level[c] for c in lower])
        self.move = np.zeros((*self.moving.shape, self.grid.dim))
        self.move[tuple(self.nodes.T)] = _newton(self.fields, self.nodes, lower, upper, target,
                                                 self.faces, self.grid.spacing)
        gain = np.abs(self.unmoved) * (self._shrink() - 1)
        return {c: self.comm.allreduce(float(np.sum(gain[self.own & (self.cell_code == c)])))
                for c in level}

    def _simplices(self, ext: np.ndarray):
        """(extended-grid corner indices (cells, dim + 1, dim) of the simplices of the meshed
        voxels that have a moving node, each simplex's voxel)."""
        dim = self.grid.dim
        near = np.zeros(ext.shape, dtype=bool)
        for d in CORNERS[dim]:
            near |= self.moving[tuple(slice(a, a + m) for a, m in zip(d, ext.shape))]
        voxels = np.argwhere(near & (ext != roles.CODES["void"]))
        corners = voxels[:, None, :] + CORNERS[dim][None]
        return (corners[:, SIMPLICES[dim]].reshape(-1, dim + 1, dim),
                np.repeat(voxels, len(SIMPLICES[dim]), axis=0))

    def _shrink(self) -> np.ndarray:
        """Scale back the moves around too-flat simplices (the last time: drop them); their
        volume ratios. Each flat simplex takes the largest fraction of its nodes' moves that
        leaves it 2 MIN_VOLUME (bisection); a node keeps its flat simplices' smallest."""
        dim, h, index = self.grid.dim, self.grid.spacing, self._index
        for round_ in range(SHRINK + 1):
            ratio = _volumes((self.cells + self.move[index]) * h) / self.unmoved
            flat = ratio < MIN_VOLUME
            if round_ == SHRINK or not flat.any():
                return ratio
            corners, step = self.cells[flat], self.move[index][flat]
            low, high = np.zeros(len(corners)), np.ones(len(corners))
            for _ in range(BISECTION if round_ < SHRINK - 1 else 0):
                middle = (low + high) / 2
                ok = (_volumes((corners + middle[:, None, None] * step) * h)
                      / self.unmoved[flat] >= 2 * MIN_VOLUME)
                low, high = np.where(ok, middle, low), np.where(ok, high, middle)
            fraction = np.ones(self.move.shape[:-1])
            np.minimum.at(fraction, tuple(corners.reshape(-1, dim).T), np.repeat(low, dim + 1))
            self.move *= fraction[..., None]

    def __call__(self, corners: np.ndarray) -> np.ndarray:
        """Moves (metres, x, y[, z]) of the grid corners with global numbers `corners`."""
        index = np.stack(np.unravel_index(corners, self.grid.nodes), axis=-1)
        index[:, 0] -= self.e0
        return (self.move[tuple(index.T)] * self.grid.spacing)[:, ::-1]
