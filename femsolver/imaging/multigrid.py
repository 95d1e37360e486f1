"""Geometric multigrid on the voxel grid for `femsolver.imaging.structured` (PETSc PCMG).

Each level keeps the grid position of its unknowns. The coarse unknowns are those at even
positions on every axis (every second grid node: 2x2x2 voxels become one), their split copies
kept apart. A fine unknown at odd positions on k axes interpolates from the coarse unknowns at
+-1 along those axes that it reaches through conducting voxels (split copies and nodes across
an insulator do not): trilinear interpolation restricted to the conducting phase and
renormalised, so constants stay constants on every cluster (floating ones too). On the finest
level the sources come from the voxels (`voxel_interpolation`), below from the couplings of
the Galerkin operator P^T A P (`interpolation`); there an unknown with no coupled coarse
neighbour becomes a coarse unknown itself. Dirichlet rows are left to the smoother. The fine
matrix is the one given, so the solution is the fine problem's whatever the hierarchy.
For cell-centred unknowns (`finite_volume`) `aggregation` coarsens instead: piecewise-constant
interpolation from 2x2x2 aggregates.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse
from mpi4py import MPI
from petsc4py import PETSc

from femsolver.petsc_options import ScopedOptions

# Stop coarsening below this many unknowns (the coarsest level is factored), or when a level
# would keep more than COARSENING of the unknowns (promoted ones: worth no level)
COARSEST, COARSENING = 2000, 0.6
# Relative diagonal shift of the coarsest operator before it is factored: a floating cluster's
# constant has only its FLOATING_MASS term (6e-17 of a voxel's stiffness at 128 voxels), an LU
# pivot of round-off, either sign; shifted, the preconditioner stays positive definite
COARSE_SHIFT = 1e-10


class _Columns:
    """Values, at given global columns, of arrays over the owned rows (the far ones through
    one PETSc scatter)."""

    def __init__(self, A: PETSc.Mat, columns: np.ndarray):
        self.start, stop = A.getOwnershipRange()
        self.near = (columns >= self.start) & (columns < stop)
        self.columns = columns
        far, self.slot = np.unique(columns[~self.near], return_inverse=True)
        self.owned = PETSc.Vec().createMPI((stop - self.start, PETSc.DECIDE), comm=A.comm)
        self.ghost = PETSc.Vec().createSeq(len(far))
        index = PETSc.IS().createGeneral(far.astype(PETSc.IntType), comm=PETSc.COMM_SELF)
        self.scatter = PETSc.Scatter().create(self.owned, index, self.ghost, None)

    def __call__(self, values: np.ndarray) -> np.ndarray:
        self.owned.getArray()[:] = values
        self.scatter.scatter(self.owned, self.ghost, PETSc.InsertMode.INSERT,
                             PETSc.ScatterMode.FORWARD)
        out = np.empty(len(self.columns))
        out[self.near] = values[self.columns[self.near] - self.start]
        out[~self.near] = self.ghost.getArray()[self.slot]
        return out

    def destroy(self):
        for obj in (self.owned, self.ghost, self.scatter):
            obj.destroy()


def interpolation(A: PETSc.Mat, position: np.ndarray) -> tuple[PETSc.Mat, np.ndarray]:
    """(P, coarse positions) from A's couplings: a fine unknown takes the mean of the coupled
    coarse unknowns at +-1 along its odd axes (equal trilinear weights); `position`: (owned
    rows, dim) integer grid position of A's unknowns; rows without couplings (Dirichlet) 0."""
    indptr, columns, values = A.getValuesCSR()
    start = A.getOwnershipRange()[0]
    n = len(indptr) - 1
    row = np.repeat(np.arange(n), np.diff(indptr))
    off = (columns != row + start) & (values != 0)
    coupled = np.bincount(row[off], minlength=n) > 0
    odd = position % 2 == 1
    even = coupled & ~odd.any(axis=1)
    edge = np.flatnonzero(off & ~even[row])
    row, columns = row[edge], columns[edge]
    gather = _Columns(A, columns)
    step = np.stack([gather(position[:, a]) for a in range(position.shape[1])], axis=1)
    step -= position[row]
    source = (np.abs(step) == odd[row]).all(axis=1)  # the coarse corners of its box
    count = np.bincount(row[source], minlength=n)
    coarse = even | (coupled & (count == 0))
    offset = A.comm.tompi4py().exscan(int(coarse.sum())) or 0
    number = np.where(coarse, offset + np.cumsum(coarse) - 1, -1)
    target = gather(number.astype(float))[source].astype(PETSc.IntType)
    gather.destroy()
    # rows: a coarse unknown's own number, else the mean of its sources
    mine = np.flatnonzero(coarse)
    rows = np.concatenate([mine, row[source]])
    order = np.argsort(rows, kind="stable")
    cols = np.concatenate([number[mine].astype(PETSc.IntType), target])[order]
    weights = np.concatenate([np.ones(len(mine)), 1.0 / count[row[source]]])[order]
    pointer = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
    size = (len(mine), PETSc.DECIDE)
    P = PETSc.Mat().createAIJ((A.getSizes()[0], size), comm=A.comm,
                              csr=(pointer.astype(PETSc.IntType), cols, weights))
    return P, position[mine] // 2


