"""Unit tests of femsolver.outputs; run serial and under `mpirun -n 2`.

Collective calls come first in each test and rank-0 assertions last, so a failure on
one rank cannot leave the other waiting in a collective of the next test.
"""

import csv
import json
import shutil
import struct
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import femsolver  # noqa: F401  (imports dolfinx_solver before dolfinx)
import dolfinx.fem
import dolfinx.mesh
import matplotlib.image
import numpy as np
import pytest
from matplotlib.tri import LinearTriInterpolator, Triangulation
from mpi4py import MPI

from femsolver.outputs.fields import ExportGroup, VTXExport, XDMFExport, write_meshtags_xdmf
from femsolver.outputs.pictures import (
    gather_dg0,
    gather_facet_segments,
    gather_p1,
    plot_map,
    plot_profile,
    sample_on_grid,
)
from femsolver.outputs.tables import TimeSeries, write_csv, write_json

COMM = MPI.COMM_WORLD
NM = 1e-9


@pytest.fixture
def shared_dir():
    """One temporary directory seen by every rank (made on rank 0, removed after the test)."""
    path = COMM.bcast(tempfile.mkdtemp(prefix="femsolver-outputs-") if COMM.rank == 0 else None)
    yield Path(path)
    COMM.barrier()
    if COMM.rank == 0:
        shutil.rmtree(path)


def nm_rectangle(nx=24, ny=10):
    """A 200 nm x 80 nm electrolyte-like box in metres, x in [-100, 100] nm."""
    return dolfinx.mesh.create_rectangle(COMM, [[-100 * NM, 0.0], [100 * NM, 80 * NM]], [nx, ny])


def concentration(x):
    """A smooth analytic field (mol/m^3) with structure in both directions."""
    return 1000.0 + 200.0 * np.sin(x[0] / (30 * NM)) * x[1] / (80 * NM)


def field_vector(x):
    """An analytic vector field (V/m), linear so that DG0 interpolation is its centroid value."""
    return np.vstack([x[0] / NM, 2.0 * x[1] / NM + 5.0])


def make_functions(mesh):
    """c (P1 scalar), i (DG0 vector) and s (DG0 scalar) on `mesh`."""
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1)), name="c")
    c.interpolate(concentration)
    i = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0, (2,))), name="i")
    i.interpolate(field_vector)
    s = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0)), name="s")
    s.interpolate(lambda x: x[0] / NM)
    return c, i, s


def temporal_grids(path):
    """[(time, attribute name, centre)] of the temporal collection in a dolfinx XDMF file."""
    root = ET.parse(path).getroot()
    steps = []
    for grid in root.iter("Grid"):
        if grid.get("CollectionType") == "Temporal":
            for step in grid.findall("Grid"):
                attribute = step.find("Attribute")
                steps.append((float(step.find("Time").get("Value")), attribute.get("Name"), attribute.get("Center")))
    return steps


def distinct_colours(path):
    """Number of distinct RGB colours in a PNG."""
    rgb = np.round(matplotlib.image.imread(path)[..., :3] * 255).astype(np.uint32)
    return len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))


# --- fields -------------------------------------------------------------------------------


def test_xdmf_export_writes_one_function_per_file(shared_dir):
    mesh = nm_rectangle()
    functions = make_functions(mesh)
    with ExportGroup(XDMFExport(shared_dir, u) for u in functions) as exports:
        exports.write(0.0)
        for u in functions:
            u.x.array[:] *= 2.0
        exports.write(1.5e-3)
    num_vertices = mesh.geometry.index_map().size_global
    if COMM.rank == 0:
        assert temporal_grids(shared_dir / "c.xdmf") == [(0.0, "c", "Node"), (1.5e-3, "c", "Node")]
        assert temporal_grids(shared_dir / "i.xdmf") == [(0.0, "i", "Cell"), (1.5e-3, "i", "Cell")]
        assert temporal_grids(shared_dir / "s.xdmf") == [(0.0, "s", "Cell"), (1.5e-3, "s", "Cell")]
        geometry = ET.parse(shared_dir / "c.xdmf").getroot().find(".//Geometry/DataItem")
        assert geometry.get("Dimensions").split()[0] == str(num_vertices)
        for name in "cis":
            assert (shared_dir / f"{name}.h5").stat().st_size > 0


def test_xdmf_export_refuses_dg1(shared_dir):
    mesh = nm_rectangle(4, 2)
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 1)), name="u")
    with pytest.raises(ValueError, match="VTXExport"):
        XDMFExport(shared_dir, u)
    assert not (shared_dir / "u.xdmf").exists()


