"""Voxels -> distributed dolfinx mesh, built slab by slab: no rank holds more than its slab.

The image is cut into slabs of whole planes along its first axis (z in 3D, y in 2D), one per
rank. Each rank makes the cells of its slab's meshed voxels (one hexahedron / quadrilateral per
voxel, or 6 tetrahedra / 2 triangles along the cube's main diagonal, the Kuhn split, which is
conforming between neighbours), the coordinates of its node planes and the tagged facets whose
lower voxel lies in its slab (it reads one plane more for them). The cells stay where they are
made: the partitioner keeps them on their rank and ghosts each slab's first and last plane to
the neighbouring ranks (shared-facet ghosts), so no graph partitioning is needed.

Voxels meet only through faces, as in the finite-volume codes (TauFactor, PoreSpy) and in the
continuum, where an edge or corner contact has no conductance: a grid node whose meshed voxels
form several face-connected groups (among the 2^dim voxels around it) is split into one node per
group. Without the split, Q1 elements would conduct through every edge and corner contact, and
tau of a 24^3 PoreSpy blob image came out at half of TauFactor's.

Node numbering: corner (a0, a1, a2) of the (n0+1, n1+1, n2+1) grid is g = a0 (n1+1)(n2+1) + a1
(n2+1) + a2, and its copy for the group of the voxel at block position p (the lowest position
of the group; p = d0 4 + d1 2 + d2 for the voxel at corner - 1 + d) is g 2^dim + p; rank r
supplies node planes [k0, k1) (the last rank also plane n0).
"""

from __future__ import annotations

import basix.ufl
import dolfinx.cpp.graph
import dolfinx.graph
import dolfinx.io
import dolfinx.mesh
import numpy as np
import ufl
from mpi4py import MPI

from femsolver.imaging import labels as roles
from femsolver.meshtags import tags_from_owned

# Corners of the unit cube in dolfinx's (lexicographic, x fastest) order, as (a0, a1, a2) = (z, y, x)
CORNERS = {2: np.array([(0, 0), (0, 1), (1, 0), (1, 1)]),
            3: np.array([(0, 0, 0), (0, 0, 1), (0, 1, 0), (0, 1, 1),
                         (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)])}
# Kuhn split: simplices along the diagonal from corner 0 to the last corner
SIMPLICES = {2: np.array([[0, 1, 3], [0, 2, 3]]),
              3: np.array([[0, 1, 3, 7], [0, 1, 5, 7], [0, 2, 3, 7],
                           [0, 2, 6, 7], [0, 4, 5, 7], [0, 4, 6, 7]])}
_CELL_TYPE = {(2, False): "quadrilateral", (2, True): "triangle",
              (3, False): "hexahedron", (3, True): "tetrahedron"}


def slab_planes(n0: int, comm: MPI.Comm) -> tuple[int, int]:
    """Planes [k0, k1) of this rank's slab (as even as whole planes allow)."""
    return comm.rank * n0 // comm.size, (comm.rank + 1) * n0 // comm.size


class Grid:
    """Node numbering and coordinates of an image's voxel grid (shape planes first)."""

    def __init__(self, shape: tuple[int, ...], spacing: tuple[float, ...]):
        self.shape, self.spacing, self.dim = tuple(shape), np.asarray(spacing, float), len(shape)
        self.nodes = tuple(n + 1 for n in shape)

    def node(self, corner: np.ndarray) -> np.ndarray:
        """Global node number of grid corners (..., dim) given as (a0, a1[, a2])."""
        return np.ravel_multi_index(tuple(np.moveaxis(corner, -1, 0)), self.nodes)

    def coordinates(self, a0_start: int, a0_stop: int) -> np.ndarray:
        """(x, y[, z]) of the node planes [a0_start, a0_stop), in node order."""
        axes = [np.arange(a0_start, a0_stop), *(np.arange(n) for n in self.nodes[1:])]
        corner = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, self.dim)
        return (corner * self.spacing)[:, ::-1]  # array axes (z, y, x) -> coordinates (x, y, z)


