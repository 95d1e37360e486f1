"""Effective conductivity of a voxel image assembled on the voxel grid, without a dolfinx mesh.

The discrete problem is the one `femsolver.effective.solve_potential` (floating=True) solves on
the image's hexahedral mesh (`voxels.voxel_mesh`): Q1 on the same split nodes, the same
scaling, the same floating-cluster mass term; CG + geometric multigrid (`multigrid`). A voxel's
stiffness and mass matrices are exact tensor products of the 1D linear element's (no
quadrature), so the global matrix is one constant 8x8 (4x4 in 2D) matrix per conducting voxel
times its conductivity. It is summed into a fixed table of neighbour slots per row (`_slots`)
by a compiled loop (`kernel`; numpy's take/put passes took 1.5-2 CPU s per rank, PETSc's COO
interface 7 s to sort the 34M entries of a 128^3 image's slab). Building the dolfinx mesh and
its facet tags, and the general hexahedron quadrature, took 14 of the 19 s of a 128^3 image
(docs/performance.md#images).

Unknowns: the split nodes that conducting voxels use, numbered as the mesh numbers them
(`voxels.UsedNodes`, rank r owning its node planes). The Dirichlet nodes keep a unit diagonal
row and their columns are lifted to the right-hand side (the matrix stays symmetric); nodes
touched by no conducting voxel are not unknowns at all (the mesh path fixes them to 0).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from femsolver.effective import FLOATING_MASS
from femsolver.imaging import labels as roles
from femsolver.imaging.build import image_slab
from femsolver.imaging.kernel import add_voxel_blocks, compact_rows
from femsolver.imaging import multigrid
from femsolver.imaging.transport import direction_rows, voxel_regions
from femsolver.imaging.voxels import CORNERS, GROUPS, SplitNodes, UsedNodes


# CG + geometric multigrid (femsolver.imaging.multigrid): one Chebyshev-Jacobi sweep before and
# after (two: 7 CG iterations instead of 10, the same tau to 1e-10, no faster), LU of the
# (shifted) coarsest level; other options (pc_type gamg) bypass the hierarchy. rtol 1e-6:
# sigma_eff of the 128^3 blobs image within 4.5e-10 of rtol 1e-10's (1e-4: 6.5e-6); the rows
# are scaled, so unit Dirichlet rows do not dominate the residual (docs/performance.md#images)
VOXEL_SOLVER = {"ksp_type": "cg", "ksp_norm_type": "unpreconditioned", "ksp_rtol": 1e-6,
                "pc_type": "mg", "mg_levels_ksp_type": "chebyshev",
                "mg_levels_ksp_max_it": 1, "mg_levels_pc_type": "jacobi",
                "mg_coarse_ksp_type": "preonly", "mg_coarse_pc_type": "redundant",
                "mg_coarse_redundant_pc_type": "lu"}


def element_matrices(spacing) -> tuple[np.ndarray, np.ndarray]:
    """(stiffness, mass) of the Q1 element on a box of edges `spacing` (array axes), corners
    in `voxels.CORNERS` order: Kronecker products of the 1D linear element's matrices."""
    stiff = [np.array([[1.0, -1.0], [-1.0, 1.0]]) / h for h in spacing]
    mass = [np.array([[2.0, 1.0], [1.0, 2.0]]) * h / 6 for h in spacing]

    def product(factors):
        out = np.ones((1, 1))
        for f in factors:
            out = np.kron(out, f)
        return out

    stiffness = sum(product([stiff[a] if a == b else mass[a] for a in range(len(spacing))])
                    for b in range(len(spacing)))
    return stiffness, product(mass)