def test_vtx_export_mixes_p1_dg0_and_dg1(shared_dir):
    mesh = nm_rectangle()
    c, i, _ = make_functions(mesh)
    d = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 1)), name="d")
    d.interpolate(concentration)
    times = [0.125, 1.375e-3, 7.5]
    with VTXExport(shared_dir, "fields", [c, i, d]) as vtx:
        for t in times:
            vtx.write(t)
    if COMM.rank == 0:
        bp = shared_dir / "fields.bp"
        assert (bp / "md.idx").is_file() and (bp / "data.0").is_file()
        metadata = (bp / "md.0").read_bytes()
        # The VTK schema names every array; DG0 ones are cell data.
        schema = metadata[metadata.index(b"<VTKFile") : metadata.index(b"</VTKFile>")].decode()
        point_data = schema[schema.index("<PointData>") : schema.index("</PointData>")]
        cell_data = schema[schema.index("<CellData>") : schema.index("</CellData>")]
        assert '"c"' in point_data and '"d"' in point_data and '"i"' in cell_data
        # Each step stores its time as a float64 in the metadata.
        for t in times:
            assert struct.pack("<d", t) in metadata


def test_vtx_export_refuses_two_meshes(shared_dir):
    c1, _, _ = make_functions(nm_rectangle(4, 2))
    c2, _, _ = make_functions(nm_rectangle(4, 2))
    with pytest.raises(ValueError, match="one mesh"):
        VTXExport(shared_dir, "fields", [c1, c2])


class _Recorder:
    """A stand-in export that records calls and can fail on close."""

    def __init__(self, path, fail=False):
        self.path, self.fail, self.calls = path, fail, []

    def write(self, t):
        self.calls.append(("write", t))

    def close(self):
        self.calls.append(("close",))
        if self.fail:
            raise OSError("disk full")


def test_export_group_closes_all_and_reraises():
    first, failing, last = _Recorder("a"), _Recorder("b", fail=True), _Recorder("c")
    group = ExportGroup([first, failing, last])
    group.write(2.0)
    with pytest.raises(OSError, match="disk full"):
        group.close()
    assert all(r.calls == [("write", 2.0), ("close",)] for r in (first, failing, last))
    with pytest.raises(ValueError, match="two exports"):
        ExportGroup([_Recorder("x"), _Recorder("x")])


def test_meshtags_files(shared_dir):
    mesh = nm_rectangle(8, 4)
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    midpoints = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)
    cell_tags = dolfinx.mesh.meshtags(mesh, tdim, cells, np.where(midpoints[:, 1] < 40 * NM, 2, 1).astype(np.int32))
    mesh.topology.create_entities(tdim - 1)
    bottom = dolfinx.mesh.locate_entities_boundary(mesh, tdim - 1, lambda x: np.isclose(x[1], 0.0, atol=1e-3 * NM))
    facet_tags = dolfinx.mesh.meshtags(mesh, tdim - 1, bottom, np.full(len(bottom), 11, dtype=np.int32))
    write_meshtags_xdmf(shared_dir, "cell_tags", mesh, cell_tags)
    write_meshtags_xdmf(shared_dir, "facet_tags", mesh, facet_tags)
    if COMM.rank == 0:
        for name, count, topology in [("cell_tags", 8 * 4 * 2, "Triangle"), ("facet_tags", 8, "PolyLine")]:
            grids = ET.parse(shared_dir / f"{name}.xdmf").getroot().findall("Domain/Grid")
            assert [g.get("Name") for g in grids] == [name]  # one grid: ParaView draws it alone
            grid = grids[0]
            assert grid.find("Geometry/DataItem").text.endswith("/geometry")
            assert grid.find("Attribute").get("Name") == name
            assert grid.find("Topology").get("TopologyType") == topology
            assert int(grid.find("Topology").get("NumberOfElements")) == count
    assert cell_tags.name == "mesh_tags"  # the caller's tags keep their name


# --- pictures -----------------------------------------------------------------------------


def test_gather_p1_returns_every_vertex_once():
    mesh = nm_rectangle()
    c, i, _ = make_functions(mesh)
    gathered = gather_p1(c)
    vector = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1, (2,))))
    vector.interpolate(field_vector)
    gathered_vector = gather_p1(vector)
    with pytest.raises(ValueError, match="P1"):
        gather_p1(i)
    if COMM.rank == 0:
        points, triangles, values = gathered
        assert points.shape == (25 * 11, 2) and triangles.shape == (24 * 10 * 2, 3)
        assert len(np.unique(points, axis=0)) == len(points)
        assert np.array_equal(np.unique(triangles), np.arange(len(points)))
        np.testing.assert_allclose(values, concentration(points.T), rtol=1e-12)
        points, _, values = gathered_vector
        assert values.shape == (len(points), 2)
        np.testing.assert_allclose(values, field_vector(points.T).T, rtol=1e-12, atol=1e-9)
    else:
        assert gathered is None


