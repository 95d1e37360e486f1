"""The Slurm job scripts (cases/slurm/) on a real one-node Slurm cluster on this machine.

scripts/slurm_cluster.sh starts the cluster (as root; it installs slurm-wlm and munge with apt
when they are missing) in a temporary directory for this module and stops it afterwards. The
module is skipped, with the script's reason, when the cluster cannot be started (not root, no
apt, a daemon does not come up), unless FEMSOLVER_REQUIRE_SLURM=1 (then it fails). Serial only:
the jobs start their own MPI ranks, and one such cluster runs per machine.

The runs are small (a coarse PRS@Li mesh, ~1k cells, 0.1 ms): each job takes seconds; the
time-limit test waits for Slurm's warning signal, 20-50 s after its jobs start. About 2 min in all.
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mpi4py import MPI

REPO = Path(__file__).resolve().parents[1]
CLUSTER = REPO / "scripts" / "slurm_cluster.sh"
JOBS = REPO / "cases" / "slurm"
CASE = "cases/li_foil_prs.toml"
# a few seconds on 2 ranks: ~1.3k cells, 10 time steps, no pictures
SMALL = ["--set", "mesh.h_interface=10e-9", "--set", "mesh.h_bulk=50e-9", "--set", "time.end=1e-4",
         "--set", "output.pictures=false"]
# would run for about an hour: 1e5 steps of 1e-5 s; fields written only at the end
LONG = ["--set", "mesh.h_interface=10e-9", "--set", "mesh.h_bulk=50e-9", "--set", "time.end=1",
        "--set", "time.dt_max=1e-5", "--set", "output.every=1000000", "--set", "output.pictures=false"]
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
                "PREEMPTED", "BOOT_FAIL", "DEADLINE"}

pytestmark = pytest.mark.skipif(
    MPI.COMM_WORLD.size > 1,
    reason="Slurm tests run serially: the jobs start their own ranks, one cluster per machine")


class Cluster:
    def __init__(self, directory: Path):
        self.dir = directory
        # sbatch passes this environment on to the jobs (--export=ALL): the jobs use this venv
        self.env = dict(os.environ, SLURM_CONF=str(directory / "slurm.conf"),
                        FEMSOLVER_VENV=sys.prefix)
        self.env.pop("FEMSOLVER_LAUNCHER", None)

    def run(self, *args, timeout=30, env=None):
        return subprocess.run([str(a) for a in args], cwd=REPO, env=env or self.env, text=True,
                              capture_output=True, timeout=timeout)

    def submit(self, script, *args, options=(), env=None) -> str:
        """sbatch from the repository root (SLURM_SUBMIT_DIR); returns the job id."""
        p = self.run("sbatch", "--parsable", *options, JOBS / script, *args, env=env)
        assert p.returncode == 0, f"sbatch failed: {p.stdout}{p.stderr}"
        return p.stdout.strip().split(";")[0]

    def jobs(self, job_id) -> list[dict]:
        """`scontrol show job` records (one per array task) as dicts of the key=value fields."""
        p = self.run("scontrol", "-o", "show", "job", job_id)
        records = []
        for line in p.stdout.splitlines():
            record = {}
            for key, value in re.findall(r"(?:^|\s)([A-Za-z]+)=(\S*)", line):
                record.setdefault(key, value)
            records.append(record)
        return records

    def wait(self, job_ids, timeout) -> dict[str, list[dict]]:
        """Wait until every job (and array task) has ended; cancel them all after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            records = {j: self.jobs(j) for j in job_ids}
            if all(r and all(t.get("JobState") in FINAL_STATES for t in r) for r in records.values()):
                return records
            if time.monotonic() > deadline:
                self.run("scancel", *job_ids)
                states = {j: [t.get("JobState") for t in r] for j, r in records.items()}
                pytest.fail(f"jobs not finished after {timeout} s (cancelled): {states}")
            time.sleep(1)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if os.geteuid() != 0 and os.environ.get("FEMSOLVER_REQUIRE_SLURM") != "1":
        pytest.skip("not root: the Slurm daemons must run as root")
    directory = tmp_path_factory.mktemp("slurm")
    # 4 CPUs on any machine: the time-limit test runs three 1-rank jobs side by side
    env = dict(os.environ, FEMSOLVER_SLURM_CPUS=str(max(4, os.cpu_count() or 1)))
    start = subprocess.run(["bash", str(CLUSTER), "start", str(directory)], env=env, text=True,
                           capture_output=True, timeout=900)
    output = start.stdout + start.stderr
    if start.returncode == 3:
        reason = next((line for line in output.splitlines() if "skipped:" in line), output)
        if os.environ.get("FEMSOLVER_REQUIRE_SLURM") == "1":
            pytest.fail(f"{reason}; FEMSOLVER_REQUIRE_SLURM=1 requires the Slurm tests")
        pytest.skip(reason)
    assert start.returncode == 0, f"slurm_cluster.sh start failed:\n{output}"
    yield Cluster(directory)
    subprocess.run(["bash", str(CLUSTER), "stop", str(directory)], text=True,
                   capture_output=True, timeout=180)


