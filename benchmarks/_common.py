"""Shared pieces of the benchmark scripts: case loading, timers, tables, memory, mpirun.

The scripts print figures to compare as ratios within one run; they are not timed tests.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import femsolver  # noqa: F401  (imports dolfinx_solver before dolfinx / petsc4py)
from mpi4py import MPI

REPO = Path(__file__).resolve().parents[1]
CASES = REPO / "cases"
DEFAULT_CASE = CASES / "li_foil_prs.toml"
SEED_CASES = [CASES / f"li_foil_{s}.toml" for s in ("bare", "prs", "ers")]
DEFAULT_PLOT = REPO / "docs" / "img" / "scaling.png"

COMM = MPI.COMM_WORLD


def say(*args, **kwargs) -> None:
    """print() on rank 0 only, flushed."""
    if COMM.rank == 0:
        print(*args, **kwargs, flush=True)


def quiet(_message: str) -> None:
    """A progress callback that prints nothing."""


def load(case_path, overrides=(), refine: int | None = None):
    """A case with `--set` overrides and, if given, `mesh.refine`."""
    from femsolver.case import load_case

    extra = [] if refine is None else [f"mesh.refine={refine}"]
    return load_case(case_path, list(overrides) + extra)


@contextmanager
def timer(out: dict, key: str, comm=COMM):
    """Wall time of the block (s), between barriers so it is the slowest rank's time."""
    comm.barrier()
    start = time.perf_counter()
    yield
    comm.barrier()
    out[key] = out.get(key, 0.0) + time.perf_counter() - start


def max_over_ranks(value: float, comm=COMM) -> float:
    return comm.allreduce(value, op=MPI.MAX)


def global_cells(mesh) -> int:
    return mesh.topology.index_map(mesh.topology.dim).size_global


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss_bytes() -> int:
    """Resident set size of this process now (from /proc; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


def _machine_busy_seconds() -> float:
    """CPU-seconds all processes of the machine have used since boot (/proc/stat; 0 if none)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq = map(int, fields[:7])
    except (OSError, ValueError):
        return 0.0
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class Usage:
    """How clean a run's machine was: figures are only as good as these.

    cpu_share = CPU time of the process / wall time (lowest rank): MPICH ranks spin while they
    wait, so each rank of an uncontended run stays near 1. others = CPUs used on average by
    every other process of the machine during the run (from /proc/stat, minus this run's own
    CPU time): near 0 on a quiet machine.
    """

    def __init__(self):
        COMM.barrier()
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        self.busy = _machine_busy_seconds()

    def summary(self) -> dict:
        COMM.barrier()
        wall = time.perf_counter() - self.wall
        own = time.process_time() - self.cpu
        others = (_machine_busy_seconds() - self.busy - COMM.allreduce(own)) / wall
        return {"cpu_share_min": COMM.allreduce(own / wall, op=MPI.MIN),
                "others_cpus": max(COMM.bcast(others, root=0), 0.0),
                "cpus": os.cpu_count(), "wall_s": wall}

    @staticmethod
    def line(u: dict) -> str:
        return (f"# CPU share (lowest rank) {u['cpu_share_min']:.2f}; other processes used "
                f"{u['others_cpus']:.2f} of {u['cpus']} CPUs on average; {u['wall_s']:.0f} s")


def table(header: list[str], rows: list[list], title: str | None = None) -> str:
    """A fixed-width text table (right-aligned), as printed by the scripts."""
    cells = [[str(h) for h in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[k]) for r in cells) for k in range(len(header))]
    lines = [title] if title else []
    for n, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value, digits: int = 3) -> str:
    """Seconds and ratios: 3 significant digits; None as '-'."""
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}" if abs(value) < 1e4 else f"{value:.3e}"


def machine() -> str:
    """CPU model and logical CPU count, from lscpu (or /proc/cpuinfo)."""
    model = None
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return f"{model or 'unknown CPU'}, {os.cpu_count()} logical CPUs"


def mpirun() -> str:
    """The mpirun next to this Python (the venv's), else the one on PATH."""
    local = Path(sys.executable).parent / "mpirun"
    found = str(local) if local.exists() else shutil.which("mpirun")
    if not found:
        raise SystemExit("no mpirun found next to this Python or on PATH")
    return found


def run_ranks(script: Path, argv: list[str], ranks: int, json_path: Path) -> dict:
    """Run `script argv --json json_path` under `mpirun -n ranks`; its output streams through."""
    command = [mpirun(), "-n", str(ranks), sys.executable, str(script), *argv,
               "--json", str(json_path)]
    say("$ " + " ".join(command[:1] + [Path(c).name if k == 3 else c
                                        for k, c in enumerate(command[1:], 1)]))
    # A clean environment for the child mpirun: no PMI variables of an enclosing MPI job.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "MPI_"))}
    subprocess.run(command, check=True, env=env)
    return json.loads(json_path.read_text())


def write_json(path, data) -> None:
    if COMM.rank == 0 and path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=1))
    COMM.barrier()
