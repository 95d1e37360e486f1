"""`femsolver sweep` (femsolver/sweep.py), the Python API (femsolver/api.py) and the provenance
of summaries (femsolver/provenance.py)."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from femsolver import api
from femsolver.cli import main
from femsolver.errors import CaseError, FemsolverError
from femsolver.provenance import case_hash

CASES = Path(__file__).resolve().parents[1] / "cases"
PLANAR = CASES / "planar_li_li.toml"
BIN = Path(sys.executable).parent
QUICK = ["--set", "time.end=0.05", "--set", "output.pictures=false", "--set", "output.vtx=false"]
serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="a sweep runs outside mpirun")


def rows(directory: Path) -> list[dict]:
    with open(directory / "sweep.csv", newline="") as f:
        return list(csv.DictReader(f))


@serial_only
def test_a_grid_sweep_runs_every_point_and_resumes(tmp_path):
    out = tmp_path / "sweep"
    args = ["sweep", PLANAR, "--vary", "kinetics.i0=1,100", "--vary",
            "electrolyte.D_anion=1e-9,2e-9", "-o", out, "--jobs", "2", "-q", *QUICK]
    assert main([str(a) for a in args]) == 0
    table = rows(out)
    assert [(r["kinetics.i0"], r["electrolyte.D_anion"]) for r in table] == [
        ("1", "1e-09"), ("1", "2e-09"), ("100", "1e-09"), ("100", "2e-09")]
    assert {r["status"] for r in table} == {"complete"}
    # each point is the run the same overrides give by hand
    by_hand = api.run(api.load(PLANAR, [*QUICK[1::2], "kinetics.i0=100",
                                        "electrolyte.D_anion=2e-9"], output=tmp_path / "hand"))
    assert float(table[3]["cell_voltage_V"]) == pytest.approx(
        by_hand.summary["cell_voltage_V"], rel=1e-12)
    assert (out / "sweep_kinetics_i0.png").exists()
    assert (out / "sweep_electrolyte_D_anion.png").exists()
    assert api.read(out / "p003").summary["name"] == "planar_li_li_p003"
    # resume: nothing to do, then only the point whose result went missing
    (out / "p001" / "summary.json").unlink()
    before = (out / "p002" / "summary.json").stat().st_mtime
    result = subprocess.run([BIN / "femsolver", *map(str, args[:-1 - len(QUICK)]), *QUICK],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and "4 points, 1 to run" in result.stdout
    assert (out / "p002" / "summary.json").stat().st_mtime == before
    assert {r["status"] for r in rows(out)} == {"complete"}


@serial_only
def test_zipped_values_pair_up_and_points_run_on_two_ranks(tmp_path):
    out = tmp_path / "zip"
    assert main(["sweep", str(PLANAR), "--zip", "--vary", "kinetics.i0=1,100", "--vary",
                 "electrolyte.D_anion=1e-9,2e-9", "-o", str(out), "--ranks", "2", "-q",
                 *QUICK]) == 0
    table = rows(out)
    assert [(r["kinetics.i0"], r["electrolyte.D_anion"]) for r in table] == [
        ("1", "1e-09"), ("100", "2e-09")]
    assert api.read(out / "p001").summary["ranks"] == 2


@serial_only
@pytest.mark.parametrize("vary, message", [
    (["--zip", "--vary", "kinetics.i0=1,2", "--vary", "electrolyte.D_anion=1e-9"],
     "same number of values"),
    (["--vary", "kinetics.i0=1,-1"], "point 1 (kinetics.i0=-1): 'kinetics.i0' must be positive"),
    (["--vary", "kinetics.nothing=1"], "unknown key 'kinetics.nothing'"),
    (["--vary", "i0"], "--vary expects section.key=v1,v2"),
])
def test_a_sweep_with_a_bad_point_is_refused_before_anything_runs(tmp_path, capsys, vary,
                                                                  message):
    out = tmp_path / "bad"
    assert main(["sweep", str(PLANAR), *vary, "-o", str(out), "-q", *QUICK]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@serial_only
def test_another_sweep_into_the_same_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(PLANAR), "--vary", "kinetics.i0=1", "-o", str(out), "-q",
                 *QUICK]) == 0
    assert main(["sweep", str(PLANAR), "--vary", "kinetics.i0=2", "-o", str(out), "-q",
                 *QUICK]) == 3
    assert "holds another sweep" in capsys.readouterr().err


@serial_only
def test_an_interrupted_sweep_stops_its_points_and_resumes(tmp_path):
    out = tmp_path / "sweep"
    args = [str(BIN / "femsolver"), "sweep", str(PLANAR), "--vary", "kinetics.i0=1,10,100",
            "-o", str(out), "--set", "time.end=2", "--set", "output.pictures=false"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if "started point 0" in line:
            break
    for _ in range(1200):  # the point's run has begun writing
        if (out / "p000" / "femsolver.lock").exists():
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=300)[0]
    assert process.returncode == 130, output
    table = rows(out)
    assert table[0]["status"] in ("interrupted", "complete")
    assert {r["status"] for r in table[1:]} == {"not run"}
    assert subprocess.run(args, capture_output=True, timeout=600).returncode == 0
    assert {r["status"] for r in rows(out)} == {"complete"}


def test_the_api_runs_a_case_and_reads_its_results(shared_dir):
    case = api.load(PLANAR, {"time.end": 0.05, "output.pictures": False, "kinetics.i0": 20.0},
                    output=shared_dir / "api")
    assert case.kinetics.i0 == 20.0
    result = api.run(case)
    assert result.ok and result.status == "complete"
    assert result.summary["ranks"] == MPI.COMM_WORLD.size
    series = result.timeseries()
    assert series["time_s"][-1] == pytest.approx(0.05)
    assert np.allclose(series["current_density_A_m2"], 1500.0, rtol=1e-8)
    profile = result.interface_current()
    assert len(profile["x"]) > 0 and result.file("c.xdmf").exists()
    assert api.read(shared_dir / "api").summary == result.summary
    with pytest.raises(FemsolverError, match="has not finished"):
        api.read(shared_dir / "nothing")
    # a case given as a dictionary of tables
    data = {"name": "strip", "geometry": {"kind": "planar", "length": 1e-4},
            "time": {"end": 0.05, "dt": 0.01}, "output": {"pictures": False}}
    assert api.load(data, {"kinetics.i0": 5.0}).kinetics.i0 == 5.0
    with pytest.raises(CaseError, match="'kinetics.i0' must be positive"):
        api.load(data, {"kinetics.i0": -5.0})


def test_summaries_record_what_produced_them(shared_dir):
    case = api.load(PLANAR, {"time.end": 0.05, "output.pictures": False},
                    output=shared_dir / "p")
    summary = api.run(case).summary
    versions = summary["versions"]
    assert versions["dolfinx"].startswith("0.11") and versions["petsc"].startswith("3.")
    assert {"python", "gmsh", "mpi", "numpy"} <= set(versions)
    assert summary["hosts"] and summary["femsolver_version"]
    assert summary["case"]["kinetics"]["i0"] == 10.0  # a default, written out
    assert summary["case"]["geometry"]["kind"] == "planar"
    assert summary["case_sha256"] == case_hash(case)
    assert case_hash(api.load(PLANAR, {"kinetics.i0": 11.0})) != case_hash(case)
    assert summary["git_commit"] is None or len(summary["git_commit"].rstrip("+")) == 40
    assert summary["started"] <= summary["ended"]
    assert json.loads(json.dumps(summary)) == summary