def summary(directory: Path) -> dict:
    return json.loads((directory / "summary.json").read_text())


def log_of(path: Path, lines=40) -> str:
    """The end of a job's log (for messages)."""
    if not path.exists():
        return f"(no log {path})"
    return "\n".join(path.read_text().splitlines()[-lines:])


def state(record: dict) -> str:
    return " ".join(f"{k}={record.get(k)}" for k in ("JobId", "JobState", "ExitCode", "RunTime", "Reason"))


@pytest.mark.parametrize("launcher", ["mpirun", "srun"])
def test_run_case(cluster, tmp_path, launcher):
    """run_case.sbatch with each launcher: the job completes, on 2 ranks."""
    if launcher == "srun":
        mpi = cluster.run("srun", "--mpi=list")
        if "pmi2" not in mpi.stdout + mpi.stderr:
            pytest.skip(f"this Slurm has no pmi2 plugin: {mpi.stdout}{mpi.stderr}")
    log = tmp_path / "slurm.out"
    job = cluster.submit("run_case.sbatch", CASE, "-o", tmp_path / "run", *SMALL,
                         options=["--ntasks=2", f"--output={log}"],
                         env=dict(cluster.env, FEMSOLVER_LAUNCHER=launcher))
    (record,) = cluster.wait([job], timeout=240)[job]
    assert (record["JobState"], record["ExitCode"]) == ("COMPLETED", "0:0"), log_of(log)
    result = summary(tmp_path / "run")
    assert result["status"] == "complete", log_of(log)
    assert result["ranks"] == 2
    assert f"with {launcher}" in log.read_text()


def test_time_limit_signal(cluster, tmp_path):
    """--time=1 --signal=B:TERM@10: Slurm sends TERM to the batch shell 20-50 s after the start
    (it checks every 30 s and sends up to 30 s early); each job passes it on to femsolver, which
    stops after its current step and writes summary.json with status "interrupted": the jobs end
    by themselves with femsolver's exit code for SIGTERM, before the time limit (not TIMEOUT). Three jobs side by
    side: run_case.sbatch with mpirun (exec'd) and with srun (TERM passed on by job_env.sh), and
    the seed study (three runs in a row: the first is interrupted, the others never start)."""
    options = ["--ntasks=1", "--time=1", "--signal=B:TERM@10"]
    jobs = {}
    for launcher in ("mpirun", "srun"):
        jobs[launcher] = cluster.submit(
            "run_case.sbatch", CASE, "-o", tmp_path / launcher, *LONG,
            options=[*options, f"--output={tmp_path / launcher}.out"],
            env=dict(cluster.env, FEMSOLVER_LAUNCHER=launcher))
    jobs["study"] = cluster.submit(
        "li_foil_study.sbatch", *LONG, options=[*options, f"--output={tmp_path / 'study'}.out"],
        env=dict(cluster.env, OUT=str(tmp_path / "study")))
    t0 = time.monotonic()
    records = cluster.wait(list(jobs.values()), timeout=200)
    elapsed = time.monotonic() - t0
    for name, job in jobs.items():
        (record,) = records[job]
        log = log_of(tmp_path / f"{name}.out")
        # 143 = 128 + SIGTERM
        assert record["JobState"] == "FAILED", f"{name}: {state(record)}\n{log}"
        assert record["ExitCode"] == "143:0", f"{name}: {state(record)}\n{log}"
        assert "DUE TO TIME LIMIT" not in (tmp_path / f"{name}.out").read_text(), log
    for run in ("mpirun", "srun", "study/bare"):
        result = summary(tmp_path / run)
        assert result["status"] == "interrupted", run
        assert 0 < result["final_time_s"] < 1
        # a checkpoint of the last step, to go on from
        assert result["checkpoint"]["time_s"] == result["final_time_s"], run
        assert (tmp_path / run / "checkpoint.json").exists(), run
    assert "passing it to the ranks" in (tmp_path / "srun.out").read_text()
    assert "passing it to the ranks" in (tmp_path / "study.out").read_text()
    assert not (tmp_path / "study" / "prs").exists()
    assert not (tmp_path / "study" / "comparison.md").exists()
    assert elapsed < 150  # TERM at 20-50 s after the start, then seconds to stop


