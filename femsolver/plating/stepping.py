"""The time loop of a plating run: the surface moves explicitly with the current of the last
solution, the fields are solved implicitly (BDF1) on the moved mesh (docs/physics.md,
"Plating"). Steps are limited by the surface speed (plating.step_fraction of the local edge
length), by Newton (halved on failure, grown by time.growth after easy solves), and land
exactly on time.end and on control.plated_charge_C_m2. When the mesh quality falls below
plating.remesh_quality the electrolyte is remeshed (2D).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from femsolver.errors import SolverError
from femsolver.physics.constants import FARADAY
from femsolver.plating import remesh
from femsolver.plating.motion import MeshMotion
from femsolver.problems.cell.problem import CellProblem
from femsolver.solver import NewtonSolver

# The time-derivative weight 1/FROZEN (s^-1) of the first solve: the concentration stays at its
# initial value to ~1e-12 while the potentials settle, giving the current distribution at t = 0.
FROZEN = 1e-12
FLAT_CELL = 0.01  # worst cell quality of a fresh mesh below which a run cannot go on


@dataclass
class Accepted:
    """An accepted plating step."""

    index: int
    time: float
    dt: float
    iterations: int
    remeshed: bool


class PlatingStepper:
    """The moving problem of a run and its time loop; `problem`, `motion` and `newton` are
    replaced when the electrolyte is remeshed."""

    def __init__(self, case, domain, comm, progress: Callable[[str], None]):
        self.case, self.comm, self.progress = case, comm, progress
        self.time, self.index, self.remeshes = 0.0, 0, 0
        self.charge = 0.0  # plated charge, C per m^(3-d) of the working electrode's depth
        self.salt_correction = 0.0  # largest relative salt change that a transfer corrected
        self.seconds = {"step": 0.0, "remesh": 0.0}  # wall time in steps and in remeshing
        self.scale_change = 0.0  # largest |s - 1| of the volume scaling (G4)
        self._build(domain, reference=None)
        self.initial_volume = self.motion.volume(self.motion.mesh.geometry.x)
        self.initial_top = self.motion.top()
        self.dt = case.time.dt
        # Worst cell quality that triggers a remesh; a mesh that starts below it (3D gmsh
        # meshes: ~0.1) goes on until its worst cell has halved, as after a remesh (below)
        first = self.motion.worst_quality()
        self.threshold = (case.plating.remesh_quality if first >= case.plating.remesh_quality
                          else first / 2)

    def _build(self, domain, reference: float | None) -> None:
        self.domain = domain
        self.problem = CellProblem(self.case, domain, moving=True)
        self.motion = MeshMotion(self.problem, self.case.plating)
        quiet = reference is not None  # after a remesh: the solver line is a detail
        self.newton = NewtonSolver(self.problem, self.case.solver, self.comm,
                                   getattr(self.progress, "detail", self.progress) if quiet
                                   else self.progress)
        self.problem.set_switch_on_state()  # the control's value (a remesh carries the fields)
        if reference is None:
            reference = self.newton.residual_norm()
            self.problem.set_initial_guess()
        self.reference = reference
        self.newton.set_reference_residual(reference)

    def close(self) -> None:
        self.newton.close()
        self.motion.close()

    @property
    def recession(self) -> float:
        """How far the counter electrode has receded, measured on the mesh, m."""
        return self.motion.top() - self.initial_top

    @property
    def deposited_volume(self) -> float:
        """Li volume plated so far, measured on the mesh: the electrolyte volume lost at the
        working electrode (the counter electrode's recession added it back), m^d."""
        return (self.initial_volume + self.recession * self.domain.projected_area
                - self.motion.volume(self.motion.mesh.geometry.x))

    @property
    def plated_volume(self) -> float:
        """Li volume that the plated charge stands for, charge x M / (rho F), m^d."""
        return self.charge * self.motion.molar_volume / FARADAY

    def start(self) -> None:
        """The current distribution at t = 0: potentials settle with the concentration held."""
        self._settle("the initial current distribution")
        self.problem.u_values[:] = 0.0

    def _settle(self, what: str) -> None:
        """Solve for the potentials of the present mesh and control with c held (a step of
        FROZEN seconds): the current that moves the next step is then this mesh's."""
        p = self.problem
        p.u_n.x.array[:] = p.u_values
        self._set_bdf(FROZEN)
        p.set_control(self.time)
        converged, _ = self.newton.solve()
        if not converged:
            raise SolverError(f"Newton did not converge for {what} at t = {self.time:.4e} s; "
                              "see the Newton residuals above")
        p.u_n.x.array[:] = p.u_values
        self.newton.floor = 0.0  # the frozen solve's round-off floor is not the steps' one

    def _set_bdf(self, dt: float) -> None:
        for constant, value in zip(self.problem.bdf, (1.0 / dt, -1.0 / dt, 0.0)):
            constant.value = value

    def _next_dt(self, velocity, current) -> float:
        t = self.case.time
        dt = min(self.dt, t.dt_max or t.end / 10, t.end - self.time,
                 self.motion.step_limit(velocity, self.case.plating.step_fraction))
        target = self.case.control.plated_charge_C_m2
        if target is not None and current > 0:
            dt = min(dt, (target * self.domain.projected_area - self.charge) / current)
        return dt

    def steps(self) -> Iterator[Accepted]:
        """Advance until time.end or the plated charge, yielding each accepted step."""
        t_params = self.case.time
        dt_min = t_params.dt_min or t_params.dt / 1e4
        target = self.case.control.plated_charge_C_m2
        while self.time < t_params.end * (1 - 1e-12):
            if target is not None and self.charge >= target * self.domain.projected_area * (
                    1 - 1e-12):
                return
            start = time.perf_counter()
            current = self.motion.plating_current()
            velocity = self.motion.velocity()
            dt = self._next_dt(velocity, current)
            iterations = self._solve_step(dt, velocity, current, dt_min)
            middle = time.perf_counter()
            remeshed = self._remesh_if_needed()
            self.seconds["step"] += middle - start
            self.seconds["remesh"] += time.perf_counter() - middle
            yield Accepted(self.index, self.time, self.last_dt, iterations, remeshed)

    def _solve_step(self, dt, velocity, current, dt_min) -> int:
        p = self.problem
        backup = [u.x.array.copy() for u in p.unknowns]
        while True:
            plan = self.motion.plan(dt, velocity, current)
            self.motion.move(plan)
            p.set_control(self.time + dt)
            self._set_bdf(dt)
            # A move that inverts a cell is a failed step too
            converged = self.motion.worst_quality() > 0
            if converged:
                converged, iterations = self.newton.solve()
            if converged:
                break
            for u, saved in zip(p.unknowns, backup):
                u.x.array[:] = saved
            self.motion.undo()
            dt *= 0.5
            if dt < dt_min:
                raise SolverError(f"no step succeeded at t = {self.time:.4e} s even with dt = "
                                  f"{2 * dt:.3e} s (time.dt_min = {dt_min:.3e} s): Newton did not "
                                  "converge, or the mesh motion would invert a cell")
            self.progress(f"  the step failed (Newton did not converge, or a cell would invert): "
                          f"retrying with dt = {dt:.3e} s")
        p.u_n.x.array[:] = p.u_values
        self.motion.settle()
        self.scale_change = max(self.scale_change, abs(plan.scale - 1))
        self.time += dt
        self.charge += dt * current
        self.index += 1
        self.last_dt = dt
        if iterations <= 3:
            self.dt = dt * self.case.time.growth
        return iterations

    def _remesh_if_needed(self) -> bool:
        quality = self.motion.worst_quality()
        if quality >= self.threshold:
            return False
        if self.domain.mesh.geometry.dim != 2:
            raise SolverError(f"the mesh quality fell to {quality:.3g} at t = {self.time:.4e} s "
                              "and remeshing is implemented in 2D only: lower "
                              "control.plated_charge_C_m2 or time.end for 3D plating runs")
        old = self.problem
        domain = remesh.remesh(self.domain, self.case, self.comm)
        saved_newton = self.newton
        self.motion.close()
        self._build(domain, self.reference)
        saved_newton.close()
        change = remesh.transfer(old, self.problem)
        self._settle("the fields carried to the new mesh")
        self.salt_correction = max(self.salt_correction, abs(change))
        self.remeshes += 1
        # A new mesh whose worst cell is already below the threshold (a sharp feature of the
        # surface) is remeshed again only once it has halved, and not at all below FLAT_CELL.
        fresh = self.motion.worst_quality()
        if fresh < FLAT_CELL:
            raise SolverError(f"at t = {self.time:.4e} s the surface has a feature that a new "
                              f"mesh cannot resolve (worst cell quality {fresh:.2g}): refine "
                              "mesh.h_interface, or stop earlier (control.plated_charge_C_m2)")
        self.threshold = min(self.case.plating.remesh_quality, fresh / 2)
        self.progress(f"  remeshed at t = {self.time:.4e} s (worst cell quality {quality:.3f}): "
                      f"{domain.mesh.topology.index_map(2).size_global} cells, salt corrected "
                      f"by {change:.2e} of the inventory")
        return True
