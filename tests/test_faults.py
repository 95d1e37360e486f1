"""Fault injection: every bad input and fault ends the job, on every rank, with one message,
the documented exit code and an honest output directory (docs/reliability.md).

In-process checks (validation) run in both passes of scripts/test.sh; the end-to-end checks
start their own processes, serially and under `mpirun -n 2`, and run in the serial pass only.
"""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
from mpi4py import MPI

from femsolver.case import PARTICLE_SECTIONS, SECTIONS, case_from_dict, load_case
from femsolver.errors import CaseError
from geometries import REGISTRY

CASES = Path(__file__).resolve().parents[1] / "cases"
BIN = Path(sys.executable).parent
PLANAR = CASES / "planar_li_li.toml"
QUICK = ["--set", "time.end=0.05", "--set", "output.pictures=false"]
TIMEOUT = 120  # s: any job here that has not ended by then hangs
serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="starts its own processes")
RANKS = [1, 2]
# A base case per geometry family, from the project's own case files.
BASE = {"li_foil": "li_foil_prs.toml", "planar": "planar_li_li.toml",
        "core_shell": "core_shell_lpscl_5wt.toml", "composite": "composite_lpscl_5wt.toml"}


def femsolver(args, ranks=1, env=None, timeout=TIMEOUT, **popen):
    """Run the command line (under mpirun for ranks > 1); (exit code, output, seconds)."""
    command = [str(BIN / "femsolver"), *map(str, args)]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-n", str(ranks), *command]
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})}, **popen)
    return result.returncode, result.stdout + result.stderr, time.monotonic() - start


def summary(directory: Path) -> dict:
    return json.loads((directory / "summary.json").read_text())


def errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("femsolver: error:")]


# ---- validation, generated from the schema ------------------------------------------------
def _numeric_keys():
    """(geometry kind, 'section.key') of every numeric key that applies to the kind."""
    for kind in BASE:
        sections = {"geometry": REGISTRY[kind].params, **SECTIONS}
        for section, cls in sections.items():
            particle = REGISTRY[kind].problem == "particle"
            if section in PARTICLE_SECTIONS and not particle:
                continue
            for f in dataclasses.fields(cls):
                if "float" in str(f.type):
                    yield kind, f"{section}.{f.name}"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("kind, key", list(_numeric_keys()))
def test_every_numeric_key_refuses_non_finite_values(kind, key, value):
    data = tomllib.loads((CASES / BASE[kind]).read_text())
    section, name = key.split(".")
    data.setdefault(section, {})[name] = float(value)
    with pytest.raises(CaseError, match=rf"'{key}' must be a finite number"):
        case_from_dict(data)


@pytest.mark.parametrize("override, message", [
    ("kinetics.alpha_a=1.5", "'kinetics.alpha_a' must be in (0, 1)"),
    ("kinetics.alpha_c=0", "'kinetics.alpha_c' must be in (0, 1)"),
    ("time.growth=0.5", "'time.growth' must be >= 1"),
    ("mesh.refine=-1", "'mesh.refine' must be >= 0"),
    ("geometry.seed=-1", "'geometry.seed' must be >= 0"),
    ("geometry.dimension=4", "'geometry.dimension' must be one of 2, 3"),
    ("solver.rtol=2", "'solver.rtol' must be in (0, 1)"),
    ("kinetics.activation_energy=-1", "'kinetics.activation_energy' must be >= 0"),
    ("name='../../escape'", "'name' must be letters"),
    ("mesh.h_interface=1e-15", "the mesh would have about"),
    ("mesh.refine=12", "more than mesh.max_cells"),
    ('solver.petsc_options={snes_view="ascii:/tmp/anywhere"}', "FILE a bare file name"),
    ('solver.petsc_options={snes_view="ascii:../up"}', "FILE a bare file name"),
    ('solver.petsc_options={"-options_file" = "x"}', "not a PETSc option name"),
])
def test_out_of_range_values_are_refused_naming_the_key(override, message):
    with pytest.raises(CaseError) as raised:
        load_case(CASES / "li_foil_prs.toml", [override])
    assert message in str(raised.value)