class VoxelConduction:
    """The conducting voxels of a rank's slab, their split nodes and global node numbers."""

    def __init__(self, codes, below, above, k0: int, grid, conductivities: dict, comm):
        dim, void = grid.dim, roles.CODES["void"]
        self.grid, self.comm, self.k0 = grid, comm, k0
        tag_of = roles.cell_tags(codes)
        regions = voxel_regions(tag_of, int(np.prod(grid.shape)), conductivities, comm)
        self.sigma_max, self.fractions = regions.sigma_max, regions.fractions
        sigma = regions.sigma
        # the node split sees every meshed voxel (insulating ones too), as the mesh's does
        split = SplitNodes(codes != void, None if below is None else below != void,
                            None if above is None else above != void, k0, grid)
        self.voxels = np.argwhere(sigma[tag_of] > 0)  # slab index (a0 - k0, a1[, a2])
        self.sigma = sigma[tag_of[tuple(self.voxels.T)]]
        corners = split.ids(self.voxels, CORNERS[dim])
        self.masks = split.masks(self.voxels, CORNERS[dim])
        last = comm.rank == comm.size - 1
        k1 = k0 + codes.shape[0]
        self.numbering = UsedNodes(corners, k0, k1 + 1 if last else k1, grid, comm)
        self.corners = corners  # split node numbers (for the values after the solve)
        self.ids = self.numbering.renumber(corners).astype(PETSc.IntType)
        self.owned = len(self.numbering.used)

    def corner_level(self, axis: int) -> np.ndarray:
        """(voxels, 2^dim) grid index along array `axis` of each voxel corner."""
        level = self.voxels[:, axis][:, None] + CORNERS[self.grid.dim][None, :, axis]
        return level + (self.k0 if axis == 0 else 0)

    def owned_level(self, axis: int) -> np.ndarray:
        """Grid index along array `axis` of the owned unknowns, in their order."""
        slots = self.numbering.start + self.numbering.used
        node = slots // 2 ** self.grid.dim
        return np.unravel_index(node, self.grid.nodes)[axis]

    def corner_values(self, owned: np.ndarray) -> np.ndarray:
        """(voxels, 2^dim) values at the voxel corners of a vector of the owned unknowns (the
        node plane above the slab comes from the next rank)."""
        numbering, comm = self.numbering, self.comm
        slots = np.zeros(len(numbering.number))
        slots[numbering.used] = owned
        above = comm.sendrecv(slots[:len(numbering.above)], dest=(comm.rank - 1) % comm.size,
                              source=(comm.rank + 1) % comm.size)
        local = self.corners - numbering.start
        mine = local < len(slots)
        return np.where(mine, slots[np.where(mine, local, 0)],
                        above[np.where(mine, 0, local - len(slots))])


def _slots(dim: int):
    """(slot[i, j], second[i, j], axis[i, j]): where the entry between voxel corners i and j
    goes in its row: one slot per neighbour offset in {-1, 0, 1}^dim, and for the offsets along
    one axis (`axis` >= 0, else -1) a `second` slot, since the 2^(dim-1) voxels around a grid
    edge can reach two split copies of the far node (a diagonal pair, `_second_copy`)."""
    corners = CORNERS[dim]
    offset = corners[None, :, :] - corners[:, None, :]
    slot = np.ravel_multi_index(tuple(np.moveaxis(offset + 1, -1, 0)), (3,) * dim)
    along = np.count_nonzero(offset, axis=-1) == 1
    axis = np.where(along, np.argmax(offset != 0, axis=-1), -1)
    second = np.where(along, 3 ** dim + 2 * axis + (offset.sum(axis=-1) > 0), -1)
    return slot, second, axis


def _second_copy(dim: int) -> np.ndarray:
    """table[axis, mask, p]: whether the voxel at block position p of a node (meshed voxels
    `mask`) takes the second slot for the edge along `axis` that it shares with the node: the
    lowest position of its group among the edge's voxels has a 1 in the bit of the first other
    array axis. A diagonal pair in two groups differs in that bit; one group gives one slot."""
    n = 2 ** dim
    table = np.zeros((dim, 2 ** n, n), dtype=bool)
    for axis in range(dim):
        bit = dim - 1 - next(a for a in range(dim) if a != axis)  # positions: axis 0 is bit dim-1
        side = dim - 1 - axis
        for mask in range(2 ** n):
            for p in range(n):
                edge = [r for r in range(n) if (r >> side & 1) == (p >> side & 1)
                        and mask >> r & 1 and GROUPS[dim][mask, r] == GROUPS[dim][mask, p]]
                table[axis, mask, p] = bool(min(edge, default=p) >> bit & 1)
    return table


_SLOTS = {dim: _slots(dim) for dim in (2, 3)}
_SECOND = {dim: _second_copy(dim) for dim in (2, 3)}


