"""`cells = "smoothed"`: the Kuhn simplices with the label interfaces' nodes moved onto smooth
surfaces (femsolver/imaging/smoothing.py). Against exact results: a digitised circle and sphere
(area, enclosed volume), flat layers (untouched: Wiener means, tau = 1), Maxwell's sigma_eff of
a sphere, and the cell problem's current balance. Serially and on 2 ranks (same values)."""

import json

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from femsolver import tags
from femsolver.case import MeshParams
from femsolver.cli import main
from femsolver.errors import GeometryError
from femsolver.imaging import smoothing
from femsolver.imaging.transport import directional_effective
from femsolver.mesh import build_domain
from geometries.common import predict_cells
from geometries.image import ImageGeometry
from helpers import save_image

COMM = MPI.COMM_WORLD
SPHERE = {"0": "matrix", "1": "active"}
# measured: the smoothed area's error ~ n^-rate, and the error at the finest size
RATE_2D, RATE_3D, FINEST_2D, FINEST_3D = 1.3, 1.5, 2.16e-4, 2.49e-3


def _ball(n: int, dim: int) -> tuple[np.ndarray, float]:
    """(image of a ball of radius ~0.3 n voxels at the box centre, its radius): the radius is
    that of the image's own volume, and the image is that ball's digitisation, so the ball's
    exact area is the one to approach (a digitised volume is off by up to 4 % at 16^3)."""
    distance = np.sqrt(((np.indices((n,) * dim) + 0.5 - n / 2) ** 2).sum(axis=0))
    radius = 0.3 * n
    for _ in range(10):
        image = distance < radius
        volume = image.sum()
        radius = np.sqrt(volume / np.pi) if dim == 2 else (3 * volume / (4 * np.pi)) ** (1 / 3)
        if np.array_equal(image, distance < radius):
            return image.astype(np.uint8), radius
    raise AssertionError(f"no ball of its own volume at n = {n}")


def _domain(path, labels, cells, comm=COMM, voxel=1.0):
    geometry = ImageGeometry(path=path, voxel_size=voxel, labels=labels, cells=cells)
    return build_domain(geometry, MeshParams(), comm)


def _integral(domain, kind, tag, comm=COMM):
    """Measure (area / volume) of the facets or cells tagged `tag`."""
    mesh = domain.mesh
    data = domain.facet_tags if kind == "dS" else domain.cell_tags
    form = fem.form(fem.Constant(mesh, 1.0) * ufl.Measure(kind, mesh, subdomain_data=data)(tag))
    return comm.allreduce(fem.assemble_scalar(form))


def _signed_volumes(domain):
    """Signed volumes of the owned cells, in creation order."""
    mesh = domain.mesh
    owned = mesh.topology.index_map(mesh.topology.dim).size_local
    x = mesh.geometry.x[:, :mesh.topology.dim][mesh.geometry.dofmaps[0][:owned]]
    return np.linalg.det(x[:, 1:] - x[:, :1])


@pytest.mark.parametrize("dim, sizes, rate, finest",
                         [(2, (32, 64, 128, 256), RATE_2D, FINEST_2D),
                          (3, (16, 24, 32, 48), RATE_3D, FINEST_3D)])
