"""`femsolver compare RUNS`: the study of the runs' problem family (cell or particle runs)."""

from __future__ import annotations

from pathlib import Path

from femsolver.outputs.tables import load_summary


def compare(directories: list[str | Path], output: str | Path) -> str:
    """Table and picture comparing finished runs; returns the Markdown table."""
    directories = [Path(d) for d in directories]
    output = Path(output)
    summaries = [load_summary(d) for d in directories]
    if all("capacity_mAh_g" in s for s in summaries):  # particle runs
        from femsolver.problems.particle.study import compare_particles

        return compare_particles(directories, output)
    from femsolver.problems.cell.study import compare_cells

    return compare_cells(directories, summaries, output)
