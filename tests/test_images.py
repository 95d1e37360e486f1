"""Segmented images: reading, slab-by-slab meshing and tags, components, effective
conductivity against exact results, the CLI (mesh, effective, run), and the peers (TauFactor,
PoreSpy) on seeded PoreSpy images. Serial and on 2 ranks (same values)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile
from mpi4py import MPI
from PIL import Image

from femsolver import tags
from femsolver.case import MeshParams, load_case
from femsolver.cli import main
from femsolver.errors import CaseError, GeometryError
from femsolver.imaging.build import read_codes
from femsolver.imaging.components import components
from femsolver.imaging.transport import directional_effective, hashin_shtrikman
from femsolver.mesh import build_domain
from geometries.image import ImageGeometry

COMM = MPI.COMM_WORLD
REPO = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("FEMSOLVER_PEERS_VENV", REPO / ".venv-peers")) / "bin" / "python"


def _save(directory, name, image):
    """Write `image` (rank 0) in the format of the suffix; every rank gets the path."""
    path = directory / name
    if COMM.rank == 0:
        if path.suffix == ".npy":
            np.save(path, image)
        elif path.suffix == ".tif":
            tifffile.imwrite(path, image)
        elif path.suffix == ".png":
            Image.fromarray(image[::-1]).save(path)  # a picture: first row on top
        else:
            image.tofile(path)
    COMM.barrier()
    return str(path)


def _domain(path, labels, comm=COMM, refine=0, **keys):
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels=labels, **keys)
    return geometry, build_domain(geometry, MeshParams(refine=refine), comm)


def _count(tagset, domain, tag):
    imap = domain.mesh.topology.index_map(tagset.dim)
    owned = tagset.indices < imap.size_local
    return COMM.allreduce(int(np.count_nonzero(tagset.values[owned] == tag)))


def _blobs(seed=0, shape=(12, 10, 8)):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < 0.55).astype(np.uint8)


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".raw"])
def test_formats_give_the_same_mesh_and_tags(shared_dir, suffix):
    image = _blobs()
    keys = {"raw_shape": "12x10x8"} if suffix == ".raw" else {}
    path = _save(shared_dir, "img" + suffix, image)
    _, domain = _domain(path, {"0": "active", "1": "matrix"}, cells="voxels", **keys)
    assert _count(domain.cell_tags, domain, tags.MATRIX) == image.sum()
    assert _count(domain.cell_tags, domain, tags.ACTIVE) == image.size - image.sum()
    # every face between an active and a matrix voxel is particle_active, once
    faces = sum(np.count_nonzero(np.diff(image, axis=a) != 0) for a in range(3))
    assert _count(domain.facet_tags, domain, tags.PARTICLE_ACTIVE) == faces
    # top plane: matrix voxels meet the counter electrode; bottom: active ones the collector
    assert _count(domain.facet_tags, domain, tags.COUNTER) == image[-1].sum()
    assert _count(domain.facet_tags, domain, tags.CURRENT_COLLECTOR) == (image[0] == 0).sum()


def test_png_is_a_picture_with_y_up(shared_dir):
    image = np.zeros((6, 9), dtype=np.uint8)
    image[:2] = 1  # electrode at the bottom rows (y = 0, 1)
    path = _save(shared_dir, "li.png", image)
    geometry, domain = _domain(path, {"0": "electrolyte", "1": "electrode"})
    assert geometry.dimension == 2 and geometry.simplices  # cell roles: triangles for `run`
    assert _count(domain.facet_tags, domain, tags.WORKING_ACTIVE) == 9
    assert _count(domain.facet_tags, domain, tags.CURRENT_COLLECTOR) == 9
    assert _count(domain.facet_tags, domain, tags.COUNTER) == 9
    assert geometry.projected_area == pytest.approx(9e-6)


def test_label_adjacency_decides_active_and_blocking(shared_dir):
    image = np.zeros((6, 4, 4), dtype=np.uint8)
    image[:2] = 1  # Li
    image[2, 1:3, 1:3] = 2  # a blocking particle on the Li
    path = _save(shared_dir, "li.npy", image)
    _, domain = _domain(path, {"0": "electrolyte", "1": "electrode", "2": "blocking"},
                        cells="voxels")
    # Li under the particle is covered (electrode | blocking: no tag); particle top + 4 sides
    assert _count(domain.facet_tags, domain, tags.WORKING_ACTIVE) == 16 - 4
    assert _count(domain.facet_tags, domain, tags.WORKING_BLOCKING) == 4 + 8
    assert _count(domain.cell_tags, domain, tags.ELECTRODE) == 32 + 4


def test_components_match_scipy_on_the_whole_image(shared_dir):
    from scipy import ndimage

    image = _blobs(1, (16, 9, 9))
    path = _save(shared_dir, "c.npy", image)
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels={"0": "void", "1": "matrix"})
    codes, _ = read_codes(geometry, COMM)
    ids, stats = components(codes > 0, COMM)
    full, count = ndimage.label(image, structure=ndimage.generate_binary_structure(3, 1))
    assert len(stats["voxels"]) == count
    assert sorted(stats["voxels"]) == sorted(np.bincount(full.ravel())[1:])
    spanning = set(np.unique(full[0])) & set(np.unique(full[-1])) - {0}
    assert int((stats["low"][0] & stats["high"][0]).sum()) == len(spanning)


def test_exact_conductivities(shared_dir):
    """Straight channels: tau = 1; layers in series and in parallel: the Wiener means (exact for
    P1/Q1); an insulating layer across the field: no current."""
    image = np.zeros((8, 6, 6), dtype=np.uint8)
    image[:, :, :3] = 1  # x < 3: matrix, else shell
    image[:, :2, :] = 2  # y < 2: insulating cores across the whole y range
    path = _save(shared_dir, "layers.npy", image)
    for cells in ("voxels", "simplices"):
        _, domain = _domain(path, {"0": "shell", "1": "matrix", "2": "active"}, cells=cells)
        x, y, z = directional_effective(domain, {tags.MATRIX: 1.0, tags.SHELL: 0.25}, 1.0)
        conducting = 4 / 6
        assert x["relative_conductivity"] == pytest.approx(conducting * 2 / (1 + 4), rel=1e-8)
        assert z["relative_conductivity"] == pytest.approx(conducting * 0.625, rel=1e-8)
        assert z["relative_conductivity"] == pytest.approx(z["wiener_upper"], rel=1e-8)
        assert not y["percolates"] and y["tortuosity_factor"] is None
        assert x["conducting_fraction"] == pytest.approx(conducting)


def test_isolated_pores_carry_no_current(shared_dir):
    """A conducting cluster touching no face (floating) does not change sigma_eff."""
    image = np.ones((10, 8, 8), dtype=np.uint8)
    image[:, :, 5:] = 0
    image[4:6, 2:4, 6:8] = 1  # an isolated pore in the solid
    filled = image.copy()
    filled[4:6, 2:4, 6:8] = 0
    results = []
    for name, data in (("pore", image), ("filled", filled)):
        path = _save(shared_dir, f"{name}.npy", data)
        _, domain = _domain(path, {"0": "active", "1": "matrix"})
        results.append(directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",))[0])
    assert results[0]["sigma_eff_S_m"] == pytest.approx(results[1]["sigma_eff_S_m"], rel=1e-9)
    assert results[0]["relative_conductivity"] == pytest.approx(5 / 8, rel=1e-8)


@pytest.mark.parametrize("contact", ["edge", "corner"])
def test_edge_and_corner_contacts_do_not_conduct(shared_dir, contact):
    """Two columns touching only along an edge or at a corner, between planes 1 and 2 (the slab
    boundary on 2 ranks): no current, as in the continuum and the finite-volume codes (the
    node there is split); joined by a face, the same columns conduct."""
    image = np.zeros((4, 3, 3), dtype=np.uint8)
    image[:2, 0, 0] = 1
    image[2:, 0 if contact == "edge" else 1, 1] = 1
    bridged = image.copy()
    bridged[1, :2 if contact == "corner" else 1, 1] = 1  # lateral faces at plane 1
    rows = []
    for name, data in ((contact, image), ("bridged", bridged)):
        path = _save(shared_dir, f"{name}.npy", data)
        _, domain = _domain(path, {"0": "void", "1": "matrix"})
        rows.append(directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",))[0])
    assert not rows[0]["percolates"]
    assert rows[1]["percolates"] and rows[1]["relative_conductivity"] > 0.01


def test_hashin_shtrikman_is_maxwell_for_insulators():
    lower, upper = hashin_shtrikman([0.6, 0.4], [1.0, 0.0], 3)
    assert lower == 0 and upper == pytest.approx(2 * 0.6 / (3 - 0.6))


def test_errors_name_the_key(shared_dir):
    path = _save(shared_dir, "e.npy", np.array([[[0, 1], [2, 1]]] * 2, dtype=np.uint8))
    with pytest.raises(CaseError, match="no role for label"):
        _domain(path, {"0": "matrix", "1": "active"})
    with pytest.raises(ValueError, match="geometry.labels.1"):
        ImageGeometry(path=path, voxel_size=1e-6, labels={"0": "matrix", "1": "lithium"})
    with pytest.raises(CaseError, match="no image file"):
        ImageGeometry(path=str(shared_dir / "none.npy"), voxel_size=1e-6, labels={"0": "matrix"})
    with pytest.raises(ValueError, match="geometry.voxel_size"):
        ImageGeometry(path=path, labels={"0": "matrix"})
    if COMM.size > 1:  # 2 planes on 2 ranks work; 1 plane would not
        thin = _save(shared_dir, "thin.raw", np.zeros((1, 4, 4), dtype=np.uint8))
        with pytest.raises(GeometryError, match="fewer than the"):
            _domain(thin, {"0": "matrix"}, raw_shape="1x4x4")


def test_mesh_extent_is_exact(shared_dir):
    path = _save(shared_dir, "x.npy", _blobs())
    for cells, per_voxel in (("voxels", 1), ("simplices", 6)):
        geometry, domain = _domain(path, {"0": "active", "1": "matrix"}, cells=cells)
        from geometries.common import predict_cells

        cells_global = domain.mesh.topology.index_map(3).size_global
        assert predict_cells(geometry.mesh_extent(MeshParams()), 0) == \
            pytest.approx(cells_global, rel=1e-9) == 960 * per_voxel


def test_refinement_splits_voxels_and_two_ranks_agree(shared_dir):
    path = _save(shared_dir, "r.npy", _blobs(2, (8, 8, 8)))
    labels = {"0": "void", "1": "matrix"}
    _, coarse = _domain(path, labels)
    _, fine = _domain(path, labels, refine=1)
    assert fine.mesh.topology.index_map(3).size_global == \
        8 * coarse.mesh.topology.index_map(3).size_global
    values = [directional_effective(d, {tags.MATRIX: 1.0}, 1.0, ("z",))[0]["tortuosity_factor"]
              for d in (coarse, fine)]
    # the fine Q1 space holds the coarse one on the same domain: sigma_eff cannot rise
    assert values[1] >= values[0] * (1 - 1e-9)
    _, serial = _domain(path, labels, comm=MPI.COMM_SELF)
    alone = directional_effective(serial, {tags.MATRIX: 1.0}, 1.0, ("z",))[0]
    assert alone["tortuosity_factor"] == pytest.approx(values[0], rel=1e-7)


def _li_case(directory):
    rng = np.random.default_rng(3)
    z = np.arange(14)[:, None, None]
    height = 3 + rng.integers(0, 3, (8, 8))
    image = np.where(z < height[None], 1, 0).astype(np.uint8)
    image[6:8, 2:5, 2:5] = 2
    image[5, 2:5, 2:5] = 2  # a blocking particle standing on the Li
    path = _save(directory, "li.tif", image)
    case = directory / "li.toml"
    if COMM.rank == 0:
        case.write_text(f'name = "li_image"\n[geometry]\nkind = "image"\npath = "{path}"\n'
                        'voxel_size = 20e-9\nlabels = {"0" = "electrolyte", "1" = "electrode", '
                        '"2" = "blocking"}\n[time]\nmode = "steady"\n'
                        '[output]\nxdmf = false\nvtx = false\n')
    COMM.barrier()
    return str(case), image


def test_cli_on_an_imaged_li_surface(shared_dir):
    """mesh (summary, picture), effective (3 directions), run: the plating current over the
    real (staircase) surface balances the applied current."""
    case, image = _li_case(shared_dir)
    assert main(["mesh", case, "-q", "-o", str(shared_dir / "m")]) == 0
    assert main(["effective", case, "-q", "-o", str(shared_dir / "e")]) == 0
    assert main(["run", case, "-q", "-o", str(shared_dir / "r")]) == 0
    COMM.barrier()
    mesh = json.loads((shared_dir / "m" / "summary.json").read_text())
    assert mesh["image"]["components"]["electrolyte"]["components"] == 1
    assert (shared_dir / "m" / "regions.png").stat().st_size > 0
    effective = json.loads((shared_dir / "e" / "effective.json").read_text())
    x, y, z = effective["directions"]
    assert not z["percolates"]  # the Li blocks the ions along z
    assert x["conducting_fraction"] == pytest.approx(np.mean(image == 0), rel=1e-9)
    assert 1 < x["tortuosity_factor"] < 1.2  # a slab of electrolyte above a rough floor
    run = json.loads((shared_dir / "r" / "summary.json").read_text())
    assert run["status"] == "complete"
    charge = run["interface_current_density_mean_A_m2"] * run["active_area_per_projected_area"]
    assert charge == pytest.approx(run["applied_current_density_A_m2"], rel=1e-6)
    assert run["active_area_per_projected_area"] > 1  # the rough surface exceeds the projection


# ---- the peers: TauFactor and PoreSpy (scripts/setup_peers.sh) ----------------------------------
needs_peers = pytest.mark.skipif(not PEERS.exists(), reason=f"no peers' venv ({PEERS}): run "
                                 "bash scripts/setup_peers.sh")


def _peers(request: dict) -> dict:
    """Ask scripts/peers.py (rank 0 runs it; every rank gets the answer)."""
    answer = None
    if COMM.rank == 0:
        out = subprocess.run([str(PEERS), str(REPO / "scripts" / "peers.py"),
                              json.dumps(request)], capture_output=True, text=True, check=True,
                             timeout=900)
        answer = json.loads(out.stdout.strip().splitlines()[-1])
    return COMM.bcast(answer, root=0)


# Seeded PoreSpy images, 24^3 voxels: blobs at two porosities and overlapping spheres near
# their percolation threshold
IMAGES = {"blobs_0.5": {"generate": "blobs", "porosity": 0.5, "seed": 1, "blobiness": 1},
          "blobs_0.35": {"generate": "blobs", "porosity": 0.35, "seed": 2, "blobiness": 1},
          "spheres_0.25": {"generate": "overlapping_spheres", "porosity": 0.25, "seed": 3,
                           "radius": 3}}


@needs_peers
@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGES)
def test_tortuosity_agrees_with_taufactor_and_porespy(shared_dir, name):
    """femsolver (Q1 finite elements on the voxels) against TauFactor and PoreSpy (cell-centred
    finite volumes) on the same image, and on it upsampled x2 (each voxel into 8): the peers agree
    with each other to 3 % and femsolver's tau lies below theirs (finite elements couple voxels
    that touch along an edge or at a corner, finite volumes only through faces), by a gap that
    shrinks under refinement."""
    path = str(shared_dir / f"{name}.npy")
    made = _peers({**IMAGES[name], "shape": [24, 24, 24], "path": path})
    gaps = []
    for refine in (0, 1):
        peers = _peers({"tortuosity": path, "axis": 0, "peers": ["taufactor", "porespy"],
                        "upsample": 2 ** refine, "conv_crit": 1e-3})
        _, domain = _domain(path, {"0": "void", "1": "matrix"}, refine=refine)
        ours = directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",))[0]
        assert ours["conducting_fraction"] == pytest.approx(made["porosity"], abs=1e-12)
        tf, ps = peers["taufactor"]["tau"], peers["porespy"]["tau"]
        assert tf == pytest.approx(ps, rel=0.03)
        assert ours["tortuosity_factor"] < min(tf, ps)
        gaps.append(tf - ours["tortuosity_factor"])
    assert gaps[1] < 0.75 * gaps[0], gaps