def test_a_refused_mesh_names_its_predicted_size_and_memory():
    with pytest.raises(CaseError) as raised:
        load_case(CASES / "li_foil_prs.toml", ["mesh.refine=12"])
    assert "cells" in str(raised.value) and "GiB" in str(raised.value)


def test_ers_particles_that_do_not_fit_are_refused():
    with pytest.raises(CaseError, match="no particle of diameter"):
        load_case(CASES / "li_foil_ers.toml", ["geometry.particle_diameter=2e-6"])


CONCENTRATED = ['electrolyte.model="concentrated"',
                'electrolyte.material="LiPF6_EC_EMC_Nyman2008"']


@pytest.mark.parametrize("expression, message", [
    ("10**10**10", "cannot be evaluated"),
    ("'1'*10**8", "is not a number"),
    ("True", "is not a number"),
    ("1/0", "cannot be evaluated"),
    ("(-1)**0.5*c", "complex"),
    ("exp(c)", "must be finite"),
    ("c - 1000", "must be finite and above 0"),
    ("-" * 300 + "c", "more than"),
    ("c" + "+c" * 300, "longer than"),
    ("sqrt(-c)", "must be finite"),
    ("__import__('os')", "may be called"),
    ("c.real", "Attribute is not allowed"),
])
def test_expression_bombs_are_refused_naming_the_key(expression, message):
    override = f"electrolyte.conductivity={json.dumps(expression)}"
    start = time.monotonic()
    with pytest.raises(CaseError) as raised:
        load_case(PLANAR, [*CONCENTRATED, override])
    assert time.monotonic() - start < 5
    assert "electrolyte.conductivity" in str(raised.value) and message in str(raised.value)


def test_thermodynamic_factor_zero_is_refused_not_replaced():
    with pytest.raises(CaseError, match="'electrolyte.thermodynamic_factor'.*above 0"):
        load_case(PLANAR, [*CONCENTRATED, "electrolyte.thermodynamic_factor=0"])


def test_case_files_that_cannot_be_read_are_refused(tmp_path):
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'name = "\xff"\n')
    for path, message in ((tmp_path, "Is a directory"), (binary, "not a text (UTF-8) file"),
                          (tmp_path / "missing.toml", "not found")):
        with pytest.raises(CaseError, match=re.escape(message)):
            load_case(path)


def test_the_output_option_is_a_path_not_toml(tmp_path):
    for name in ('a"b', "c\\nd", "e'f"):
        case = load_case(PLANAR, output=tmp_path / name)
        assert case.output_directory == tmp_path / name


# ---- the command line end to end ----------------------------------------------------------
@serial_only
@pytest.mark.parametrize("ranks", RANKS)
def test_bad_input_gives_one_message_exit_2_and_writes_nothing(tmp_path, ranks):
    out = tmp_path / "out"
    code, output, _ = femsolver(["run", PLANAR, "-o", out, "--set", "kinetics.i0=nan"], ranks)
    assert code == 2
    assert errors(output) == ["femsolver: error: 'kinetics.i0' must be a finite number, got nan"]
    assert "Traceback" not in output and not out.exists()


@serial_only
@pytest.mark.parametrize("ranks", RANKS)
def test_output_path_that_is_a_file_is_an_environment_error(tmp_path, ranks):
    target = tmp_path / "file"
    target.write_text("mine")
    code, output, _ = femsolver(["run", PLANAR, "-o", target, *QUICK], ranks)
    assert code == 3 and len(errors(output)) == 1 and "is not a directory" in output
    assert target.read_text() == "mine"