def voxel_interpolation(A: PETSc.Mat, corners: np.ndarray, lowest: np.ndarray,
                        position: np.ndarray, fixed: np.ndarray):
    """(P, coarse positions) of the finest level from the voxels, without A's couplings: a
    conducting voxel has one even corner (all positions even), the source that `interpolation`
    finds through the voxel for each of its corners; a fine node takes each source with the
    fraction of its voxels that reach it (trilinear where nothing is split) and 0 for a fixed
    one (Dirichlet nodes are not coarse unknowns: their correction is 0). `corners`: (voxels,
    2^dim) A's numbers of this rank's conducting voxels' corners (the plane above included);
    `lowest`: their lowest corner's grid position; `position`, `fixed`: A's owned unknowns."""
    comm = A.comm.tompi4py()
    start, stop = A.getOwnershipRange()
    coarse = ~(position % 2).any(axis=1) & ~fixed
    total = comm.allreduce(int(coarse.sum()))
    offset = comm.exscan(int(coarse.sum())) or 0
    number = np.where(coarse, offset + np.cumsum(coarse) - 1, total)  # total: a spare column
    even = np.ravel_multi_index(tuple((lowest % 2).T), (2,) * position.shape[1])
    source = corners[np.arange(len(corners)), even]
    gather = _Columns(A, source)
    columns = np.repeat(gather(number.astype(float)).astype(np.int64), corners.shape[1])
    gather.destroy()
    rows = corners.ravel() - start
    count = max(stop - start, int(rows.max()) + 1 if len(rows) else 0)
    P = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=(count, total + 1))
    # the plane above the slab: the next rank's rows, added there
    up = comm.rank + 1 if comm.rank < comm.size - 1 else MPI.PROC_NULL
    down = comm.rank - 1 if comm.rank > 0 else MPI.PROC_NULL
    above = P[stop - start:]
    below = comm.sendrecv((above.data, above.indices, above.indptr), dest=up, source=down)
    P = P[:stop - start]
    if below is not None:
        top = scipy.sparse.csr_matrix(below, shape=(len(below[2]) - 1, total + 1))
        P = P + scipy.sparse.vstack([top, scipy.sparse.csr_matrix(
            (P.shape[0] - top.shape[0], total + 1))], format="csr")
    voxels = np.asarray(P.sum(axis=1)).ravel()
    P = scipy.sparse.diags(np.where(fixed, 0.0, 1.0 / np.maximum(voxels, 1))) @ P[:, :total]
    P.eliminate_zeros()
    P.sort_indices()
    csr = (P.indptr.astype(PETSc.IntType), P.indices.astype(PETSc.IntType), P.data)
    matrix = PETSc.Mat().createAIJ((A.getSizes()[0], (int(coarse.sum()), total)), csr=csr,
                                   comm=A.comm)
    return matrix, position[coarse] // 2


def aggregation(A: PETSc.Mat, position: np.ndarray) -> tuple[PETSc.Mat, np.ndarray]:
    """(P, coarse positions) of piecewise-constant interpolation from aggregates: a rank's
    unknowns at the same position // 2 (2x2x2 voxels, cell-centred unknowns: finite_volume);
    an aggregate never spans two ranks."""
    comm = A.comm.tompi4py()
    half = position // 2
    shape = half.max(axis=0, initial=0) + 1 if len(half) else np.ones(position.shape[1], int)
    keys, member = np.unique(np.ravel_multi_index(tuple(half.T), tuple(shape)),
                             return_inverse=True)
    offset = comm.exscan(len(keys)) or 0
    rows = len(position)
    P = PETSc.Mat().createAIJ(((rows, PETSc.DETERMINE), (len(keys), PETSc.DETERMINE)),
                              csr=(np.arange(rows + 1, dtype=PETSc.IntType),
                                   (offset + member.ravel()).astype(PETSc.IntType),
                                   np.ones(rows)), comm=A.comm)
    return P, np.stack(np.unravel_index(keys, tuple(shape)), axis=1)


