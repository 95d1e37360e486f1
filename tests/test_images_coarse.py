"""Coarsening of uniform blocks (`geometry.coarsen`): the cell count, the interface, regions and
tags against the uncoarsened simplices mesh, conformity, sigma_eff (exact on layers, close on a
random image and converging with the margin), a run's current, bad values. Serial and on 2
ranks (same values)."""

import json

import dolfinx.mesh
import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI
from scipy import ndimage

from femsolver import tags
from femsolver.case import MeshParams, build_section
from femsolver.cli import main
from femsolver.errors import CaseError
from femsolver.imaging.transport import directional_effective
from femsolver.mesh import build_domain
from geometries.image import ImageGeometry
from helpers import save_image

COMM = MPI.COMM_WORLD
CELL = {"0": "electrolyte", "1": "electrode", "2": "blocking", "3": "void"}
FACET_TAGS = (tags.WORKING_ACTIVE, tags.WORKING_BLOCKING, tags.COUNTER, tags.CURRENT_COLLECTOR,
              tags.ELECTROLYTE_SIDES, tags.ELECTRODE_SIDES)


def _domain(path, labels, comm=COMM, **keys):
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels=labels, cells="simplices", **keys)
    return build_domain(geometry, MeshParams(), comm)


def _cells(domain):
    return domain.mesh.topology.index_map(3).size_global


def _integral(domain, measure, tag=None):
    mesh = domain.mesh
    data = domain.cell_tags if measure == "dx" else domain.facet_tags
    dm = ufl.Measure(measure, mesh, subdomain_data=data)
    form = fem.form(fem.Constant(mesh, 1.0) * (dm if tag is None else dm(int(tag))))
    return mesh.comm.allreduce(fem.assemble_scalar(form))


def _facets(domain, tag, shape) -> np.ndarray:
    """The facets of a tag inside the box (of `shape` voxels, (z, y, x)) as sorted rows of their
    corners' coordinates (in voxels), all ranks."""
    mesh, facet_tags = domain.mesh, domain.facet_tags
    owned = facet_tags.indices < mesh.topology.index_map(2).size_local
    chosen = facet_tags.indices[owned & (facet_tags.values == tag)]
    nodes = dolfinx.mesh.entities_to_geometry(mesh, 2, chosen)
    corners = np.rint(mesh.geometry.x[nodes] / 1e-6).astype(np.int64)  # (facets, 3, 3)
    on_box = np.any(np.all(corners == 0, axis=1) | np.all(corners == shape[::-1], axis=1), axis=1)
    corners = corners[~on_box]
    corners = np.array([sorted(map(tuple, f)) for f in corners]).reshape(-1, 9)
    rows = np.concatenate(mesh.comm.allgather(corners))
    return rows[np.lexsort(rows.T[::-1])]


def _smooth(seed, shape, levels, sigma=3.0):
    """A random image of `levels` labels with features of ~2 sigma voxels (large uniform parts)."""
    field = ndimage.gaussian_filter(np.random.default_rng(seed).random(shape), sigma)
    edges = np.quantile(field, np.linspace(0, 1, levels + 1)[1:-1])
    return np.digitize(field, edges).astype(np.uint8)


def test_cells_fall_by_the_expected_factor(shared_dir):
    """A flat Li | electrolyte interface between planes 7 and 8 of 32 x 16 x 16 voxels, N = 4:
    planes 6-9 stay fine (4 x 256 voxels x 6); cubes of 2 in planes 4-5 and 10-11 (2 x 64), of 4
    in planes 0-3 and 12-31 (6 x 16). Each cube beside a finer layer is a cone of 30 tetrahedra
    (8 triangles on the face towards the finer layer, 4 side faces of 4 + 1 fan triangles, 2 on
    the far face); the 64 cubes of 4 in planes 16-31 are 6 Kuhn tetrahedra each."""
    image = np.zeros((32, 16, 16), dtype=np.uint8)
    image[:8] = 1
    path = save_image(shared_dir, "flat.npy", image)
    fine, coarse = (_domain(path, CELL, coarsen=n) for n in (1, 4))
    assert _cells(fine) == 32 * 256 * 6
    assert _cells(coarse) == 4 * 256 * 6 + (2 * 64 + 2 * 16) * 30 + 64 * 6


