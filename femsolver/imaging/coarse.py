"""Coarsening of uniform blocks: an image's simplices mesh with the parts far from every label
interface as larger tetrahedra, conforming (dolfinx has no hanging nodes).

A voxel is fine if a voxel of another role (void included) lies within
`geometry.coarsen_margin` voxels of it (Chebyshev distance: edge and corner neighbours count);
fine voxels keep their 6 Kuhn tetrahedra, so the mesh near each interface, its facets and tags
are exactly those of the simplices mesh. The other meshed voxels are gathered into leaf cubes:
the largest aligned whole cubes of 2, 4, ..., N (`geometry.coarsen`) voxels holding only them;
what no cube of 2 holds stays a voxel (6 Kuhn tetrahedra).

The nodes are the corners of all leaves. A leaf cube whose faces hold no other node (no smaller
leaf across, none along its edges) is the 6 Kuhn tetrahedra of its cube; otherwise each face is
split into quadrants while a node lies inside it (the faces of the smaller leaves across), a
square is then its 2 Kuhn triangles, or the fan from its centre over the nodes on its edges, and
the cube is the cone from its centre over these triangles. Both sides of a face see the same
nodes, so they triangulate it alike. The margin (>= 1) keeps every node of a leaf cube among
voxels of one role: its split-node copy (`voxels.SplitNodes`) is the unique one.

Built on rank 0 (the image's role codes are gathered there), scattered in equal chunks and
partitioned by dolfinx, as a mesh file is (`meshio_load.scatter_mesh`).
"""

from __future__ import annotations

import itertools

import numpy as np
from mpi4py import MPI
from scipy import ndimage

from femsolver.errors import CaseError
from femsolver.imaging import labels as roles
from femsolver.imaging.meshio_load import scatter_mesh
from femsolver.imaging.voxels import CORNERS, SIMPLICES, Grid, SplitNodes

# Lowest set bit of a node's 8-bit voxel mask: the split-node copy of a node whose meshed voxels
# form one face-connected group (voxels.GROUPS gives the lowest position of the group)
_LOWEST = np.array([(m & -m).bit_length() - 1 if m else 0 for m in range(256)], dtype=np.int64)
# facets of a tetrahedron (corner rows)
_FACETS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_KUHN_SQUARE = [[(0, 0), (0, 1), (1, 1)], [(0, 0), (1, 0), (1, 1)]]  # as voxels._facet_nodes


def fine_voxels(codes: np.ndarray, margin: int) -> np.ndarray:
    """Voxels with a voxel of another role within `margin` voxels (Chebyshev)."""
    size = 2 * margin + 1
    return ((ndimage.maximum_filter(codes, size, mode="nearest") != codes)
            | (ndimage.minimum_filter(codes, size, mode="nearest") != codes))


