"""Coarsening of uniform blocks: an image's simplices mesh with the N^3 blocks far from every
label interface as larger cells, conforming (dolfinx has no hanging nodes).

The image is cut into aligned blocks of N^3 voxels (`geometry.coarsen` = N, a power of 2). A
voxel is fine if a voxel of another role lies within `geometry.coarsen_margin` voxels of it
(Chebyshev distance: edge and corner neighbours count). A block is coarse if it is whole (inside
the image), meshed and holds no fine voxel; every other voxel keeps its 6 Kuhn tetrahedra, so the
mesh near each interface, its facets and tags are exactly those of the simplices mesh.

A coarse block is the 6 Kuhn tetrahedra of its cube (size N) when none of its 18 face and edge
neighbours is fine. Otherwise its surface is triangulated to match its neighbours and filled by
the cone from its centre: a face towards fine voxels takes their 2 N^2 Kuhn triangles; a face
towards a coarse block (or the box) is the fan from its centre over its edges, an edge split into
N segments where a fine block touches it (the fine voxels have nodes there), or, with no edge
split, the cube face's 2 Kuhn triangles. Both sides of a face see the same blocks, so they
triangulate it alike. The margin (>= 1) keeps every node of a coarse cell among voxels of one
role: its split-node copy (`voxels.SplitNodes`) is unique.

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
# The 6 face and 12 edge neighbours of a block
_NEAR = [np.array(d) for d in itertools.product((-1, 0, 1), repeat=3)
         if 1 <= sum(map(abs, d)) <= 2]
# facets of a tetrahedron (corner rows)
_FACETS = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])


def fine_voxels(codes: np.ndarray, margin: int) -> np.ndarray:
    """Voxels with a voxel of another role within `margin` voxels (Chebyshev)."""
    size = 2 * margin + 1
    return ((ndimage.maximum_filter(codes, size, mode="nearest") != codes)
            | (ndimage.minimum_filter(codes, size, mode="nearest") != codes))


def _face_points(axis: int, side: int, n: int, pb, pc) -> np.ndarray:
    """Lattice points (..., 3) of the cube [0, n]^3's face normal to `axis` at side 0 / 1, at
    in-plane coordinates (pb, pc) along its other axes (b < c)."""
    b, c = (a for a in range(3) if a != axis)
    pb, pc = np.asarray(pb), np.asarray(pc)
    point = np.zeros(np.broadcast(pb, pc).shape + (3,), dtype=np.int64)
    point[..., axis], point[..., b], point[..., c] = side * n, pb, pc
    return point


def _squares(axis: int, side: int, n: int, unit: int) -> np.ndarray:
    """Kuhn triangles (diagonal from the low to the high corner, as voxels._facet_nodes) of the
    face's squares of size `unit`: (triangles, 3, 3) offsets."""
    i, j = np.meshgrid(np.arange(0, n, unit), np.arange(0, n, unit), indexing="ij")
    i, j = i.ravel()[:, None], j.ravel()[:, None]
    corners = [(0, 0), (0, 1), (1, 0), (1, 1)]  # lexicographic in (b, c)
    square = np.stack([_face_points(axis, side, n, i + unit * db, j + unit * dc)
                       for db, dc in corners], axis=1)
    return square[:, [[0, 1, 3], [0, 2, 3]]].reshape(-1, 3, 3)