def test_ball_area_converges(shared_dir, dim, sizes, rate, finest):
    """The staircase's interface is ~4/pi (2D) / ~1.5 (3D) x the exact one at every resolution;
    the smoothed one's error falls at every refinement, at the measured rate (a fit over the
    sizes) to the measured error (docs/images.md). The enclosed volume is the voxels' (to 1e-6); no cell inverts."""
    errors = []
    for n in sizes:
        image, radius = _ball(n, dim)
        path = save_image(shared_dir, f"ball{n}.npy", image)
        exact = 2 * np.pi * radius if dim == 2 else 4 * np.pi * radius ** 2
        staircase, smoothed = (_domain(path, SPHERE, cells) for cells in ("simplices", "smoothed"))
        area = [_integral(d, "dS", tags.PARTICLE_ACTIVE) / exact for d in (staircase, smoothed)]
        stair_excess = 4 / np.pi - 1 if dim == 2 else 0.5
        assert abs(area[0] - 1 - stair_excess) < 0.1 * stair_excess + 0.03, area
        errors.append(abs(area[1] - 1))
        volume = _integral(smoothed, "dx", tags.ACTIVE)
        assert volume == pytest.approx(image.sum(), rel=1e-6)
        assert _integral(staircase, "dx", tags.ACTIVE) == pytest.approx(image.sum(), rel=1e-12)
        # same cells in the same order: no sign change, no flat cell
        moved, unmoved = _signed_volumes(smoothed), _signed_volumes(staircase)
        assert np.all(moved / unmoved > smoothing.MIN_VOLUME)
        assert COMM.allreduce(int(np.count_nonzero(np.abs(moved / unmoved - 1) > 1e-9))) > 0
    assert all(a > b for a, b in zip(errors, errors[1:])), errors
    fitted = -np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert fitted == pytest.approx(rate, abs=0.1), (fitted, errors)
    assert errors[-1] == pytest.approx(finest, rel=0.05), errors


def test_one_and_two_ranks_give_the_same_nodes(shared_dir):
    """A slab boundary crossing the sphere: the nodes of a 2-rank mesh (each rank moving those
    of its slab from a halo of its neighbour's planes) are the serial mesh's."""
    image, _ = _ball(20, 3)
    path = save_image(shared_dir, "ball.npy", image)
    nodes = []
    for comm in (COMM, MPI.COMM_SELF):
        mesh = _domain(path, SPHERE, "smoothed", comm).mesh
        owned = mesh.geometry.index_map().size_local
        x = np.concatenate(comm.allgather(mesh.geometry.x[:owned]))
        nodes.append(x[np.lexsort(np.round(x, 6).T)])
    assert nodes[0].shape == nodes[1].shape
    assert np.max(np.abs(nodes[0] - nodes[1])) < 1e-12


def test_inverted_cells_are_a_geometry_error(shared_dir, monkeypatch):
    """Without the shrinking of the moves around flat simplices, projecting every interface node
    of a sphere inverts some: refused with a GeometryError naming the key, on every rank."""
    path = save_image(shared_dir, "ball.npy", _ball(16, 3)[0])
    monkeypatch.setattr(smoothing, "SHRINK", 0)
    with pytest.raises(GeometryError, match="geometry.cells = 'smoothed': a moved simplex is "
                                            "inverted"):
        _domain(path, SPHERE, "smoothed")


def test_flat_layers_stay_flat(shared_dir):
    """Layers across the box: every node stays on the voxel grid, so the layers in series and in
    parallel give the Wiener means exactly (P1) and a straight channel tau = 1."""
    image = np.zeros((8, 6, 8), dtype=np.uint8)
    image[:, :, :4] = 1  # x < 4: matrix, else shell
    path = save_image(shared_dir, "layers.npy", image)
    domain = _domain(path, {"0": "shell", "1": "matrix"}, "smoothed", voxel=1e-6)
    x = domain.mesh.geometry.x / 1e-6
    assert np.max(np.abs(x - np.round(x))) < 1e-12
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels=SPHERE, cells="smoothed")
    cells = domain.mesh.topology.index_map(3).size_global
    assert predict_cells(geometry.mesh_extent(MeshParams()), 0) == \
        pytest.approx(cells, rel=1e-9) == 6 * image.size
    rows = directional_effective(domain, {tags.MATRIX: 1.0, tags.SHELL: 0.25}, 1.0, ("x", "z"))
    assert rows[0]["relative_conductivity"] == pytest.approx(2 / (1 + 4), rel=1e-8)
    assert rows[1]["relative_conductivity"] == pytest.approx(0.625, rel=1e-8)
    assert rows[1]["relative_conductivity"] == pytest.approx(rows[1]["wiener_upper"], rel=1e-8)
    image = np.zeros((8, 6, 8), dtype=np.uint8)
    image[:, :, 5:] = 1  # a straight channel of 5 of 8 columns beside an insulator
    path = save_image(shared_dir, "channel.npy", image)
    domain = _domain(path, SPHERE, "smoothed", voxel=1e-6)
    z = directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",))[0]
    assert z["tortuosity_factor"] == pytest.approx(1.0, rel=1e-8)
    assert z["conducting_fraction"] == pytest.approx(5 / 8, rel=1e-9)
    x = domain.mesh.geometry.x / 1e-6
    assert np.max(np.abs(x - np.round(x))) < 1e-6  # 5 | 3 columns: the blur is not symmetric


