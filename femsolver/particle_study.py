"""Compare finished particle runs: a table (Markdown + CSV) and pictures of their key results.

    python -m femsolver.particle_study RUN_DIR... -o OUT [--effective EFFECTIVE_DIR...]

Writes OUT/particle_comparison.{md,csv} and OUT/particle_comparison.png (voltage-capacity curves,
intercalation current along the core surface relative to its mean, and the uniformity (coefficient
of variation, CV) of each run). With --effective, the summary.json files of `femsolver effective`
runs on composite volumes add their tortuosity factors (keys in EFFECTIVE_KEYS) to the table and
as a fourth panel.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from femsolver.compare import load_summary  # noqa: E402
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
# Keys read from the summary.json of an effective-properties run (femsolver effective).
EFFECTIVE_KEYS = {
    "name": "composite",
    "conducting_fraction": "conducting fraction",
    "relative_conductivity": "sigma_eff/sigma",
    "tortuosity_factor": "tau^2",
}


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
            writer.writerow(EFFECTIVE_KEYS)
            writer.writerows([[e.get(k) for k in EFFECTIVE_KEYS] for e in effective])
        text += "\n" + _markdown(effective, EFFECTIVE_KEYS)
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
        tortuosity = axes[3]
        tortuosity.bar(range(len(effective)), [e.get("tortuosity_factor") or 0 for e in effective])
        tortuosity.set_xticks(range(len(effective)), [e.get("name", "") for e in effective],
                              rotation=30, ha="right", fontsize=8)
        tortuosity.set(ylabel=r"ionic tortuosity factor $\tau^2$", title="Composite tortuosity")
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
    effective = [load_summary(Path(d)) for d in effective_directories]
    rows = _rows(summaries)
    text = write_tables(rows, effective, output)
    write_picture(directories, rows, effective, output)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m femsolver.particle_study",
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