@serial_only
def test_a_second_run_into_a_busy_directory_is_refused(tmp_path):
    out = tmp_path / "busy"
    first = subprocess.Popen([BIN / "femsolver", "run", PLANAR, "-o", out, "-q",
                              "--set", "time.end=3", "--set", "output.pictures=false"],
                             stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if (out / "femsolver.lock").exists():
            break
        time.sleep(0.05)
    code, output, _ = femsolver(["run", PLANAR, "-o", out, *QUICK])
    assert code == 3
    assert f"{out} is in use by another run: case 'planar_li_li', pid {first.pid}" in output
    assert first.wait(timeout=TIMEOUT) == 0
    assert summary(out)["status"] == "complete"
    rows = (out / "timeseries.csv").read_text().splitlines()
    assert float(rows[-1].split(",")[0]) == pytest.approx(3.0)  # the first run's, whole


@serial_only
def test_an_earlier_run_is_moved_aside_and_never_mixed(tmp_path):
    out = tmp_path / "run"
    assert femsolver(["run", PLANAR, "-o", out, "-q", *QUICK])[0] == 0
    (out / "notes.txt").write_text("the user's own file")
    code, output, _ = femsolver(["run", PLANAR, "-o", out, "--set", "geometry.length=-1"])
    assert code == 2 and not (out / "previous").exists()  # bad input touches nothing
    code, output, _ = femsolver(["run", PLANAR, "-o", out, *QUICK,
                                 "--set", "electrode.equipotential=false"])
    assert code == 0 and "moved the" in output
    assert (out / "previous" / "summary.json").exists()
    assert (out / "notes.txt").read_text() == "the user's own file"
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [*manifest["files"], "manifest.json", "summary.json", "previous", "notes.txt"])
    assert "phi_s.xdmf" in manifest["files"]
    # A run that fails in the geometry keeps the complete run aside and leaves no stale field.
    code, output, _ = femsolver(["run", CASES / "li_foil_ers.toml", "-o", out, "-q",
                                 "--set", "geometry.particle_count=400"])
    assert code == 2 and summary(out)["status"] == "failed" and "fit" in summary(out)["error"]
    assert not list(out.glob("*.h5")) and (out / "previous" / "phi_s.xdmf").exists()


@serial_only
def test_outputs_have_ordinary_permissions(tmp_path):
    out = tmp_path / "perm"
    old = os.umask(0o022)
    try:
        assert femsolver(["run", PLANAR, "-o", out, "-q", *QUICK])[0] == 0
    finally:
        os.umask(old)
    for name in ("summary.json", "manifest.json", "interface_current.csv", "timeseries.csv",
                 "c.h5"):
        assert (out / name).stat().st_mode & 0o777 == 0o644, name


@serial_only
def test_petsc_viewer_files_stay_in_the_output_directory(tmp_path):
    out = tmp_path / "viewer"
    code, _, _ = femsolver(["run", PLANAR, "-o", out, "-q", *QUICK,
                            "--set", 'solver.petsc_options={snes_view="ascii:snes.txt"}'])
    assert code == 0 and "SNES Object" in (out / "snes.txt").read_text()


@serial_only
def test_keys_into_a_closed_pipe_is_quiet():
    result = subprocess.run(f"'{BIN}/femsolver' keys | head -n 1", shell=True, text=True,
                            capture_output=True, timeout=TIMEOUT)
    assert result.stdout.startswith("[geometry]") and "Traceback" not in result.stderr


# ---- signals at each stage ----------------------------------------------------------------
def _interrupt(tmp_path, ranks, stage, signum, env=None):
    """Start a run that pauses at `stage`, send `signum` to it there; (code, output, summary)."""
    out = tmp_path / f"{stage}-{ranks}"
    command = [str(BIN / "femsolver"), "run", str(PLANAR), "-o", str(out), *QUICK]
    if ranks > 1:
        command = [str(BIN / "mpirun"), "-n", str(ranks), *command]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "FEMSOLVER_PAUSE_AT": stage, "FEMSOLVER_PAUSE_SECONDS": "60",
             **(env or {})})
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(f"femsolver: paused at {stage}"):
            process.send_signal(signum)
            break
    start = time.monotonic()
    output = "".join(lines) + process.communicate(timeout=TIMEOUT)[0]
    assert time.monotonic() - start < 45, "the job did not end in time"
    return process.returncode, output, summary(out) if (out / "summary.json").exists() else None