def test_restart_job_continues_an_interrupted_run(cluster, tmp_path):
    """A job cut by its time limit, then run_case.sbatch --restart: the second job goes on from
    the first one's checkpoint (here to a few steps later) and completes."""
    first = cluster.submit("run_case.sbatch", CASE, "-o", tmp_path / "run", *LONG,
                           options=["--ntasks=2", "--time=1", "--signal=B:TERM@10",
                                    f"--output={tmp_path}/first.out"])
    (record,) = cluster.wait([first], timeout=200)[first]
    cut = summary(tmp_path / "run")
    assert cut["status"] == "interrupted", log_of(tmp_path / "first.out")
    end = cut["final_time_s"] + 5e-5
    second = cluster.submit("run_case.sbatch", CASE, "-o", tmp_path / "run", *LONG,
                            "--set", f"time.end={end!r}", "--restart", tmp_path / "run",
                            options=["--ntasks=1", f"--output={tmp_path}/second.out"])
    (record,) = cluster.wait([second], timeout=240)[second]
    log = log_of(tmp_path / "second.out")
    assert (record["JobState"], record["ExitCode"]) == ("COMPLETED", "0:0"), log
    result = summary(tmp_path / "run")
    assert result["status"] == "complete" and result["ranks"] == 1, log
    assert result["restarted_from"]["time_s"] == cut["final_time_s"]
    assert result["final_time_s"] == pytest.approx(end)


def test_li_foil_study(cluster, tmp_path):
    """li_foil_study.sbatch: the three seed surfaces, then the comparison."""
    log = tmp_path / "slurm.out"
    job = cluster.submit("li_foil_study.sbatch", *SMALL, options=["--ntasks=2", f"--output={log}"],
                         env=dict(cluster.env, OUT=str(tmp_path / "study")))
    (record,) = cluster.wait([job], timeout=300)[job]
    assert (record["JobState"], record["ExitCode"]) == ("COMPLETED", "0:0"), log_of(log)
    for surface in ("bare", "prs", "ers"):
        assert summary(tmp_path / "study" / surface)["status"] == "complete"
    assert (tmp_path / "study" / "comparison.md").exists()


def test_sweep_array(cluster, tmp_path):
    """sweep.sbatch as a 2-task array: line i of the sweep file goes to task i, results/<name>_<i>."""
    sweep = tmp_path / "sweep.txt"
    sweep.write_text("# i0 sweep\nkinetics.i0=1\n\nkinetics.i0=1e3 control.current_density=50\n")
    job = cluster.submit("sweep.sbatch", CASE, sweep, *SMALL,
                         options=["--array=0-1", "--ntasks=1", f"--output={tmp_path}/slurm-%a.out"],
                         env=dict(cluster.env, RESULTS=str(tmp_path)))
    records = cluster.wait([job], timeout=240)[job]
    assert sorted(r.get("ArrayTaskId") for r in records) == ["0", "1"]
    for r in records:
        assert (r["JobState"], r["ExitCode"]) == ("COMPLETED", "0:0"), log_of(tmp_path / f"slurm-{r['ArrayTaskId']}.out")
    first, second = summary(tmp_path / "li_foil_prs_0"), summary(tmp_path / "li_foil_prs_1")
    assert (first["name"], second["name"]) == ("li_foil_prs_0", "li_foil_prs_1")
    assert first["applied_current_density_A_m2"] == pytest.approx(25.0)
    assert second["applied_current_density_A_m2"] == pytest.approx(50.0)
    # i0 = 1 A/m2 needs a far larger overpotential than 1e3 A/m2
    assert abs(first["overpotential_mean_V"]) > 10 * abs(second["overpotential_mean_V"])
