"""Field exports for ParaView: one small class per file format, all with `write(t)`.

- `XDMFExport`: one function per `<name>.xdmf` (+ `.h5`). Debian's ParaView 5.11 draws
  several grids of one XDMF file on top of each other, so every field gets its own file.
  XDMF stores P1 (the mesh's geometry degree) and DG0 functions only.
- `VTXExport`: several functions of one mesh in one ADIOS2 `.bp` directory; any
  (discontinuous) Lagrange degree. No ParaView installable on Debian bookworm reads it.
- `ExportGroup`: many exports behind one `write(t)` / `close()`.
- `write_meshtags_xdmf`: cell or facet tags, one file each, one grid per file.

Times `t` are in seconds; coordinates are those of the mesh (metres). All calls are
collective over the mesh's communicator.
"""

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import basix
import dolfinx.fem
import dolfinx.io
import dolfinx.mesh


class Export(Protocol):
    """What the time loop sees of an output: one call per accepted step, one at the end."""

    def write(self, t: float) -> None:
        """Write the current state at time `t` (s)."""

    def close(self) -> None:
        """Flush and close; called once at the end, also after an error."""


def _global_bytes(function: dolfinx.fem.Function) -> int:
    """Bytes of one write of a function's values (float64), over all ranks."""
    imap = function.function_space.dofmap.index_map
    return 8 * imap.size_global * function.function_space.dofmap.index_map_bs


def mesh_bytes(mesh: dolfinx.mesh.Mesh) -> int:
    """Bytes of a mesh in an XDMF/HDF5 file (coordinates and cell vertices, float64/int64)."""
    tdim = mesh.topology.dim
    nodes = mesh.geometry.index_map().size_global
    cells = mesh.topology.index_map(tdim).size_global
    return 8 * (3 * nodes + (tdim + 1) * cells)


def _is_cellwise(function: dolfinx.fem.Function) -> bool:
    """Tell whether a function is piecewise constant (DG0), scalar or vector."""
    return function.function_space.element.basix_element.embedded_superdegree == 0


def _is_geometry_lagrange(function: dolfinx.fem.Function) -> bool:
    """Tell whether a function is continuous Lagrange of the geometry degree (P1 on affine meshes)."""
    V = function.function_space
    element = V.element.basix_element
    return (
        element.family == basix.ElementFamily.P
        and not element.discontinuous
        and element.degree == V.mesh.geometry.cmaps[0].degree
    )


