"""One run: case -> mesh -> coupled problem -> Newton in time -> outputs in one directory.

The geometry family's `problem` selects the problem family (`femsolver.problems`: cell or
particle) and its outputs class (femsolver/problems/cell/outputs.py describes the interface); the
time loop below serves both and knows no output types.

A run is a transaction (femsolver.rundir): it locks its output directory, writes into
DIR/in-progress/ and, however it ends, moves what it wrote into DIR, then writes the manifest
and, last, `summary.json`. Its stages (femsolver.guard.STAGES) end on every rank alike: a
failure or a signal on any rank stops all of them with one message. The summary's "status" is
"complete", "depleted" (cell runs: the surface concentration reached the threshold, a result,
with its time), "shorted" / "contact" (plating runs, femsolver/plating/run.py), "cutoff"
(particle runs: the cell voltage reached control.voltage_min / voltage_max), "interrupted" or
"failed"; "error" and "stage" say what stopped a run early.
"""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

from mpi4py import MPI

from femsolver import checkpoint, provenance
from femsolver.case import check_runnable
from femsolver.errors import FemsolverError, Interrupted, SolverError
from femsolver.guard import Guard
from femsolver.jit import clear_stale_compilations
from femsolver.mesh import build_domain, write_domain
from femsolver.outputs import tables
from femsolver.outputs.fields import ExportGroup, VTXExport, XDMFExport, mesh_bytes
from femsolver.problems import build_problem
from femsolver.progress import Progress
from femsolver.rundir import RunDirectory, now_text
from femsolver.solver import start_newton
from femsolver.time_stepping import StepperState, time_steps

# Statuses of a run that ended with a result.
CONVERGED = ("complete", "depleted", "cutoff", "shorted", "contact")
# Room that the final tables and pictures need, bytes: their writes would fail cleanly, but on
# rank 0 only while the other ranks gather for the next picture.
FINAL_OUTPUTS_BYTES = 2 << 20


@contextmanager
def guarded(comm, guard: Guard | None):
    """`guard`, or a new one installed for the duration (runs started from Python)."""
    if guard is not None:
        yield guard
        return
    with Guard(comm) as new:
        yield new


@contextmanager
def run_directory(path, name: str, comm, guard: Guard, progress):
    """Claim an output directory for a command; the watchdog keeps its lock fresh."""
    directory = RunDirectory(path, comm, name, progress)
    try:
        with guard.stage("directory"):
            directory.claim()
    except FemsolverError as err:
        if directory.held:  # claimed, then a signal: say so there
            directory.commit({"name": name, "ranks": comm.size, "started": directory.started,
                              "status": err.status, "converged": False, "error": str(err),
                              "stage": guard.stage_text, "exit_code": err.exit_code,
                              "ended": now_text()})
        raise
    if comm.rank == 0:
        guard.keep_lock(directory.lock)
    try:
        yield directory
    finally:
        guard.record = None
        guard.prepare_summary(None)
        guard.keep_lock(None)


class FieldWriter:
    """Refreshes the derived fields and writes them, at most once per time, if there is room."""

    def __init__(self, outputs, exports: ExportGroup, directory: RunDirectory):
        self.outputs, self.exports, self.directory, self.last = outputs, exports, directory, None

    def write(self, t: float) -> None:
        if t != self.last:
            self.directory.require_space(self.exports.nbytes)
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


def _global_count(problem) -> tuple[int, int]:
    msh = problem.domain.mesh
    cells = msh.topology.index_map(msh.topology.dim).size_global
    dofs = sum(u.function_space.dofmap.index_map.size_global * u.function_space.dofmap.index_map_bs
               for u in problem.unknowns)
    return cells, dofs


