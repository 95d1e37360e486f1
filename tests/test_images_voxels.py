"""`femsolver effective` on the voxel grid (femsolver.imaging.structured) against the dolfinx
mesh path on the same images: the same Q1 problem, so the same sigma_eff to solver tolerance,
in every direction, with several phases, split nodes, anisotropic voxels, refinement, in 2D;
serial and on 2 ranks (slabs of planes), which agree."""

import numpy as np
import pytest
from mpi4py import MPI

from femsolver import tags
from femsolver.case import MeshParams
from femsolver.imaging import multigrid
from femsolver.imaging.structured import element_matrices, image_effective
from femsolver.imaging.transport import directional_effective
from femsolver.mesh import build_domain
from geometries.image import ImageGeometry
from helpers import save_image

COMM = MPI.COMM_WORLD
# dolfinx path: rtol 1e-10; voxel path: rtol 1e-6 (sigma_eff of the 128^3 image to 5e-11);
# blocked directions: both far below transport.BLOCKED (1e-6)
AGREE, BLOCKED = 1e-8, 1e-9


def _both(path, labels, sigma, directions, comm=COMM, refine=0, **keys):
    """(mesh path rows, voxel path rows) of one image."""
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels=labels, cells="voxels", **keys)
    domain = build_domain(geometry, MeshParams(refine=refine), comm)
    meshed = directional_effective(domain, sigma, 1.0, directions)
    voxels = image_effective(geometry, refine, sigma, 1.0, directions, None, comm)
    return meshed, voxels


def test_element_matrices_are_q1():
    """Rows of the stiffness sum to 0 (constants carry no current), the mass sums to the
    volume, and a linear potential along each axis gives its energy sigma |grad p|^2 |cell|."""
    spacing = (2.0, 0.5, 1.5)
    stiffness, mass = element_matrices(spacing)
    assert np.allclose(stiffness.sum(axis=1), 0) and mass.sum() == pytest.approx(np.prod(spacing))
    corners = np.array([(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)])
    for axis, h in enumerate(spacing):
        p = corners[:, axis] * h  # p = x_axis: gradient 1
        assert p @ stiffness @ p == pytest.approx(np.prod(spacing))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_sigma_as_the_mesh_path(shared_dir, seed):
    """Random images (face, edge and corner contacts everywhere: many split nodes), void and
    an active phase meshed but insulating, two conductors, flat voxels."""
    rng = np.random.default_rng(seed)
    image = rng.choice(4, size=(10, 7, 6), p=[0.3, 0.1, 0.45, 0.15]).astype(np.uint8)
    path = save_image(shared_dir, f"random{seed}.npy", image)
    labels = {"0": "void", "1": "active", "2": "matrix", "3": "shell"}
    sigma = {tags.MATRIX: 1.0, tags.SHELL: 0.3}
    meshed, voxels = _both(path, labels, sigma, ("x", "y", "z"), voxel_size_z=0.7e-6)
    for a, b in zip(meshed, voxels):
        assert b["sigma_eff_S_m"] == pytest.approx(a["sigma_eff_S_m"], rel=AGREE, abs=BLOCKED)
        assert b["percolates"] == a["percolates"]
        for key in ("conducting_fraction", "length_m", "area_m", "hashin_shtrikman_upper"):
            assert b[key] == pytest.approx(a[key], rel=1e-12), key


def test_refinement_and_serial_agree(shared_dir):
    """mesh.refine = 1 as in the mesh path; one rank and all ranks give the same figures."""
    rng = np.random.default_rng(5)
    path = save_image(shared_dir, "r.npy", (rng.random((6, 5, 5)) < 0.6).astype(np.uint8))
    labels = {"0": "void", "1": "matrix"}
    meshed, voxels = _both(path, labels, {tags.MATRIX: 1.0}, ("z", "x"), refine=1)
    for a, b in zip(meshed, voxels):
        assert b["sigma_eff_S_m"] == pytest.approx(a["sigma_eff_S_m"], rel=AGREE)
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels=labels)
    alone = image_effective(geometry, 1, {tags.MATRIX: 1.0}, 1.0, ("z", "x"), None,
                            MPI.COMM_SELF)
    for a, b in zip(alone, voxels):
        assert a["sigma_eff_S_m"] == pytest.approx(b["sigma_eff_S_m"], rel=AGREE)


