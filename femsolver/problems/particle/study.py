"""Compare finished particle runs: a table (Markdown + CSV) and pictures of their key results.

    python -m femsolver.problems.particle.study RUN_DIR... -o OUT [--effective EFFECTIVE_DIR...]

Writes OUT/particle_comparison.{md,csv} and OUT/particle_comparison.png (voltage-capacity curves,
intercalation current along the core surface relative to its mean, and the uniformity (coefficient
of variation, CV) of each run). With --effective, the effective.json files of `femsolver effective`
runs on composite volumes add a composite table (EFFECTIVE_COLUMNS: computed tortuosity factors
next to Bruggeman's, the Hashin-Shtrikman bound's and seed 003's measured ones) and a fourth
panel.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from femsolver.outputs.tables import load_summary  # noqa: E402
from femsolver.errors import FemsolverError  # noqa: E402

COLUMNS = {
    "name": "case",
    "status": "status",
    "cutoff_reason": "stopped by",
    "c_rate_per_h": "C-rate / (1/h)",
    "shell_thickness_nm": "shell / nm",
    "active_area_fraction": "active area fraction",
    "capacity_mAh_g": "capacity / (mAh/g)",
    "utilisation": "utilisation",
    "interface_current_density_mean_A_m2": "mean i_n / (A/m2)",
    "interface_current_density_max_over_mean": "max/mean",
    "interface_current_density_cv": "CV of i_n",
    "concentration_gradient_max_over_run_mol_m4": "max grad c_s / (mol/m4)",
    "cell_voltage_V": "final voltage / V",
    "cells": "cells",
    "wall_time_s": "wall time / s",
}
# Columns of the composite table, from the effective.json of `femsolver effective` runs.
EFFECTIVE_COLUMNS = {
    "case": "composite",
    "conducting_fraction": "conducting fraction eps",
    "ratio": "sigma_eff/sigma",
    "tortuosity_factor": "tau^2 (computed)",
    "tortuosity_bruggeman": "tau^2 Bruggeman",
    "tortuosity_bound": "tau^2 at the HS bound",
    "tortuosity_measured": "tau^2 measured (seed 003)",
}
# Seed 003, Table S1: ionic tortuosity factors of its composite cathodes (EIS of
# Li|SSE|composite|SSE|Li), for the cases/composite_*.toml that stand for them.
MEASURED_TORTUOSITY = {"composite_lno_nmc": 6.7, "composite_lpscl_3wt": 2.0,
                       "composite_lpscl_5wt": 1.8, "composite_lpscl_10wt": 1.6}


def load_effective(directory: Path) -> dict:
    """effective.json of a `femsolver effective` run, with the tortuosity factors that the
    Bruggeman and Hashin-Shtrikman conductivities imply and the seed's measured one."""
    path = Path(directory) / "effective.json"
    try:
        e = json.loads(path.read_text())
    except FileNotFoundError:
        raise FemsolverError(f"{path} not found: run `femsolver effective` first") from None
    eps = e["conducting_fraction"]
    return {**e, "tortuosity_bruggeman": eps / e["bruggeman"],
            "tortuosity_bound": eps / e["maxwell"],
            "tortuosity_measured": MEASURED_TORTUOSITY.get(e["case"])}


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _rows(summaries: list[dict]) -> list[dict]:
    rows = []
    for s in summaries:
        t = s.get("shell_thickness_m")
        rows.append({**s, "shell_thickness_nm": None if t is None else t * 1e9})
    return rows


