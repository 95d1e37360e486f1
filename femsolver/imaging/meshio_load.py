"""Mesh files through meshio: read and check on rank 0, scatter, let dolfinx partition.

Supported cells: triangles, quadrilaterals (2D), tetrahedra, hexahedra (3D), first order, one
type per mesh. Cell regions and facet sets come from integer cell data (Gmsh's physical
groups, MED / medit references, ...) and Gmsh's physical names.
"""

from __future__ import annotations

from dataclasses import dataclass

import dolfinx.graph
import dolfinx.io
import dolfinx.mesh
import numpy as np
import ufl
import basix.ufl
from mpi4py import MPI

from femsolver import tags
from femsolver.errors import CaseError, GeometryError, ResourceError

# meshio (VTK) corner order -> dolfinx's (lexicographic) for tensor-product cells
CELLS = {"triangle": ("triangle", 2, None), "quad": ("quadrilateral", 2, [0, 1, 3, 2]),
         "tetra": ("tetrahedron", 3, None),
         "hexahedron": ("hexahedron", 3, [0, 1, 3, 2, 4, 5, 7, 6])}
FACETS = {2: ("line",), 3: ("triangle", "quad")}
CELL_DATA_KEYS = ("gmsh:physical", "medit:ref", "CellEntityIds", "cell_tags", "tags")
DEGENERATE = 1e-10  # |cell measure| / h^dim below this is a degenerate cell


@dataclass
class FileMesh:
    """A checked mesh file: points, one cell type, region numbers, facets with set numbers."""

    dim: int
    cell_type: str  # dolfinx name
    points: np.ndarray
    cells: np.ndarray  # dolfinx corner order
    regions: np.ndarray
    facets: np.ndarray
    facet_sets: np.ndarray
    names: dict  # {physical name: number}

    @property
    def box(self) -> list[float]:
        return list(self.points.max(axis=0) - self.points.min(axis=0))


def read_checked(path: str) -> FileMesh:
    """Read a mesh file with meshio and check it (CaseError, GeometryError, ResourceError)."""
    from pathlib import Path

    import meshio

    if not Path(path).is_file():
        raise CaseError(f"'geometry.path': no mesh file {path}")
    try:
        mesh = meshio.read(path)
    except OSError as err:
        raise ResourceError(f"cannot read the mesh file {path}: {err}") from None
    except Exception as err:  # noqa: BLE001 - meshio raises many kinds for unreadable files
        raise CaseError(f"'geometry.path': meshio cannot read {path}: {err}") from None
    types = {block.type for block in mesh.cells}
    dim = 3 if types & {"tetra", "hexahedron", "wedge", "pyramid", "tetra10", "hexahedron20"} \
        else 2
    volume = [t for t in types if meshio._mesh.topological_dimension.get(t) == dim]
    if len(volume) != 1 or volume[0] not in CELLS:
        raise GeometryError(f"{path}: unsupported cells {', '.join(sorted(volume))}: femsolver "
                            "reads meshes of one first-order type (triangle, quad, tetra, "
                            "hexahedron)")
    key = next((k for k in CELL_DATA_KEYS if k in mesh.cell_data), None)
    if key is None:
        raise GeometryError(f"{path}: no cell regions (integer cell data such as gmsh:physical)")
    name, _, order = CELLS[volume[0]]

    def blocks(kind):
        found = [(b.data, np.asarray(d)) for b, d in zip(mesh.cells, mesh.cell_data[key])
                 if b.type == kind]
        if not found:
            return np.zeros((0, 0), np.int64), np.zeros(0, np.int64)
        return (np.concatenate([c for c, _ in found]).astype(np.int64),
                np.concatenate([d for _, d in found]).astype(np.int64))

    cells, regions = blocks(volume[0])
    if order is not None:
        cells = cells[:, order]
    facet_kind = next((k for k in FACETS[dim] if k in types), FACETS[dim][0])
    facets, facet_sets = blocks(facet_kind)
    if facet_kind == "quad" and len(facets):
        facets = facets[:, [0, 1, 3, 2]]
    points = np.asarray(mesh.points[:, :dim], dtype=np.float64)
    _check_cells(path, points, cells, name)
    names = {n: int(v[0]) for n, v in (mesh.field_data or {}).items()}
    return FileMesh(dim, name, points, cells, regions, facets, facet_sets, names)


def _check_cells(path: str, points: np.ndarray, cells: np.ndarray, name: str) -> None:
    """GeometryError for degenerate cells, and for inverted (twisted or mis-ordered)
    quadrilaterals and hexahedra: the Jacobian at every corner must have one sign."""
    x = points[cells]
    dim = points.shape[1]
    h = float(np.max(np.ptp(points, axis=0))) / max(len(cells), 1) ** (1 / dim)
    if name in ("triangle", "tetrahedron"):
        measure = np.linalg.det(x[:, 1:] - x[:, :1])
        dets = measure[:, None]
    else:  # corner Jacobians of the tensor-product map: edges from each corner
        corners = np.array(list(np.ndindex(*(2,) * dim)))[:, ::-1]  # lexicographic, x fastest
        dets = []
        for c in corners:
            edges = []
            for axis in range(dim):
                other = c.copy()
                other[axis] = 1 - c[axis]
                sign = 1 if c[axis] == 0 else -1
                i = int(np.dot(c[::-1], 2 ** np.arange(dim)[::-1]))
                j = int(np.dot(other[::-1], 2 ** np.arange(dim)[::-1]))
                edges.append(sign * (x[:, j] - x[:, i]))
            dets.append(np.linalg.det(np.stack(edges, axis=1)))
        dets = np.stack(dets, axis=1)
    small = np.abs(dets).min(axis=1) < DEGENERATE * h ** dim
    if np.any(small):
        raise GeometryError(f"{path}: {np.count_nonzero(small)} degenerate {name} cell(s) "
                            f"(zero measure), the first is cell {np.flatnonzero(small)[0]}")
    if name not in ("triangle", "tetrahedron"):
        mixed = (dets.min(axis=1) < 0) & (dets.max(axis=1) > 0)
        if np.any(mixed):
            raise GeometryError(f"{path}: {np.count_nonzero(mixed)} inverted or twisted "
                                f"{name} cell(s), the first is cell {np.flatnonzero(mixed)[0]}")


