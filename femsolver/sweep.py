"""`femsolver sweep`: one case over a grid (or zip) of key values, run in parallel batches.

    femsolver sweep CASE --vary kinetics.i0=1,10,100 --vary geometry.active_fraction=0.08,0.56 \\
        -o results/i0_sweep --jobs 4 --ranks 2

Every point is validated before any is run (`femsolver.api.load`). Points run as separate
`femsolver run` processes, `jobs` at a time with `ranks` MPI ranks each (jobs x ranks cores), each
into DIR/pNNN/ (DIR/<name> when the sweep varies `name`) with its log in DIR/logs/. DIR/sweep.json describes the sweep; running the same
command again resumes it: points with a result (complete, depleted, cutoff) or a failure are
kept (--retry-failed reruns failures), the others (interrupted, never run) are run. At the end,
and after an interruption, DIR/sweep.csv collects every point's values, status and figures, and
DIR/sweep_<key>.png plots the figures against each varied key. A SIGINT / SIGTERM is passed on
to the running points (they write their summaries), no new point starts, and the sweep ends
with 128 + the signal number.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from femsolver import api
from femsolver.errors import CaseError, ResourceError
from femsolver.rundir import now_text, take_lock

FINISHED = ("complete", "depleted", "cutoff")
# Figures plotted against the varied keys, where the points report them.
FIGURES = ("cell_voltage_V", "interface_current_density_max_over_mean",
           "interface_current_density_max_A_m2", "overpotential_mean_V",
           "min_surface_concentration_mol_m3", "electric_field_max_V_m", "depletion_time_s",
           "capacity_mAh_g", "utilisation", "interface_current_density_cv", "wall_time_s")


def parse_vary(texts: list[str]) -> dict[str, list]:
    """{"section.key": [values]} from --vary SECTION.KEY=V1,V2,... (TOML values; a value list in
    brackets, [ ... ], may hold commas inside strings)."""
    varied = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        if not sep or ("." not in key and key.strip() != "name"):
            raise CaseError(f"--vary expects section.key=v1,v2,... (or name=...), got '{text}'")
        try:
            values = tomllib.loads(f"v = {raw if raw.startswith('[') else '[' + raw + ']'}")["v"]
        except tomllib.TOMLDecodeError:
            values = [v.strip() for v in raw.split(",")]  # bare words: strings
        if not values:
            raise CaseError(f"--vary {key}: no values")
        if key in varied:
            raise CaseError(f"--vary {key} given twice")
        varied[key.strip()] = values
    if not varied:
        raise CaseError("femsolver sweep needs at least one --vary section.key=v1,v2,...")
    return varied


def points(varied: dict[str, list], zipped: bool) -> list[dict]:
    """The sweep's points: {key: value} each, as a grid or zipped."""
    keys = list(varied)
    if zipped:
        lengths = {len(v) for v in varied.values()}
        if len(lengths) > 1:
            raise CaseError("--zip needs the same number of values for every --vary key, got "
                            + ", ".join(f"{k}: {len(v)}" for k, v in varied.items()))
        rows = zip(*varied.values())
    else:
        rows = itertools.product(*varied.values())
    return [dict(zip(keys, row)) for row in rows]


class Sweep:
    """A sweep's description, points and state on disk."""

    def __init__(self, case_path, varied, zipped, base: list[str], directory, ranks: int):
        self.case_path = Path(case_path)
        self.directory = Path(directory)
        self.ranks = ranks
        self.base = list(base)
        self.varied, self.zipped = varied, zipped
        self.points = points(varied, zipped)
        self.name = api.load(self.case_path, self.base).name
        if "name" in varied and len({str(v) for v in varied["name"]}) < len(self.points):
            raise CaseError("--vary name=...: every point needs its own name (it names the "
                            "point's directory)")
        for index in range(len(self.points)):
            try:
                api.load(self.case_path, self.changes(index), output=self.point_dir(index))
            except CaseError as err:
                raise CaseError(f"point {index} ({_label(self.points[index])}): {err}") from None

    def changes(self, index: int) -> list[str]:
        """The point's --set texts: the sweep's own, its values and its name."""
        named = [] if "name" in self.points[index] else [f'name="{self.name}_p{index:03d}"']
        return [*self.base, *api.overrides(self.points[index]), *named]

    def point_dir(self, index: int) -> Path:
        """DIR/<name> when the sweep varies the name, else DIR/pNNN."""
        name = self.points[index].get("name")
        return self.directory / (str(name) if name is not None else f"p{index:03d}")

    def description(self) -> dict:
        text = self.case_path.read_bytes()
        return {"case": str(self.case_path), "case_sha256": hashlib.sha256(text).hexdigest(),
                "vary": self.varied, "zip": self.zipped, "set": self.base,
                "points": [{"index": i, "values": v, "directory": self.point_dir(i).name}
                           for i, v in enumerate(self.points)]}

    def claim(self, say) -> None:
        """Create or resume the sweep directory; refuse one that holds another sweep."""
        self.directory.mkdir(parents=True, exist_ok=True)
        take_lock(self.directory / "sweep.lock", {
            "case": self.name, "host": socket.gethostname(), "pid": os.getpid(),
            "started": now_text(), "command": " ".join(sys.argv)}, say)
        path = self.directory / "sweep.json"
        wanted = self.description()
        if path.exists():
            earlier = json.loads(path.read_text())
            if earlier != wanted:
                self.release()
                raise ResourceError(f"{self.directory} holds another sweep (its sweep.json "
                                    "differs in case, values or --set): choose another -o")
            say(f"sweep: resuming {self.directory}")
        else:
            path.write_text(json.dumps(wanted, indent=1) + "\n")

    def release(self) -> None:
        (self.directory / "sweep.lock").unlink(missing_ok=True)

    def state(self, index: int) -> dict | None:
        try:
            return api.read(self.point_dir(index)).summary
        except Exception:  # noqa: BLE001 - a point without a readable summary is not done
            return None