class Multigrid:
    """The levels of a fine operator A (finest first: operator, interpolation from the next
    coarser level) and the shifted coarsest operator; `position`: (owned rows, dim) integer
    grid position of A's unknowns; `finest()`: the finest level's (P, coarse positions), if
    given; `coarsen(A, position)` the others' (default `interpolation`)."""

    def __init__(self, A: PETSc.Mat, position: np.ndarray, finest=None, coarsen=None):
        coarsen = coarsen or interpolation
        self.levels = []
        while A.getSize()[0] > COARSEST:
            if finest is not None:  # (P, coarse positions) of the finest level, given
                (P, coarse_position), finest = finest(), None
            else:
                P, coarse_position = coarsen(A, position)
            if P.getSize()[1] > COARSENING * A.getSize()[0]:
                P.destroy()
                break
            coarse, P, coarse_position = _without_floating_unknowns(A.ptap(P), P,
                                                                    coarse_position)
            self.levels.append((A, P))
            A, position = coarse, coarse_position
        self.levels.append((A, None))
        self.coarse = A.duplicate(copy=True)
        diagonal = A.getDiagonal()
        diagonal.scale(1 + COARSE_SHIFT)
        self.coarse.setDiagonal(diagonal)
        diagonal.destroy()

    def configure(self, pc: PETSc.PC) -> None:
        """Make `pc` a PCMG of these levels, before the solver's setFromOptions (which sets
        the smoothers and the coarse solver)."""
        pc.setType(PETSc.PC.Type.MG)
        pc.setMGLevels(len(self.levels))
        for depth, (A, P) in enumerate(self.levels):
            level = len(self.levels) - 1 - depth  # PCMG counts from the coarsest (0)
            pc.getMGSmoother(level).setOperators(A)
            if P is not None:
                pc.setMGInterpolation(level, P)
        pc.getMGCoarseSolve().setOperators(self.coarse)

    def destroy(self) -> None:
        """All but the fine operator (the caller's)."""
        for depth, (A, P) in enumerate(self.levels):
            for obj in (A if depth else None, P):
                if obj is not None:
                    obj.destroy()
        self.coarse.destroy()


def _without_floating_unknowns(coarse: PETSc.Mat, P: PETSc.Mat, position: np.ndarray):
    """(coarse, P, position) without the coarse unknowns that alone cover a floating cluster:
    only its FLOATING_MASS term is left on their diagonal (round-off, either sign), which would
    wreck the smoother. Those fine nodes keep their zero-mass mode, which carries no current."""
    diagonal = coarse.getDiagonal()
    keep = np.flatnonzero(diagonal.getArray() > 1e-9 * diagonal.max()[1])
    diagonal.destroy()
    if not coarse.comm.tompi4py().allreduce(len(keep) < len(position)):
        return coarse, P, position
    start = coarse.getOwnershipRange()[0]
    kept = PETSc.IS().createGeneral((start + keep).astype(PETSc.IntType), comm=coarse.comm)
    rows = PETSc.IS().createStride(P.getLocalSize()[0], P.getOwnershipRange()[0], 1,
                                   comm=coarse.comm)
    smaller = coarse.createSubMatrix(kept, kept), P.createSubMatrix(rows, kept)
    for obj in (coarse, P, kept, rows):
        obj.destroy()
    return *smaller, position[keep]


def solve(A: PETSc.Mat, b: PETSc.Vec, x: PETSc.Vec, options: dict, prefix: str,
          hierarchy) -> np.ndarray:
    """The owned values of x after the solver of `options` on A x = b, started from x; with
    pc_type mg the levels `hierarchy()` (a `Multigrid`) make the preconditioner. A, b and x are
    destroyed. ValueError for options PETSc rejects, RuntimeError if the solve fails."""
    levels = None
    with ScopedOptions(prefix, options) as scoped:
        ksp = PETSc.KSP().create(A.comm)
        ksp.setOptionsPrefix(scoped.prefix)
        ksp.setOperators(A)
        ksp.setInitialGuessNonzero(True)
        if options.get("pc_type") == "mg":
            levels = hierarchy()
            levels.configure(ksp.getPC())
        try:
            ksp.setFromOptions()
        except PETSc.Error as err:
            raise ValueError(f"PETSc rejected the solver options {options}: error code "
                             f"{err.ierr}") from None
        ksp.solve(b, x)
        reason = ksp.getConvergedReason()
    owned = x.getArray().copy()
    if levels is not None:
        levels.destroy()
    for obj in (ksp, A, x, b):
        obj.destroy()
    if reason < 0:
        raise RuntimeError(f"the conduction solve failed (PETSc reason {reason})")
    return owned