@serial_only
@pytest.mark.parametrize("ranks", RANKS)
@pytest.mark.parametrize("stage, signum", [
    ("directory", signal.SIGINT), ("mesh", signal.SIGTERM), ("setup", signal.SIGINT),
    ("solver", signal.SIGTERM), ("steps", signal.SIGINT), ("outputs", signal.SIGTERM)])
def test_a_signal_in_any_stage_ends_every_rank_with_an_interrupted_summary(
        tmp_path, ranks, stage, signum):
    from femsolver.guard import STAGES

    code, output, result = _interrupt(tmp_path, ranks, stage, signum)
    assert code == 128 + signum
    name = signal.Signals(signum).name
    assert output.count(f"femsolver: interrupted by {name} during {STAGES[stage]}") == 1
    assert "Traceback" not in output
    assert result["status"] == "interrupted" and not result["converged"]
    assert result["stage"] == STAGES[stage] and result["ranks"] == ranks


@serial_only
@pytest.mark.parametrize("ranks", RANKS)
def test_a_stuck_run_is_ended_by_its_watchdog(tmp_path, ranks):
    code, output, result = _interrupt(tmp_path, ranks, "steps", signal.SIGTERM,
                                      env={"FEMSOLVER_PAUSE_STUCK": "1",
                                           "FEMSOLVER_SIGNAL_GRACE": "3"})
    assert code != 0
    assert "no safe point reached within 3 s (the process was stuck" in output
    assert result["status"] == "interrupted" and result["stage"] == "time stepping"
    assert "killed by its watchdog" in result["error"]


# ---- failures on one rank only ------------------------------------------------------------
@serial_only
@pytest.mark.parametrize("stage", ["mesh", "steps", "outputs"])
def test_a_failure_on_one_rank_stops_all_with_its_message(tmp_path, stage):
    out = tmp_path / "one"
    code, output, seconds = femsolver(["run", PLANAR, "-o", out, *QUICK], 2,
                                      env={"FEMSOLVER_FAIL_AT": f"{stage}:1"})
    assert code == 1
    assert errors(output) == [f"femsolver: error: RuntimeError: failure injected at {stage} "
                              "on rank 1 (FEMSOLVER_FAIL_AT)"]
    assert summary(out)["status"] == "failed" and "rank 1" in summary(out)["error"]


@serial_only
def test_a_failure_that_leaves_the_other_ranks_in_a_collective_ends_the_job(tmp_path):
    """Rank 1 fails before meshing, rank 0 waits for it inside the mesh distribution: the
    agreement cannot happen, rank 1's watchdog ends the job after FEMSOLVER_AGREE_TIMEOUT."""
    out = tmp_path / "stuck"
    code, output, seconds = femsolver(["run", PLANAR, "-o", out, *QUICK], 2,
                                      env={"FEMSOLVER_FAIL_AT": "mesh:1:start",
                                           "FEMSOLVER_AGREE_TIMEOUT": "5"})
    assert code != 0 and seconds < 60
    assert "failure injected at mesh on rank 1" in output
    assert summary(out)["status"] == "failed"
    assert "rank 1" in summary(out)["error"] and "did not answer" in summary(out)["error"]


# ---- disk full ----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs (needs root and mount); skipped with the reason otherwise."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {result.stderr.strip() or 'not root'}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@serial_only
@pytest.mark.parametrize("ranks", RANKS)
def test_a_full_disk_ends_the_run_with_a_message_on_every_rank(small_disk, ranks):
    out = small_disk / "run"
    code, output, seconds = femsolver(
        ["run", CASES / "li_foil_prs.toml", "-o", out, "--set", "mesh.h_interface=4e-9",
         "--set", "mesh.h_bulk=50e-9", "--set", "time.end=2e-3", "--set", "time.dt=2e-5"],
        ranks)
    assert code == 3
    assert len(errors(output)) == 1 and "disk full" in errors(output)[0]
    assert summary(out)["status"] == "failed" and "disk full" in summary(out)["error"]
    assert "Traceback" not in output and "HDF5" not in output
