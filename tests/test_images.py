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

from femsolver import tags
from femsolver.case import MeshParams
from femsolver.cli import main
from femsolver.errors import CaseError, GeometryError
from femsolver.imaging.build import read_codes
from femsolver.imaging.components import components
from femsolver.imaging.transport import directional_effective, hashin_shtrikman
from femsolver.mesh import build_domain
from geometries.image import ImageGeometry
from helpers import save_image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from images import PEERS, TEST_IMAGES as IMAGES, peers as run_peers  # noqa: E402

COMM = MPI.COMM_WORLD


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
    path = save_image(shared_dir, "img" + suffix, image)
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
    path = save_image(shared_dir, "li.png", image)
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
    path = save_image(shared_dir, "li.npy", image)
    _, domain = _domain(path, {"0": "electrolyte", "1": "electrode", "2": "blocking"},
                        cells="voxels")
    # Li under the particle is covered (electrode | blocking: no tag); particle top + 4 sides
    assert _count(domain.facet_tags, domain, tags.WORKING_ACTIVE) == 16 - 4
    assert _count(domain.facet_tags, domain, tags.WORKING_BLOCKING) == 4 + 8
    assert _count(domain.cell_tags, domain, tags.ELECTRODE) == 32 + 4


def test_components_match_scipy_on_the_whole_image(shared_dir):
    from scipy import ndimage

    image = _blobs(1, (16, 9, 9))
    path = save_image(shared_dir, "c.npy", image)
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
    path = save_image(shared_dir, "layers.npy", image)
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
        path = save_image(shared_dir, f"{name}.npy", data)
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
        path = save_image(shared_dir, f"{name}.npy", data)
        _, domain = _domain(path, {"0": "void", "1": "matrix"})
        rows.append(directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",))[0])
    assert not rows[0]["percolates"]
    assert rows[1]["percolates"] and rows[1]["relative_conductivity"] > 0.01


def test_hashin_shtrikman_is_maxwell_for_insulators():
    lower, upper = hashin_shtrikman([0.6, 0.4], [1.0, 0.0], 3)
    assert lower == 0 and upper == pytest.approx(2 * 0.6 / (3 - 0.6))


def test_errors_name_the_key(shared_dir):
    path = save_image(shared_dir, "e.npy", np.array([[[0, 1], [2, 1]]] * 2, dtype=np.uint8))
    with pytest.raises(CaseError, match="no role for label"):
        _domain(path, {"0": "matrix", "1": "active"})
    with pytest.raises(ValueError, match="geometry.labels.1"):
        ImageGeometry(path=path, voxel_size=1e-6, labels={"0": "matrix", "1": "lithium"})
    with pytest.raises(CaseError, match="no image file"):
        ImageGeometry(path=str(shared_dir / "none.npy"), voxel_size=1e-6, labels={"0": "matrix"})
    with pytest.raises(ValueError, match="geometry.voxel_size"):
        ImageGeometry(path=path, labels={"0": "matrix"})
    if COMM.size > 1:  # 2 planes on 2 ranks work; 1 plane would not
        thin = save_image(shared_dir, "thin.raw", np.zeros((1, 4, 4), dtype=np.uint8))
        with pytest.raises(GeometryError, match="fewer than the"):
            _domain(thin, {"0": "matrix"}, raw_shape="1x4x4")


def test_mesh_extent_is_exact(shared_dir):
    path = save_image(shared_dir, "x.npy", _blobs())
    for cells, per_voxel in (("voxels", 1), ("simplices", 6)):
        geometry, domain = _domain(path, {"0": "active", "1": "matrix"}, cells=cells)
        from geometries.common import predict_cells

        cells_global = domain.mesh.topology.index_map(3).size_global
        assert predict_cells(geometry.mesh_extent(MeshParams()), 0) == \
            pytest.approx(cells_global, rel=1e-9) == 960 * per_voxel


def test_refinement_splits_voxels_and_two_ranks_agree(shared_dir):
    path = save_image(shared_dir, "r.npy", _blobs(2, (8, 8, 8)))
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
    path = save_image(directory, "li.tif", image)
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


def _picture_case(directory, suffix, picture):
    """A 2D image case of `picture` (rows top first) saved as PNG (matplotlib, grey RGBA),
    one-page TIFF or 2D .npy."""
    path, case = directory / f"pic{suffix}", directory / f"pic{suffix}.toml"
    if COMM.rank == 0:
        if suffix == ".png":
            import matplotlib.image

            matplotlib.image.imsave(path, picture, cmap="gray", vmin=0, vmax=255)
        else:
            tifffile.imwrite(path, picture) if suffix == ".tif" else np.save(path, picture)
        case.write_text(f'name = "picture"\n[geometry]\nkind = "image"\npath = "{path}"\n'
                        'voxel_size = 1e-6\nlabels = {"0" = "active", "1" = "matrix"}\n')
    COMM.barrier()
    return str(case)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".npy"])
def test_cli_on_a_2d_picture(shared_dir, suffix):
    """A 2D image through `femsolver mesh` and `effective`: one quadrilateral per pixel; a
    matrix column of 3 of 8 pixels conducts along y, nothing along x; the dead end at the
    bottom row (a picture's last row) adds to eps, not to the current."""
    picture = np.zeros((6, 8), dtype=np.uint8)
    picture[:, :3] = 1
    picture[-1, 5] = 1
    case = _picture_case(shared_dir, suffix, picture)
    out = shared_dir / suffix[1:]
    assert main(["mesh", case, "-q", "-o", str(out / "m")]) == 0
    assert main(["effective", case, "-q", "-o", str(out / "e")]) == 0
    COMM.barrier()
    assert json.loads((out / "m" / "summary.json").read_text())["cells"] == picture.size
    assert 'TopologyType="Quadrilateral"' in (out / "m" / "cell_tags.xdmf").read_text()
    x, y = json.loads((out / "e" / "effective.json").read_text())["directions"]
    assert not x["percolates"] and y["relative_conductivity"] == pytest.approx(3 / 8, rel=1e-8)
    assert y["conducting_fraction"] == pytest.approx(picture.mean(), rel=1e-12)
    assert y["tortuosity_factor"] == pytest.approx(picture.mean() / (3 / 8), rel=1e-8)


