"""Cost of a plating run per simulated second and per remesh (docs/performance.md, "Plating").

    .venv/bin/python benchmarks/plating.py                      # the three seed cases, 2 ranks
    .venv/bin/python benchmarks/plating.py --np 1 --case cases/plating_ers.toml --set KEY=VALUE
    .venv/bin/python benchmarks/plating.py --runs results/plating_study/*/   # finished runs

Runs `femsolver run CASE` under mpirun with the pictures and the ParaView series off (their
cost is the writer's, not the solver's), then reads the run's summary.json: wall time of the
steps (surface velocity, mesh motion, Newton) and of the remeshes (gmsh, transfer, settling the
potentials), their counts and the simulated time. `--runs` reads finished runs instead (their
outputs included in the steps stage). Timings are wall times: on a shared machine they are only
as good as the load line printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CASES, _machine_busy_seconds, fmt, machine, mpirun, table  # noqa: E402

QUIET_OUTPUTS = ["output.pictures=false", "output.xdmf=false"]


def run_case(case: Path, ranks: int, overrides: list[str], out: Path) -> dict:
    """Run a case under mpirun into `out`; its summary."""
    command = [mpirun(), "-n", str(ranks), str(Path(sys.executable).parent / "femsolver"),
               "run", str(case), "-q", "-o", str(out)]
    for item in QUIET_OUTPUTS + overrides:
        command += ["--set", item]
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True)
    return json.loads((out / "summary.json").read_text())


def row(name: str, summary: dict) -> list:
    """Table row: costs per simulated second, per step and per remesh, s."""
    simulated = summary["final_time_s"]
    steps, remeshes = summary["steps"], summary["remeshes"]
    step_s, remesh_s = summary["step_wall_time_s"], summary["remesh_wall_time_s"]
    return [name, summary.get("ranks"), summary["cells"], summary["status"], fmt(simulated),
            steps, remeshes, fmt(summary["stage_times_s"]["steps"]), fmt(step_s), fmt(remesh_s),
            fmt((step_s + remesh_s) / simulated), fmt(step_s / steps),
            fmt(remesh_s / remeshes if remeshes else None)]


HEADER = ["run", "ranks", "cells (t=0)", "status", "simulated s", "steps", "remeshes",
          "steps stage s", "in steps s", "in remeshes s", "wall s / simulated s", "s / step",
          "s / remesh"]


def main(argv=None) -> list[list]:
    """Print the table; its rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=Path, action="append",
                        help="plating case (repeatable; default: cases/plating_{bare,prs,ers})")
    parser.add_argument("--np", type=int, default=2, help="MPI ranks (default 2)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="case override, all runs (repeatable)")
    parser.add_argument("--runs", type=Path, nargs="+", help="read these finished runs instead")
    args = parser.parse_args(argv)

    if args.runs:
        rows = [row(d.name, json.loads((d / "summary.json").read_text())) for d in args.runs]
        print(table(HEADER, rows, "Plating runs (read from their summaries)"))
        return rows
    cases = args.case or [CASES / f"plating_{s}.toml" for s in ("bare", "prs", "ers")]
    busy, start = _machine_busy_seconds(), time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for case in cases:
            summary = run_case(case, args.np, args.overrides, Path(scratch) / case.stem)
            rows.append(row(case.stem, summary))
    wall = time.perf_counter() - start
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    others = (_machine_busy_seconds() - busy - children.ru_utime - children.ru_stime) / wall
    print(f"# {machine()}; other processes used {max(others, 0.0):.2f} of {os.cpu_count()} "
          f"CPUs on average during the {wall:.0f} s")
    print(table(HEADER, rows, f"Plating runs on {args.np} rank(s), pictures and ParaView off"))
    return rows


if __name__ == "__main__":
    main()
