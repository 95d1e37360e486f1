"""The command line end to end: outputs of a run, serial = parallel, clear errors, Ctrl-C,
`femsolver verify`. (Depletion at Sand's time: femsolver/verification/sand.py.)"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from femsolver.cli import main
from helpers import interrupt_first_step

CASES = Path(__file__).resolve().parents[1] / "cases"
BIN = Path(sys.executable).parent
COARSE = ["--set", "mesh.h_interface=4e-9", "--set", "mesh.h_bulk=50e-9",
          "--set", "time.end=2e-4", "--set", "time.dt=2e-5"]
serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="starts its own mpirun")


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def test_run_writes_complete_outputs(shared_dir):
    out = shared_dir / "prs"
    assert run_cli("run", CASES / "li_foil_prs.toml", "-o", out, "-q", *COARSE) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["converged"]
    assert summary["ranks"] == MPI.COMM_WORLD.size
    # Galvanostatic control: the mean over the active area carries the applied current.
    assert summary["interface_current_density_mean_A_m2"] * summary[
        "active_area_per_projected_area"] == pytest.approx(25.0, rel=1e-8)
    for name in ("timeseries.csv", "interface_current.csv", "c.xdmf", "phi.xdmf", "i.xdmf",
                 "E.xdmf", "cell_tags.xdmf", "facet_tags.xdmf", "current_density.png",
                 "electric_field.png", "concentration.png", "interface_current.png"):
        assert (out / name).exists(), name
    series = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert series["time_s"][-1] == pytest.approx(2e-4)
    assert np.allclose(series["current_density_A_m2"], 25.0, rtol=1e-8)


@serial_only
def test_two_ranks_reproduce_the_serial_run(shared_dir):
    args = ["run", CASES / "li_foil_bare.toml", "-q", *COARSE]
    assert run_cli(*args, "-o", shared_dir / "serial") == 0
    subprocess.run([BIN / "mpirun", "-n", "2", BIN / "femsolver", *map(str, args),
                    "-o", str(shared_dir / "parallel")], check=True)
    serial, parallel = (json.loads((shared_dir / d / "summary.json").read_text())
                        for d in ("serial", "parallel"))
    assert parallel["ranks"] == 2 and parallel["cells"] == serial["cells"]
    for key in ("cell_voltage_V", "interface_current_density_max_A_m2",
                "min_surface_concentration_mol_m3", "electric_field_max_V_m"):
        assert parallel[key] == pytest.approx(serial[key], rel=1e-9), key


def test_bad_key_is_reported_with_its_name(shared_dir, capsys):
    code = run_cli("run", CASES / "li_foil_prs.toml", "-o", shared_dir,
                   "--set", "electrode.conductivity=-5")
    assert code == 2
    err = capsys.readouterr().err
    if MPI.COMM_WORLD.rank == 0:
        assert "'electrode.conductivity' must be positive" in err
    else:
        assert err == ""  # one message, from rank 0 only
    assert not (shared_dir / "summary.json").exists()


@serial_only
def test_bad_key_under_mpirun_prints_one_message_and_no_traceback(shared_dir):
    result = subprocess.run(
        [BIN / "mpirun", "-n", "2", BIN / "femsolver", "run", str(CASES / "li_foil_prs.toml"),
         "--set", "kinetics.io=3", "-o", str(shared_dir)], capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.count("femsolver: error: unknown key 'kinetics.io'") == 1
    assert "Traceback" not in result.stderr


def test_diverging_newton_is_reported_and_marked_failed(shared_dir, capsys):
    out = shared_dir / "fails"
    code = run_cli("run", CASES / "li_foil_prs.toml", "-o", out, "-q", *COARSE,
                   "--set", "solver.max_iterations=1", "--set", "solver.step_tol=1e-300",
                   "--set", "time.dt_min=1e-5")
    assert code == 1
    if MPI.COMM_WORLD.rank == 0:
        assert "Newton did not converge" in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and not summary["converged"]


@serial_only
def test_ctrl_c_finishes_the_step_and_writes_an_interrupted_summary(shared_dir):
    out = shared_dir / "interrupted"
    returncode, output = interrupt_first_step(
        [CASES / "planar_li_li.toml", "-o", out, "--set", "time.end=1e3",
         "--set", "time.growth=1.0", "--set", "output.pictures=false"])
    assert returncode == 130
    assert "interrupted: writing the last step, a checkpoint and the summary" in output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 0 < summary["final_time_s"] < 1e3
    series = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert series["time_s"][-1] == pytest.approx(summary["final_time_s"])


def test_three_dimensional_planar_cell_matches_the_analytic_voltage(shared_dir):
    """A 3D column and the 2D strip of the same cell give the steady analytic voltage."""
    from femsolver.physics.constants import FARADAY, thermal_voltage
    from femsolver.physics.kinetics import butler_volmer_inverse

    L, D, c0, i0 = 20e-6, 1e-9, 1000.0, 10.0
    i = 0.5 * 4 * FARADAY * D * c0 / L
    c_w, c_c = c0 - i * L / (4 * FARADAY * D), c0 + i * L / (4 * FARADAY * D)
    eta_w = butler_volmer_inverse(-i, i0, 0.5, 0.5, c_w / c0)
    eta_c = butler_volmer_inverse(i, i0, 0.5, 0.5, c_c / c0)
    V_exact = thermal_voltage(298.15) * (eta_w - eta_c + np.log(c_w / c_c))
    for dimension in (2, 3):
        out = shared_dir / f"planar{dimension}d"
        assert run_cli("run", CASES / "planar_li_li.toml", "-o", out, "-q",
                       "--set", f"geometry.dimension={dimension}", "--set", f"geometry.length={L}",
                       "--set", "mesh.h_interface=2e-7", "--set", "mesh.h_bulk=1e-6",
                       "--set", f"control.current_density={i}", "--set", "time.mode=steady",
                       "--set", "output.pictures=false") == 0
        summary = json.loads((out / "summary.json").read_text())
        # Observed: 7.1e-6 V (2D) and 7.3e-6 V (3D), halving with h; V_exact = -0.770 V.
        assert summary["cell_voltage_V"] == pytest.approx(V_exact, abs=2e-5), dimension


def test_verify_writes_the_report_and_fails_on_a_failed_check(shared_dir, monkeypatch):
    """`femsolver verify` with one fake benchmark (the real ones: tests/test_verification.py):
    the markdown report, the convergence picture and exit code 1 for a failed check."""
    from types import SimpleNamespace

    from femsolver.verification import Row, report

    rows = [Row("0. Fake", "order", 2.0, "h^2", 1.98, 0.02, "abs", 0.1, rate=1.98,
                series=((1.0, 1e-2), (0.5, 2.5e-3))),
            Row("0. Fake", "value | with a bar", 1.0, "one", 1.5, 0.5, "rel", 0.1)]
    fake = SimpleNamespace(TITLE="0. Fake", SETUP="A fake benchmark.",
                           run=lambda level, comm: rows)
    monkeypatch.setattr(report, "BENCHMARKS", (fake,))
    assert run_cli("verify", "-o", shared_dir, "--level", "0", "-q") == 1
    text = (shared_dir / "verification.md").read_text()
    assert "**1 of 2 checks pass.**" in text and "**FAIL**" in text
    assert "| value \\| with a bar | 1 | one | 1.5 | 0.5 (rel) | 0.1 |  | **FAIL** |" in text
    assert (shared_dir / "img" / "convergence.png").stat().st_size > 0
