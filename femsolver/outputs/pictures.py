"""PNG maps and profiles from distributed dolfinx functions, drawn on rank 0.

Maps (`plot_map`) are collective: every rank calls them, rank 0 gathers and draws.
- 2D triangle meshes up to `max_cells` cells: the mesh itself is gathered to rank 0 and
  drawn with `tripcolor` (P1 with Gouraud shading, DG0 with one flat colour per cell).
- Larger 2D meshes and 3D meshes: the function is sampled on a regular grid of points
  (`sample_on_grid`; each rank evaluates the points inside its own cells) and drawn with
  `imshow`. 3D maps show the section through the middle of the mesh's y extent (the x-z
  plane: x along the surface, z normal to it). Sampling is used instead of gathering the
  mesh and interpolating with matplotlib because it needs no copy of the mesh on rank 0,
  is exact for DG0 as well as P1, and is the same code in 2D and 3D. The picture then
  shows the field at the grid resolution (`grid_points` along the longer side), so
  features finer than a grid spacing (thin boundary layers at 20 nm sites in a large box)
  are smoothed out of the picture, not out of the solution.
Profiles (`plot_profile`) take arrays already on rank 0.

Only rank 0 writes files. Lengths are in metres on input and drawn in `units_length`.
"""

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display on compute nodes; set before pyplot is imported

import basix  # noqa: E402
import dolfinx.fem  # noqa: E402
import dolfinx.geometry  # noqa: E402
import dolfinx.mesh  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.tri import Triangulation  # noqa: E402
from mpi4py import MPI  # noqa: E402

_LENGTH_UNITS = {1.0: "m", 1e-3: "mm", 1e-6: "µm", 1e-9: "nm"}


def _require_triangles(mesh: dolfinx.mesh.Mesh) -> None:
    if mesh.topology.cell_type != dolfinx.mesh.CellType.triangle:
        raise ValueError(f"expected a triangle mesh, got {mesh.topology.cell_type.name}")


def _gather_rows(comm, rows: np.ndarray):
    """Stack every rank's rows on rank 0, in rank order; None on other ranks."""
    parts = comm.gather(rows, root=0)
    return np.concatenate(parts) if comm.rank == 0 else None


def _owned_global(index_map) -> np.ndarray:
    """Global indices of the owned entries of an index map."""
    return index_map.local_to_global(np.arange(index_map.size_local, dtype=np.int32))


def _values(function: dolfinx.fem.Function) -> np.ndarray:
    """Return the dof values, one row per (block) dof: shape (num_dofs, block size)."""
    return function.x.array.reshape(-1, function.function_space.dofmap.index_map_bs)


def _squeeze(values):
    """Scalar fields as 1D arrays, vector fields as (N, components)."""
    return values[:, 0] if values is not None and values.shape[1] == 1 else values


def gather_p1(function: dolfinx.fem.Function):
    """Gather a P1 function on a 2D triangle mesh to rank 0.

    Each vertex is sent once, by the rank that owns its dof, and placed at its global
    dof index; each triangle once, by the rank that owns the cell.

    Returns:
        On rank 0 ``(points (N, 2), triangles (M, 3), values)`` with values of shape (N,)
        for scalars and (N, components) for vectors; ``None`` on other ranks.
    """
    V = function.function_space
    mesh = V.mesh
    _require_triangles(mesh)
    element = V.element.basix_element
    if element.family != basix.ElementFamily.P or element.degree != 1 or element.discontinuous:
        raise ValueError(f"{function.name!r} is not a P1 function")
    imap = V.dofmap.index_map
    n_owned = imap.size_local
    num_cells = mesh.topology.index_map(mesh.topology.dim).size_local
    local_to_global = imap.local_to_global(np.arange(n_owned + imap.num_ghosts, dtype=np.int32))

    comm = mesh.comm
    dofs = _gather_rows(comm, _owned_global(imap))
    coords = _gather_rows(comm, V.tabulate_dof_coordinates()[:n_owned, :2])
    values = _gather_rows(comm, _values(function)[:n_owned])
    triangles = _gather_rows(comm, local_to_global[V.dofmap.list[:num_cells]])
    if comm.rank != 0:
        return None
    points = np.empty((imap.size_global, 2))
    points[dofs] = coords
    ordered = np.empty((imap.size_global, values.shape[1]))
    ordered[dofs] = values
    return points, triangles, _squeeze(ordered)