def _fan(axis: int, side: int, n: int, split: tuple[bool, ...]) -> np.ndarray:
    """Triangles from the face centre over its 4 edges (b = 0, b = n, c = 0, c = n), an edge in
    n unit segments where `split`, else whole: (triangles, 3, 3) offsets."""
    centre = _face_points(axis, side, n, n // 2, n // 2)
    triangles = []
    for edge, divided in enumerate(split):
        t = np.arange(n + 1) if divided else np.array([0, n])
        fixed = np.full_like(t, 0 if edge % 2 == 0 else n)
        line = (_face_points(axis, side, n, fixed, t) if edge < 2
                else _face_points(axis, side, n, t, fixed))
        for p, q in zip(line[:-1], line[1:]):
            triangles.append([centre, p, q])
    return np.array(triangles, dtype=np.int64)


def _edge_steps(axis: int, side: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """For the face's 4 edges (order of `_fan`): (step across the face, step along the other
    in-plane axis) to the blocks around that edge."""
    b, c = (a for a in range(3) if a != axis)
    across = np.eye(3, dtype=int)[axis] * (2 * side - 1)
    steps = []
    for other, end in ((b, 0), (b, 1), (c, 0), (c, 1)):
        steps.append((across, np.eye(3, dtype=int)[other] * (2 * end - 1)))
    return steps


def _coarse_cells(blocks: np.ndarray, fine_level: np.ndarray, n: int) -> list[np.ndarray]:
    """Tetrahedra (lattice corners, (cells, 4, 3)) of the coarse blocks (block indices, (K, 3));
    `fine_level`: the blocks meshed voxel by voxel, padded by one layer of False (outside)."""
    def fine(step):
        return fine_level[tuple((blocks + 1 + step).T)]

    origin = blocks * n
    plain = ~np.any([fine(step) for step in _NEAR], axis=0)
    out = [(origin[plain, None, None, :] + n * CORNERS[3][SIMPLICES[3]][None])]
    cone = ~plain
    centre = origin + n // 2
    for axis, side in itertools.product(range(3), (0, 1)):
        steps = _edge_steps(axis, side)
        towards_fine = fine(steps[0][0])
        split = np.stack([fine(a) | fine(e) | fine(a + e) for a, e in steps], axis=1)
        pattern = split @ (1 << np.arange(4))
        kinds = {-1: (cone & towards_fine, _squares(axis, side, n, 1))}
        for p in np.unique(pattern[cone & ~towards_fine]):
            split_edges = tuple(bool(p >> k & 1) for k in range(4))
            template = _fan(axis, side, n, split_edges) if p else _squares(axis, side, n, n)
            kinds[int(p)] = (cone & ~towards_fine & (pattern == p), template)
        for chosen, triangles in kinds.values():
            base = origin[chosen, None, None, :] + triangles[None]
            apex = np.broadcast_to(centre[chosen, None, None, :], base.shape[:2] + (1, 3))
            out.append(np.concatenate([apex, base], axis=2))
    return [cells.reshape(-1, 4, 3) for cells in out]


def build(codes: np.ndarray, grid: Grid, n: int, margin: int):
    """(points in m, cells, cell tags, facets, facet tags) of the coarsened simplices mesh of the
    whole image's role codes (rank 0)."""
    void = roles.CODES["void"]
    meshed = codes != void
    split = SplitNodes(meshed, None, None, 0, grid)
    fine = fine_voxels(codes, margin)

    whole = np.array(codes.shape) // n
    region = tuple(slice(0, w * n) for w in whole)
    shape6 = (whole[0], n, whole[1], n, whole[2], n)
    coarse = np.zeros(-(-np.array(codes.shape) // n), dtype=bool)
    coarse[tuple(slice(0, w) for w in whole)] = (
        ~fine[region].reshape(shape6).any(axis=(1, 3, 5))
        & meshed[region].reshape(shape6).all(axis=(1, 3, 5)))
    fine_level = np.pad(~coarse, 1, constant_values=False)
    covered = coarse.repeat(n, 0).repeat(n, 1).repeat(n, 2)[tuple(slice(0, m) for m in codes.shape)]

    voxels = np.argwhere(meshed & ~covered)
    keys = [split.ids(voxels, CORNERS[3])[:, SIMPLICES[3]].reshape(-1, 4)]
    values = [np.repeat(codes[tuple(voxels.T)], 6)]
    blocks = np.argwhere(coarse)
    for cells in _coarse_cells(blocks, fine_level, n):
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
        arrays = build(np.concatenate(slabs), grid, n, margin)
        if len(arrays[1]) > max_cells:
            error = CaseError(f"the coarsened mesh has {len(arrays[1])} cells, more than "
                              f"mesh.max_cells = {max_cells}: raise geometry.coarsen or "
                              f"mesh.max_cells")
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    return scatter_mesh(comm, 3, "tetrahedron", 4, 3, arrays)
