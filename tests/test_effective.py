"""Effective ionic conductivity: Hashin's neutral inclusions, Maxwell's dilute limit, the
composite and the `femsolver effective` command; serial and on 2 ranks (same values)."""

import json

import numpy as np
import pytest
from mpi4py import MPI
from petsc4py import PETSc

from femsolver import tags
from femsolver.case import MeshParams
from femsolver.cli import main
from femsolver.effective import DIRECT, bruggeman, effective_conductivity, maxwell
from femsolver.imaging.transport import IMAGE_SOLVER, directional_effective
from femsolver.problems.particle.study import load_effective, write_picture, write_tables
from femsolver.mesh import build_domain
from femsolver.verification import hashin, maxwell as maxwell_benchmark
from geometries.composite import CompositeGeometry
from geometries.image import ImageGeometry


def test_reference_formulas():
    assert maxwell(0.0, 3) == 1.0 and maxwell(0.0, 2) == 1.0
    assert maxwell(0.5, 3) == pytest.approx(0.4) and maxwell(0.5, 2) == pytest.approx(1 / 3)
    assert bruggeman(0.5, 3) == pytest.approx(0.5 ** 1.5) and bruggeman(0.5, 2) == 0.25
    # Hashin's matrix for a vanishing core is the shell itself
    assert hashin.hashin_matrix("sphere") < hashin.SIGMA_SHELL


def test_hashin_neutral_inclusions():
    """sigma_eff = sigma_m and a linear wall potential, errors falling like h^2; the control
    (matrix of the shell's conductivity) is far outside the tolerance."""
    rows = hashin.run(0)
    for row in rows:
        assert row.passed, (row.quantity, row.error, row.tolerance)
    for row in rows[:-1]:
        assert row.rate == pytest.approx(2, abs=0.2), row.quantity
    control = rows[-1]
    assert control.computed > 100 * hashin.TOLERANCE["sigma"]


def test_maxwell_dilute_limit():
    for row in maxwell_benchmark.run(0):
        assert row.passed, (row.quantity, row.error, row.tolerance)
        assert row.rate > 1, row.quantity  # the error does fall under refinement


def test_composite_is_below_the_bound():
    """A 2D composite at 45 % cores: eps = 55 %, sigma_eff below the Hashin-Shtrikman upper
    bound (Maxwell), tortuosity factor above 1."""
    geometry = CompositeGeometry(dimension=2, particle_count=6, active_fraction=0.45)
    domain = build_domain(geometry, MeshParams(), MPI.COMM_WORLD)
    result = effective_conductivity(domain, {tags.SHELL: 0.145, tags.MATRIX: 0.145})
    assert result.conducting_fraction == pytest.approx(0.55, rel=0.01)
    assert 0 < result.ratio < result.maxwell
    assert result.tortuosity_factor > 1
    assert result.area == pytest.approx(geometry.box_size)
    assert result.height == pytest.approx(geometry.box_size)
    with pytest.raises(ValueError, match="shell"):
        effective_conductivity(domain, {tags.MATRIX: 0.145})


def _write_case(directory, geometry: str, name: str = "eff") -> str:
    path = directory / "case.toml"
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(f'name = "{name}"\n[geometry]\n{geometry}\n'  # no C-rate: not needed
                        f'[output]\ndirectory = "{directory / "out"}"\n')
    MPI.COMM_WORLD.barrier()
    return str(path)


