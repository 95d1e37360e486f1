"""One run: case -> mesh -> coupled problem -> Newton in time -> outputs in one directory.

`summary.json` is written last; its "status" is "complete", "depleted" (the surface
concentration reached the threshold: a result, with its time), "interrupted" or "failed".
"""

from __future__ import annotations

import time
from pathlib import Path

from mpi4py import MPI

from femsolver.errors import SolverError
from femsolver.mesh import build_domain, write_domain
from femsolver.outputs import pictures, tables
from femsolver.outputs.fields import ExportGroup, VTXExport, XDMFExport
from femsolver.postprocess import DerivedFields, InterfaceProbe, Metrics, gather
from femsolver.problem import CellProblem
from femsolver.solver import Interrupt, start_newton, time_steps


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


class FieldWriter:
    """Refreshes the derived fields and writes them, at most once per time."""

    def __init__(self, fields: DerivedFields, exports: ExportGroup):
        self.fields, self.exports, self.last = fields, exports, None

    def write(self, t: float) -> None:
        if t != self.last:
            self.fields.update()
            self.exports.write(t)
            self.last = t


def _exports(case, directory, fields, comm) -> ExportGroup:
    exports = []
    if case.output.xdmf:
        exports += [XDMFExport(directory, f) for f in fields.functions]
    if case.output.vtx:
        by_mesh = {}
        for f in fields.functions:
            by_mesh.setdefault(f.function_space.mesh, []).append(f)
        for k, functions in enumerate(by_mesh.values()):
            name = "electrolyte.bp" if k == 0 else "electrode.bp"
            exports.append(VTXExport(directory, name, functions))
    return ExportGroup(exports)


def _global_count(comm, problem) -> tuple[int, int]:
    msh = problem.domain.mesh
    cells = msh.topology.index_map(msh.topology.dim).size_global
    dofs = sum(u.function_space.dofmap.index_map.size_global * u.function_space.dofmap.index_map_bs
               for u in problem.unknowns)
    return cells, dofs


def run(case, comm=MPI.COMM_WORLD, verbose: bool = True) -> dict:
    """Run `case`; returns the summary (on every rank) and writes the output directory."""
    start = time.perf_counter()
    progress = _printer(comm, verbose)
    directory = case.output_directory
    prepare_directory(directory, comm)

    progress(f"femsolver: case '{case.name}' on {comm.size} rank(s) -> {directory}")
    domain = build_domain(case.geometry, case.mesh, comm)
    write_domain(domain, directory)
    problem = CellProblem(case, domain)
    cells, dofs = _global_count(comm, problem)
    progress(f"mesh: {cells} cells, {dofs} unknowns")
    newton = start_newton(problem, case.solver, comm, progress)

    fields = DerivedFields(problem)
    probe = InterfaceProbe(problem)
    metrics = Metrics(problem, fields, problem.surface_dofs())
    outcome = {"status": "complete", "error": None, "depletion_time_s": None, "final_time_s": 0.0}

    with newton, _exports(case, directory, fields, comm) as exports, \
            tables.TimeSeries(directory / "timeseries.csv",
                              list(metrics.step_row(0.0))) as series, \
            Interrupt(comm) as interrupt:
        writer = FieldWriter(fields, exports)
        try:
            if case.time.mode == "steady":
                _solve_steady(newton, progress)
                series.append(**metrics.step_row(0.0))
            else:
                _solve_transient(case, problem, newton, metrics, series, writer, interrupt,
                                 outcome, progress)
        except SolverError as err:
            outcome.update(status="failed", error=str(err))
        writer.write(outcome["final_time_s"])

    profile = probe.sample()
    summary = {
        "name": case.name,
        "ranks": comm.size,
        "cells": cells,
        "dofs": dofs,
        **outcome,
        "converged": outcome["status"] in ("complete", "depleted"),
        "active_fraction": getattr(case.geometry, "active_fraction", None),
        **metrics.summary(profile),
    }
    everywhere = gather(comm, profile)
    if comm.rank == 0:
        tables.write_csv(directory / "interface_current.csv", everywhere)
    if case.output.pictures:
        _pictures(directory, fields, everywhere, domain.mesh.geometry.dim, comm)
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


def _solve_transient(case, problem, newton, metrics, series, writer, interrupt, outcome,
                     progress) -> None:
    threshold = case.time.depletion_threshold * case.electrolyte.c0
    writer.write(0.0)
    previous = metrics.step_row(0.0)
    series.append(**previous)
    for step in time_steps(problem, newton, case.time, progress):
        row = metrics.step_row(step.time)
        series.append(**row)
        outcome["final_time_s"] = step.time
        c_min = row["min_surface_concentration_mol_m3"]
        progress(f"  t = {step.time:.4e} s: V = {row['cell_voltage_V']:.6f} V, "
                 f"{step.iterations} Newton iterations, min surface c = {c_min:.7g} mol/m3")
        if c_min <= threshold:
            # Linear interpolation of the crossing between the last two steps.
            c_prev, t_prev = previous["min_surface_concentration_mol_m3"], previous["time_s"]
            t_cross = t_prev + (step.time - t_prev) * (c_prev - threshold) / (c_prev - c_min)
            outcome.update(status="depleted", depletion_time_s=t_cross)
            progress(f"surface concentration reached {threshold:.3g} mol/m3 "
                     f"(time.depletion_threshold x c0) at t = {t_cross:.4e} s: stopping")
            return
        if interrupt.requested():
            outcome["status"] = "interrupted"
            progress("interrupted: writing the last step and the summary")
            return
        if step.index % case.output.every == 0:
            writer.write(step.time)
        previous = row


def _pictures(directory: Path, fields, profile, dim, comm) -> None:
    pictures.plot_map(fields.i, directory / "current_density.png",
                      title="Current density |i|", label="|i| / (A m$^{-2}$)", magnitude=True)
    pictures.plot_map(fields.E, directory / "electric_field.png",
                      title="Electric field |E|", label="|E| / (V m$^{-1}$)", magnitude=True)
    pictures.plot_map(fields.c, directory / "concentration.png",
                      title="Salt concentration c", label="c / (mol m$^{-3}$)")
    title = "Current density along the working interface (> 0: Li plating)"
    label = "normal current density / (A m$^{-2}$)"
    if comm.rank != 0:
        return
    if dim == 2:
        pictures.plot_profile(profile["x"] * 1e9,
                              {"plating current density": profile["plating_current_density"]},
                              directory / "interface_current.png", xlabel="x / nm",
                              ylabel=label, title=title)
    else:
        pictures.plot_surface(profile["x"] * 1e9, profile["y"] * 1e9,
                              profile["plating_current_density"],
                              directory / "interface_current.png", title=title, label=label)