def _li_with_voids(seed, shape=(30, 22, 26)):
    """A rough Li floor with blocking particles, balls of void in the electrolyte and two void
    voxels meeting along an edge (the electrolyte node there is split); no side a multiple of 4
    (voxels left beyond the last whole cubes)."""
    rng = np.random.default_rng(seed)
    z = np.arange(shape[0])[:, None, None]
    image = np.where(z < 4 + rng.integers(0, 3, shape[1:])[None], 1, 0).astype(np.uint8)
    for y, x in rng.integers(0, shape[1] - 3, (3, 2)):
        image[6:9, y:y + 3, x:x + 3] = 2
    position = np.indices(shape)
    for centre, radius in (((16, 6, 17), 3.5), ((25, 15, 8), 2.5)):
        distance = np.sqrt(sum((p - c) ** 2 for p, c in zip(position, centre)))
        image[distance < radius] = 3
    image[21, 5, 5] = image[21, 6, 6] = 3
    return image


@pytest.mark.parametrize("coarsen, margin", [(2, 1), (4, 1), (4, 2), (8, 1)])
def test_interface_regions_and_tags_are_those_of_the_fine_mesh(shared_dir, coarsen, margin):
    """Li, blocking particles, electrolyte and voids (a split node): the same facets on every
    interface, the same areas per facet tag and volumes per region, and no facet inside the box
    left unpaired (conforming: the outer surface is the fine mesh's)."""
    image = _li_with_voids(5)
    path = save_image(shared_dir, "mix.npy", image)
    fine, coarse = _domain(path, CELL), _domain(path, CELL, coarsen=coarsen,
                                                coarsen_margin=margin)
    assert _cells(coarse) < 0.9 * _cells(fine)
    for tag in (tags.WORKING_ACTIVE, tags.WORKING_BLOCKING, tags.ELECTROLYTE_SIDES,
                tags.ELECTRODE_SIDES):
        assert np.array_equal(_facets(coarse, tag, image.shape), _facets(fine, tag, image.shape))
    for tag in FACET_TAGS:
        assert _integral(coarse, "ds", tag) == pytest.approx(_integral(fine, "ds", tag),
                                                             rel=1e-12, abs=1e-24)
    assert _integral(coarse, "ds") == pytest.approx(_integral(fine, "ds"), rel=1e-12)
    for tag in (tags.ELECTROLYTE, tags.ELECTRODE):
        assert _integral(coarse, "dx", tag) == pytest.approx(_integral(fine, "dx", tag),
                                                             rel=1e-12)


def test_layers_give_the_wiener_means(shared_dir):
    """Layers in series and in parallel: P1 is exact on any mesh that follows the layers."""
    image = np.zeros((16, 24, 24), dtype=np.uint8)
    image[:, :, :12] = 1  # x < 12: matrix, else shell
    image[:, :8, :] = 2  # y < 8: insulating cores across the whole y range
    path = save_image(shared_dir, "layers.npy", image)
    labels = {"0": "shell", "1": "matrix", "2": "active"}
    fine, domain = _domain(path, labels), _domain(path, labels, coarsen=4)
    assert _cells(domain) < 0.7 * _cells(fine)
    x, y, z = directional_effective(domain, {tags.MATRIX: 1.0, tags.SHELL: 0.25}, 1.0)
    conducting = 16 / 24
    assert x["relative_conductivity"] == pytest.approx(conducting * 2 / (1 + 4), rel=1e-8)
    assert z["relative_conductivity"] == pytest.approx(conducting * 0.625, rel=1e-8)
    assert not y["percolates"]


def test_random_image_sigma_converges_with_the_margin(shared_dir):
    """sigma_eff of two conductors (1 and 0.1 S/m) on a random 24^3 image, N = 4: within 5e-4 of
    the fine mesh's at margin 1 (measured 2.1e-4 to 3.8e-4 above it, in 77 % of its cells),
    closer as the margin grows (6.7e-5 at 2, 2e-5 at 3), equal once nothing is coarse; one
    rank equals two."""
    path = save_image(shared_dir, "random.npy", _smooth(4, (24, 24, 24), 2, sigma=4.0))
    labels, sigma = {"0": "matrix", "1": "shell"}, {tags.MATRIX: 1.0, tags.SHELL: 0.1}

    def sigma_eff(comm=COMM, **keys):
        rows = directional_effective(_domain(path, labels, comm, **keys), sigma, 1.0)
        return np.array([row["sigma_eff_S_m"] for row in rows])

    fine = sigma_eff()
    errors = [np.abs(sigma_eff(coarsen=4, coarsen_margin=m) / fine - 1).max() for m in (1, 2, 3)]
    assert errors[0] < 5e-4
    assert errors[0] > errors[1] > errors[2]
    assert np.abs(sigma_eff(coarsen=4, coarsen_margin=8) / fine - 1).max() < 1e-9
    alone = sigma_eff(MPI.COMM_SELF, coarsen=4)
    assert np.abs(alone / fine - 1).max() == pytest.approx(errors[0], rel=1e-5)