# the picture is drawn without particle runs, so their panels have no legend entries
@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_cli_writes_effective_json(shared_dir, capsys):
    case = _write_case(shared_dir, 'kind = "composite"\nparticle_count = 4\n'
                                   'active_fraction = 0.3', name="composite_lpscl_5wt")
    assert main(["effective", case, "-q"]) == 0
    MPI.COMM_WORLD.barrier()  # rank 0 writes the files
    data = json.loads((shared_dir / "out" / "effective.json").read_text())
    assert data["case"] == "composite_lpscl_5wt" and 0 < data["ratio"] < data["maxwell"]
    # the core-shell study's composite table: tau^2 = eps / ratio for each model, and the
    # seed's measured value for the case that stands for its BM-05 composite
    row = load_effective(shared_dir / "out")
    eps = data["conducting_fraction"]
    assert row["tortuosity_factor"] == pytest.approx(eps / data["ratio"])
    assert row["tortuosity_bruggeman"] == pytest.approx(eps / data["bruggeman"])
    assert row["tortuosity_bound"] == pytest.approx(eps / data["maxwell"])
    assert row["tortuosity_factor"] > row["tortuosity_bound"]  # HS is an upper bound on sigma
    assert row["tortuosity_measured"] == 1.8
    if MPI.COMM_WORLD.rank == 0:
        text = write_tables([], [row], shared_dir / "study")
        assert "| composite_lpscl_5wt | " in text and "| 1.8 |" in text
        assert (shared_dir / "study" / "composite_tortuosity.csv").exists()
        write_picture([], [], [row], shared_dir / "study")  # the tortuosity panel alone
        assert (shared_dir / "study" / "particle_comparison.png").stat().st_size > 0
    assert data["sigma_matrix"] == pytest.approx(0.145)  # Li6PS5Cl at 25 C (seed 003)
    assert "tortuosity factor" in (shared_dir / "out" / "effective.md").read_text()
    # an override naming a bad key is a case error (exit 2)
    assert main(["effective", case, "-q", "--set", "solid_electrolyte.conductivity=-1"]) == 2
    assert "solid_electrolyte.conductivity" in capsys.readouterr().err or MPI.COMM_WORLD.rank
    # the same case cannot be run: it has no C-rate (exit 2, the key named, nothing written)
    assert main(["run", case, "-q", "-o", str(shared_dir / "run")]) == 2
    assert "control.c_rate" in capsys.readouterr().err or MPI.COMM_WORLD.rank
    assert not (shared_dir / "run").exists()


@pytest.mark.skipif(MPI.COMM_WORLD.size == 1, reason="compares 2 ranks with 1")
@pytest.mark.parametrize("benchmark", [hashin, maxwell_benchmark],
                         ids=lambda b: b.__name__.rsplit(".", 1)[-1])
def test_two_ranks_reproduce_one_rank(benchmark):
    serial = benchmark.run(0, MPI.COMM_SELF)
    parallel = benchmark.run(0, MPI.COMM_WORLD)
    for s, p in zip(serial, parallel):
        if s.computed is not None:
            assert p.computed == pytest.approx(s.computed, rel=1e-9), s.quantity
        assert p.error == pytest.approx(s.error, rel=1e-6, abs=1e-6 * s.tolerance), s.quantity


def _blob_domain(directory, voxel_size):
    """A seeded 3D pore image (void | matrix) at the given voxel size."""
    path = directory / "blobs.npy"
    if MPI.COMM_WORLD.rank == 0:
        np.save(path, (np.random.default_rng(3).random((16, 14, 12)) < 0.6).astype(np.uint8))
    MPI.COMM_WORLD.barrier()
    geometry = ImageGeometry(path=str(path), voxel_size=voxel_size,
                             labels={"0": "void", "1": "matrix"})
    return build_domain(geometry, MeshParams(), MPI.COMM_WORLD)


def _tau(domain, petsc_options=None) -> float:
    row = directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",),
                                petsc_options=petsc_options)[0]
    return row["tortuosity_factor"]


def test_iterative_tolerance_does_not_depend_on_the_voxel_size(shared_dir):
    """CG's relative tolerance means the same at 1 m and 1 um voxels (the conduction rows are
    scaled to the Dirichlet rows): unscaled, rtol 1e-7 gave tau 1e-5 apart here."""
    loose = {**IMAGE_SOLVER, "ksp_rtol": 1e-7}
    metre, micrometre = (_tau(_blob_domain(shared_dir, h), loose) for h in (1.0, 1e-6))
    assert micrometre == pytest.approx(metre, rel=1e-8)


def test_solver_options_stay_with_their_solve(shared_dir):
    """Each conduction solve's PETSc options are its own and gone after it, also when PETSc
    rejects them (dolfinx's own clean-up left them under a shared prefix): the rejected solve's
    ksp_max_it 1 does not stop the next (iterative) solve, nor its CG options the direct one."""
    domain = _blob_domain(shared_dir, 1e-6)
    before = set(PETSc.Options().getAll())  # earlier tests' solvers may still be open
    direct = _tau(domain, DIRECT)
    with pytest.raises(ValueError, match="PETSc rejected the solver options"):
        _tau(domain, {"ksp_max_it": 1, "pc_type": "no_such_preconditioner"})
    assert _tau(domain) == pytest.approx(direct, rel=1e-8)
    assert _tau(domain, DIRECT) == pytest.approx(direct, rel=1e-12)  # no CG options inherited
    assert set(PETSc.Options().getAll()) <= before
