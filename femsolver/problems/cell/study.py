"""Compare finished cell runs (Li-foil surfaces, planar cells): a table of their key results and a
side-by-side picture of their maps and interface currents."""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLUMNS = {
    "name": "case",
    "status": "status",
    "cell_voltage_V": "cell voltage / V",
    "interface_current_density_mean_A_m2": "mean site current / (A/m2)",
    "interface_current_density_max_A_m2": "peak site current / (A/m2)",
    "interface_current_density_max_over_mean": "max/mean",
    "overpotential_mean_V": "mean overpotential / V",
    "active_area_per_projected_area": "active area / projected area",
    "electric_field_max_V_m": "max |E| / (V/m)",
    "cells": "cells",
    "wall_time_s": "wall time / s",
}


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def write_table(summaries: list[dict], output: Path) -> str:
    """comparison.csv and comparison.md in `output`; returns the Markdown table."""
    output.mkdir(parents=True, exist_ok=True)
    with open(output / "comparison.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS.keys())
        writer.writerows([[s.get(k) for k in COLUMNS] for s in summaries])
    lines = ["| " + " | ".join(COLUMNS.values()) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_format(s.get(k)) for k in COLUMNS) + " |" for s in summaries]
    table = "\n".join(lines) + "\n"
    (output / "comparison.md").write_text(table)
    return table


def _profile(directory: Path) -> tuple[np.ndarray, np.ndarray]:
    """Position (nm) and plating current density along the whole working interface."""
    data = np.genfromtxt(directory / "interface_current.csv", delimiter=",", names=True)
    return data["x"] * 1e9, data["plating_current_density"]


def write_picture(directories: list[Path], summaries: list[dict], output: Path) -> None:
    """comparison.png: current-density and field maps of each run above its interface current."""
    rows = ["current_density.png", "electric_field.png"]
    fig, axes = plt.subplots(len(rows) + 1, len(directories), squeeze=False,
                             figsize=(5 * len(directories), 13))
    for col, (directory, summary) in enumerate(zip(directories, summaries)):
        for row, picture in enumerate(rows):
            ax = axes[row, col]
            ax.axis("off")
            if (directory / picture).exists():
                ax.imshow(mpimg.imread(directory / picture))
        x, i = _profile(directory)
        ax = axes[-1, col]
        ax.plot(x, i, lw=1)
        ax.axhline(summary.get("applied_current_density_A_m2") or 0, color="k", lw=0.8, ls="--",
                   label="applied (projected area)")
        ax.set(xlabel="x / nm", ylabel="plating current density / (A m$^{-2}$)",
               xlim=(x.min(), x.max()), ylim=(0, None),
               title=f"{summary['name']}: max/mean "
                     f"{_format(summary.get('interface_current_density_max_over_mean'))}")
        ax.legend(loc="lower center", fontsize=8)
    fig.tight_layout()
    fig.savefig(output / "comparison.png", dpi=110)
    plt.close(fig)


def compare_cells(directories: list[Path], summaries: list[dict], output: Path) -> str:
    """comparison.{csv,md,png} of finished cell runs; returns the Markdown table."""
    table = write_table(summaries, output)
    write_picture(directories, summaries, output)
    return table