def test_gather_dg0_values_are_centroid_values():
    mesh = nm_rectangle()
    _, i, s = make_functions(mesh)
    gathered_i = gather_dg0(i)
    gathered_s = gather_dg0(s)
    if COMM.rank == 0:
        points, triangles, values = gathered_i
        assert points.shape == (25 * 11, 2) and triangles.shape == (480, 3) and values.shape == (480, 2)
        assert len(np.unique(np.sort(triangles, axis=1), axis=0)) == len(triangles)
        centroids = points[triangles].mean(axis=1)
        np.testing.assert_allclose(values, field_vector(centroids.T).T, rtol=1e-10)
        np.testing.assert_allclose(gathered_s[2], centroids[:, 0] / NM, rtol=1e-10, atol=1e-10)


def test_sample_on_grid_is_exact_on_a_nanometre_mesh():
    mesh = nm_rectangle()
    c, _, s = make_functions(mesh)
    rng = np.random.default_rng(1)
    inside = np.column_stack([rng.uniform(-100, 100, 300), rng.uniform(0, 80, 300)]) * NM
    # A vertex line, a cell diagonal, and two points outside (NaN).
    special = np.array([[0.0, 75.0], [100 / 24, 36.0], [150.0, 10.0], [0.0, -1.0]]) * NM
    points = np.vstack([inside, special])
    values = sample_on_grid(c, points)
    values_s = sample_on_grid(s, inside)
    gathered = gather_p1(c)
    if COMM.rank == 0:
        # The P1 interpolant is linear per cell and the field is not: a value taken from a
        # neighbouring cell (what dolfinx's absolute 1e-6 m collision tolerance gives on a
        # nanometre mesh) differs from matplotlib's interpolation on the true cell.
        mesh_points, triangles, nodal = gathered
        triangulation = Triangulation(mesh_points[:, 0], mesh_points[:, 1], triangles)
        expected = LinearTriInterpolator(triangulation, nodal)(points[:-2, 0], points[:-2, 1])
        np.testing.assert_allclose(values[:-2], expected, rtol=1e-10)
        assert np.isnan(values[-2:]).all()
        # DG0: the value (the cell's centroid x in nm) is that of a cell containing the point.
        containing = triangulation.get_trifinder()(inside[:, 0], inside[:, 1])
        centroids = mesh_points[triangles[containing]].mean(axis=1)
        np.testing.assert_allclose(values_s, centroids[:, 0] / NM, rtol=1e-10, atol=1e-10)
    else:
        assert values is None


def test_gather_facet_segments():
    mesh = nm_rectangle()
    fdim = mesh.topology.dim - 1
    mesh.topology.create_entities(fdim)
    bottom = dolfinx.mesh.locate_entities(mesh, fdim, lambda x: np.isclose(x[1], 0.0, atol=1e-3 * NM))
    segments = gather_facet_segments(mesh, bottom)
    if COMM.rank == 0:
        assert segments.shape == (24, 2, 2)
        assert np.allclose(segments[:, :, 1], 0.0)
        left_ends = np.sort(segments[:, :, 0].min(axis=1))
        np.testing.assert_allclose(left_ends, np.linspace(-100, 100, 25)[:-1] * NM, atol=1e-6 * NM)


@pytest.mark.parametrize("max_cells", [300_000, 10], ids=["tripcolor", "sampled"])
def test_plot_map_draws_a_picture(shared_dir, max_cells):
    mesh = nm_rectangle()
    c, i, _ = make_functions(mesh)
    mesh.topology.create_entities(1)
    bottom = dolfinx.mesh.locate_entities(mesh, 1, lambda x: np.isclose(x[1], 0.0, atol=1e-3 * NM))
    segments = gather_facet_segments(mesh, bottom)
    plot_map(c, shared_dir / "c.png", "Concentration", "c (mol m$^{-3}$)", segments=segments, max_cells=max_cells)
    plot_map(i, shared_dir / "i.png", "Current density", "|i| (mA cm$^{-2}$)", scale=0.1, max_cells=max_cells)
    if COMM.rank == 0:
        assert distinct_colours(shared_dir / "c.png") > 100
        assert distinct_colours(shared_dir / "i.png") > 100