def gather_dg0(function: dolfinx.fem.Function):
    """Gather a DG0 function on a 2D triangle mesh to rank 0.

    Vertices are the mesh geometry nodes (each sent once by its owner, at its global
    index); triangles are the owned cells of every rank, in rank order, with one value each.

    Returns:
        On rank 0 ``(points (N, 2), triangles (M, 3), values)`` with values of shape (M,)
        for scalars and (M, components) for vectors; ``None`` on other ranks.
    """
    V = function.function_space
    mesh = V.mesh
    _require_triangles(mesh)
    if V.element.basix_element.embedded_superdegree != 0:
        raise ValueError(f"{function.name!r} is not a DG0 function")
    tdim = mesh.topology.dim
    num_cells = mesh.topology.index_map(tdim).size_local
    cells = np.arange(num_cells, dtype=np.int32)
    gmap = mesh.geometry.index_map()
    n_nodes = gmap.size_local
    node_to_global = gmap.local_to_global(np.arange(n_nodes + gmap.num_ghosts, dtype=np.int32))
    # The first three geometry nodes of a triangle are its vertices (also for curved cells).
    cell_nodes = dolfinx.mesh.entities_to_geometry(mesh, tdim, cells)[:, :3]

    comm = mesh.comm
    nodes = _gather_rows(comm, _owned_global(gmap))
    coords = _gather_rows(comm, mesh.geometry.x[:n_nodes, :2])
    triangles = _gather_rows(comm, node_to_global[cell_nodes])
    values = _gather_rows(comm, _values(function)[V.dofmap.list[:num_cells, 0]])
    if comm.rank != 0:
        return None
    points = np.empty((gmap.size_global, 2))
    points[nodes] = coords
    return points, triangles, _squeeze(values)


def gather_facet_segments(mesh: dolfinx.mesh.Mesh, facets: np.ndarray):
    """Gather the end points of 2D mesh facets (edges) to rank 0, e.g. to overlay an interface.

    Args:
        mesh: a 2D mesh.
        facets: local facet indices (owned or ghost); ghosts are dropped so each facet
            appears once.

    Returns:
        On rank 0 an array (K, 2, 2) of segments [[x0, y0], [x1, y1]] in mesh units; None elsewhere.
    """
    fdim = mesh.topology.dim - 1
    mesh.topology.create_entities(fdim)
    mesh.topology.create_connectivity(fdim, mesh.topology.dim)  # needed by entities_to_geometry
    owned = np.asarray(facets, dtype=np.int32)
    owned = owned[owned < mesh.topology.index_map(fdim).size_local]
    nodes = dolfinx.mesh.entities_to_geometry(mesh, fdim, owned)[:, :2]
    return _gather_rows(mesh.comm, mesh.geometry.x[nodes][:, :, :2])