def group_table(dim: int) -> np.ndarray:
    """table[mask, p]: the lowest block position face-connected to position p through the
    meshed positions of `mask` (bit p: the voxel at position p is meshed)."""
    n = 2 ** dim
    table = np.zeros((2 ** n, n), dtype=np.int64)
    for mask in range(2 ** n):
        for p in range(n):
            group, todo = {p}, [p]
            while todo:
                q = todo.pop()
                for r in (q ^ (1 << b) for b in range(dim)):  # face neighbours in the block
                    if mask >> r & 1 and r not in group:
                        group.add(r)
                        todo.append(r)
            table[mask, p] = min(group)
    return table


GROUPS = {dim: group_table(dim) for dim in (2, 3)}


class SplitNodes:
    """Node numbers (g 2^dim + p, module docstring) of voxel corners of a slab."""

    def __init__(self, meshed: np.ndarray, below, above, k0: int, grid: Grid):
        dim = grid.dim
        pad = np.zeros([meshed.shape[0] + 2, *(n + 2 for n in meshed.shape[1:])], dtype=bool)
        inner = (slice(1, -1),) * dim
        pad[inner] = meshed
        for index, plane in ((0, below), (-1, above)):
            if plane is not None:
                pad[(index, *inner[1:])] = plane
        # mask of the 2^dim voxels around each node of planes [k0, k1]
        self.mask = np.zeros([m - 1 for m in pad.shape], dtype=np.int64)
        for p, d in enumerate(CORNERS[dim]):
            window = tuple(slice(a, a + m - 1) for a, m in zip(d, pad.shape))
            self.mask |= pad[window].astype(np.int64) << p
        self.k0, self.grid = k0, grid

    def masks(self, voxels: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(voxels, offsets) meshed-voxel masks around the corners voxel + offset, voxels given
        by their slab index (a0 - k0, a1[, a2])."""
        local = voxels[:, None, :] + offsets[None]
        flat = np.ravel_multi_index(tuple(np.moveaxis(local, -1, 0)), self.mask.shape)
        return self.mask.reshape(-1).take(flat)  # take: faster than indexing by a tuple

    def ids(self, voxels: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """(voxels, offsets) node numbers of the corners voxel + offset, voxels given by their
        slab index (a0 - k0, a1[, a2]) and meshed."""
        dim = self.grid.dim
        position = np.ravel_multi_index(tuple((1 - offsets).T), (2,) * dim)  # voxel in block
        group = GROUPS[dim][self.masks(voxels, offsets), position[None]]
        local = voxels[:, None, :] + offsets[None]
        local[..., 0] += self.k0
        return self.grid.node(local) * 2 ** dim + group


def voxel_mesh(codes: np.ndarray, below: np.ndarray | None, above: np.ndarray | None, k0: int,
               grid: Grid, simplices: bool, comm: MPI.Comm, move=None):
    """(mesh, cell tags, facet tags) of an image from each rank's slab of role codes.

    `codes`: this rank's planes [k0, k1) (`labels.code_image`); `below`, `above`: planes k0 - 1
    and k1 (None on the first / last rank). Voxels of role `void` are not meshed. Coordinates in
    metres (grid spacing), plus `move(grid corners)` if given (`smoothing.NodeMoves`).
    """
    dim = grid.dim
    void = roles.CODES["void"]
    split = SplitNodes(codes != void, None if below is None else below != void,
                        None if above is None else above != void, k0, grid)
    voxels = np.argwhere(codes != void)  # local (a0 - k0, a1[, a2])
    corners = split.ids(voxels, CORNERS[dim])  # (voxels, 2^dim)
    per_voxel = len(SIMPLICES[dim]) if simplices else 1
    cells = corners[:, SIMPLICES[dim]].reshape(-1, dim + 1) if simplices else corners
    values = np.repeat(roles.cell_tags(codes[tuple(voxels.T)]), per_voxel)
    plane = np.repeat(voxels[:, 0], per_voxel)

    k1 = k0 + codes.shape[0]
    last = comm.rank == comm.size - 1
    numbering = UsedNodes(cells, k0, k1 + 1 if last else k1, grid, comm)
    cells = numbering.renumber(cells)
    x = grid.coordinates(k0, k1 + 1 if last else k1)[numbering.used // 2 ** dim]
    if move is not None:
        x += move((numbering.start + numbering.used) // 2 ** dim)
    element = basix.ufl.element("Lagrange", _CELL_TYPE[dim, simplices], 1, shape=(dim,))
    partitioner = _slab_partitioner(plane, codes.shape[0])
    mesh = dolfinx.mesh.create_mesh(comm, cells.astype(np.int64), ufl.Mesh(element), x,
                                    partitioner)

    tdim = mesh.topology.dim
    start = comm.exscan(len(cells)) or 0  # None on rank 0
    cell_map = mesh.topology.index_map(tdim)
    local = np.asarray(mesh.topology.original_cell_index, dtype=np.int64) - start
    owned = np.arange(cell_map.size_local, dtype=np.int32)
    cell_tags = tags_from_owned(mesh, tdim, owned, values[local[owned]])

    facets, facet_values = _tagged_facets(codes, above, split, simplices)
    facets = numbering.renumber(facets)
    mesh.topology.create_connectivity(tdim - 1, tdim)
    entities, entity_values = dolfinx.io.distribute_entity_data(
        mesh, tdim - 1, facets.astype(np.int64), facet_values.astype(np.int32))
    facet_tags = dolfinx.mesh.meshtags_from_entities(
        mesh, tdim - 1, dolfinx.graph.adjacencylist(entities), entity_values)
    mesh.topology.create_connectivity(tdim, tdim)  # as after model_to_mesh (cell dof look-ups)
    return mesh, cell_tags, facet_tags


class UsedNodes:
    """Contiguous numbers for the grid nodes that cells use (dolfinx needs every node it is
    given to be in a cell; void voxels leave nodes unused). Rank r numbers the used nodes of
    its node planes [k0, k_end); the plane above (the next rank's first) is numbered there."""

    def __init__(self, cells: np.ndarray, k0: int, k_end: int, grid: Grid, comm: MPI.Comm):
        rank, size = comm.rank, comm.size
        per_plane = int(np.prod(grid.nodes[1:])) * 2 ** grid.dim  # with the split copies
        self.start, self.stop = k0 * per_plane, k_end * per_plane
        owned = np.zeros(self.stop - self.start + per_plane, dtype=bool)  # + the plane above
        owned[cells.ravel() - self.start] = True  # marking, not np.unique: no sort
        # the rank below uses some nodes of this rank's first plane
        from_below = comm.sendrecv(owned[-per_plane:], dest=(rank + 1) % size,
                                   source=(rank - 1) % size)
        owned = owned[:-per_plane]
        if rank > 0:
            owned[:per_plane] |= from_below
        self.used = np.flatnonzero(owned)
        offset = comm.exscan(len(self.used)) or 0
        self.number = np.full(len(owned), -1, dtype=np.int64)
        self.number[self.used] = offset + np.arange(len(self.used))
        self.above = comm.sendrecv(self.number[:per_plane], dest=(rank - 1) % size,
                                   source=(rank + 1) % size)

    def renumber(self, nodes: np.ndarray) -> np.ndarray:
        local = nodes - self.start
        beyond = local >= len(self.number)
        numbers = self.number.take(np.where(beyond, 0, local))
        numbers[beyond] = self.above.take(local[beyond] - len(self.number))
        return numbers


def _slab_partitioner(plane: np.ndarray, planes: int):
    """Keep every cell on its rank; ghost the slab's first / last plane to the rank below /
    above (the cells sharing a facet across the slab boundary)."""

    def partition(comm, nparts, cell_types, cells):
        rank, size = comm.rank, comm.size
        lower = (plane == 0) & (rank > 0)
        upper = (plane == planes - 1) & (rank < size - 1)
        counts = 1 + lower.astype(np.int32) + upper.astype(np.int32)
        destinations = np.full((len(plane), 3), -1, dtype=np.int32)
        destinations[:, 0] = rank
        destinations[lower, 1] = rank - 1
        destinations[upper, 1 + lower[upper]] = rank + 1
        flat = destinations[destinations >= 0]  # row by row: each cell's owner, then its ghosts
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        return dolfinx.cpp.graph.AdjacencyList_int32(flat.astype(np.int32), offsets)

    return partition


def _face_corners(dim: int, axis: int) -> np.ndarray:
    """Corner offsets (lexicographic) of the voxel face normal to array axis `axis` at its low
    side: 2^(dim-1) corners."""
    others = [a for a in range(dim) if a != axis]
    offsets = np.zeros((2 ** (dim - 1), dim), dtype=int)
    for i, bits in enumerate(np.ndindex(*(2,) * (dim - 1))):
        for a, bit in zip(others, bits):
            offsets[i, a] = bit
    return offsets


def _facet_nodes(split: SplitNodes, voxels: np.ndarray, axis: int, side: int,
                 simplices: bool) -> np.ndarray:
    """Facets (rows of node numbers) of the given meshed voxels' faces normal to `axis`, at their
    low (side 0) or high (side 1) end: one quadrilateral / segment each, or the Kuhn split's two
    triangles (in 3D)."""
    dim = split.grid.dim
    offsets = _face_corners(dim, axis) + side * np.eye(dim, dtype=int)[axis]
    nodes = split.ids(voxels, offsets)
    if simplices and dim == 3:  # corners (0, 1, 2, 3): triangles (0, 1, 3), (0, 2, 3)
        return nodes[:, [[0, 1, 3], [0, 2, 3]]].reshape(-1, 3)
    return nodes


def _tagged_facets(codes, above, split: SplitNodes, simplices: bool):
    """Node numbers and tags of the tagged facets whose lower voxel is in this slab (and of the
    outer faces of this slab's voxels)."""
    dim, n = split.grid.dim, split.grid.shape
    void = roles.CODES["void"]
    pieces, values = [], []

    def add(voxels, axis, side, tag):
        if len(tag):
            facets = _facet_nodes(split, voxels, axis, side, simplices)
            pieces.append(facets)
            values.append(np.repeat(tag, len(facets) // len(tag)))

    for axis in range(dim):
        step = np.eye(dim, dtype=int)[axis]
        # faces between neighbours along this axis (across the slab top for axis 0), numbered
        # from the lower voxel's side if it is meshed, else from the upper's
        if axis == 0:
            upper = codes[1:] if above is None else np.concatenate([codes[1:], above[None]])
            lower = codes[:len(upper)]
        else:
            upper = np.take(codes, range(1, n[axis]), axis=axis)
            lower = np.take(codes, range(n[axis] - 1), axis=axis)
        pair = roles.FACET[lower, upper]
        from_lower = lower != void
        for side, chosen in ((1, from_lower), (0, ~from_lower)):
            where = np.argwhere((pair > 0) & chosen)
            add(where + (1 - side) * step, axis, side, pair[tuple(where.T)])
        # outer faces: bottom / top planes (axis 0) on the first / last rank, sides elsewhere
        for side, index in ((0, 0), (1, n[axis] - 1)):
            if axis == 0:
                if (side == 0 and split.k0 != 0) or (side == 1 and above is not None):
                    continue
                index = 0 if side == 0 else codes.shape[0] - 1
            layer = np.take(codes, [index], axis=axis)
            face = "bottom" if (axis == 0 and side == 0) else "top" if axis == 0 else "side"
            tag = np.where(layer != void, roles.outer_tags(layer, face), 0)
            where = np.argwhere(tag > 0)
            found = tag[tuple(where.T)]
            where[:, axis] = index
            add(where, axis, side, found)
    if not pieces:
        width = dim if simplices or dim == 2 else 4
        return np.zeros((0, width), dtype=np.int64), np.zeros(0, dtype=np.int32)
    return np.concatenate(pieces), np.concatenate(values)