def _sphere_case(directory, n, cells):
    path = save_image(directory, f"sphere{n}.npy", _ball(n, 3)[0])
    case = directory / f"sphere_{cells}.toml"
    if COMM.rank == 0:
        case.write_text(f'name = "sphere"\n[geometry]\nkind = "image"\npath = "{path}"\n'
                        f'voxel_size = 1e-6\ncells = "{cells}"\n'
                        'labels = {"0" = "matrix", "1" = "active"}\n')
    COMM.barrier()
    return str(case)


def test_effective_sphere_converges_to_maxwell(shared_dir):
    """`femsolver effective` on an insulating sphere (radius ~0.3 n voxels) against Maxwell's
    sigma_eff / sigma = 2 (1 - phi) / (2 + phi) (a cubic array; Rayleigh's correction is below
    1e-4 here) with the image's own phi: the smoothed error falls like h^2 (measured +0.57,
    +0.29, +0.14 % at n = 12, 16, 24), where the staircases' stalls (voxels -0.38, -0.24,
    -0.22 %; simplices +0.11, +0.04, -0.06 %)."""
    sizes, errors = (12, 16, 24), []
    for n in sizes:
        case = _sphere_case(shared_dir, n, "smoothed")
        phi = float(_ball(n, 3)[0].mean())
        maxwell = 2 * (1 - phi) / (2 + phi)
        out = shared_dir / f"maxwell{n}"
        assert main(["effective", case, "-q", "-o", str(out)]) == 0
        COMM.barrier()
        rows = json.loads((out / "effective.json").read_text())["directions"]
        errors.append(max(abs(row["relative_conductivity"] / maxwell - 1) for row in rows))
    rates = np.diff(np.log(errors)) / -np.diff(np.log(sizes))
    assert all(1.7 < r < 2.5 for r in rates), (errors, rates)  # measured 2.32, 1.85
    assert errors[-1] == pytest.approx(1.3825e-3, rel=0.02)


def test_run_on_a_smoothed_li_surface(shared_dir):
    """`femsolver run` (cell problem) on a rough Li surface with a blocking particle: the
    plating current over the smoothed surface balances the applied current, and that surface
    is smaller than the staircase's."""
    rng = np.random.default_rng(3)
    z = np.arange(14)[:, None, None]
    height = 3 + rng.integers(0, 3, (8, 8))
    image = np.where(z < height[None], 1, 0).astype(np.uint8)
    image[5:8, 2:5, 2:5] = 2  # a blocking particle standing on the Li
    path = save_image(shared_dir, "li.npy", image)
    areas = {}
    for cells in ("simplices", "smoothed"):
        case = shared_dir / f"li_{cells}.toml"
        if COMM.rank == 0:
            case.write_text(f'name = "li"\n[geometry]\nkind = "image"\npath = "{path}"\n'
                            f'voxel_size = 20e-9\ncells = "{cells}"\n'
                            'labels = {"0" = "electrolyte", "1" = "electrode", '
                            '"2" = "blocking"}\n[time]\nmode = "steady"\n'
                            '[output]\nxdmf = false\nvtx = false\n')
        COMM.barrier()
        out = shared_dir / f"r_{cells}"
        assert main(["run", str(case), "-q", "-o", str(out)]) == 0
        COMM.barrier()
        run = json.loads((out / "summary.json").read_text())
        assert run["status"] == "complete"
        areas[cells] = run["active_area_per_projected_area"]
        charge = run["interface_current_density_mean_A_m2"] * areas[cells]
        assert charge == pytest.approx(run["applied_current_density_A_m2"], rel=1e-6)
    assert 1 < areas["smoothed"] < areas["simplices"], areas