class Run:
    """The state of one run that its summary is made from, whatever stage it ended in."""

    def __init__(self, case, comm, directory: RunDirectory):
        self.case, self.comm, self.directory = case, comm, directory
        self.start = time.perf_counter()
        self.facts = {"name": case.name, "ranks": comm.size, "started": directory.started}
        self.provenance = provenance.record(case, comm)
        self.outcome = {"status": "complete", "error": None, "stage": None,
                        "final_time_s": 0.0}

    def stopped(self, error: FemsolverError, stage: str) -> None:
        self.outcome.update(status=error.status, error=str(error), stage=stage,
                            exit_code=error.exit_code)

    def steps(self, guard, steps, progress, interrupted: str) -> FemsolverError | None:
        """Run `steps()` as the steps stage. An error that ends them is recorded and returned,
        so that what was done is still written; an interrupt is acknowledged on every rank."""
        try:
            with guard.stage("steps"):
                steps()
        except FemsolverError as err:
            self.stopped(err, guard.stage_text)
            if isinstance(err, Interrupted):
                progress(interrupted)
                guard.acknowledge()
            return err
        return None

    def results(self, error: FemsolverError | None, results: dict) -> dict:
        """`results` once the outputs are written, or the error that stopped the steps."""
        if error is not None:
            self.facts.update(results)
            raise error
        return results

    def summary(self, results: dict | None = None) -> dict:
        summary = {**self.facts, **self.outcome,
                   "converged": self.outcome["status"] in CONVERGED, **(results or {}),
                   "ended": now_text(),
                   "wall_time_s": time.perf_counter() - self.start, **self.provenance}
        if summary["error"] is None:
            del summary["stage"]
        return summary

    def record(self, guard, stage: str, error: FemsolverError | None) -> None:
        """Keep the summary that the watchdog writes if it has to kill the run: on rank 0 at
        each stage and step, on another rank when it meets an error."""
        if self.comm.rank != 0 and error is None:
            return
        state = self.summary()
        state.update(stage=stage, error=str(error) if error else None)
        guard.prepare_summary(self.directory.note(f"summary.rank{self.comm.rank}", state))


def run(case, comm=MPI.COMM_WORLD, verbose: bool = True, guard: Guard | None = None,
        restart: str | Path | None = None) -> dict:
    """Run `case` into its output directory; returns the summary (on every rank), also for a
    run that failed or was interrupted: its "exit_code" is the process's (femsolver.errors).
    `restart`: the directory of an earlier run of the case to continue from its checkpoint.

    Raises (a FemsolverError) only before the output directory is claimed: bad input, or a
    directory that cannot be used.
    """
    check_runnable(case)
    progress = Progress(comm, verbose)
    with guarded(comm, guard) as guard:
        if restart is not None:
            with guard.stage("case"):
                checkpoint.check_restart(case, checkpoint.read_pointer(Path(restart), comm)[1])
        return _run(case, comm, progress, guard, restart)


def _restart_at(restart, comm) -> tuple[Path, dict] | None:
    """The checkpoint to restart from, found after the claim (which may have moved it)."""
    if restart is None:
        return None
    return checkpoint.read_pointer(Path(restart), comm)


def _run(case, comm, progress, guard, restart) -> dict:
    """The run in its claimed output directory (run's body)."""
    with run_directory(case.output_directory, case.name, comm, guard, progress) as directory:
        progress(f"femsolver: case '{case.name}' on {comm.size} rank(s) -> {directory.path}")
        state = Run(case, comm, directory)
        guard.record = lambda stage, err: state.record(guard, stage, err)
        error, results = None, {}
        resources = ExitStack()
        try:
            try:
                results = _solve(case, comm, guard, state, resources, progress,
                                 _restart_at(restart, comm))
            finally:
                with guard.collect():  # closing files can fail too (disk full)
                    resources.close()
        except FemsolverError as err:
            error = err
            if state.outcome["error"] is None:
                state.stopped(err, guard.stage_text)
        summary = state.summary(results)
        summary["exit_code"] = error.exit_code if error is not None else 0
        summary["wall_time_s"] = comm.allreduce(summary["wall_time_s"], op=MPI.MAX)
        summary["stage_times_s"] = {k: comm.allreduce(v, op=MPI.MAX)
                                    for k, v in guard.stage_seconds.items()}
        directory.commit(summary)
        if error is None:
            progress(f"done: status {summary['status']}, cell voltage "
                     f"{summary['cell_voltage_V']:.6g} V, {summary['wall_time_s']:.1f} s")
        return summary