def _markdown(rows: list[dict], columns: dict) -> str:
    lines = ["| " + " | ".join(columns.values()) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_format(r.get(k)) for k in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], effective: list[dict], output: Path) -> str:
    """particle_comparison.{csv,md} (and the composite table when given); returns the Markdown."""
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "particle_comparison.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows([[r.get(k) for k in COLUMNS] for r in rows])
    text = _markdown(rows, COLUMNS)
    if effective:
        with open(output / "composite_tortuosity.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(EFFECTIVE_COLUMNS)
            writer.writerows([[e.get(k) for k in EFFECTIVE_COLUMNS] for e in effective])
        text += "\n" + _markdown(effective, EFFECTIVE_COLUMNS)
    (output / "particle_comparison.md").write_text(text)
    return text


def _csv(path: Path) -> np.ndarray:
    return np.genfromtxt(path, delimiter=",", names=True)


def write_picture(directories: list[Path], rows: list[dict], effective: list[dict],
                  output: Path) -> None:
    """particle_comparison.png: voltage curves, core-surface current profiles, uniformity."""
    panels = 4 if effective else 3
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.4))
    voltage, profile, uniformity = axes[:3]
    for directory, row in zip(directories, rows):
        series = _csv(directory / "timeseries.csv")
        voltage.plot(series["capacity_mAh_g"], series["cell_voltage_V"], label=row["name"])
        surface = _csv(directory / "interface_current.csv")
        mean = row["interface_current_density_mean_A_m2"]
        profile.plot(surface["polar_angle_deg"], surface["intercalation_current_density"] / mean,
                     lw=1, label=row["name"])
    voltage.set(xlabel="capacity / (mAh g$^{-1}$)", ylabel="cell voltage / V vs Li",
                title="Voltage curves")
    profile.set(xlabel="polar angle / degree (0: top)", ylabel="i$_n$ / mean i$_n$",
                title="Intercalation current along the core surface (at the end)")
    names = [r["name"] for r in rows]
    uniformity.bar(range(len(rows)), [r.get("interface_current_density_cv") or 0 for r in rows])
    uniformity.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=8)
    uniformity.set(ylabel="coefficient of variation of i$_n$",
                   title="Non-uniformity of the interface current")
    if effective:
        tortuosity, x = axes[3], np.arange(len(effective))
        tortuosity.bar(x - 0.2, [e["tortuosity_factor"] for e in effective], 0.4,
                       label="computed (dense composite)")
        tortuosity.bar(x + 0.2, [e["tortuosity_measured"] or 0 for e in effective], 0.4,
                       label="measured (seed 003)")
        for key, style, label in (("tortuosity_bruggeman", "k_", "Bruggeman"),
                                  ("tortuosity_bound", "k.", "Hashin-Shtrikman bound")):
            tortuosity.plot(x - 0.2, [e[key] for e in effective], style, ms=14, label=label)
        tortuosity.set_xticks(x, [e["case"] for e in effective], rotation=30, ha="right",
                              fontsize=8)
        tortuosity.set(ylabel=r"ionic tortuosity factor $\tau^2$", title="Composite tortuosity")
        tortuosity.legend(fontsize=7)
    for ax in (voltage, profile):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(output / "particle_comparison.png", dpi=120)
    plt.close(fig)


def compare_particles(directories, output, effective_directories=()) -> str:
    """Table and picture comparing finished particle runs; returns the Markdown table."""
    directories = [Path(d) for d in directories]
    output = Path(output)
    summaries = [load_summary(d) for d in directories]
    for d, s in zip(directories, summaries):
        if "capacity_mAh_g" not in s:
            raise FemsolverError(f"{d} is not a particle run (its summary has no capacity)")
    effective = [load_effective(Path(d)) for d in effective_directories]
    rows = _rows(summaries)
    text = write_tables(rows, effective, output)
    write_picture(directories, rows, effective, output)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femsolver.problems.particle.study",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="output directories of finished particle runs")
    parser.add_argument("-o", "--output", required=True, help="directory for the comparison")
    parser.add_argument("--effective", nargs="*", default=[],
                        help="output directories of `femsolver effective` runs")
    args = parser.parse_args(argv)
    try:
        print(compare_particles(args.runs, args.output, args.effective), end="")
    except FemsolverError as err:
        print(f"femsolver: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