def _numbers(table: dict, names: dict, found: np.ndarray, key: str, path: str) -> dict:
    """{file number: femsolver tag} from a case table keyed by physical names or numbers."""
    roles = tags.REGIONS if key == "regions" else tags.BOUNDARIES
    numbers = {}
    for name, role in table.items():
        number = names.get(name)
        if number is None:
            try:
                number = int(name)
            except ValueError:
                raise CaseError(f"'geometry.{key}.{name}': {path} has no region of that name "
                                f"(names: {', '.join(sorted(names)) or 'none'})") from None
        if number not in set(found.tolist()):
            raise CaseError(f"'geometry.{key}.{name}': {path} has no {key[:-1]} numbered "
                            f"{number}")
        numbers[number] = roles[role]
    return numbers


def distribute(params, comm: MPI.Comm):
    """(mesh in metres, cell tags, facet tags) of a mesh-file geometry, partitioned by dolfinx."""
    error, data = None, None
    if comm.rank == 0:
        try:
            data = _prepare(params)
        except (CaseError, GeometryError, ResourceError) as err:
            error = err
    error = comm.bcast(error, root=0)
    if error is not None:
        raise error
    header = comm.bcast(None if data is None else (data[0].dim, data[0].cell_type,
                                                   data[0].cells.shape[1],
                                                   data[0].facets.shape[1] if len(
                                                       data[0].facets) else data[0].dim),
                        root=0)
    dim, cell_type, corners, facet_corners = header

    file, cell_values, facet_values, facets = data if data else (None,) * 4
    return scatter_mesh(comm, dim, cell_type, corners, facet_corners,
                        (file.points * params.length_unit, file.cells, cell_values, facets,
                         facet_values) if file else None)


def scatter_mesh(comm: MPI.Comm, dim: int, cell_type: str, corners: int, facet_corners: int,
                 arrays):
    """(mesh, cell tags, facet tags) from `arrays` = (points in m, cells, cell values, facets,
    facet values) on rank 0 (None elsewhere), scattered in equal chunks and partitioned by
    dolfinx with shared-facet ghosts."""

    def scatter(index, width, dtype):
        parts = np.array_split(arrays[index], comm.size) if comm.rank == 0 else None
        part = comm.scatter(parts, root=0)
        return np.asarray(part, dtype=dtype).reshape(-1, width)

    x = scatter(0, dim, np.float64)
    cells = scatter(1, corners, np.int64)
    values = scatter(2, 1, np.int32).ravel()
    facets = scatter(3, facet_corners, np.int64)
    fvalues = scatter(4, 1, np.int32).ravel()

    element = basix.ufl.element("Lagrange", cell_type, 1, shape=(dim,))
    partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
    mesh = dolfinx.mesh.create_mesh(comm, cells, ufl.Mesh(element), x, partitioner)
    tdim = mesh.topology.dim
    result = []
    for d, entities, entity_values in ((tdim, cells, values), (tdim - 1, facets, fvalues)):
        mesh.topology.create_connectivity(d, tdim)
        local, local_values = dolfinx.io.distribute_entity_data(mesh, d, entities, entity_values)
        result.append(dolfinx.mesh.meshtags_from_entities(
            mesh, d, dolfinx.graph.adjacencylist(local), local_values.astype(np.int32)))
    mesh.topology.create_connectivity(tdim, tdim)
    return mesh, result[0], result[1]


def _prepare(params):
    """Rank 0: the checked file, its cells' tags, and the mapped facets with their tags."""
    file = read_checked(params.path)
    regions = _numbers(params.regions, file.names, file.regions, "regions", params.path)
    unmapped = sorted(set(np.unique(file.regions).tolist()) - set(regions))
    if unmapped:
        names = {v: k for k, v in file.names.items()}
        listed = ", ".join(f"{names.get(u, u)}" for u in unmapped)
        raise CaseError(f"'geometry.regions': the cell region(s) {listed} of {params.path} have "
                        "no role; every cell must be in a mapped region")
    lookup = np.vectorize(regions.get)
    cell_values = lookup(file.regions).astype(np.int32)
    boundaries = _numbers(params.boundaries, file.names, file.facet_sets, "boundaries",
                          params.path)
    keep = np.isin(file.facet_sets, list(boundaries))
    facets = file.facets[keep]
    facet_values = np.array([boundaries[s] for s in file.facet_sets[keep]], dtype=np.int32)
    return file, cell_values, facet_values, facets
