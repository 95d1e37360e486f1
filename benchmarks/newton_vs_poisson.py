"""One Newton iteration of femsolver against a P1 Poisson solve on the same mesh.

For each mesh size (`mesh.refine` levels of a case, default the 2D PRS@Li seed case):

* Poisson reference: -div grad p = 1 on the electrolyte submesh, p = 0 on the counter electrode,
  P1, CG + GAMG (rtol 1e-8): sparsity + assembly, PC set-up and solve, best of `--repeats`.
  It has as many DOFs as one field of the Newton problem.
* Newton: the femsolver problem (CellProblem + NewtonSolver, the case's physics). Step 1 runs
  with the direct solver (it has the switch-on transient and the symbolic factorisation); then
  each solver in `--linear` restarts from that state and runs `--steps` more steps of time.dt
  (a solver other than direct first runs one unmeasured step from there: its own set-up).
  Per Newton iteration of those steps, from PETSc's log events (slowest rank):
  assembly = SNESFunctionEval + SNESJacobianEval (dolfinx assembly of residual and Jacobian),
  solve = the rest of SNESSolve: factorisation or preconditioner set-up, the Krylov solve and
  the small vector work of the line search (PETSc's PCSetUp and KSPSolve events nest inside
  each other differently for each solver, so they are not added up).
* Seed cases (li_foil bare / prs / ers as shipped): Newton iterations per time step over the
  whole run, with each solver in `--linear`.

    python benchmarks/newton_vs_poisson.py --refine 0 1 2 3
    mpirun -n 2 python benchmarks/newton_vs_poisson.py --refine 0 1 2 3
    python benchmarks/newton_vs_poisson.py --refine 2 3 --scaling    # runs 1 and 2 ranks itself
    python benchmarks/newton_vs_poisson.py --refine 0 1 2 3 --plot   # docs/img/scaling.png

Tables and plot: benchmarks/newton_report.py (--from prints them from earlier --json files).
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402  (imports femsolver, hence dolfinx_solver, first)
from _common import COMM, say  # noqa: E402
from newton_report import merge_runs, plot, report, scaling_report  # noqa: E402

import numpy as np  # noqa: E402
import ufl  # noqa: E402
from dolfinx import fem, mesh as dmesh  # noqa: E402
from dolfinx.fem import petsc as fem_petsc  # noqa: E402
from mpi4py import MPI  # noqa: E402
from petsc4py import PETSc  # noqa: E402

from femsolver import tags  # noqa: E402
from femsolver.mesh import build_domain  # noqa: E402
from femsolver.problems.cell.problem import CellProblem  # noqa: E402
from femsolver.problems.regions import Region  # noqa: E402
from femsolver.solver import NewtonSolver, start_newton  # noqa: E402
from femsolver.time_stepping import bdf_coefficients, time_steps  # noqa: E402

EVENTS = ("SNESSolve", "SNESFunctionEval", "SNESJacobianEval", "PCSetUp")


# ---- Poisson reference -------------------------------------------------------------------------
def poisson(msh, repeats: int = 2) -> dict:
    """P1 Poisson on `msh` (p = 0 on the top boundary), CG + GAMG rtol 1e-8; best of `repeats`.

    Form compilation (JIT, cached between runs) and locating the boundary dofs are excluded.
    """
    V = fem.functionspace(msh, ("Lagrange", 1))
    p, q = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = fem.form(ufl.inner(ufl.grad(p), ufl.grad(q)) * ufl.dx)
    L = fem.form(fem.Constant(msh, 1.0) * q * ufl.dx)
    axis = msh.geometry.dim - 1
    top = msh.comm.allreduce(float(msh.geometry.x[:, axis].max(initial=-np.inf)), op=MPI.MAX)
    fdim = msh.topology.dim - 1
    facets = dmesh.locate_entities_boundary(
        msh, fdim, lambda x: np.isclose(x[axis], top, rtol=0, atol=1e-6 * abs(top)))
    bc = fem.dirichletbc(0.0, fem.locate_dofs_topological(V, fdim, facets), V)
    runs = []
    for _ in range(repeats):
        t = {}
        with common.timer(t, "assemble"):
            A = fem_petsc.assemble_matrix(a, bcs=[bc])
            A.assemble()
            b = fem_petsc.assemble_vector(L)
            fem_petsc.apply_lifting(b, [a], bcs=[[bc]])
            b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
            fem_petsc.set_bc(b, [bc])
        with common.timer(t, "setup"):
            ksp = PETSc.KSP().create(msh.comm)
            ksp.setOperators(A)
            ksp.setType("cg")
            ksp.getPC().setType("gamg")
            ksp.setTolerances(rtol=1e-8, atol=0.0, max_it=1000)
            ksp.setUp()
        x = A.createVecRight()
        with common.timer(t, "solve"):
            ksp.solve(b, x)
        t["iterations"] = ksp.getIterationNumber()
        t["converged"] = ksp.getConvergedReason() > 0
        t["total"] = t["assemble"] + t["setup"] + t["solve"]
        for obj in (ksp, A, b, x):
            obj.destroy()
        runs.append(t)
    best = min(runs, key=lambda r: r["total"])
    best["dofs"] = V.dofmap.index_map.size_global
    return best


# ---- Newton ------------------------------------------------------------------------------------
class Events:
    """PETSc log-event times (s, slowest rank) and counts, as differences between snapshots."""

    def __init__(self):
        PETSc.Log.begin()
        self.events = {name: PETSc.Log.Event(name) for name in EVENTS}

    def snapshot(self) -> dict:
        return {name: (e.getPerfInfo()["time"], e.getPerfInfo()["count"])
                for name, e in self.events.items()}

    @staticmethod
    def since(before: dict, after: dict) -> dict:
        times = {name: common.max_over_ranks(after[name][0] - before[name][0]) for name in before}
        return times | {f"{name}_count": after[name][1] - before[name][1] for name in before}


class Stepper:
    """Fixed time steps of `time.dt` with the femsolver BDF coefficients (no adaptivity)."""

    def __init__(self, problem, dt: float, scheme: str):
        self.problem, self.dt, self.bdf2 = problem, dt, scheme == "bdf2"
        self.coefficients = bdf_coefficients
        self.t, self.dt_previous = 0.0, None

    def step(self, newton) -> tuple[bool, int]:
        p = self.problem
        p.set_control(self.t + self.dt)
        previous = self.dt_previous if self.bdf2 else None
        for constant, value in zip(p.bdf, self.coefficients(self.dt, previous)):
            constant.value = value
        converged, iterations = newton.solve()
        p.u_nn.x.array[:] = p.u_n.x.array
        p.u_n.x.array[:] = p.u_values
        self.t += self.dt
        self.dt_previous = self.dt
        return converged, iterations

    def save(self):
        p = self.problem
        return ([u.x.array.copy() for u in p.unknowns + [p.u_n, p.u_nn]], self.t, self.dt_previous)

    def restore(self, saved) -> None:
        arrays, self.t, self.dt_previous = saved
        for u, a in zip(self.problem.unknowns + [self.problem.u_n, self.problem.u_nn], arrays):
            u.x.array[:] = a


def newton_iterations(case, domain, linear: list[str], steps: int,
                      iterative_max_dofs: float = float("inf")) -> dict:
    """Per-iteration costs of each solver in `linear` over `steps` steps after a direct step 1.

    The iterative solver is skipped above `iterative_max_dofs` (its time grows fastest).
    """
    problem = CellProblem(case, domain)
    maps = [u.function_space.dofmap for u in problem.unknowns]
    dofs = sum(m.index_map.size_global * m.index_map_bs for m in maps)
    newtons = {"direct": NewtonSolver(problem, replace(case.solver, linear="direct"), COMM,
                                      common.quiet)}
    problem.set_switch_on_state()
    reference = newtons["direct"].residual_norm()
    newtons["direct"].set_reference_residual(reference)
    problem.set_initial_guess()
    stepper = Stepper(problem, case.time.dt, case.time.scheme)
    events = Events()
    start = time.perf_counter()
    converged, first_iterations = stepper.step(newtons["direct"])
    first_step_s = common.max_over_ranks(time.perf_counter() - start)
    if not converged:
        raise SystemExit("step 1 did not converge with the direct solver")
    saved = stepper.save()
    out = {"dofs": dofs, "first_step": {"iterations": first_iterations, "seconds": first_step_s}}
    for kind in linear:
        if kind == "iterative" and dofs > iterative_max_dofs:
            out["skipped"] = out.get("skipped", []) + [kind]
            continue
        if kind not in newtons:
            newtons[kind] = NewtonSolver(problem, replace(case.solver, linear=kind), COMM,
                                         common.quiet)
            newtons[kind].set_reference_residual(reference)
        newton = newtons[kind]
        warmup_s = None
        if kind != "direct":  # the direct solver is warm from step 1; set this one up alike
            stepper.restore(saved)
            start = time.perf_counter()
            stepper.step(newton)
            warmup_s = common.max_over_ranks(time.perf_counter() - start)
        stepper.restore(saved)
        before = events.snapshot()
        its, ksp_its, ok = [], 0, True
        start = time.perf_counter()
        for _ in range(steps):
            converged, n = stepper.step(newton)
            its.append(n)
            ksp_its += newton.snes.getLinearSolveIterations()
            ok = ok and converged
        wall = common.max_over_ranks(time.perf_counter() - start)
        t = Events.since(before, events.snapshot())
        n = max(sum(its), 1)
        assemble = (t["SNESFunctionEval"] + t["SNESJacobianEval"]) / n
        solve = t["SNESSolve"] / n - assemble
        out[kind] = {
            "iterations_per_step": its, "converged": ok, "step_wall_s": wall / steps,
            "warmup_step_s": warmup_s,
            "per_iteration": t["SNESSolve"] / n, "assemble": assemble, "solve": solve,
            "factorisations": t["PCSetUp_count"], "ksp_per_iteration": ksp_its / n,
        }
    for newton in newtons.values():
        newton.close()
    return out


def seed_iterations(case_paths, linear: list[str], overrides=()) -> list[dict]:
    """Newton iterations per time step of whole seed-case runs (their own mesh and times)."""
    rows = []
    for path in case_paths:
        for kind in linear:
            case = common.load(path, list(overrides) + [f"solver.linear={kind}"])
            domain = build_domain(case.geometry, case.mesh, COMM)
            problem = CellProblem(case, domain)
            with start_newton(problem, case.solver, COMM, common.quiet) as newton:
                start = time.perf_counter()
                its = [s.iterations for s in time_steps(problem, newton, case.time, common.quiet)]
                rows.append({"case": case.name, "linear": kind, "steps": len(its),
                             "iterations": its, "dofs": newton.size,
                             "wall_s": common.max_over_ranks(time.perf_counter() - start)})
    return rows


# ---- driver ------------------------------------------------------------------------------------
def measure(args) -> dict:
    usage = common.Usage()
    results = {"ranks": COMM.size, "machine": common.machine(), "case": str(args.case),
               "overrides": args.set, "sizes": [], "seed": []}
    for refine in args.refine:
        case = common.load(args.case, args.set, refine)
        domain = build_domain(case.geometry, case.mesh, COMM)
        electrolyte = Region.of(domain, tags.ELECTROLYTE).mesh
        owned = electrolyte.topology.index_map(electrolyte.topology.dim).size_local
        row = {"refine": refine, "cells": common.global_cells(domain.mesh),
               "electrolyte_cells": common.global_cells(electrolyte),
               # largest rank's share of the electrolyte cells over the mean share
               "electrolyte_imbalance": COMM.allreduce(owned, op=MPI.MAX) * COMM.size
               / max(common.global_cells(electrolyte), 1),
               "poisson": poisson(electrolyte, args.repeats)}
        row["newton"] = newton_iterations(case, domain, args.linear, args.steps,
                                          args.iterative_max_dofs)
        row["peak_rss_max_rank_bytes"] = common.max_over_ranks(common.peak_rss_bytes())
        results["sizes"].append(row)
        say(f"  refine {refine}: {row['newton']['dofs']} Newton DOFs measured")
        del domain, electrolyte
        gc.collect()
    if args.seed_cases:
        results["seed"] = seed_iterations(args.seed_cases, args.linear, args.seed_set)
    results["usage"] = usage.summary()
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", type=Path, default=common.DEFAULT_CASE)
    p.add_argument("--refine", type=int, nargs="+", default=[0, 1, 2, 3],
                   help="mesh.refine levels (sizes), default 0 1 2 3")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="case override, e.g. --set mesh.h_bulk=10e-9 (repeatable)")
    p.add_argument("--linear", nargs="+", default=["direct", "iterative"],
                   choices=["direct", "iterative"])
    p.add_argument("--steps", type=int, default=1, help="measured steps after step 1")
    p.add_argument("--iterative-max-dofs", type=float, default=1e6,
                   help="skip the iterative solver above this many Newton DOFs (default 1e6)")
    p.add_argument("--repeats", type=int, default=2, help="Poisson solves (best is kept)")
    p.add_argument("--seed-cases", type=Path, nargs="*", default=common.SEED_CASES,
                   help="cases whose Newton iterations per step are counted (none: skip)")
    p.add_argument("--seed-set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override for the seed-case runs only (repeatable)")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    p.add_argument("--plot", type=Path, nargs="?", const=common.DEFAULT_PLOT,
                   help=f"write the log-log plot (default {common.DEFAULT_PLOT})")
    p.add_argument("--from", dest="sources", type=Path, nargs="+", metavar="JSON",
                   help="measure nothing: print and plot the --json files of earlier runs "
                   "(sizes of runs with the same case and rank count are merged)")
    p.add_argument("--scaling", action="store_true",
                   help="run this script under mpirun -n 1 and -n 2 and print the speed-ups")
    return p


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    if args.sources:
        runs = merge_runs(args.sources)
        for res in runs:
            say(report(res) + "\n")
        for case in dict.fromkeys(res["case"] for res in runs):
            pair = [res for res in runs if res["case"] == case]
            if len(pair) == 2:
                say(scaling_report(*pair))
        if args.plot and COMM.rank == 0:
            plot(runs, args.plot)
            say(f"plot: {args.plot}")
        return {"runs": runs}
    if args.scaling:
        if COMM.size > 1:
            raise SystemExit("--scaling starts its own mpirun: run it serially")
        argv = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--scaling"]
        child = strip_options(argv, {"--json": 1, "--plot": "?"})
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for n in (1, 2):
                runs.append(common.run_ranks(Path(__file__), child, n, Path(tmp) / f"{n}.json"))
        text = scaling_report(*runs)
        say(text)
        results = {"runs": runs}
        common.write_json(args.json, results)
        if args.plot:
            plot(runs, args.plot)
            say(f"plot: {args.plot}")
        return results
    results = measure(args)
    say(report(results))
    common.write_json(args.json, results)
    if args.plot and COMM.rank == 0:
        plot([results], args.plot)
        say(f"plot: {args.plot}")
    return results


def strip_options(argv: list[str], options: dict) -> list[str]:
    """argv without the given options and their values (1 value, or '?' = an optional one)."""
    out, skip = [], 0
    for k, a in enumerate(argv):
        if skip:
            skip -= 1
            continue
        name = a.split("=", 1)[0]
        if name in options:
            if "=" in a:
                continue
            n = options[name]
            if n == "?":
                n = 1 if k + 1 < len(argv) and not argv[k + 1].startswith("--") else 0
            skip = n
            continue
        out.append(a)
    return out


if __name__ == "__main__":
    main()