class XDMFExport:
    """One function over time in `<directory>/<function.name>.xdmf` (+ `.h5`).

    The mesh is written once, each `write(t)` appends the function's current values at
    time `t` (s). The function's name is the file name and the XDMF attribute name
    (`c`, `phi`, `phi_s`, `i`, `E`); units are documented in docs/outputs.md.

    Args:
        directory: output directory, created if missing.
        function: a P1 (geometry-degree Lagrange) or DG0 function, scalar or vector.
            XDMF cannot hold other elements: use `VTXExport` for those.
        comm: communicator; defaults to the function's mesh communicator.
    """

    def __init__(self, directory, function: dolfinx.fem.Function, comm=None):
        if not (_is_geometry_lagrange(function) or _is_cellwise(function)):
            element = function.function_space.element.basix_element
            kind = "discontinuous " if element.discontinuous else ""
            raise ValueError(
                f"XDMF stores P1 and DG0 functions only; {function.name!r} is {kind}"
                f"{element.family.name} of degree {element.degree}: use VTXExport"
            )
        mesh = function.function_space.mesh
        self.function = function
        self.path = Path(directory) / f"{function.name}.xdmf"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = dolfinx.io.XDMFFile(comm or mesh.comm, self.path, "w")
        self._file.write_mesh(mesh)
        self.nbytes = _global_bytes(function)

    def write(self, t: float) -> None:
        """Append the function's current values at time `t` (s)."""
        self._file.write_function(self.function, t)

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class VTXExport:
    """Several functions of one mesh over time in `<directory>/<filename>.bp` (ADIOS2 VTX).

    The dolfinx 0.11 writer takes any number of DG0 functions (stored as cell data) plus
    functions that all share one (discontinuous) Lagrange element (scalar and vector
    may mix). When the non-DG0 functions differ in element (say P1 and DG1), they are
    all interpolated into discontinuous Lagrange of their highest degree before each
    write, which represents every one of them exactly.

    Args:
        directory: output directory, created if missing.
        filename: file stem or name; `.bp` is appended if missing.
        functions: (discontinuous) Lagrange functions on one mesh.
        comm: communicator; defaults to the mesh communicator.
    """

    def __init__(self, directory, filename: str, functions: Sequence[dolfinx.fem.Function], comm=None):
        functions = list(functions)
        if not functions:
            raise ValueError("VTXExport needs at least one function")
        mesh = functions[0].function_space.mesh
        if any(u.function_space.mesh is not mesh for u in functions):
            raise ValueError("VTXExport writes functions of one mesh; use one VTXExport per (sub)mesh")
        name = filename if filename.endswith(".bp") else f"{filename}.bp"
        self.path = Path(directory) / name
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # (source, written) pairs whose values are copied by interpolation before each write.
        self._copies = []
        written = self._common_element(functions)
        self._writer = dolfinx.io.VTXWriter(comm or mesh.comm, self.path, written)
        self.nbytes = sum(_global_bytes(u) for u in written)

    def _common_element(self, functions):
        """Return the functions to hand to the writer, with interpolated copies where needed."""
        nodal = [u for u in functions if not _is_cellwise(u)]
        if all(u.function_space.element == nodal[0].function_space.element for u in nodal[1:]):
            return functions
        degree = max(u.function_space.element.basix_element.embedded_superdegree for u in nodal)
        written = []
        for u in functions:
            if _is_cellwise(u):
                written.append(u)
                continue
            shape = u.function_space.value_shape
            V = dolfinx.fem.functionspace(u.function_space.mesh, ("Discontinuous Lagrange", degree, shape))
            copy = dolfinx.fem.Function(V, name=u.name)
            self._copies.append((u, copy))
            written.append(copy)
        return written

    def write(self, t: float) -> None:
        """Write the functions' current values at time `t` (s)."""
        for source, copy in self._copies:
            copy.interpolate(source)
        self._writer.write(t)

    def close(self) -> None:
        """Close the file; closing twice is harmless."""
        self._writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ExportGroup:
    """Many exports behind one `write(t)` and one `close()`.

    `close()` closes every export even if one of them fails, then re-raises the
    first failure: an HDF5 file left open by an exception is corrupt.
    Two exports writing the same file path are refused.
    """

    def __init__(self, exports: Iterable[Export] = ()):
        self._exports: list[Export] = []
        for export in exports:
            self.add(export)

    def add(self, export: Export) -> Export:
        """Add an export and return it."""
        path = getattr(export, "path", None)
        if path is not None and any(getattr(e, "path", None) == path for e in self._exports):
            raise ValueError(f"two exports write {path}")
        self._exports.append(export)
        return export

    @property
    def nbytes(self) -> int:
        """Bytes that one `write` adds to the files (over all ranks)."""
        return sum(getattr(e, "nbytes", 0) for e in self._exports)

    def write(self, t: float) -> None:
        """Write every export at time `t` (s)."""
        for export in self._exports:
            export.write(t)

    def close(self) -> None:
        """Close every export, then re-raise the first error met."""
        error = None
        for export in self._exports:
            try:
                export.close()
            except Exception as e:  # keep closing the others
                error = error or e
        if error is not None:
            raise error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def write_meshtags_xdmf(directory, name: str, mesh: dolfinx.mesh.Mesh, tags: dolfinx.mesh.MeshTags) -> Path:
    """Write cell or facet tags to `<directory>/<name>.xdmf` (+ `.h5`); return the path.

    The XDMF attribute is called `name`; its values are the tag numbers of
    `femsolver.tags`. dolfinx writes a grid for the mesh and one for the tags; ParaView
    5.11 draws the two on top of each other, so the mesh grid is folded into the tags
    grid afterwards: the file holds one grid (the tagged entities only) and opens right
    in ParaView, but `XDMFFile.read_meshtags` can no longer read it (it is for viewing,
    not a mesh cache). Collective over the mesh communicator.
    """
    path = Path(directory) / f"{name}.xdmf"
    path.parent.mkdir(parents=True, exist_ok=True)
    # A renamed copy, so the caller's tags keep their name.
    named = dolfinx.mesh.meshtags(mesh, tags.dim, tags.indices, tags.values)
    named.name = name
    if tags.dim < mesh.topology.dim:
        # Writing facet tags needs facet-to-cell connectivity.
        mesh.topology.create_connectivity(tags.dim, mesh.topology.dim)
    with dolfinx.io.XDMFFile(mesh.comm, path, "w") as f:
        f.write_mesh(mesh)
        f.write_meshtags(named, mesh.geometry)
    if mesh.comm.rank == 0:
        _fold_mesh_grid(path)
    mesh.comm.barrier()  # the file is final on every rank when this returns
    return path


_XINCLUDE = "https://www.w3.org/2001/XInclude"


def _fold_mesh_grid(path: Path) -> None:
    """Replace the tags grid's reference to the mesh geometry by the geometry, drop the mesh grid."""
    ET.register_namespace("xi", _XINCLUDE)
    tree = ET.parse(path)
    domain = tree.getroot().find("Domain")
    mesh_grid, tags_grid = domain.findall("Grid")
    include = tags_grid.find(f"{{{_XINCLUDE}}}include")
    position = list(tags_grid).index(include)
    tags_grid.remove(include)
    tags_grid.insert(position, mesh_grid.find("Geometry"))
    domain.remove(mesh_grid)
    tree.write(path, xml_declaration=True, encoding="utf-8")


def vtx_groups(functions, names: list[str]) -> dict[str, list]:
    """Functions grouped by mesh, in order of first appearance, under `names` (one per mesh)."""
    by_mesh = {}
    for f in functions:
        by_mesh.setdefault(f.function_space.mesh, []).append(f)
    return dict(zip(names, by_mesh.values()))
