"""One run: case -> mesh -> coupled problem -> Newton in time -> outputs in one directory.

The geometry family's `problem` selects the problem ("cell": femsolver.problem.CellProblem,
"particle": femsolver.particle.ParticleProblem) and its outputs class (femsolver.postprocess
describes the interface); the time loop below serves both and knows no output types.
`summary.json` is written last; its "status" is "complete", "depleted" (cell runs: the surface
concentration reached the threshold, a result, with its time), "cutoff" (particle runs: the cell
voltage reached control.voltage_min / voltage_max), "interrupted" or "failed".
"""

from __future__ import annotations

import time
from pathlib import Path

from mpi4py import MPI

from femsolver.case import check_runnable
from femsolver.errors import SolverError
from femsolver.mesh import build_domain, write_domain
from femsolver.outputs import tables
from femsolver.outputs.fields import ExportGroup, VTXExport, XDMFExport
from femsolver.solver import Interrupt, start_newton, time_steps

# Statuses of a run that ended with a result.
CONVERGED = ("complete", "depleted", "cutoff")


def _printer(comm, verbose=True):
    def progress(message: str) -> None:
        if verbose and comm.rank == 0:
            print(message, flush=True)
    return progress


def prepare_directory(directory: Path, comm) -> None:
    """Create the output directory and remove a previous summary so no stale result remains."""
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "summary.json").unlink(missing_ok=True)
    comm.barrier()


def build_problem(case, domain):
    """(problem, outputs) for the case's kind of problem."""
    if case.problem == "particle":
        from femsolver.particle import ParticleProblem
        from femsolver.particle_outputs import ParticleOutputs

        problem = ParticleProblem(case, domain)
        return problem, ParticleOutputs(problem)
    from femsolver.postprocess import CellOutputs
    from femsolver.problem import CellProblem

    problem = CellProblem(case, domain)
    return problem, CellOutputs(problem)


class FieldWriter:
    """Refreshes the derived fields and writes them, at most once per time."""

    def __init__(self, outputs, exports: ExportGroup):
        self.outputs, self.exports, self.last = outputs, exports, None

    def write(self, t: float) -> None:
        if t != self.last:
            self.outputs.update()
            self.exports.write(t)
            self.last = t


def _exports(case, directory, outputs) -> ExportGroup:
    exports = []
    if case.output.xdmf:
        exports += [XDMFExport(directory, f) for f in outputs.functions]
    if case.output.vtx:
        exports += [VTXExport(directory, name, functions)
                    for name, functions in outputs.vtx_files().items()]
    return ExportGroup(exports)


def _global_count(comm, problem) -> tuple[int, int]:
    msh = problem.domain.mesh
    cells = msh.topology.index_map(msh.topology.dim).size_global
    dofs = sum(u.function_space.dofmap.index_map.size_global * u.function_space.dofmap.index_map_bs
               for u in problem.unknowns)
    return cells, dofs


def run(case, comm=MPI.COMM_WORLD, verbose: bool = True) -> dict:
    """Run `case`; returns the summary (on every rank) and writes the output directory."""
    check_runnable(case)
    start = time.perf_counter()
    progress = _printer(comm, verbose)
    directory = case.output_directory
    prepare_directory(directory, comm)

    progress(f"femsolver: case '{case.name}' on {comm.size} rank(s) -> {directory}")
    domain = build_domain(case.geometry, case.mesh, comm)
    write_domain(domain, directory)
    problem, outputs = build_problem(case, domain)
    cells, dofs = _global_count(comm, problem)
    progress(f"mesh: {cells} cells, {dofs} unknowns")
    newton = start_newton(problem, case.solver, comm, progress)
    outcome = {"status": "complete", "error": None, **outputs.outcome, "final_time_s": 0.0}

    with newton, _exports(case, directory, outputs) as exports, \
            tables.TimeSeries(directory / "timeseries.csv", list(outputs.row(0.0))) as series, \
            Interrupt(comm) as interrupt:
        writer = FieldWriter(outputs, exports)
        try:
            if case.time.mode == "steady":
                _solve_steady(newton, progress)
                series.append(**outputs.row(0.0))
            else:
                _solve_transient(case, problem, newton, outputs, series, writer, interrupt,
                                 outcome, progress)
        except SolverError as err:
            outcome.update(status="failed", error=str(err))
        writer.write(outcome["final_time_s"])

    summary = {
        "name": case.name,
        "ranks": comm.size,
        "cells": cells,
        "dofs": dofs,
        **outcome,
        "converged": outcome["status"] in CONVERGED,
        **outputs.finish(directory, case.output.pictures),
    }
    summary["wall_time_s"] = comm.allreduce(time.perf_counter() - start, op=MPI.MAX)
    tables.write_json(directory / "summary.json", summary)
    comm.barrier()  # every rank returns only once the files are complete
    progress(f"done: status {summary['status']}, cell voltage {summary['cell_voltage_V']:.6g} V, "
             f"{summary['wall_time_s']:.1f} s")
    if outcome["status"] == "failed":
        raise SolverError(outcome["error"])
    return summary


def _solve_steady(newton, progress) -> None:
    progress("steady solve")
    converged, _ = newton.solve()
    if not converged:
        raise SolverError("the steady Newton solve did not converge; try time.mode = 'transient' "
                          "(it reaches the steady state by time stepping)")


def _solve_transient(case, problem, newton, outputs, series, writer, interrupt, outcome,
                     progress) -> None:
    writer.write(0.0)
    previous = outputs.row(0.0)
    series.append(**previous)
    for step in time_steps(problem, newton, case.time, progress):
        row = outputs.row(step.time)
        series.append(**row)
        outcome["final_time_s"] = step.time
        progress(outputs.progress(step, row))
        stop = outputs.stop(previous, row)
        if stop is not None:
            updates, message = stop
            outcome.update(updates)
            progress(message)
            return
        if interrupt.requested():
            outcome["status"] = "interrupted"
            progress("interrupted: writing the last step and the summary")
            return
        if step.index % case.output.every == 0:
            writer.write(step.time)
        previous = row
