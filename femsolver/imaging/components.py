"""Connected components of an image's phases, labelled slab by slab (no rank holds the image).

Each rank labels its slab (`scipy.ndimage.label`, face connectivity: voxels touching only along
an edge or a corner are apart, as in TauFactor and PoreSpy); the labels that meet across slab
boundaries are joined on rank 0 from one plane of label pairs per rank (union-find), and the
statistics are summed over the ranks. A component "reaches" the bottom / top plane (first /
last plane of the first array axis) if any of its voxels lies there.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI
from scipy import ndimage


def components(mask: np.ndarray, comm: MPI.Comm):
    """(ids, stats) of the face-connected components of a distributed boolean image.

    `mask`: this rank's slab (planes along axis 0, ranks in order). `ids`: component number
    of each voxel of the slab (-1 outside the mask), numbered 0..C-1 on every rank alike.
    `stats`: `voxels` (C,), `low`, `high` (dim, C): reaches the first / last plane normal to
    each array axis (`low[0]`: the bottom, `high[0]`: the top).
    """
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    local, count = ndimage.label(mask, structure=structure)
    offset = comm.exscan(count) or 0
    total = comm.allreduce(count)
    ids = np.where(local > 0, local - 1 + offset, -1)

    # labels of the next rank's first plane, beside this rank's last plane
    rank, size = comm.rank, comm.size
    first = ids[0] if len(ids) else None
    below = comm.sendrecv(first, dest=(rank - 1) % size, source=(rank + 1) % size)
    pairs = np.zeros((0, 2), dtype=np.int64)
    if rank < size - 1 and below is not None and len(ids):
        both = (ids[-1] >= 0) & (below >= 0)
        pairs = np.stack([ids[-1][both], below[both]], axis=1)
    gathered = comm.gather(pairs, root=0)
    if rank == 0:
        roots = _union(total, np.concatenate(gathered))
        _, compact = np.unique(roots, return_inverse=True)
    else:
        compact = None
    compact = comm.bcast(compact, root=0)
    ids = np.where(ids >= 0, compact[np.maximum(ids, 0)], -1)
    n = int(compact.max()) + 1 if len(compact) else 0

    def present(plane_ids):
        hit = np.zeros(n, dtype=np.int64)
        hit[np.unique(plane_ids[plane_ids >= 0])] = 1
        return hit

    empty = np.zeros(n, dtype=np.int64)
    low = [present(ids[0]) if rank == 0 and len(ids) else empty]
    high = [present(ids[-1]) if rank == size - 1 and len(ids) else empty]
    for axis in range(1, ids.ndim):
        low.append(present(np.take(ids, 0, axis=axis)))
        high.append(present(np.take(ids, -1, axis=axis)))
    voxels = comm.allreduce(np.bincount(ids[ids >= 0], minlength=n), op=MPI.SUM)
    low, high = (comm.allreduce(np.array(v), op=MPI.SUM) > 0 for v in (low, high))
    return ids, {"voxels": voxels, "low": low, "high": high}


def _union(count: int, pairs: np.ndarray) -> np.ndarray:
    """Root of each of `count` labels after joining the label pairs (union-find)."""
    parent = np.arange(count)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in np.unique(pairs, axis=0) if len(pairs) else ():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(i) for i in range(count)], dtype=np.int64)


def spanning_fraction(stats: dict, axis: int) -> float:
    """Fraction of a phase's voxels in components reaching both faces normal to `axis`."""
    voxels = stats["voxels"]
    spanning = stats["low"][axis] & stats["high"][axis]
    return float(voxels[spanning].sum() / voxels.sum()) if voxels.sum() else 0.0


def phase_summary(stats: dict) -> dict:
    """Component statistics of one phase: how many, the largest, what reaches the bottom and
    the top (first and last plane of the first array axis)."""
    voxels = stats["voxels"]
    total = int(voxels.sum())
    spanning = stats["low"][0] & stats["high"][0]
    isolated = ~(stats["low"][0] | stats["high"][0])
    return {
        "voxels": total,
        "components": int(len(voxels)),
        "largest_component_voxels": int(voxels.max()) if len(voxels) else 0,
        "spanning_components": int(spanning.sum()),
        "spanning_fraction": float(voxels[spanning].sum() / total) if total else 0.0,
        "isolated_components": int(isolated.sum()),
        "isolated_fraction": float(voxels[isolated].sum() / total) if total else 0.0,
    }