class Marks:
    """Lattice nodes that are corners of a leaf cube, with box counts (summed-area table)."""

    def __init__(self, marked: np.ndarray):
        self.marked = marked
        table = np.pad(marked.astype(np.int32), ((1, 0),) * 3)  # table[i] = sum of marked[:i]
        for axis in range(3):
            table = table.cumsum(axis, dtype=np.int32)
        self.table = table

    def count(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Marked nodes in the boxes [low, high] (inclusive, (m, 3)); 0 where empty."""
        total = np.zeros(len(low), dtype=np.int64)
        for corner in itertools.product((0, 1), repeat=3):
            index = np.where(corner, high + 1, low)
            sign = (-1) ** (3 - sum(corner))
            total += sign * self.table[tuple(np.clip(index, 0, None).T)]
        return np.where(np.all(high >= low, axis=1), total, 0)


def _in_plane(axis: int, plane, b0, c0, pb, pc) -> np.ndarray:
    """Lattice points (m, ..., 3): `plane` along `axis`, b0 + pb, c0 + pc along the others."""
    b, c = (a for a in range(3) if a != axis)
    pb, pc = np.asarray(pb), np.asarray(pc)
    shape = (len(plane),) + np.broadcast(pb, pc).shape
    point = np.zeros(shape + (3,), dtype=np.int64)
    extra = (slice(None),) + (None,) * (len(shape) - 1)
    point[..., axis] = plane[extra]
    point[..., b], point[..., c] = b0[extra] + pb, c0[extra] + pc
    return point


def _face_triangles(marks: Marks, axis: int, plane, b0, c0, q: int, owner):
    """Triangles (owner, (t, 3, 3) lattice points) of the squares of size q (m of them) on a
    leaf's face: split into quadrants while a leaf corner lies inside (smaller leaves across);
    a square without one is the 2 Kuhn triangles, or the fan from its centre over the leaf
    corners on its edges if it has some. `irregular`: the owners with a split or a fan."""
    out, irregular = [], [np.zeros(0, dtype=np.int64)]
    while len(plane):
        low = _in_plane(axis, plane, b0, c0, 1, 1)
        inside = marks.count(low, low + (q - 2) * (1 - np.eye(3, dtype=int)[axis])) > 0
        # corners inside each edge: b = b0, b = b0 + q (c varying), c = c0, c = c0 + q
        t = np.arange(q + 1)
        edges = np.stack([_in_plane(axis, plane, b0, c0, 0 * t, t),
                          _in_plane(axis, plane, b0, c0, q + 0 * t, t),
                          _in_plane(axis, plane, b0, c0, t, 0 * t),
                          _in_plane(axis, plane, b0, c0, t, q + 0 * t)], axis=1)
        on_edge = marks.marked[tuple(np.moveaxis(edges, -1, 0))]  # (m, 4, q + 1)
        fan = ~inside & on_edge[:, :, 1:-1].any(axis=(1, 2))
        kuhn = ~inside & ~fan
        out.append((np.repeat(owner[kuhn], 2), np.stack(
            [_in_plane(axis, plane[kuhn], b0[kuhn], c0[kuhn], *(q * np.array(tri).T))
             for tri in _KUHN_SQUARE], axis=1).reshape(-1, 3, 3)))
        if fan.any():
            on_edge[:, :, [0, -1]] = True
            rows = np.argwhere(on_edge[fan].reshape(-1, q + 1))
            pair = np.flatnonzero(rows[1:, 0] == rows[:-1, 0])
            square, point = rows[:, 0] // 4, edges[fan].reshape(-1, q + 1, 3)
            centre = _in_plane(axis, plane[fan], b0[fan], c0[fan], q // 2, q // 2)
            tri = np.stack([centre[square[pair]], point[rows[pair, 0], rows[pair, 1]],
                            point[rows[pair + 1, 0], rows[pair + 1, 1]]], axis=1)
            out.append((owner[fan][square[pair]], tri))
        irregular.append(owner[inside | fan])
        q //= 2
        plane, owner = np.tile(plane[inside], 4), np.tile(owner[inside], 4)
        b0 = np.concatenate([b0[inside] + q * db for db in (0, 0, 1, 1)])
        c0 = np.concatenate([c0[inside] + q * dc for dc in (0, 1, 0, 1)])
    return out, np.concatenate(irregular)


def _leaf_cells(marks: Marks, origin: np.ndarray, s: int) -> np.ndarray:
    """Tetrahedra (lattice corners, (cells, 4, 3)) of the leaf cubes of size s at `origin`
    (m, 3): the cube's 6 Kuhn tetrahedra if its faces are plain, else the cone from its centre
    over its faces' triangles."""
    owner = np.arange(len(origin))
    triangles, irregular = [], []
    for axis, side in itertools.product(range(3), (0, 1)):
        b, c = (a for a in range(3) if a != axis)
        found, odd = _face_triangles(marks, axis, origin[:, axis] + side * s, origin[:, b],
                                     origin[:, c], s, owner)
        triangles += found
        irregular.append(odd)
    cone = np.zeros(len(origin), dtype=bool)
    cone[np.concatenate(irregular)] = True
    cells = [(origin[~cone, None, None, :] + s * CORNERS[3][SIMPLICES[3]][None]).reshape(-1, 4, 3)]
    for who, tri in triangles:
        chosen = cone[who]
        apex = origin[who[chosen], None, :] + s // 2
        cells.append(np.concatenate([apex, tri[chosen]], axis=1))
    return np.concatenate(cells)


def _leaves(ok: np.ndarray, n: int):
    """[(size, origins (m, 3))] of the leaf cubes of sizes n, ..., 4, 2: the largest aligned
    whole blocks of `ok` voxels whose neighbours are no less than half their size (2:1
    balance: a cone's tetrahedra then span at most 2 levels); and the voxels they cover."""
    levels = [ok]
    while 2 ** len(levels) <= n:
        below = levels[-1]
        if len(levels) > 1:
            # a cube of 2^k needs its children's 26 neighbours among the cubes of 2^(k-1): none
            # below the image's first planes, never voxels left beyond its last whole cube
            ends = [(True, n_cubes * 2 ** (len(levels) - 1) == n_voxels)
                    for n_cubes, n_voxels in zip(below.shape, ok.shape)]
            padded = np.pad(below, 1)
            for axis, (low, high) in enumerate(ends):
                index = [slice(None)] * 3
                index[axis] = 0
                padded[tuple(index)] = low
                index[axis] = -1
                padded[tuple(index)] = high
            below = ndimage.minimum_filter(padded, size=3)[1:-1, 1:-1, 1:-1]
        whole = np.array(below.shape) // 2
        cut = below[tuple(slice(0, 2 * w) for w in whole)]
        levels.append(cut.reshape(whole[0], 2, whole[1], 2, whole[2], 2).all(axis=(1, 3, 5)))
    origins = []
    taken = np.zeros(levels[-1].shape, dtype=bool)
    for k in range(len(levels) - 1, 0, -1):
        leaf = levels[k] & ~taken
        origins.append((2 ** k, np.argwhere(leaf) * 2 ** k))
        taken = _expand(levels[k], levels[k - 1].shape)
    return origins, taken  # taken at level 0: the voxels in a block of size 2 or more


def _expand(blocks: np.ndarray, shape) -> np.ndarray:
    """Block flags repeated to the grid of half-size blocks of `shape` (False beyond them)."""
    out = np.zeros(shape, dtype=bool)
    big = blocks.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    out[tuple(slice(0, m) for m in big.shape)] = big
    return out


def build(codes: np.ndarray, grid: Grid, n: int, margin: int):
    """(points in m, cells, cell tags, facets, facet tags) of the coarsened simplices mesh of the
    whole image's role codes (rank 0)."""
    void = roles.CODES["void"]
    meshed = codes != void
    split = SplitNodes(meshed, None, None, 0, grid)
    fine = fine_voxels(codes, margin)

    origins, covered = _leaves(meshed & ~fine, n)
    marks = np.zeros(grid.nodes, dtype=bool)
    voxels = np.argwhere(meshed & ~covered)
    for offset in CORNERS[3]:
        marks[tuple((voxels + offset).T)] = True
    for s, origin in origins:
        for offset in CORNERS[3]:
            marks[tuple((origin + s * offset).T)] = True
    marks = Marks(marks)

    keys = [split.ids(voxels, CORNERS[3])[:, SIMPLICES[3]].reshape(-1, 4)]
    values = [np.repeat(codes[tuple(voxels.T)], 6)]
    for s, origin in origins:
        cells = _leaf_cells(marks, origin, s)
        if len(cells):
            nodes = grid.node(cells)
            keys.append(nodes * 8 + _LOWEST[split.mask.reshape(-1)[nodes]])
            values.append(codes[tuple(cells.min(axis=1).T)])  # the block's role
    keys, values = np.concatenate(keys), np.concatenate(values)
    used, cells = np.unique(keys, return_inverse=True)
    cells = cells.reshape(-1, 4)
    corner = np.stack(np.unravel_index(used // 8, grid.nodes), axis=1)
    facets, facet_values = _tagged_facets(cells, values, corner, np.array(codes.shape))
    points = (corner * grid.spacing)[:, ::-1]  # (z, y, x) -> (x, y, z)
    return points, cells, roles.cell_tags(values), facets, facet_values


def _tagged_facets(cells, values, corner, shape):
    """Facets with a tag: between cells of roles with a tag (roles.FACET), towards voids, and
    on the box (bottom, top, sides: roles.outer_tags)."""
    facets = np.sort(cells[:, _FACETS].reshape(-1, 3), axis=1)
    owner = np.repeat(values, 4)
    order = np.lexsort(facets.T[::-1])
    facets, owner = facets[order], owner[order]
    same = np.all(facets[1:] == facets[:-1], axis=1)
    pair = np.flatnonzero(same)
    single = np.ones(len(facets), dtype=bool)
    single[pair] = single[pair + 1] = False
    inner_tags = roles.FACET[owner[pair], owner[pair + 1]]

    lone, code = facets[single], owner[single]
    at = corner[lone]  # (facets, 3 nodes, 3 axes)
    low, high = np.all(at == 0, axis=1), np.all(at == shape, axis=1)
    outer = roles.FACET[code, roles.CODES["void"]]  # inside the box: a face towards a void
    side = np.any(low[:, 1:] | high[:, 1:], axis=1)
    outer = np.where(side, roles.outer_tags(code, "side"), outer)
    outer = np.where(low[:, 0], roles.outer_tags(code, "bottom"), outer)
    outer = np.where(high[:, 0], roles.outer_tags(code, "top"), outer)
    found = np.concatenate([facets[pair], lone])
    tag = np.concatenate([inner_tags, outer])
    return found[tag > 0], tag[tag > 0]


def coarse_mesh(codes: np.ndarray, grid: Grid, n: int, margin: int, max_cells: int,
                comm: MPI.Comm):
    """(mesh, cell tags, facet tags) of an image from each rank's slab of role codes (planes in
    rank order), coarsened on rank 0. CaseError naming mesh.max_cells if the coarsened mesh has
    more cells."""
    slabs = comm.gather(codes, root=0)
    arrays, error = None, None
    if comm.rank == 0:
        try:
            arrays = build(np.concatenate(slabs), grid, n, margin)
            if len(arrays[1]) > max_cells:
                raise CaseError(f"the coarsened mesh has {len(arrays[1])} cells, more than "
                                f"mesh.max_cells = {max_cells}: raise geometry.coarsen or "
                                f"mesh.max_cells")
        except Exception as err:  # noqa: BLE001 - the other ranks wait for rank 0: tell them
            error = err
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    return scatter_mesh(comm, 3, "tetrahedron", 4, 3, arrays)
