"""Effective conductivity of a voxel image by cell-centred finite volumes: TauFactor's
discretisation (`geometry.effective_method = "fv"`).

One unknown per conducting voxel; between two face neighbours the two-point flux with the
harmonic mean of their half-voxel conductances, g = A_f / (h/2 sigma_p + h/2 sigma_q); p = V on the
box's first face normal to the current and 0 on its last, reached from the outer voxels' centres
(half a voxel: g = A_f 2 sigma_p / h), as TauFactor fixes them. sigma_eff is the current through
the last face times L / (V A). Voxels meet through faces only, as in the Q1 path
(`structured`), whose sigma_eff lies above the continuum one where this one lies below
(docs/images.md). Conducting clusters that touch neither face (`components`) carry no current:
their voxels get a pinning term of a face's conductance, so that the matrix is not singular
(a singular block stopped GAMG's set-up on a 128^3 image) and leaves the rest exact.

Each rank numbers the conducting voxels of its slab (`build.image_slab`) and assembles their
rows: a 7-point stencil (5 in 2D) from its planes and the neighbour ranks' planes next to it.
"""

from __future__ import annotations

import numpy as np
from petsc4py import PETSc

from femsolver.imaging import labels as roles
from femsolver.imaging.build import image_slab
from femsolver.imaging.components import components
from femsolver.imaging.kernel import compact_rows
from femsolver.imaging import multigrid
from femsolver.imaging.structured import VOXEL_SOLVER
from femsolver.imaging.transport import direction_rows, voxel_regions

# CG + multigrid of 2x2x2 aggregates (multigrid.aggregation, Galerkin levels), W-cycles with
# two Chebyshev-Jacobi sweeps: 15 CG iterations on the 128^3 image and a tenth of GAMG's set-up
# (docs/performance.md#images); other options (pc_type gamg) bypass the hierarchy
FV_SOLVER = {**VOXEL_SOLVER, "pc_mg_cycle_type": "w", "mg_levels_ksp_max_it": 2}


class VoxelCells:
    """Conductivity and global number of the voxels of a rank's slab, with one plane of the
    neighbouring ranks' on each side (sigma 0, number -1 outside the image)."""

    def __init__(self, codes, below, above, grid, conductivities: dict, comm):
        self.grid, self.comm = grid, comm
        regions = voxel_regions(roles.cell_tags(codes), int(np.prod(grid.shape)), conductivities,
                                comm)
        self.sigma_max, self.fractions = regions.sigma_max, regions.fractions
        empty = np.full(codes.shape[1:], roles.CODES["void"], dtype=codes.dtype)
        planes = [empty if below is None else below, *codes, empty if above is None else above]
        self.sigma = regions.sigma[roles.cell_tags(np.stack(planes))]  # (planes + 2, ...)
        inner = self.sigma[1:-1] > 0
        self.owned = int(inner.sum())
        ids, self.touches = components(inner, comm)
        self.component = ids[inner]
        start = comm.exscan(self.owned) or 0
        number = np.full(self.sigma.shape, -1, dtype=PETSc.IntType)
        number[1:-1][inner] = start + np.arange(self.owned, dtype=PETSc.IntType)
        rank, size = comm.rank, comm.size
        from_below = comm.sendrecv(number[-2], dest=(rank + 1) % size, source=(rank - 1) % size)
        from_above = comm.sendrecv(number[1], dest=(rank - 1) % size, source=(rank + 1) % size)
        if rank > 0:
            number[0] = from_below
        if rank < size - 1:
            number[-1] = from_above
        self.number = number


def _shift(array: np.ndarray, axis: int, step: int) -> np.ndarray:
    """The padded array's values at index + step along `axis` for the inner (slab) cells; beyond
    the image (the transverse axes, which are not padded) a zero / -1 border."""
    inner = array[1:-1]
    if axis == 0:
        return array[1 + step:array.shape[0] - 1 + step]
    out = np.zeros_like(inner) if array.dtype.kind == "f" else np.full_like(inner, -1)
    source = [slice(None)] * inner.ndim
    target = [slice(None)] * inner.ndim
    source[axis] = slice(step, None) if step > 0 else slice(None, step)
    target[axis] = slice(None, -step) if step > 0 else slice(-step, None)
    out[tuple(target)] = inner[tuple(source)]
    return out


