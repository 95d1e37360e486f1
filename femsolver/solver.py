"""Newton (PETSc SNES) on the coupled residual: linear strategy, options, statistics."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from dolfinx import fem
from dolfinx.fem.petsc import NonlinearProblem
from dolfinx.fem.petsc import _bcs_by_block, _extract_function_spaces  # noqa: PLC2701
from dolfinx.la.petsc import _ghost_update, _zero_vector  # noqa: PLC2701
from mpi4py import MPI
from petsc4py import PETSc

from femsolver.errors import CaseError
from femsolver.petsc_options import ScopedOptions

# Both solvers keep their preconditioner (the MUMPS factorisation, or the GAMG hierarchies)
# between Newton iterations and time steps (`snes_lag_preconditioner` -2: build at the next
# Jacobian, then never) and rebuild it only when the Krylov solve on the current Jacobian needs
# more than max(REFACTOR_AFTER, 2 x the iterations right after the last build): the Jacobian
# changes little from step to step, and the factorisation was ~80 % of an iteration.
REUSE = {"snes_lag_preconditioner": -2, "snes_lag_preconditioner_persists": True}
DIRECT = {
    "ksp_type": "gmres",
    "ksp_rtol": 1e-12,
    "ksp_max_it": 60,
    "pc_type": "lu",
    "pc_factor_mat_solver_type": "mumps",
    **REUSE,
}
REFACTOR_AFTER = 8
# solver.linear = "auto" takes MUMPS (faster than ITERATIVE at every size measured: 2D to 2.0M
# unknowns, 3D to 364k) unless its peak memory would exceed MEMORY_SHARE of what a node has
# available. Peak resident memory per unknown of direct runs at 1-2M unknowns, whole process
# (docs/performance.md, sections 3, 5 and 7); in 3D the factor's fill grows like N^(4/3) (nested
# dissection), so the 3D figure is scaled by (N / DIRECT_REFERENCE_DOFS)^(1/3).
DIRECT_BYTES_PER_DOF = {2: 3.3e3, 3: 16e3}
DIRECT_REFERENCE_DOFS = 1.08e6
MEMORY_SHARE = 0.8  # the 3D 1.08M run peaked at 72 % of this machine: it still fits
# A solve is converged once its residual is within this factor of the residual at which an
# earlier solve stopped on the update test (the round-off floor of this discretisation).
FLOOR_FACTOR = 10.0
# Block Gauss-Seidel over the unknowns (symmetric_multiplicative was robust where multiplicative
# stalled, in the dolfinx notes' measurements); GAMG on each field, the one-dof blocks exactly.
ITERATIVE = {
    "ksp_type": "fgmres",
    "ksp_rtol": 1e-10,
    "ksp_max_it": 300,
    "pc_type": "fieldsplit",
    "pc_fieldsplit_type": "symmetric_multiplicative",
    **REUSE,
}
GAMG = {"ksp_type": "preonly", "pc_type": "gamg", "pc_gamg_threshold": 0.05}


def _split_options(problem) -> dict:
    """Per-block options for ITERATIVE: GAMG on fields, LU on one-dof (Real) blocks; a
    blocked pair of fields (the cell's u, phi) is split again, one GAMG per component.

    GAMG's default aggregation threshold (none) let the Krylov iterations per Newton iteration
    grow with refinement on the graded Li-foil meshes (35 -> 164 over 8k -> 500k DOFs); 0.05
    drops weak couplings and kept them at ~10 from 8k to 126k DOFs (docs/performance.md).
    Each split's KSP sees its block change at every Jacobian and would redo GAMG's Galerkin
    products (45 % of a run); NewtonSolver makes the splits keep them until it rebuilds.
    """
    options = {}
    for k, u in enumerate(problem.unknowns):
        split = f"fieldsplit_{k}_"
        options[f"{split}ksp_type"] = "preonly"
        components = u.function_space.dofmap.index_map_bs
        if components > 1:  # a blocked pair (u, phi): one more split, by component
            options |= {f"{split}pc_type": "fieldsplit",
                        f"{split}pc_fieldsplit_block_size": components,
                        f"{split}pc_fieldsplit_type": "symmetric_multiplicative"}
            options |= {f"{split}fieldsplit_{c}_{key}": value for c in range(components)
                        for key, value in GAMG.items()}
        elif u.function_space.dofmap.index_map.size_global == 1:
            options[f"{split}pc_type"] = "lu"
        else:
            options |= {f"{split}{key}": value for key, value in GAMG.items()}
    return options


def direct_memory(dofs: int, dim: int) -> float:
    """Estimated peak memory of a direct (MUMPS) run with `dofs` unknowns in total, bytes."""
    growth = max(dofs / DIRECT_REFERENCE_DOFS, 1.0) ** (1 / 3) if dim == 3 else 1.0
    return DIRECT_BYTES_PER_DOF[dim] * dofs * growth


def available_memory() -> float | None:
    """MemAvailable of this node, bytes (None without /proc/meminfo)."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def choose_linear(problem, comm) -> tuple[str, str]:
    """(linear solver, why) for solver.linear = "auto": "direct" unless the factorisation would
    not fit in MEMORY_SHARE of the memory available on some node."""
    if getattr(problem, "inventory", False):
        return "direct", "the steady inventory multiplier needs it"
    local = sum(u.function_space.dofmap.index_map.size_local
                * u.function_space.dofmap.index_map_bs for u in problem.unknowns)
    total = comm.allreduce(local)
    dim = problem.unknowns[0].function_space.mesh.topology.dim
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    share = node.allreduce(local) / total  # this node's part of the factorisation
    available = available_memory()
    node.Free()
    need = direct_memory(total, dim) * share
    fits = comm.allreduce(available is None or need <= MEMORY_SHARE * available, op=MPI.LAND)
    why = ("free memory unknown here" if available is None else
           f"a direct solve needs ~{need / 2**20:.0f} MiB of the {available / 2**20:.0f} MiB "
           "available on this node")
    return ("direct" if fits else "iterative"), why


class _NonlinearProblem(NonlinearProblem):
    """dolfinx's NonlinearProblem with a residual that skips the Dirichlet lifting.

    dolfinx lifts the residual, b -= J (g - x) on the rows next to Dirichlet dofs, which packs
    the coefficients of every Jacobian block and runs their kernels: a quarter of a residual
    evaluation here. femsolver's Dirichlet values are all zero and its unknowns start at zero on
    those dofs (set_switch_on_state); Newton keeps them there (the boundary rows of J are the
    identity and those of F are x - g = 0), so g - x = 0 and the lifting adds nothing.
    Also: dolfinx's __del__ fails (AttributeError) on an instance whose constructor raised,
    e.g. on solver options that PETSc rejects.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        blocks = self.b.getAttr("_blocks")
        residual, bcs = self.F, self._bcs_of_residual(kwargs.get("bcs") or [])

        def assemble(snes, x, b):
            start = time.perf_counter()
            _ghost_update(x, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
            fem.petsc.assign(x, self.u)
            if blocks is not None:
                b.setAttr("_blocks", blocks)
                x.setAttr("_blocks", blocks)
            _zero_vector(b)
            fem.petsc.assemble_vector(b, residual)
            _ghost_update(b, PETSc.InsertMode.ADD, PETSc.ScatterMode.REVERSE)
            fem.petsc.set_bc(b, bcs, x0=x, alpha=-1.0)
            _ghost_update(b, PETSc.InsertMode.INSERT, PETSc.ScatterMode.FORWARD)
            self.timings["residual"] += time.perf_counter() - start
            self.timings["residuals"] += 1

        self.timings = {"residual": 0.0, "residuals": 0, "jacobian": 0.0, "jacobians": 0}
        self.solver.setFunction(assemble, self.b)
        jacobian, _, (assemble_jacobian, args, kwargs) = self.solver.getJacobian()

        def timed_jacobian(snes, x, J, P):
            start = time.perf_counter()
            assemble_jacobian(snes, x, J, P, *args, **kwargs)
            self.timings["jacobian"] += time.perf_counter() - start
            self.timings["jacobians"] += 1

        self.solver.setJacobian(timed_jacobian, jacobian, self.P_mat if self.P_mat else jacobian)

    def _bcs_of_residual(self, bcs):
        if isinstance(self.F, Sequence):
            return _bcs_by_block(_extract_function_spaces(self.F), bcs)
        return bcs

    def __del__(self):
        if hasattr(self, "_P_mat"):
            super().__del__()


def _in_directory(options: dict, directory: Path | None) -> dict:
    """Viewer options TYPE:FILE[:FORMAT] (FILE a bare name: femsolver.case checks it) with FILE
    in `directory`, so that a case writes nowhere else."""
    placed = {}
    for key, value in options.items():
        if isinstance(value, str) and ":" in value and directory is not None:
            kind, file, *fmt = value.split(":")
            if file:
                value = ":".join([kind, str(directory / file), *fmt])
        placed[key] = value
    return placed


def _pc_setups() -> int:
    """Preconditioner builds so far in this process (MUMPS factorisations, GAMG set-ups)."""
    return PETSc.Log.Event("PCSetUp").getPerfInfo()["count"]


@dataclass
class SolverStats:
    """What a run's Newton solves cost, for the summary: what users compare between codes."""

    solves: int = 0
    newton_iterations: int = 0
    newton_iterations_max: int = 0
    linear_iterations: int = 0
    preconditioner_builds: int = 0  # MUMPS factorisations, or GAMG hierarchies
    solve_time_s: float = 0.0

    def count(self, iterations: int, seconds: float) -> None:
        self.solves += 1
        self.newton_iterations += iterations
        self.newton_iterations_max = max(self.newton_iterations_max, iterations)
        self.solve_time_s += seconds

    def summary(self, comm, timings: dict) -> dict:
        """Summary entries: counts, and times as the slowest rank's (s)."""
        entries = dataclasses.asdict(self)
        entries["solve_time_s"] = comm.allreduce(self.solve_time_s, op=MPI.MAX)
        entries["newton_iterations_per_solve"] = self.newton_iterations / max(self.solves, 1)
        for name in ("residual", "jacobian"):
            entries[f"{name}_evaluations"] = timings[f"{name}s"]
            entries[f"{name}_time_s"] = comm.allreduce(timings[name], op=MPI.MAX)
        return entries


class NewtonSolver:
    """SNES Newton that stops on a small residual or on a small update.

    Residuals of time steps near steady state start tiny; a tolerance relative to each solve's
    own first residual would chase round-off. The residual tolerance is relative to one scale
    fixed per run (`set_reference_residual`: the residual the applied current or voltage causes
    at switch-on). Finer meshes have a round-off floor above that tolerance, so a solve also
    stops when the RMS Newton update of the nondimensional unknowns falls below
    `params.step_tol`; the residual at which it did is the floor, and later solves stop as soon
    as their residual is within FLOOR_FACTOR of it (without that, every time step spent a
    second Newton iteration only to find the update negligible).
    """

    def __init__(self, problem, params, comm, progress: Callable[[str], None],
                 directory: Path | None = None):
        self.params = params
        self.linear = params.linear
        if self.linear == "auto":
            self.linear, why = choose_linear(problem, comm)
            progress(f"linear solver: {self.linear} (auto: {why})")
        iterative = self.linear == "iterative"
        options = {
            "snes_type": "newtonls",
            "snes_linesearch_type": "basic",
            "snes_max_it": params.max_iterations,
            **(ITERATIVE | _split_options(problem) if iterative else DIRECT),
            **_in_directory(params.petsc_options, directory),
        }
        # Kept until close(): the field splits' options are read at their setup
        self.options = ScopedOptions("newton", options)
        try:
            self.problem = _NonlinearProblem(
                problem.residual, problem.unknowns, bcs=problem.bcs,
                kind="nest" if iterative else "mpi",
                petsc_options_prefix=self.options.prefix, entity_maps=problem.entity_maps)
            self.snes = self.problem.solver
            if iterative:  # the splits are the nest blocks
                fields, _ = self.problem.A.getNestISs()
                self.snes.getKSP().getPC().setFieldSplitIS(
                    *[(str(k), f) for k, f in enumerate(fields)])
            self.snes.setFromOptions()
        except PETSc.Error as err:
            self.options.remove()
            raise CaseError(f"PETSc rejected the solver options (solver.petsc_options = "
                            f"{params.petsc_options}): error code {err.ierr}; see PETSc's "
                            "message above") from None
        self.reuses_preconditioner = options.get("snes_lag_preconditioner") == -2
        self.comm = comm
        self.progress = getattr(progress, "detail", progress)  # Newton lines are details
        self.stats = SolverStats()
        PETSc.Log.begin()  # counts the preconditioner builds (PCSetUp), whatever the options
        self._builds_before = _pc_setups()
        self.atol = 0.0
        self.floor = 0.0
        self.rebuild = False
        self.fresh_iterations = None  # Krylov iterations right after the last build
        self.ksp = self.snes.getKSP()
        self.snes.setMonitor(self._monitor)
        self.snes.setConvergenceTest(self._converged)
        self.size = self.problem.x.getSize()

    def _monitor(self, snes, iteration, residual):
        if iteration == 0:
            self.progress(f"    Newton {iteration:2d}  |F| = {residual:.3e}")
            return
        linear = self.ksp.getIterationNumber()
        self.stats.linear_iterations += linear
        if self.fresh_iterations is None:
            self.fresh_iterations = linear
            if self.reuses_preconditioner:
                self._reuse_splits(True)
        if linear > max(REFACTOR_AFTER, 2 * self.fresh_iterations):
            self.rebuild = self.reuses_preconditioner
        self.progress(f"    Newton {iteration:2d}  |F| = {residual:.3e}  ({linear} linear its)")

    def residual_norm(self) -> float:
        """Norm of the residual at the current unknowns."""
        fem.petsc.assign(self.problem.u, self.problem.x)
        self.snes.computeFunction(self.problem.x, self.problem.b)
        return self.problem.b.norm()

    def set_reference_residual(self, value: float) -> None:
        self.atol = self.params.rtol * value

    def _converged(self, snes, iteration, norms):
        _, step, residual = norms
        Reason = PETSc.SNES.ConvergedReason
        if not np.isfinite(residual):
            return Reason.DIVERGED_FNORM_NAN
        if residual <= max(self.atol, FLOOR_FACTOR * self.floor):
            return Reason.CONVERGED_FNORM_ABS
        if iteration > 0 and step / np.sqrt(self.size) <= self.params.step_tol:
            self.floor = residual
            return Reason.CONVERGED_SNORM_RELATIVE
        if iteration >= self.params.max_iterations:
            return Reason.DIVERGED_MAX_IT
        return Reason.ITERATING

    def close(self) -> None:
        """Free the PETSc objects now: the SNES keeps Python callbacks that point back to this
        solver, so garbage collection never frees them (MPICH runs out of communicators)."""
        for obj in (self.snes, self.problem.A, self.problem.b, self.problem.x):
            obj.destroy()
        self.options.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def solve(self) -> tuple[bool, int]:
        """One Newton solve from the current unknowns; returns (converged, iterations)."""
        if self.rebuild:
            self._rebuild_preconditioner()
        start = time.perf_counter()
        self.problem.solve()
        self.stats.count(self.snes.getIterationNumber(), time.perf_counter() - start)
        self.stats.preconditioner_builds = _pc_setups() - self._builds_before
        reason = self.snes.getConvergedReason()
        self.rebuild |= reason < 0 and self.reuses_preconditioner  # retry from a fresh one
        return reason > 0, self.snes.getIterationNumber()

    def _rebuild_preconditioner(self) -> None:
        """Rebuild at the next Jacobian (petsc4py has no setter for the SNES lag)."""
        self.snes.setFromOptions()  # snes_lag_preconditioner -2 is among its options
        self._reuse_splits(False)
        self.rebuild = False
        self.fresh_iterations = None

    def _reuse_splits(self, reuse: bool) -> None:
        """Let the field splits' preconditioners be rebuilt (False) or kept (True)."""
        for pc in _splits(self.ksp.getPC()):
            pc.setReusePreconditioner(reuse)


def _splits(pc) -> list:
    """The preconditioners of a field split's splits, and of theirs (none of another PC)."""
    if pc.getType() != PETSc.PC.Type.FIELDSPLIT or not pc.getFieldSplitSubKSP():
        return []
    inner = [sub.getPC() for sub in pc.getFieldSplitSubKSP()]
    return inner + [p for sub in inner for p in _splits(sub)]


def start_newton(problem, params, comm, progress: Callable[[str], None],
                 directory: Path | None = None) -> NewtonSolver:
    """Newton for `problem`, its tolerance scaled by the switch-on residual, from the initial
    guess; PETSc viewer files of solver.petsc_options go to `directory`."""
    newton = NewtonSolver(problem, params, comm, progress, directory)
    problem.set_switch_on_state()
    newton.set_reference_residual(newton.residual_norm())
    problem.set_initial_guess()
    return newton
