"""An image geometry -> distributed mesh and tags, and the image's summary (`femsolver mesh`).

Every rank reads only its slab of planes; the plane above its slab (for the facets across the
slab boundary) comes from the next rank, after any removal of isolated components.
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from femsolver.errors import CaseError, GeometryError
from femsolver.imaging import labels as roles
from femsolver.imaging.components import components, phase_summary
from femsolver.imaging.smoothing import NodeMoves
from femsolver.imaging.voxels import Grid, slab_planes, voxel_mesh

# Phases whose components are counted: roles that conduct together
PHASES = {"electrolyte": ("electrolyte",), "electrode": ("electrode", "blocking"),
          "active": ("active",), "ion_conductor": ("shell", "matrix", "coating")}
# The plane a phase's component must reach to carry current (cell problem; particle problem
# and `femsolver effective`: both)
REACHES = {"electrolyte": ("top",), "electrode": ("bottom",), "active": (),
           "ion_conductor": ("bottom", "top")}


def read_codes(params, comm: MPI.Comm) -> tuple[np.ndarray, int]:
    """(role codes of this rank's slab, its first plane). CaseError if the image has a label
    without a role, GeometryError if it has fewer planes than there are ranks."""
    image = params.image
    if image.shape[0] < comm.size:
        raise GeometryError(f"the image has {image.shape[0]} planes along its first axis, fewer "
                            f"than the {comm.size} MPI ranks: run on fewer ranks")
    k0, k1 = slab_planes(image.shape[0], comm)
    table = roles.role_table(params.labels)
    try:
        codes = roles.code_image(image.planes(k0, k1), table, str(image.path))
    except ValueError as err:
        error = CaseError(str(err))
    else:
        error = None
    # a label missing on one rank's slab is bad input on every rank
    messages = comm.allgather(str(error) if error else None)
    if any(messages):
        raise CaseError(next(m for m in messages if m))
    return codes, k0


def phase_components(codes: np.ndarray, comm: MPI.Comm) -> dict:
    """{phase: (component ids of the slab, stats)} for the phases present in the image."""
    found = {}
    for phase, members in PHASES.items():
        mask = np.isin(codes, [roles.CODES[r] for r in members])
        if comm.allreduce(int(mask.any()), op=MPI.MAX):
            found[phase] = components(mask, comm)
    return found


def remove_isolated(codes: np.ndarray, comm: MPI.Comm, problem: str) -> np.ndarray:
    """Codes with the components that carry no current made void (REACHES)."""
    codes = codes.copy()
    for phase, (ids, stats) in phase_components(codes, comm).items():
        needed = REACHES[phase] if problem == "cell" or phase == "ion_conductor" else ()
        keep = np.ones(len(stats["voxels"]), dtype=bool)
        for plane in needed:
            keep &= stats["low" if plane == "bottom" else "high"][0]
        codes[(ids >= 0) & ~keep[np.maximum(ids, 0)]] = roles.CODES["void"]
    return codes


def upsample(codes: np.ndarray, factor: int) -> np.ndarray:
    """Each voxel into factor^dim voxels of the same role."""
    for axis in range(codes.ndim):
        codes = np.repeat(codes, factor, axis=axis)
    return codes


def image_slab(params, refine: int, comm: MPI.Comm):
    """(codes, below, above, k0, grid) of this rank's slab after isolated-component removal and
    refinement: `below` / `above` the planes k0 - 1 and k1 (None on the first / last rank)."""
    codes, k0 = read_codes(params, comm)
    if params.isolated == "remove":
        codes = remove_isolated(codes, comm, params.problem)
    factor = 2 ** refine
    codes, k0 = upsample(codes, factor), k0 * factor
    if not comm.allreduce(int(np.any(codes != roles.CODES["void"])), op=MPI.MAX):
        raise GeometryError("the image has no voxel to mesh: every label is void")
    rank, size = comm.rank, comm.size
    above = comm.sendrecv(codes[0], dest=(rank - 1) % size, source=(rank + 1) % size)
    below = comm.sendrecv(codes[-1], dest=(rank + 1) % size, source=(rank - 1) % size)
    grid = Grid(tuple(n * factor for n in params.image.shape),
                tuple(h / factor for h in params.spacing))
    return (codes, below if rank > 0 else None, above if rank < size - 1 else None, k0, grid)


def image_mesh(params, mesh_params, comm: MPI.Comm):
    """(mesh, cell tags, facet tags) of an image geometry, in metres."""
    codes, below, above, k0, grid = image_slab(params, mesh_params.refine, comm)
    if params.coarsen > 1:
        from femsolver.imaging.coarse import coarse_mesh

        return coarse_mesh(codes, grid, params.coarsen, params.coarsen_margin,
                           mesh_params.max_cells, comm)
    move = NodeMoves(codes, k0, grid, comm) if params.cells == "smoothed" else None
    return voxel_mesh(codes, below, above, k0, grid, params.simplices, comm, move)


def summary(params, comm: MPI.Comm) -> dict:
    """Volume fractions (per label and per role) and component statistics per phase."""
    image = params.image
    k0, k1 = slab_planes(image.shape[0], comm)
    raw = image.planes(k0, k1)
    values, counts = np.unique(raw, return_counts=True)
    table: dict[int, int] = {}
    for part in comm.allgather(dict(zip(values.tolist(), counts.tolist()))):
        for label, count in part.items():
            table[label] = table.get(label, 0) + count
    total = float(np.prod(image.shape))
    role_of = roles.role_table(params.labels)
    by_role: dict[str, float] = {}
    for label, count in table.items():
        role = role_of.get(label, "unmapped")
        by_role[role] = by_role.get(role, 0.0) + count / total
    codes, _ = read_codes(params, comm)
    phases = {phase: phase_summary(stats)
              for phase, (_, stats) in phase_components(codes, comm).items()}
    return {"shape": list(image.shape), "voxel_size_m": list(params.spacing),
            "voxels": int(total),
            "label_fractions": {str(k): v / total for k, v in sorted(table.items())},
            "role_fractions": by_role, "components": phases}