# ---- the peers: TauFactor and PoreSpy (scripts/setup_peers.sh) ----------------------------------
UPSAMPLE = (1, 2)  # the image, and each voxel into 8


@pytest.fixture(scope="module")
def peers_venv():
    """The peers' venv, or a skip saying why (a failure with FEMSOLVER_REQUIRE_PEERS=1). Serial:
    a skip under MPI."""
    if COMM.size > 1:
        pytest.skip("the peers run serially (femsolver on 2 ranks: "
                    "test_refinement_splits_voxels_and_two_ranks_agree)")
    if not PEERS.exists():
        message = f"no peers' venv ({PEERS}): run bash scripts/setup_peers.sh"
        if os.environ.get("FEMSOLVER_REQUIRE_PEERS") == "1":
            pytest.fail(message + "; FEMSOLVER_REQUIRE_PEERS=1 requires it")
        pytest.skip(message)


@pytest.fixture(scope="module")
def peers(peers_venv, tmp_path_factory):
    """{image: (path, porosity, [peers' answer per UPSAMPLE factor])}, from one run of
    scripts/peers.py (its start-up costs ~10 s)."""
    directory = tmp_path_factory.mktemp("peers")
    paths = {name: str(directory / f"{name}.npy") for name in IMAGES}
    requests = [{**spec, "shape": [24, 24, 24], "path": paths[name]}
                for name, spec in IMAGES.items()]
    requests += [{"tortuosity": paths[name], "axis": 0, "peers": ["taufactor", "porespy"],
                  "upsample": factor, "conv_crit": 1e-3, "threads": 1}
                 for name in IMAGES for factor in UPSAMPLE]
    answers = run_peers(requests)
    made, solved = answers[:len(IMAGES)], answers[len(IMAGES):]
    return {name: (paths[name], made[i]["porosity"], solved[i * len(UPSAMPLE):][:len(UPSAMPLE)])
            for i, name in enumerate(IMAGES)}


@pytest.mark.slow
@pytest.mark.parametrize("name", IMAGES)
def test_tortuosity_agrees_with_taufactor_and_porespy(peers, name):
    """femsolver (Q1 elements on the voxel corners) against TauFactor and PoreSpy (cell-centred
    finite volumes), on the image and on it upsampled x2: the same geometry, voxels meeting
    through faces only (docs/images.md). femsolver's sigma_eff is an upper bound that cannot
    rise under refinement (a conforming, nested Galerkin space); the finite volumes' rises
    towards it from below. The bracket between them is the difference of the discretisations:
    measured 33-63 % of TauFactor's sigma_eff at 24^3, 12-22 % at 48^3 (2.7-2.8x narrower), at
    least first order in the voxel size as both are. The peers differ by their inlet and outlet
    layers (PoreSpy: fixed values at the first and last voxel centres, length L - 1; TauFactor:
    at the faces, length L): measured 1.3-3.0 % at 24^3, halving with the voxel size."""
    from femsolver.imaging.report import spanning

    path, porosity, answers = peers[name]
    ours, gaps, differences = [], [], []
    for refine, answer in enumerate(answers):
        geometry, domain = _domain(path, {"0": "void", "1": "matrix"}, refine=refine)
        fraction = spanning(geometry, {tags.MATRIX: 1.0}, COMM)
        row = directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",), fraction)[0]
        tf, ps = answer["taufactor"], answer["porespy"]
        # the same image: conducting and spanning (PoreSpy's trimmed) fractions
        assert row["conducting_fraction"] == pytest.approx(porosity, rel=1e-9)  # assembled
        assert row["conducting_fraction"] == pytest.approx(tf["VF"], rel=1e-6)
        assert row["spanning_fraction"] == pytest.approx(ps["effective_porosity"], rel=1e-9)
        # tau and the formation factor are 1 / sigma_eff scaled the same way as the peers'
        assert row["tortuosity_factor"] == pytest.approx(tf["VF"] / row["relative_conductivity"],
                                                         rel=1e-6)
        assert row["tortuosity_factor_spanning"] == pytest.approx(
            ps["effective_porosity"] * row["macmullin_number"], rel=1e-9)
        ps_relative = 1 / ps["formation_factor"]
        differences.append(abs(tf["D_rel"] / ps_relative - 1))
        ours.append(row["relative_conductivity"])
        assert tf["D_rel"] < ours[-1] and ps_relative < ours[-1]  # the bracket
        gaps.append(ours[-1] / tf["D_rel"] - 1)
    assert differences[0] < 0.04 and differences[1] < 0.6 * differences[0], differences
    assert ours[1] <= ours[0] * (1 + 1e-9)  # nested spaces
    assert answers[1]["taufactor"]["D_rel"] > answers[0]["taufactor"]["D_rel"]  # from below
    assert gaps[1] < gaps[0] / 2, gaps


@pytest.mark.slow
def test_benchmark_script_runs(peers_venv):
    """benchmarks/images.py at a small size: femsolver and TauFactor side by side, one table."""
    out = subprocess.run([sys.executable, str(REPO / "benchmarks" / "images.py"), "--size", "12",
                          "--ranks", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "| femsolver voxels, 1 ranks" in out.stdout and "| TauFactor, 1 threads" in out.stdout
