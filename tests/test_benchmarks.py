"""Smoke runs of the benchmark scripts at their smallest size, so they do not rot.

The figures themselves are not checked (they are timings); each script must run in serial and
under `mpirun -n 2`, and report a complete, consistent set of numbers.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import mesh_generation  # noqa: E402
import memory  # noqa: E402
import newton_vs_poisson  # noqa: E402

CASES = Path(__file__).resolve().parents[1] / "cases"
COARSE = ["--set", "mesh.h_interface=5e-9", "--set", "mesh.h_bulk=50e-9"]
serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="starts its own mpirun")


def test_newton_vs_poisson_smallest(shared_dir, capsys):
    plot = shared_dir / "scaling.png"
    results = newton_vs_poisson.main(
        ["--refine", "0", "--repeats", "1", *COARSE, "--json", str(shared_dir / "r.json"),
         "--plot", str(plot), "--seed-cases", str(CASES / "li_foil_bare.toml"),
         "--seed-set", "time.end=3e-5"])
    assert results["ranks"] == MPI.COMM_WORLD.size
    (size,) = results["sizes"]
    assert size["poisson"]["converged"] and size["poisson"]["total"] > 0
    newton = size["newton"]
    assert newton["dofs"] == 2 * size["poisson"]["dofs"] + 1  # u, phi on the same P1 space + V
    for kind in ("direct", "iterative"):
        m = newton[kind]
        assert m["converged"] and m["iterations_per_step"][0] >= 1
        assert m["assemble"] > 0 and m["solve"] > 0
    # Both solvers keep their preconditioner from the step before: the MUMPS factorisation
    # (femsolver.solver.DIRECT) and the GAMG hierarchies of the field splits (_reuse_splits).
    assert newton["direct"]["factorisations"] == 0
    assert newton["iterative"]["factorisations"] == 0
    assert [s["linear"] for s in results["seed"]] == ["direct", "iterative"]
    assert all(s["steps"] >= 1 for s in results["seed"])
    if MPI.COMM_WORLD.rank == 0:
        printed = capsys.readouterr().out
        assert "P1 Poisson" in printed and "Newton iteration" in printed
        assert json.loads((shared_dir / "r.json").read_text())["sizes"][0]["refine"] == 0
        assert plot.stat().st_size > 0


def test_mesh_generation_smallest(capsys):
    results = mesh_generation.main(["--scale", "1", "2", "--refine", "1", *COARSE])
    coarse, fine = results["gmsh"]
    assert fine["cells"] > 2 * coarse["cells"]  # same mesh twice as fine: ~4x cells in 2D
    assert [r["cells"] for r in results["refine"]] == [coarse["cells"], 4 * coarse["cells"]]
    assert all(g["generate"] > 0 and g["model_to_mesh"] > 0 and g["cache_read"] > 0
               for g in results["gmsh"])
    if MPI.COMM_WORLD.rank == 0:
        assert "model_to_mesh" in capsys.readouterr().out


@pytest.mark.parametrize("linear", ["direct", "poisson"])
def test_memory_smallest(linear, capsys):
    out = memory.main(["--refine", "0", "--linear", linear, *COARSE])
    assert out["bytes_per_dof"] > 0 and out["peak_total_bytes"] > 0
    if MPI.COMM_WORLD.rank == 0:
        assert [s["stage"] for s in out["stages"]][:2] == ["imports", "mesh"]
        assert "bytes per DOF" in capsys.readouterr().out


@serial_only
def test_scaling_runs_one_and_two_ranks(shared_dir, capsys):
    results = newton_vs_poisson.main(
        ["--refine", "0", "--repeats", "1", "--linear", "direct", *COARSE, "--seed-cases",
         "--scaling", "--json", str(shared_dir / "s.json")])
    assert [r["ranks"] for r in results["runs"]] == [1, 2]
    assert "Strong scaling 1 -> 2 ranks" in capsys.readouterr().out


@serial_only
def test_peer_echemfem_femsolver_half(tmp_path):
    """The EchemFEM comparison's own half: the mesh it hands the peer keeps the physical groups
    the peer integrates over (it once lost them all), and the smoke run reports a converged
    steady solve with its solver statistics."""
    import meshio
    import peer_echemfem

    from femsolver import tags

    msh = tmp_path / "peer.msh"
    peer_echemfem.write_msh(peer_echemfem.case_file(2e-6, tmp_path), msh)
    mesh = meshio.read(msh)
    lines = np.concatenate([d for d, c in zip(mesh.cell_data["gmsh:physical"], mesh.cells)
                            if c.type == "line"])
    assert {tags.WORKING_ACTIVE, tags.COUNTER} <= set(lines.tolist())
    assert not any(c.type == "triangle" and (d == tags.ELECTRODE).any()
                   for d, c in zip(mesh.cell_data["gmsh:physical"], mesh.cells))
    out = tmp_path / "peer.json"
    assert peer_echemfem.main(["--smoke", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())
    (ours,) = result["femsolver"]
    assert ours["newton_iterations"] >= 1 and ours["factorisations"] >= 1
    assert ours["solve_s"] > 0 and ours["residual_s"] > 0 and ours["jacobian_s"] > 0
    assert ours["working_current_A_m"] < 0  # plating at -0.2 V