def _solve(case, comm, guard, state: Run, resources: ExitStack, progress,
           restart: tuple[Path, dict] | None) -> dict:
    """The stages from meshing to the final outputs; returns the summary's results. An error
    after the time loop started still writes the last state, a checkpoint and the results."""
    if case.plating.enabled:  # the surface grows: a moving mesh (femsolver.plating)
        from femsolver.plating.run import solve

        return solve(case, comm, guard, state, resources, progress, restart)
    staging = state.directory.staging
    with guard.stage("mesh"):
        if restart is not None:
            domain = checkpoint.read_domain(*restart, case.geometry, comm)
        else:
            domain = build_domain(case.geometry, case.mesh, comm)
        # HDF5 aborts the process when the disk fills up mid-write: check before each write.
        state.directory.require_space(3 * mesh_bytes(domain.mesh))  # two tag files
        write_domain(domain, staging)
    with guard.stage("setup"):
        if comm.rank == 0:
            clear_stale_compilations()
        problem, outputs = build_problem(case, domain)
        cells, dofs = _global_count(problem)
        state.facts.update(cells=cells, dofs=dofs)
        state.outcome.update(outputs.outcome)
        progress(f"mesh: {cells} cells, {dofs} unknowns")
    with guard.stage("solver"):
        newton = resources.enter_context(start_newton(problem, case.solver, comm, progress,
                                                      staging))
        files = len(outputs.functions) + len(outputs.vtx_files())
        state.directory.require_space((files + 1) * mesh_bytes(domain.mesh))
        exports = resources.enter_context(_exports(case, staging, outputs))
        series = resources.enter_context(
            tables.TimeSeries(staging / "timeseries.csv", list(outputs.row(0.0)), comm=comm))
        loop = Transient(case, problem, newton, outputs, series,
                         FieldWriter(outputs, exports, state.directory),
                         _checkpointer(case, staging, domain, problem, comm, progress))
        if restart is not None:
            loop.resume(*restart)
            state.facts["restarted_from"] = {"directory": str(restart[0].parent),
                                             "time_s": loop.stepper.time}
            progress(f"restarted from {restart[0].parent} at t = {loop.stepper.time:.4e} s")
    def steps():
        if case.time.mode == "steady":
            _solve_steady(newton, progress)
            series.append(**outputs.row(0.0))
        else:
            loop.run(guard, state.outcome, progress)

    error = state.steps(guard, steps, progress,
                        "interrupted: writing the last step, a checkpoint and the summary")
    with guard.stage("outputs"):
        loop.writer.write(state.outcome["final_time_s"])
        if error is None or isinstance(error, Interrupted):
            loop.checkpoint(final=True)
        state.directory.require_space(FINAL_OUTPUTS_BYTES)
        results = outputs.finish(staging, case.output.pictures)
        results["checkpoint"] = loop.checkpointer.finish() if loop.checkpointer else None
        results["solver"] = newton.stats.summary(comm, newton.problem.timings)
    return state.results(error, results)


def _checkpointer(case, staging, domain, problem, comm, progress):
    """Checkpoints of a transient run (output.checkpoint), if io4dolfinx is here."""
    if case.time.mode != "transient" or not case.output.checkpoint:
        return None
    if not checkpoint.available():
        progress("no checkpoints: io4dolfinx with an MPI ADIOS2 is not installed (run "
                 "scripts/install_checkpoint_io.sh)")
        return None
    return checkpoint.Checkpointer(staging, domain, problem, case, comm)


def _solve_steady(newton, progress) -> None:
    progress("steady solve")
    converged, _ = newton.solve()
    if not converged:
        raise SolverError("the steady Newton solve did not converge; try time.mode = 'transient' "
                          "(it reaches the steady state by time stepping)")


class Transient:
    """The time loop of a run: steps, rows, fields, stop tests and checkpoints."""

    def __init__(self, case, problem, newton, outputs, series, writer, checkpointer):
        self.case, self.problem, self.newton, self.outputs = case, problem, newton, outputs
        self.series, self.writer, self.checkpointer = series, writer, checkpointer
        self.stepper = StepperState()
        self.previous = None  # the last row
        self.checkpointed = None  # step index of the last checkpoint

    def resume(self, pointer: Path, info: dict) -> None:
        """Continue from a checkpoint: fields, time loop, Newton's floor, rows so far."""
        self.stepper, self.newton.floor, rows = checkpoint.restore(pointer, info, self.problem)
        self.outputs.resume(rows)
        for row in rows:
            self.series.append(**row)
        self.previous = rows[-1]
        self.checkpointed = self.stepper.index

    def run(self, guard, outcome: dict, progress) -> None:
        outcome["final_time_s"] = self.stepper.time
        self.writer.write(self.stepper.time)
        if self.previous is None:
            self.previous = self.outputs.row(0.0)
            self.series.append(**self.previous)
        start = self.stepper.time
        for step in time_steps(self.problem, self.newton, self.case.time, progress,
                               self.stepper):
            with guard.collect():  # the step's rank-0 writes agreed on, and the safe point
                row = self.outputs.row(step.time)
                self.series.append(**row)
                outcome["final_time_s"] = step.time
                progress.step(self.outputs.progress(step, row),
                              (step.time - start) / (self.case.time.end - start))
                guard.record(guard.stage_text, None)
            stop = self.outputs.stop(self.previous, row)
            if stop is not None:
                updates, message = stop
                outcome.update(updates)
                progress(message)
                return
            if step.index % self.case.output.every == 0:
                self.writer.write(step.time)
            self.previous = row
            self.checkpoint()

    def checkpoint(self, final: bool = False) -> None:
        """A checkpoint of the last accepted step when one is due (or at the end, `final`)."""
        c = self.checkpointer
        if c is None or self.stepper.index == self.checkpointed or self.stepper.index == 0:
            return
        if final or c.due(self.stepper):
            c.write(self.stepper, self.newton.floor, self.series.path)
            self.checkpointed = self.stepper.index