def solve_direction(cells: VoxelCells, axis: int, voltage: float, options: dict, k0: int):
    """(sigma_eff S/m, length m, cross-section m2) along array `axis`."""
    grid, comm = cells.grid, cells.comm
    h = grid.spacing
    dim = grid.dim
    length = grid.shape[axis] * h[axis]
    area = float(np.prod(grid.shape * h)) / length
    voxel = float(np.prod(h))
    scale = cells.sigma_max * voxel ** (1 - 2 / dim)  # the Q1 path's row scale
    sigma = cells.sigma[1:-1]
    mine = sigma > 0
    columns = np.full((cells.owned, 2 * dim + 1), -1, dtype=PETSc.IntType)
    values = np.zeros(columns.shape)
    columns[:, 0] = cells.number[1:-1][mine]
    diagonal = np.zeros(sigma.shape)
    level = np.indices(sigma.shape)[axis] + (k0 if axis == 0 else 0)
    slot = 1
    for b in range(dim):
        face = voxel / h[b]
        for step in (-1, 1):
            other = _shift(cells.sigma, b, step)
            g = np.zeros(sigma.shape)
            both = mine & (other > 0)
            g[both] = face / (h[b] / (2 * sigma[both]) + h[b] / (2 * other[both]))
            diagonal += g
            columns[:, slot] = np.where(both, _shift(cells.number, b, step), -1)[mine]
            values[:, slot] = -g[mine] / scale
            slot += 1
    # the fixed faces, half a voxel from the outer voxels' centres
    boundary = 2 * sigma * (voxel / h[axis]) / h[axis]
    first, last = level == 0, level == grid.shape[axis] - 1
    diagonal += np.where(first | last, boundary, 0.0)
    rhs = np.where(first, boundary * voltage, 0.0)
    outlet = np.where(last, boundary, 0.0)
    values[:, 0] = diagonal[mine] / scale
    floating = ~(cells.touches["low"][axis] | cells.touches["high"][axis])[cells.component]
    values[floating, 0] += 1.0
    A = PETSc.Mat().createAIJ(((cells.owned, PETSc.DETERMINE),) * 2,
                              csr=compact_rows(values, columns), comm=comm)
    A.setOption(PETSc.Mat.Option.SPD, True)
    x, b = A.createVecs()
    b.getArray()[:] = rhs[mine] / scale
    # start from the linear potential between the faces
    x.getArray()[:] = voltage * (1 - (level[mine] + 0.5) / grid.shape[axis])

    def hierarchy():
        position = np.argwhere(mine)
        position[:, 0] += k0
        return multigrid.Multigrid(A, position, coarsen=multigrid.aggregation)

    p = multigrid.solve(A, b, x, options, "voxels_fv", hierarchy)
    current = comm.allreduce(float(outlet[mine] @ p))
    return current * length / (voltage * area), length, area


def fv_effective(params, refine: int, conductivities: dict, sigma_ref: float, directions,
                 spanning, comm, options: dict | None = None) -> list[dict]:
    """`transport.directional_effective`'s rows of an image of voxels by finite volumes."""
    codes, below, above, k0, grid = image_slab(params, refine, comm)
    cells = VoxelCells(codes, below, above, grid, conductivities, comm)
    del codes
    dim = grid.dim

    def solve(coordinate):  # coordinate axis c is array axis dim - 1 - c
        return solve_direction(cells, dim - 1 - coordinate, 1.0, options or FV_SOLVER, k0)

    return direction_rows(cells.fractions, dim, conductivities, sigma_ref, directions,
                          spanning, solve)
