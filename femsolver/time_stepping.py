"""The time loop around Newton: adaptive steps, variable-step BDF1/BDF2, control times."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from femsolver.errors import SolverError


@dataclass
class Step:
    """An accepted time step."""

    index: int
    time: float
    dt: float
    iterations: int


def bdf_coefficients(dt: float, dt_previous: float | None) -> tuple[float, float, float]:
    """du/dt ~ a0 u^{n+1} + a1 u^n + a2 u^{n-1}: BDF1 without history, else variable-step BDF2."""
    if dt_previous is None:
        return 1.0 / dt, -1.0 / dt, 0.0
    w = dt / dt_previous
    return (1 + 2 * w) / ((1 + w) * dt), -(1 + w) / dt, w * w / ((1 + w) * dt)


@dataclass
class StepperState:
    """Where a time loop stands after an accepted step: its time (s), the next step size, the
    last step (BDF2's history; None restarts with a BDF1 step) and the steps so far. A
    checkpoint stores it; a restart continues from it."""

    time: float = 0.0
    dt: float | None = None  # None: time.dt
    dt_previous: float | None = None
    index: int = 0


def time_steps(problem, newton, time_params, progress: Callable[[str], None],
               state: StepperState | None = None) -> Iterator[Step]:
    """Advance `problem` in time from `state` (default: t = 0), yielding each accepted step;
    `state` is up to date at every yield.

    The step is halved when Newton fails (down to dt_min) and grows by `growth` after easy
    solves (at most dt_max), landing exactly on the end time and on the times at which the
    control changes, after which it restarts from time.dt. `progress` takes status lines; its
    `detail` (femsolver.progress.Progress), where it has one, the start of each step.
    """
    state = state if state is not None else StepperState()
    end = time_params.end
    dt = state.dt if state.dt is not None else time_params.dt
    dt_min = time_params.dt_min or time_params.dt / 1e4
    dt_max = time_params.dt_max or end / 10
    bdf2 = time_params.scheme == "bdf2"
    backup = [u.x.array.copy() for u in problem.unknowns]
    stops = sorted(s for s in problem.control_times() if s < end) + [end]
    detail = getattr(progress, "detail", progress)
    while state.time < end * (1 - 1e-12):
        t = state.time
        stop = next(s for s in stops if s > t * (1 + 1e-12))
        dt = min(dt, stop - t)
        problem.set_control(t + dt)
        previous = state.dt_previous if bdf2 else None
        for constant, value in zip(problem.bdf, bdf_coefficients(dt, previous)):
            constant.value = value
        detail(f"step {state.index + 1}: t = {t + dt:.4e} s, dt = {dt:.3e} s")
        converged, iterations = newton.solve()
        if not converged:
            for u, saved in zip(problem.unknowns, backup):
                u.x.array[:] = saved
            dt *= 0.5
            if dt < dt_min:
                raise SolverError(
                    f"Newton did not converge at t = {t:.4e} s even with dt = {2 * dt:.3e} s "
                    f"(time.dt_min = {dt_min:.3e} s); see the Newton residuals above")
            progress(f"  Newton did not converge: retrying with dt = {dt:.3e} s")
            continue
        problem.u_nn.x.array[:] = problem.u_n.x.array
        problem.u_n.x.array[:] = problem.u_values
        backup = [u.x.array.copy() for u in problem.unknowns]
        state.time, state.index, state.dt_previous = t + dt, state.index + 1, dt
        step = Step(state.index, state.time, dt, iterations)
        if abs(state.time - stop) <= 1e-12 * stop and stop < end:
            # The control changed: start small again, and restart BDF2 with one BDF1 step
            # (its history spans the kink in the solution, which would make it first order).
            # Not at the end: a restart with a later end goes on as if it had not stopped.
            dt, state.dt_previous = time_params.dt, None
        elif iterations <= 3:
            dt = min(dt * time_params.growth, dt_max)
        state.dt = dt
        yield step
