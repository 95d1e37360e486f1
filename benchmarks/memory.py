"""Peak memory per rank and bytes per DOF of one femsolver configuration (one per process).

Resident set size (RSS, `/proc/self/statm`) after each stage and the peak
(`resource.getrusage(RUSAGE_SELF).ru_maxrss`), per rank. Bytes per DOF =
(sum over ranks of peak RSS - RSS after the imports) / Newton DOFs (all unknowns).

Stages: imports; mesh (`build_domain`, gmsh + `mesh.refine`); problem (`CellProblem`: submeshes,
spaces, forms); solver (`NewtonSolver`: compiled forms, matrix and vectors, SNES); Newton (one
time step of `--iterations` Newton iterations at most: assembly, factorisation or
preconditioner set-up, solve). `--linear poisson` measures the P1 Poisson reference of
newton_vs_poisson.py on the electrolyte submesh instead of Newton.

    python benchmarks/memory.py --refine 3 --linear direct
    mpirun -n 2 python benchmarks/memory.py --refine 4 --linear direct
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402  (imports femsolver, hence dolfinx_solver, first)
from _common import COMM, say, table  # noqa: E402

MIB = 2.0**20


def measure(args) -> dict:
    from femsolver import tags
    from femsolver.mesh import build_domain
    from femsolver.problems.cell.problem import CellProblem
    from femsolver.problems.regions import Region
    from femsolver.solver import NewtonSolver

    import newton_vs_poisson  # noqa: F401  (same imports as the solver: part of the baseline)

    stages = []
    usage = common.Usage()

    def stage(name):
        stages.append({"stage": name, "rss": COMM.gather(common.current_rss_bytes(), root=0),
                       "peak": COMM.gather(common.peak_rss_bytes(), root=0)})

    stage("imports")
    baseline = common.current_rss_bytes()
    overrides = list(args.set)
    if args.linear != "poisson":
        overrides += [f"solver.linear={args.linear}", f"solver.max_iterations={args.iterations}"]
    case = common.load(args.case, overrides, args.refine)
    domain = build_domain(case.geometry, case.mesh, COMM)
    stage("mesh")
    out = {"ranks": COMM.size, "machine": common.machine(), "case": str(args.case),
           "overrides": args.set, "refine": args.refine, "linear": args.linear,
           "cells": common.global_cells(domain.mesh)}
    if args.linear == "poisson":
        electrolyte = Region.of(domain, tags.ELECTROLYTE).mesh
        stage("submesh")
        result = newton_vs_poisson.poisson(electrolyte, repeats=1)
        out["dofs"] = result["dofs"]
        stage("Poisson solve")
    else:
        problem = CellProblem(case, domain)
        stage("problem")
        newton = NewtonSolver(problem, case.solver, COMM, common.quiet)
        stage("solver")
        problem.set_switch_on_state()
        newton.set_reference_residual(newton.residual_norm())
        problem.set_initial_guess()
        stepper = newton_vs_poisson.Stepper(problem, case.time.dt, case.time.scheme)
        _, iterations = stepper.step(newton)
        out["dofs"] = newton.size
        out["iterations"] = iterations
        out["snes_reason"] = str(newton.snes.getConvergedReason())
        out["ksp_iterations"] = newton.snes.getLinearSolveIterations()
        stage(f"Newton ({iterations} it.)")
        newton.close()
    out["stages"] = stages
    out["usage"] = usage.summary()
    peak = COMM.allreduce(common.peak_rss_bytes())
    out["peak_total_bytes"] = peak
    out["bytes_per_dof"] = peak / out["dofs"]
    out["bytes_per_dof_above_imports"] = (peak - COMM.allreduce(baseline)) / out["dofs"]
    return out


def report(out: dict) -> str:
    if COMM.rank != 0:
        return ""
    ranks = out["ranks"]
    rows = []
    for s in out["stages"]:
        rows.append([s["stage"]] + [f"{r / MIB:.0f}" for r in s["rss"]]
                    + [f"{p / MIB:.0f}" for p in s["peak"]])
    header = (["stage"] + [f"RSS r{k} MiB" for k in range(ranks)]
              + [f"peak r{k} MiB" for k in range(ranks)])
    peak = out["stages"][-1]["peak"]
    base = out["stages"][0]["rss"]
    lines = [f"# memory: {ranks} rank(s); {out['machine']}",
             f"# case {Path(out['case']).name} refine {out['refine']} linear {out['linear']} "
             f"{' '.join(out['overrides'])}",
             common.Usage.line(out["usage"]),
             table(header, rows, f"\n{out['cells']} cells, {out['dofs']} DOFs"),
             *([f"Newton step: SNES reason {out['snes_reason']} after {out['iterations']} "
                f"iteration(s), {out['ksp_iterations']} Krylov iterations"]
               if "snes_reason" in out else []),
             f"\npeak RSS per rank: {', '.join(f'{p / MIB:.0f} MiB' for p in peak)}; "
             f"total {sum(peak) / MIB:.0f} MiB",
             f"bytes per DOF: {out['bytes_per_dof']:.0f} (total peak RSS / DOFs), "
             f"{out['bytes_per_dof_above_imports']:.0f} above the imports "
             f"({sum(base) / MIB:.0f} MiB)"]
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", type=Path, default=common.DEFAULT_CASE)
    p.add_argument("--refine", type=int, default=3, help="mesh.refine level (default 3)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--linear", default="direct", choices=["direct", "iterative", "poisson"])
    p.add_argument("--iterations", type=int, default=2,
                   help="Newton iterations at most in the measured time step")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    return p


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    out = measure(args)
    text = report(out)
    say(text)
    common.write_json(args.json, out)
    return out


if __name__ == "__main__":
    main()