def _operator(system: "VoxelConduction", fixed: np.ndarray, owned_fixed: np.ndarray,
              element: np.ndarray, scale: float) -> PETSc.Mat:
    """The scaled conduction matrix: voxel blocks on the free rows and columns, a unit diagonal
    on the fixed rows. Each rank sums its voxels' blocks into its rows and the rows of the node
    plane above its slab, which it then adds to the next rank's."""
    dim, comm = system.grid.dim, system.comm
    slot, second, axis = _SLOTS[dim]
    start = comm.exscan(system.owned) or 0
    count = max(system.owned, int(system.ids.max()) + 1 - start if len(system.ids) else 0)
    # fixed rows go to a spare last row, fixed columns get -1 (dropped below)
    rows = np.where(fixed, count, system.ids - start)
    ids = np.where(fixed, -1, system.ids)
    width = 3 ** dim + 2 * dim
    values = np.zeros((count + 1, width))
    columns = np.full(values.shape, -1, dtype=PETSc.IntType)
    add_voxel_blocks(rows, ids, system.masks, system.sigma / scale, element, slot, second, axis,
                     _SECOND[dim], values, columns)
    diagonal = np.flatnonzero(owned_fixed)
    values[diagonal, slot[0, 0]] = 1.0
    columns[diagonal, slot[0, 0]] = start + diagonal

    up = comm.rank + 1 if comm.rank < comm.size - 1 else MPI.PROC_NULL
    down = comm.rank - 1 if comm.rank > 0 else MPI.PROC_NULL
    below = comm.sendrecv((values[system.owned:count], columns[system.owned:count]), dest=up,
                          source=down)
    values, columns = values[:system.owned], columns[:system.owned]
    if below is not None:
        m = len(below[0])
        values[:m] += below[0]
        np.maximum(columns[:m], below[1], out=columns[:m])
    size = (system.owned, comm.allreduce(system.owned))
    A = PETSc.Mat().createAIJ((size, size), csr=compact_rows(values, columns), comm=comm)
    A.setOption(PETSc.Mat.Option.SPD, True)
    return A


def solve_direction(system: VoxelConduction, axis: int, voltage: float, options: dict):
    """(sigma_eff S/m, length m, cross-section m2) along array `axis`: p = voltage on the grid's
    first plane normal to it, 0 on its last; the current is the energy identity
    (femsolver.effective: I = (1/dV) sum over voxels of sigma p_e^T K p_e)."""
    grid, comm = system.grid, system.comm
    length = grid.shape[axis] * grid.spacing[axis]
    area = float(np.prod(grid.shape * grid.spacing)) / length
    stiffness, mass = element_matrices(grid.spacing)
    voxel = float(np.prod(grid.spacing))
    # femsolver.effective._stiffness_scale on voxels: sigma |cell| / h^2, h = |cell|^(1/dim)
    scale = system.sigma_max * voxel ** (1 - 2 / grid.dim)
    element = stiffness + FLOATING_MASS / length ** 2 * mass
    level = system.corner_level(axis)
    bottom, top = level == 0, level == grid.shape[axis]
    owned_level = system.owned_level(axis)
    owned_bottom, owned_top = owned_level == 0, owned_level == grid.shape[axis]
    A = _operator(system, bottom | top, owned_bottom | owned_top, element, scale)

    x, b = A.createVecs()
    # lifting: free rows of voxels with a bottom corner get -K_fD p_D
    near = np.flatnonzero(bottom.any(axis=1))
    lifted = -(system.sigma[near] / scale)[:, None] * (bottom[near] * voltage) @ element.T
    free = ~(bottom[near] | top[near])
    b.setValues(system.ids[near][free], lifted[free], addv=PETSc.InsertMode.ADD_VALUES)
    start = comm.exscan(system.owned) or 0
    fixed = np.flatnonzero(owned_bottom).astype(PETSc.IntType)
    b.setValues(start + fixed, np.full(len(fixed), voltage), addv=PETSc.InsertMode.ADD_VALUES)
    b.assemble()

    # start from the linear potential between the faces: most of the solution already
    x.getArray()[:] = voltage * (1 - owned_level / grid.shape[axis])

    def hierarchy():
        position = np.stack([system.owned_level(a) for a in range(grid.dim)], axis=1)
        lowest = system.voxels.copy()
        lowest[:, 0] += system.k0
        return multigrid.Multigrid(A, position, lambda: multigrid.voxel_interpolation(
            A, system.ids, lowest, position, owned_bottom | owned_top))

    owned = multigrid.solve(A, b, x, options, "voxels", hierarchy)
    p = np.where(bottom, voltage, np.where(top, 0.0, system.corner_values(owned)))
    energy = comm.allreduce(float(system.sigma @ ((p @ stiffness) * p).sum(axis=1)))
    return energy / voltage * length / (voltage * area), length, area


def image_effective(params, refine: int, conductivities: dict, sigma_ref: float, directions,
                    spanning, comm, options: dict | None = None) -> list[dict]:
    """`transport.directional_effective`'s rows for an image geometry of voxels (not
    simplices), straight from its slabs."""
    codes, below, above, k0, grid = image_slab(params, refine, comm)
    system = VoxelConduction(codes, below, above, k0, grid, conductivities, comm)
    del codes
    dim = grid.dim

    def solve(coordinate):  # coordinate axis c is array axis dim - 1 - c
        return solve_direction(system, dim - 1 - coordinate, 1.0, options or VOXEL_SOLVER)

    return direction_rows(system.fractions, dim, conductivities, sigma_ref, directions,
                          spanning, solve)
