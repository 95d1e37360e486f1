"""The stages of a plating run (femsolver.simulation hands a case with plating.enabled here):
mesh, setup, solver (with the current distribution at t = 0), steps, outputs.

Statuses: "complete" (time.end or control.plated_charge_C_m2 reached), "shorted" (the deposit
reached the counter electrode: short_circuit_time_s), "contact" (two deposits touched:
contact_time_s), and as for every run "interrupted" / "failed". Plating runs write no
checkpoint and refuse --restart: the checkpoint stores one fixed mesh, a plating run's mesh
moves and is remeshed.
"""

from __future__ import annotations

from femsolver.errors import CaseError
from femsolver.mesh import build_domain, write_domain
from femsolver.outputs import tables
from femsolver.outputs.fields import mesh_bytes
from femsolver.plating.outputs import PlatingOutputs
from femsolver.plating.stepping import PlatingStepper


def solve(case, comm, guard, state, resources, progress, restart) -> dict:
    """The stages from meshing to the final outputs; returns the summary's results."""
    if restart is not None:
        raise CaseError("--restart does not apply to plating runs: their mesh moves and is "
                        "remeshed, which checkpoints (one fixed mesh) cannot hold")
    staging = state.directory.staging
    with guard.stage("mesh"):
        domain = build_domain(case.geometry, case.mesh, comm)
        state.directory.require_space(3 * mesh_bytes(domain.mesh))
        write_domain(domain, staging)
    with guard.stage("setup"):
        stepper = PlatingStepper(case, domain, comm, progress)
        resources.callback(lambda: stepper.close())
        msh = domain.mesh
        dofs = sum(u.function_space.dofmap.index_map.size_global
                   * u.function_space.dofmap.index_map_bs for u in stepper.problem.unknowns)
        state.facts.update(cells=msh.topology.index_map(msh.topology.dim).size_global, dofs=dofs)
        progress(f"mesh: {state.facts['cells']} cells, {dofs} unknowns; plating (surface moves, "
                 "BDF1 steps, no checkpoints)")
    with guard.stage("solver"):
        stepper.start()
        outputs = PlatingOutputs(stepper, case, staging, case.output.xdmf)
        resources.callback(outputs.close)
        state.outcome.update(outputs.outcome)
        first = outputs.row(0.0)
        series = resources.enter_context(tables.TimeSeries(staging / "timeseries.csv",
                                                           list(first)))
    error = state.steps(
        guard, lambda: _steps(case, stepper, outputs, series, first, guard, state.outcome,
                              progress),
        progress, "interrupted: writing the last step and the summary")
    with guard.stage("outputs"):
        outputs.write(stepper.time, case.output.pictures)
        outputs.close()
        state.directory.require_space(2 << 20)
        results = outputs.finish(staging, case.output.pictures)
        results["checkpoint"] = None
    return state.results(error, results)


def _steps(case, stepper, outputs, series, first, guard, outcome, progress) -> None:
    """The time loop: rows, stop tests and output times."""
    draw = case.output.pictures
    previous = first
    series.append(**first)
    outputs.write(0.0, draw)
    outcome["final_time_s"] = 0.0
    step_line = getattr(progress, "step", lambda message, fraction: progress(message))
    target = case.control.plated_charge_C_m2
    for step in stepper.steps():
        if step.remeshed:
            outputs.refresh()
        with guard.collect():
            row = outputs.row(step.time)
            series.append(**row)
            outcome["final_time_s"] = step.time
            fraction = step.time / case.time.end
            if target is not None:
                fraction = max(fraction, row["plated_charge_C_m2"] / target)
            step_line(f"  t = {step.time:.4e} s: V = {row['cell_voltage_V']:.6f} V, "
                      f"{row['plated_charge_C_m2']:.4g} C/m2 plated, max height "
                      f"{row['max_height_m'] * 1e9:.2f} nm, {step.iterations} Newton "
                      f"iterations, {stepper.remeshes} remeshes", min(fraction, 1.0))
            guard.record(guard.stage_text, None)
        stop = outputs.stop(previous, row)
        if stop is not None:
            updates, message = stop
            outcome.update(updates)
            progress(message)
            return
        if step.index % case.output.every == 0:
            outputs.write(step.time, draw)
        previous = row
