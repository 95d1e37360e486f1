"""Compare finished plating runs: a table (Markdown + CSV) and a picture of roughness and
deposit height against plated charge, with each run's final surface. The table also gives
max height and roughness at the charge every run reached (a run that stopped early, e.g. with
status contact, is compared with the others at equal charge).

    python -m femsolver.plating.study RUN_DIR... -o OUT
writes OUT/plating_comparison.{md,csv,png}. Lengths in nm, charges in C/m2 (1 mAh/cm2 =
36000 C/m2), times in s.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from mpi4py import MPI

from femsolver.outputs import tables

COLUMNS = {  # column of the table: (summary key, factor)
    "status": ("status", None),
    "plated charge (C/m2)": ("plated_charge_C_m2", 1.0),
    "mean thickness (nm)": ("mean_thickness_m", 1e9),
    "max height (nm)": ("max_height_m", 1e9),
    "rms roughness (nm)": ("rms_roughness_m", 1e9),
    "short-circuit time (s)": ("short_circuit_time_s", 1.0),
    "contact time (s)": ("contact_time_s", 1.0),
    "Li volume error (rel)": ("li_volume_relative_error", 1.0),
    "remeshes": ("remeshes", None),
    "steps": ("steps", None),
    "wall time (s)": ("wall_time_s", 1.0),
}

NOTES = {  # what a status in the table means for the comparison
    "contact": "neighbouring deposits met (they would merge into one film, a topology change "
               "that the moving mesh cannot follow): the run stopped at that charge.",
    "shorted": "a deposit reached the counter electrode at the short-circuit time.",
}


def _csv(path: Path) -> dict[str, np.ndarray]:
    data = np.genfromtxt(path, delimiter=",", names=True)
    return {name: np.atleast_1d(data[name]) for name in data.dtype.names}


def _value(summary: dict, key: str, factor):
    value = summary.get(key)
    if value is None or factor is None:
        return value
    return value * factor


def compare(directories: list[Path], out: Path) -> None:
    """Write the table and the picture for the runs in `directories`."""
    runs = [(d.name, tables.load_summary(d), _csv(d / "timeseries.csv"), _csv(d / "surface.csv"))
            for d in directories]
    out.mkdir(parents=True, exist_ok=True)
    rows = {"run": [name for name, *_ in runs]}
    for column, (key, factor) in COLUMNS.items():
        rows[column] = [_value(summary, key, factor) for _, summary, *_ in runs]
    common = min(series["plated_charge_C_m2"][-1] for _, _, series, _ in runs)
    for column, key in (("max height", "max_height_m"), ("rms roughness", "rms_roughness_m")):
        rows[f"{column} at {common:.4g} C/m2 (nm)"] = [
            1e9 * float(np.interp(common, series["plated_charge_C_m2"], series[key]))
            for _, _, series, _ in runs]
    tables.write_csv(out / "plating_comparison.csv", rows, comm=MPI.COMM_SELF)
    lines = ["| " + " | ".join(rows) + " |", "|" + "---|" * len(rows)]
    for k in range(len(runs)):
        cells = [rows[c][k] for c in rows]
        lines.append("| " + " | ".join(_text(v) for v in cells) + " |")
    lines += [f"\n{status}: {NOTES[status]}" for status in sorted(set(rows["status"]))
              if status in NOTES]
    (out / "plating_comparison.md").write_text("\n".join(lines) + "\n")
    _picture(runs, out / "plating_comparison.png")


def _text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _picture(runs, path: Path) -> None:
    fig = plt.figure(figsize=(13, 8.5))
    grid = fig.add_gridspec(2, 2, height_ratios=[1.6, 1])
    axes = [fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1]),
            fig.add_subplot(grid[1, :])]
    for name, summary, series, surface in runs:
        charge = series["plated_charge_C_m2"]
        axes[0].plot(charge, series["rms_roughness_m"] * 1e9, label=name)
        axes[1].plot(charge, series["max_height_m"] * 1e9, label=name)
        last = surface["time_s"] == surface["time_s"].max()
        axes[2].plot(surface["x_m"][last] * 1e9, surface["y_m"][last] * 1e9,
                     label=f"{name} ({summary['status']})")
    axes[0].set(xlabel="plated charge / (C m$^{-2}$)", ylabel="rms roughness / nm",
                title="Roughness of the height map")
    axes[1].set(xlabel="plated charge / (C m$^{-2}$)", ylabel="max height / nm",
                title="Highest point of the Li surface")
    axes[2].set(xlabel="x / nm", ylabel="height / nm", title="Final surfaces")
    axes[2].set_aspect("equal")
    for ax in axes:
        ax.grid(True, lw=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args(argv)
    compare(args.runs, args.output)


if __name__ == "__main__":
    main()