def _li_case(directory, coarsen):
    """A rough Li floor with a blocking particle under 32 planes of electrolyte."""
    rng = np.random.default_rng(3)
    z = np.arange(40)[:, None, None]
    image = np.where(z < 4 + rng.integers(0, 3, (12, 12))[None], 1, 0).astype(np.uint8)
    image[6:9, 2:5, 2:5] = 2
    path = save_image(directory, "li.npy", image)
    case = directory / f"li{coarsen}.toml"
    if COMM.rank == 0:
        case.write_text(f'name = "li"\n[geometry]\nkind = "image"\npath = "{path}"\n'
                        f'coarsen = {coarsen}\nvoxel_size = 20e-9\nlabels = {{"0" = '
                        '"electrolyte", "1" = "electrode", "2" = "blocking"}\n[time]\n'
                        'mode = "steady"\n[kinetics]\ni0 = 1e4\n[output]\nxdmf = false\n'
                        'vtx = false\npictures = false\n')
    COMM.barrier()
    return str(case)


def test_run_matches_the_fine_mesh(shared_dir):
    """femsolver run, N = 4 (i0 = 1e4 A/m2: the current varies by 2.2 % over the surface, set by
    the electrolyte): the plating current balances the applied one, and on each facet of the
    (identical) interface it is the fine mesh's to 1e-4 (measured 2.2e-5) in 25 % of its cells,
    the cell voltage to 1e-9 V (measured 5e-11 V)."""
    runs, currents = [], []
    for coarsen in (1, 4):
        out = shared_dir / f"run{coarsen}"
        assert main(["run", _li_case(shared_dir, coarsen), "-q", "-o", str(out)]) == 0
        COMM.barrier()
        runs.append(json.loads((out / "summary.json").read_text()))
        table = np.genfromtxt(out / "interface_current.csv", delimiter=",", names=True)
        key = [np.rint(table[axis] / 1e-12) for axis in ("z", "y", "x")]  # midpoints, pm
        currents.append(table[np.lexsort(key)])
    fine, coarse = runs
    assert coarse["cells"] < 0.3 * fine["cells"]
    charge = (coarse["interface_current_density_mean_A_m2"]
              * coarse["active_area_per_projected_area"])
    assert charge == pytest.approx(coarse["applied_current_density_A_m2"], rel=1e-6)
    assert coarse["active_area_per_projected_area"] == pytest.approx(
        fine["active_area_per_projected_area"], rel=1e-12)
    assert coarse["cell_voltage_V"] == pytest.approx(fine["cell_voltage_V"], abs=1e-9)
    for axis in ("x", "y", "z"):  # the same facets
        assert currents[1][axis] == pytest.approx(currents[0][axis], rel=0, abs=1e-15)
    active = currents[0]["active"] > 0
    plating = [c["plating_current_density"][active] for c in currents]
    assert plating[0].max() > 1.02 * plating[0].min()
    assert plating[1] == pytest.approx(plating[0], rel=1e-4)


@pytest.mark.parametrize("keys, message", [
    ({"coarsen": 3}, "'geometry.coarsen' must be a power of 2"),
    ({"coarsen": 0}, "'geometry.coarsen'"),
    ({"coarsen": 2, "coarsen_margin": 0}, "'geometry.coarsen_margin'"),
    ({"coarsen": 2, "cells": "voxels"}, "'geometry.coarsen' applies to 3D images"),
    ({"coarsen": 2, "cells": "smoothed"}, "'geometry.coarsen' applies to 3D images"),
])
def test_bad_values_name_the_key(shared_dir, keys, message):
    path = save_image(shared_dir, "bad.npy", np.zeros((4, 4, 4), dtype=np.uint8))
    table = {"path": path, "voxel_size": 1e-6, "labels": CELL, **keys}
    with pytest.raises(CaseError, match=message):
        build_section(ImageGeometry, table, "geometry")


def test_a_2d_picture_is_refused(shared_dir):
    path = save_image(shared_dir, "flat2d.npy", np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(CaseError, match="'geometry.coarsen' applies to 3D images"):
        build_section(ImageGeometry, {"path": path, "voxel_size": 1e-6, "labels": CELL,
                                      "coarsen": 2}, "geometry")


def test_max_cells_counts_the_coarsened_mesh(shared_dir):
    image = np.zeros((16, 8, 8), dtype=np.uint8)
    image[:4] = 1
    path = save_image(shared_dir, "max.npy", image)
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels=CELL, coarsen=4)
    with pytest.raises(CaseError, match="mesh.max_cells = 1000"):
        build_domain(geometry, MeshParams(max_cells=1000), COMM)