def run_sweep(case_path, vary: list[str], zipped: bool, base: list[str], directory,
              jobs: int, ranks: int, retry_failed: bool = False, say=print) -> int:
    """Run (or resume) a sweep; returns the exit code (0 when every point has a result)."""
    if jobs < 1 or ranks < 1:
        raise CaseError("--jobs and --ranks must be at least 1")
    sweep = Sweep(case_path, parse_vary(vary), zipped, base, directory, ranks)
    sweep.claim(say)
    try:
        stopped = _run_points(sweep, jobs, retry_failed, say)
        rows = collect(sweep)
        plot(sweep, rows)
    finally:
        sweep.release()
    done = sum(r["status"] in FINISHED for r in rows)
    say(f"sweep: {done} of {len(rows)} points have a result -> {sweep.directory}/sweep.csv")
    if stopped:
        return 128 + stopped
    return 0 if done == len(rows) else 1


def _run_points(sweep: Sweep, jobs: int, retry_failed: bool, say) -> int:
    """Run the points not yet done, `jobs` at a time; returns the signal that stopped the
    sweep (0: none)."""
    todo = []
    for index in range(len(sweep.points)):
        state = sweep.state(index)
        if state and (state["status"] in FINISHED or
                      (state["status"] == "failed" and not retry_failed)):
            continue
        todo.append(index)
    say(f"sweep: {len(sweep.points)} points, {len(todo)} to run, {jobs} at a time on "
        f"{sweep.ranks} rank(s) each")
    received = []
    old = {s: signal.signal(s, lambda signum, frame: received.append(signum))
           for s in (signal.SIGINT, signal.SIGTERM)}
    running: dict[int, subprocess.Popen] = {}
    logs = sweep.directory / "logs"
    logs.mkdir(exist_ok=True)
    forwarded = False
    try:
        while todo or running:
            if received and not forwarded:  # once: a second one would stop the points at once
                for process in running.values():
                    if process.poll() is None:
                        process.send_signal(received[0])
                todo, forwarded = [], True
            while todo and len(running) < jobs:
                index = todo.pop(0)
                running[index] = _start(sweep, index, logs)
                say(f"sweep: started point {index} ({_label(sweep.points[index])})")
            for index, process in list(running.items()):
                if process.poll() is not None:
                    del running[index]
                    state = sweep.state(index) or {}
                    say(f"sweep: point {index} ended: {state.get('status', 'no summary')} "
                        f"(exit {process.returncode})")
            time.sleep(0.2)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    return received[0] if received else 0


def _start(sweep: Sweep, index: int, logs: Path) -> subprocess.Popen:
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "femsolver"), "run", str(sweep.case_path), "-q",
               "-o", str(sweep.point_dir(index))]
    for text in sweep.changes(index):
        command += ["--set", text]
    if sweep.ranks > 1:
        command = [str(bin_dir / "mpirun"), "-n", str(sweep.ranks), *command]
    with open(logs / f"{sweep.point_dir(index).name}.log", "w") as log:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def collect(sweep: Sweep) -> list[dict]:
    """sweep.csv: a row per point with its values, status, exit code and scalar figures."""
    rows = []
    for index, values in enumerate(sweep.points):
        state = sweep.state(index) or {}
        row = {"point": index, **values, "status": state.get("status", "not run"),
               "exit_code": state.get("exit_code"), "directory": sweep.point_dir(index).name}
        row.update({k: v for k, v in state.items() if k in FIGURES})
        row["error"] = state.get("error")
        rows.append(row)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(sweep.directory / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def plot(sweep: Sweep, rows: list[dict]) -> None:
    """sweep_<key>.png for each varied key: every reported figure against it, one line per
    combination of the other varied keys."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [f for f in FIGURES if any(isinstance(r.get(f), (int, float)) for r in rows)]
    if not figures:
        return
    for key, values in sweep.varied.items():
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        others = [k for k in sweep.varied if k != key]
        groups = {}
        for r in rows:
            groups.setdefault(tuple(r[k] for k in others), []).append(r)
        cols = min(3, len(figures))
        fig, axes = plt.subplots((len(figures) + cols - 1) // cols, cols, squeeze=False,
                                 figsize=(4.2 * cols, 3.2 * ((len(figures) + cols - 1) // cols)))
        for ax, figure in zip(axes.flat, figures):
            for group, members in groups.items():
                members = [m for m in members if isinstance(m.get(figure), (int, float))]
                if not members:
                    continue
                x = [m[key] if numeric else values.index(m[key]) for m in members]
                label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in zip(others, group))
                ax.plot(x, [m[figure] for m in members], "o-", label=label or None)
            if numeric and min(values) > 0 and max(values) / min(values) > 100:
                ax.set_xscale("log")
            if not numeric:
                ax.set_xticks(range(len(values)), [str(v) for v in values])
            ax.set(xlabel=key, title=figure)
            if others:
                ax.legend(fontsize=7)
        for ax in list(axes.flat)[len(figures):]:
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(sweep.directory / f"sweep_{key.replace('.', '_')}.png", dpi=100)
        plt.close(fig)


def _label(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items())