def _in_simplex(mesh: dolfinx.mesh.Mesh, cells: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Whether points[k] lies in the affine simplex cells[k] (barycentric test, scale free).

    dolfinx's own tests (compute_colliding_cells, squared_distance) use absolute
    tolerances around 1e-6 m and 1e-17 m^2: on a nanometre mesh in metres they accept
    cells next to the point, which puts wrong values in a picture.
    """
    if mesh.topology.cell_type not in (dolfinx.mesh.CellType.triangle, dolfinx.mesh.CellType.tetrahedron):
        raise ValueError(f"sampling supports triangles and tetrahedra, not {mesh.topology.cell_type.name}")
    tdim = mesh.topology.dim
    vertices = mesh.geometry.x[dolfinx.mesh.entities_to_geometry(mesh, tdim, cells)[:, : tdim + 1]][:, :, :tdim]
    origin = vertices[:, 0]
    edges = np.swapaxes(vertices[:, 1:] - origin[:, None, :], 1, 2)  # columns are the edge vectors
    barycentric = np.linalg.solve(edges, (points[:, :tdim] - origin)[..., None])[..., 0]
    return (barycentric.min(axis=1) >= -1e-10) & (barycentric.sum(axis=1) <= 1 + 1e-10)


def sample_on_grid(function: dolfinx.fem.Function, points: np.ndarray):
    """Evaluate a function at arbitrary points, in parallel, and collect the values on rank 0.

    Each rank evaluates the points that lie in its owned cells. Points outside the mesh
    (or outside the submesh the function lives on) get NaN.

    Args:
        function: any function that `Function.eval` can evaluate (here P1 and DG0).
        points: (N, 3) or (N, gdim) coordinates in mesh units (metres), the same on every rank.

    Returns:
        On rank 0 values of shape (N,) for scalars, (N, components) for vectors; None elsewhere.
    """
    mesh = function.function_space.mesh
    tdim = mesh.topology.dim
    points = np.asarray(points, dtype=mesh.geometry.x.dtype)
    points = np.hstack([points, np.zeros((len(points), 3 - points.shape[1]))])
    owned = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    tree = dolfinx.geometry.bb_tree(mesh, tdim, entities=owned)
    candidates = dolfinx.geometry.compute_collisions_points(tree, points)
    point_of = np.repeat(np.arange(len(points)), np.diff(candidates.offsets))
    cells = candidates.array.astype(np.int32)
    inside = _in_simplex(mesh, cells, points[point_of])
    found, first = np.unique(point_of[inside], return_index=True)
    bs = function.function_space.dofmap.index_map_bs
    local = function.eval(points[found], cells[inside][first]).reshape(-1, bs)

    all_found = _gather_rows(mesh.comm, found)
    all_values = _gather_rows(mesh.comm, local)
    if mesh.comm.rank != 0:
        return None
    values = np.full((len(points), bs), np.nan)
    values[all_found] = all_values  # a point on a partition boundary: either rank's value
    return _squeeze(values)


def _global_bounds(mesh: dolfinx.mesh.Mesh):
    """Lower and upper corners (3,) of the mesh's bounding box over all ranks."""
    x = mesh.geometry.x
    # A rank may hold no part of a submesh: it contributes an empty box.
    local_lo = x.min(axis=0) if len(x) else np.full(3, np.inf)
    local_hi = x.max(axis=0) if len(x) else np.full(3, -np.inf)
    lo, hi = np.empty(3), np.empty(3)
    mesh.comm.Allreduce(local_lo, lo, op=MPI.MIN)
    mesh.comm.Allreduce(local_hi, hi, op=MPI.MAX)
    return lo, hi


def _grid_section(function: dolfinx.fem.Function, grid_points: int):
    """Sample on a regular grid: the x-y plane in 2D, the x-z plane at mid-y in 3D.

    Returns on rank 0 (values (ny, nx, ...), extent [x0, x1, y0, y1] in metres); None elsewhere.
    """
    mesh = function.function_space.mesh
    lo, hi = _global_bounds(mesh)
    across = 1 if mesh.geometry.dim == 2 else 2  # the vertical axis of the picture
    size = np.array([hi[0] - lo[0], hi[across] - lo[across]])
    nx, ny = np.maximum(2, np.round(grid_points * size / size.max()).astype(int))
    X, Y = np.meshgrid(np.linspace(lo[0], hi[0], nx), np.linspace(lo[across], hi[across], ny))
    points = np.zeros((X.size, 3))
    points[:, 0] = X.ravel()
    points[:, across] = Y.ravel()
    if across == 2:
        points[:, 1] = 0.5 * (lo[1] + hi[1])
    values = sample_on_grid(function, points)
    if values is None:
        return None
    return values.reshape(ny, nx, *values.shape[1:]), [lo[0], hi[0], lo[across], hi[across]]


def _length_unit(units_length: float) -> str:
    return _LENGTH_UNITS.get(units_length, f"{units_length:g} m")


def plot_map(
    function: dolfinx.fem.Function,
    path,
    title: str,
    label: str,
    magnitude: bool = False,
    scale: float = 1.0,
    units_length: float = 1e-9,
    cmap: str | None = None,
    segments: np.ndarray | None = None,
    max_cells: int = 300_000,
    grid_points: int = 800,
) -> None:
    """Draw a colour map of a P1 or DG0 function to a PNG (collective; rank 0 writes).

    Args:
        function: P1 or DG0 function, scalar or vector, on a 2D triangle or 3D mesh.
            Vector fields are always drawn as their Euclidean norm.
        path: PNG file.
        title: figure title.
        label: colour-bar label with units of the drawn values, e.g. "|i| (A m$^{-2}$)".
        magnitude: draw |f| also for scalar functions.
        scale: factor applied to the values before drawing (unit conversion).
        units_length: length unit of the axes in metres (1e-9: nm).
        cmap: matplotlib colour map; default "inferno" for magnitudes and vectors
            (|i|, |E|), "viridis" otherwise (concentration, potential).
        segments: optional (K, 2, 2) line segments in metres, in the drawn plane
            (x-y in 2D, x-z in 3D), drawn in white on top (e.g. the interface);
            only needed on rank 0.
        max_cells: 2D meshes with more cells are sampled on a grid (see module docstring).
        grid_points: grid points along the longer side when sampling.
    """
    mesh = function.function_space.mesh
    cellwise = function.function_space.element.basix_element.embedded_superdegree == 0
    is_vector = function.function_space.dofmap.index_map_bs > 1
    cmap = cmap or ("inferno" if magnitude or is_vector else "viridis")
    num_cells = mesh.topology.index_map(mesh.topology.dim).size_global

    if mesh.geometry.dim == 2 and num_cells <= max_cells:
        gathered = gather_dg0(function) if cellwise else gather_p1(function)
        grid = None
    else:
        gathered = None
        grid = _grid_section(function, grid_points)
    if mesh.comm.rank != 0:
        return

    def drawn(values):
        if is_vector:
            values = np.linalg.norm(values, axis=-1)
        return scale * (np.abs(values) if magnitude else values)

    unit = _length_unit(units_length)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=150)
    if gathered is not None:
        points, triangles, values = gathered
        tri = Triangulation(points[:, 0] / units_length, points[:, 1] / units_length, triangles)
        if cellwise:
            image = ax.tripcolor(tri, facecolors=drawn(values), cmap=cmap)
        else:
            image = ax.tripcolor(tri, drawn(values), shading="gouraud", cmap=cmap)
        ax.set_ylabel(f"y ({unit})")
    else:
        values, extent = grid
        image = ax.imshow(
            np.ma.masked_invalid(drawn(values)),
            origin="lower",
            extent=[e / units_length for e in extent],
            cmap=cmap,
            interpolation="nearest",
        )
        ax.set_ylabel(f"{'y' if mesh.geometry.dim == 2 else 'z'} ({unit})")
    if segments is not None and len(segments):
        # White with a black rim stays visible on every colour map.
        lines = LineCollection(np.asarray(segments) / units_length, colors="white", linewidths=0.8)
        lines.set_path_effects([patheffects.withStroke(linewidth=2.0, foreground="black")])
        ax.add_collection(lines)
    ax.set_xlabel(f"x ({unit})")
    ax.set_aspect("equal")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def plot_profile(x, ys: Mapping, path, xlabel: str, ylabel: str, title: str, comm=None) -> None:
    """Draw one or more curves against `x` to a PNG (rank 0 of `comm` draws; default COMM_WORLD).

    Args:
        x: abscissa shared by the curves.
        ys: {legend label: ordinates}; a value may also be an (x, y) pair for a curve on
            its own abscissa (comparing runs on different meshes).
        path: PNG file.
        xlabel: abscissa label with units, e.g. "x (nm)".
        ylabel: ordinate label with units.
        title: figure title.
        comm: the communicator whose rank 0 draws.
    """
    if (comm or MPI.COMM_WORLD).rank != 0:
        return
    fig, ax = plt.subplots(figsize=(7, 4), dpi=150)
    for name, y in ys.items():
        xi, yi = y if isinstance(y, tuple) else (x, y)
        ax.plot(xi, yi, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if len(ys) > 1:
        ax.legend()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def plot_surface(x, y, values, path, title: str, label: str, comm=None) -> None:
    """Top view of a surface: points (x, y) in nm coloured by `values` (rank 0 draws).

    Used for the working interface of 3D runs, where a profile along x would mix all y.
    """
    if (comm or MPI.COMM_WORLD).rank != 0:
        return
    fig, ax = plt.subplots(figsize=(6, 5), dpi=150)
    points = ax.scatter(x, y, c=values, s=4, cmap="inferno", linewidths=0)
    fig.colorbar(points, ax=ax, label=label, shrink=0.8)
    ax.set(xlabel="x (nm)", ylabel="y (nm)", title=title, aspect="equal")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