def test_plot_map_3d_section(shared_dir):
    mesh = dolfinx.mesh.create_box(COMM, [[-50 * NM, 0.0, -20 * NM], [50 * NM, 30 * NM, 60 * NM]], [10, 3, 8])
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1)), name="c")
    c.interpolate(lambda x: np.sin(x[0] / (10 * NM)) + x[2] / (60 * NM))
    plot_map(c, shared_dir / "c3.png", "Mid-plane section", "c (mol m$^{-3}$)", grid_points=120)
    if COMM.rank == 0:
        assert distinct_colours(shared_dir / "c3.png") > 100


def test_plot_profile(shared_dir):
    x = np.linspace(-100, 100, 50)
    plot_profile(
        x,
        {"flat Li": np.cos(x / 30), "coarse mesh": (x[::5], np.sin(x[::5] / 30))},
        shared_dir / "profile.png",
        "x (nm)",
        "i_n (A m$^{-2}$)",
        "Normal current density",
    )
    if COMM.rank == 0:
        assert distinct_colours(shared_dir / "profile.png") > 10


def test_outputs_on_a_submesh_with_an_empty_rank(shared_dir):
    """A region submesh may have no cells on some rank (here: all cells of rank 0 only)."""
    mesh = nm_rectangle()
    owned = np.arange(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32)
    submesh = dolfinx.mesh.create_submesh(mesh, mesh.topology.dim, owned if COMM.rank == 0 else owned[:0])[0]
    c, i, _ = make_functions(submesh)
    exports = [XDMFExport(shared_dir, c), XDMFExport(shared_dir, i), VTXExport(shared_dir, "fields", [c, i])]
    with ExportGroup(exports) as out:
        out.write(0.0)
    gathered_p1, gathered_dg0 = gather_p1(c), gather_dg0(i)
    plot_map(c, shared_dir / "c.png", "c", "c (mol m$^{-3}$)")
    plot_map(i, shared_dir / "i.png", "|i|", "|i| (A m$^{-2}$)", max_cells=1)
    num_cells = submesh.topology.index_map(submesh.topology.dim).size_global
    if COMM.rank == 0:
        assert len(gathered_p1[1]) == len(gathered_dg0[1]) == num_cells > 0
        assert temporal_grids(shared_dir / "i.xdmf") == [(0.0, "i", "Cell")]
        assert distinct_colours(shared_dir / "c.png") > 50 and distinct_colours(shared_dir / "i.png") > 50


# --- tables -------------------------------------------------------------------------------


def test_write_json_is_atomic(shared_dir):
    path = shared_dir / "summary.json"
    write_json(path, {"status": "running"})
    write_json(path, {"status": "complete", "V": np.float64(-0.0125), "steps": np.int64(3), "x": np.arange(3)})
    COMM.barrier()
    assert json.loads(path.read_text()) == {"status": "complete", "V": -0.0125, "steps": 3, "x": [0, 1, 2]}
    assert sorted(p.name for p in shared_dir.iterdir()) == ["summary.json"]
    COMM.barrier()  # every rank has listed the directory before the failing write below
    if COMM.rank == 0:
        with pytest.raises(TypeError):
            write_json(path, {"bad": object()})
    COMM.barrier()
    assert json.loads(path.read_text())["status"] == "complete"
    assert sorted(p.name for p in shared_dir.iterdir()) == ["summary.json"]


def test_time_series_flushes_each_row(shared_dir):
    path = shared_dir / "timeseries.csv"
    with TimeSeries(path, ["t_s", "V_V", "newton_its"]) as series:
        series.append(t_s=0.0, V_V=np.float64(-0.01), newton_its=2)
        series.append(t_s=1e-3, V_V=-0.011)
        COMM.barrier()
        rows = list(csv.DictReader(path.open()))  # readable while the run goes on
        assert rows == [
            {"t_s": "0.0", "V_V": "-0.01", "newton_its": "2"},
            {"t_s": "0.001", "V_V": "-0.011", "newton_its": ""},
        ]
        with pytest.raises(KeyError, match="unknown"):
            series.append(t=2.0)
    if COMM.rank == 0:
        with pytest.raises(ValueError, match="closed"):
            series.append(t_s=3.0)


def test_write_csv(shared_dir):
    path = shared_dir / "interface_current.csv"
    write_csv(path, {"x_m": np.linspace(0, 1e-7, 3), "i_n_A_m2": [1.0, 2.5, -3.0]})
    COMM.barrier()
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["x_m", "i_n_A_m2"] and len(rows) == 4
    assert [float(v) for v in rows[2]] == [5e-8, 2.5]
    if COMM.rank == 0:
        with pytest.raises(ValueError, match="length"):
            write_csv(path, {"a": [1, 2], "b": [1]})
