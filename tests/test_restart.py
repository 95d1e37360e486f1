"""Checkpoint and restart (femsolver/checkpoint.py): a restarted run equals the uninterrupted
one to solver tolerance, for the cell and the particle problems, also on another number of
ranks; a restart whose case changed is refused naming the keys.

Each test runs in both passes of scripts/test.sh (serial and 2 ranks) and compares with a
reference made in the same pass; the serial pass also restarts on 2 ranks with mpirun.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from femsolver import api, checkpoint
from femsolver.checkpoint import available
from femsolver.cli import main
from femsolver.errors import CaseError
from femsolver.simulation import run

CASES = Path(__file__).resolve().parents[1] / "cases"
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(
    not available() and os.environ.get("FEMSOLVER_REQUIRE_CHECKPOINT") != "1",
    reason="io4dolfinx is not installed (scripts/install_checkpoint_io.sh)")
serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="starts its own mpirun")

# Constant steps (dt = dt_max, no growth): the short run stops on a step of the long one.
CELL = (CASES / "planar_li_li.toml",
        {"time.dt": 0.01, "time.dt_max": 0.01, "output.pictures": False, "output.vtx": False})
PARTICLE = (CASES / "core_shell_lpscl_5wt.toml",
            {"mesh.h_interface": 5e-7, "mesh.h_bulk": 4e-6, "time.dt": 10.0, "time.dt_max": 10.0,
             "output.pictures": False, "output.vtx": False})
FIGURES = ("cell_voltage_V", "min_surface_concentration_mol_m3", "electric_field_max_V_m",
           "capacity_mAh_g", "mean_stoichiometry", "interface_current_density_max_A_m2")


def _run(case, changes, directory, restart=None):
    return _go(api.load(case, changes, output=directory), restart)


def _go(case, restart=None):
    return run(case, MPI.COMM_WORLD, verbose=False, restart=restart)


def _same(a: dict, b: dict, rtol: float) -> None:
    for key in FIGURES:
        if isinstance(a.get(key), float):
            assert b[key] == pytest.approx(a[key], rel=rtol, abs=1e-14), key


@pytest.mark.parametrize("case, changes, t1, t2", [(*CELL, 0.15, 0.3), (*PARTICLE, 60.0, 120.0)],
                         ids=["cell", "particle"])
def test_restart_continues_as_if_the_run_had_not_stopped(shared_dir, case, changes, t1, t2):
    reference = _run(case, {**changes, "time.end": t2}, shared_dir / "reference")
    first = _run(case, {**changes, "time.end": t1}, shared_dir / "run")
    assert first["checkpoint"]["time_s"] == pytest.approx(t1)
    resumed = _run(case, {**changes, "time.end": t2}, shared_dir / "run", restart=shared_dir / "run")
    assert resumed["status"] == reference["status"] == "complete"
    assert resumed["restarted_from"]["time_s"] == pytest.approx(t1)
    _same(reference, resumed, 1e-9)
    rows = [api.read(shared_dir / d).timeseries() for d in ("reference", "run")]
    assert np.allclose(rows[0]["time_s"], rows[1]["time_s"], rtol=1e-12)
    assert np.allclose(rows[0]["cell_voltage_V"], rows[1]["cell_voltage_V"], rtol=1e-9)


@serial_only
def test_restart_on_another_number_of_ranks(shared_dir):
    case, changes = CELL
    reference = _run(case, {**changes, "time.end": 0.3}, shared_dir / "reference")
    _run(case, {**changes, "time.end": 0.15}, shared_dir / "one_rank")
    subprocess.run([BIN / "mpirun", "-n", "2", BIN / "femsolver", "run", case, "-q",
                    "-o", shared_dir / "two_ranks", "--restart", shared_dir / "one_rank",
                    *[a for k, v in changes.items() for a in ("--set", f"{k}={json.dumps(v)}")],
                    "--set", "time.end=0.3"], check=True, timeout=300)
    resumed = api.read(shared_dir / "two_ranks").summary
    assert resumed["ranks"] == 2
    _same(reference, resumed, 1e-9)


@serial_only
def test_an_interrupted_run_restarts_from_its_checkpoint(shared_dir):
    """Ctrl-C in the time loop writes a checkpoint of the last step; a restart finishes the run
    with the numbers of a run that was never interrupted."""
    case, changes = CELL
    sets = [a for k, v in changes.items() for a in ("--set", f"{k}={json.dumps(v)}")]
    reference = _run(case, {**changes, "time.end": 0.4}, shared_dir / "reference")
    process = subprocess.Popen([BIN / "femsolver", "run", case, "-o", shared_dir / "cut", *sets,
                                "--set", "time.end=0.4"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "FEMSOLVER_PROGRESS": "steps"})
    accepted = 0
    for line in process.stdout:
        accepted += line.startswith("  t = ")
        if accepted == 5:
            process.send_signal(signal.SIGINT)
            break
    process.communicate(timeout=120)
    cut = api.read(shared_dir / "cut").summary
    assert cut["status"] == "interrupted" and cut["checkpoint"]["time_s"] < 0.4
    assert main(["run", str(case), "-q", "-o", str(shared_dir / "cut"), *sets,
                 "--set", "time.end=0.4", "--restart", str(shared_dir / "cut")]) == 0
    _same(reference, api.read(shared_dir / "cut").summary, 1e-9)


def test_a_restart_with_another_case_is_refused_naming_the_keys(shared_dir):
    case, changes = CELL
    _run(case, {**changes, "time.end": 0.05}, shared_dir / "run")
    changed = api.load(case, {**changes, "time.end": 0.1, "kinetics.i0": 20.0,
                              "electrolyte.D_anion": 2e-9}, output=shared_dir / "run")
    with pytest.raises(CaseError, match="differs from the checkpointed run in "
                                        "electrolyte.D_anion, kinetics.i0; only time.end"):
        _go(changed, shared_dir / "run")
    same_end = api.load(case, {**changes, "time.end": 0.05}, output=shared_dir / "run")
    with pytest.raises(CaseError, match="raise time.end"):
        _go(same_end, shared_dir / "run")
    # refused before the directory was touched
    assert api.read(shared_dir / "run").summary["status"] == "complete"
    assert not (shared_dir / "run" / "previous").exists()


def test_a_checkpoint_of_an_earlier_layout_is_refused(shared_dir):
    """Checkpoints that list no fields come from before u and phi were one pair."""
    case, changes = CELL
    _run(case, {**changes, "time.end": 0.05}, shared_dir / "earlier")
    if MPI.COMM_WORLD.rank == 0:
        pointer = checkpoint.locate(shared_dir / "earlier")
        info = json.loads(pointer.read_text())
        assert info["fields"] == ["u_phi", "V", "u_n", "u_nn"]
        del info["fields"]
        pointer.write_text(json.dumps(info))
    MPI.COMM_WORLD.barrier()
    later = api.load(case, {**changes, "time.end": 0.1}, output=shared_dir / "earlier")
    with pytest.raises(CaseError, match="written by an earlier femsolver"):
        _go(later, shared_dir / "earlier")
    assert api.read(shared_dir / "earlier").summary["status"] == "complete"
    assert not (shared_dir / "earlier" / "previous").exists()