def test_layers_are_exact_and_blocked_is_blocked(shared_dir):
    """Layers along the field: the arithmetic mean; an insulating layer across it: no current."""
    image = np.ones((6, 4, 5), dtype=np.uint8)
    image[:, :, :2] = 2  # x < 2: shell
    image[3] = 0  # an insulating (active) plane across z
    path = save_image(shared_dir, "layers.npy", image)
    geometry = ImageGeometry(path=path, voxel_size=1e-6,
                             labels={"0": "active", "1": "matrix", "2": "shell"})
    y, z = image_effective(geometry, 0, {tags.MATRIX: 1.0, tags.SHELL: 0.25}, 1.0, ("y", "z"),
                           None, COMM)
    assert y["relative_conductivity"] == pytest.approx(5 / 6 * (3 + 2 * 0.25) / 5, rel=1e-8)
    assert not z["percolates"] and z["tortuosity_factor"] is None


def test_2d_picture(shared_dir):
    rng = np.random.default_rng(7)
    path = save_image(shared_dir, "p.npy", (rng.random((9, 11)) < 0.7).astype(np.uint8))
    meshed, voxels = _both(path, {"0": "void", "1": "matrix"}, {tags.MATRIX: 2.0}, ("x", "y"))
    assert any(row["percolates"] for row in meshed)
    for a, b in zip(meshed, voxels):
        assert b["sigma_eff_S_m"] == pytest.approx(a["sigma_eff_S_m"], rel=AGREE, abs=BLOCKED)
        assert b["percolates"] == a["percolates"]


@pytest.fixture
def depths(monkeypatch):
    """The number of multigrid levels of each voxel solve, the coarsest level lowered to 200
    unknowns (small images get >= 3 levels)."""
    monkeypatch.setattr(multigrid, "COARSEST", 200)
    found = []
    built = multigrid.Multigrid.__init__

    def counted(self, *args):
        built(self, *args)
        found.append(len(self.levels))

    monkeypatch.setattr(multigrid.Multigrid, "__init__", counted)
    return found


@pytest.mark.parametrize("shape", [(22, 19, 24), (70, 61)])
def test_multigrid_levels_same_sigma(shared_dir, depths, shape):
    """>= 3 multigrid levels on a 3D image with floating clusters, void, an insulating phase
    and two conductors, and on a 2D picture: the mesh path's sigma_eff to 1e-8 in every
    direction."""
    rng = np.random.default_rng(len(shape))
    image = rng.choice(4, size=shape, p=[0.25, 0.1, 0.5, 0.15]).astype(np.uint8)
    path = save_image(shared_dir, f"mg{len(shape)}.npy", image)
    labels = {"0": "void", "1": "active", "2": "matrix", "3": "shell"}
    sigma = {tags.MATRIX: 1.0, tags.SHELL: 0.3}
    directions = ("x", "y", "z")[:len(shape)]
    meshed, voxels = _both(path, labels, sigma, directions)
    assert len(depths) == len(shape) and min(depths) >= 3
    for a, b in zip(meshed, voxels):
        assert a["percolates"]
        assert b["sigma_eff_S_m"] == pytest.approx(a["sigma_eff_S_m"], rel=AGREE)


def test_multigrid_blocked_direction(shared_dir, depths):
    """>= 3 levels: an insulating plane across z blocks z (sigma_eff / sigma below
    transport.BLOCKED), and y is the arithmetic mean of the layers along it."""
    image = np.ones((20, 17, 18), dtype=np.uint8)
    image[:, :, :7] = 2  # x < 7: shell
    image[9] = 0  # an insulating (active) plane across z
    path = save_image(shared_dir, "mgblocked.npy", image)
    geometry = ImageGeometry(path=path, voxel_size=1e-6,
                             labels={"0": "active", "1": "matrix", "2": "shell"})
    y, z = image_effective(geometry, 0, {tags.MATRIX: 1.0, tags.SHELL: 0.25}, 1.0, ("y", "z"),
                           None, COMM)
    assert min(depths) >= 3
    assert y["relative_conductivity"] == pytest.approx(19 / 20 * (11 + 7 * 0.25) / 18, rel=1e-8)
    assert not z["percolates"] and z["relative_conductivity"] < BLOCKED
