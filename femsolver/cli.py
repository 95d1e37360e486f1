"""Command line: `femsolver run CASE`, `mesh CASE`, `effective CASE`, `sweep CASE`, `keys`,
`compare RUNS`, `verify`."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import contextmanager

from mpi4py import MPI

from femsolver.errors import CaseError, FemsolverError, report
from femsolver.outputs import tables


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="femsolver",
        description="Tertiary current distribution at battery interfaces (SI units). "
                    "Run in parallel with: mpirun -n 4 femsolver run CASE")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "solve a case and write fields, tables and pictures"),
                       ("mesh", "build the mesh only and draw its regions and boundary tags"),
                       ("effective", "effective ionic conductivity and tortuosity of a particle "
                                     "geometry (core_shell, composite)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("case", help="case file (TOML)")
        p.add_argument("-o", "--output", help="output directory (overrides output.directory)")
        p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                       help="override a case key, e.g. --set kinetics.i0=1.0 (repeatable)")
        p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
        if name == "run":
            p.add_argument("--restart", metavar="DIR",
                           help="continue the run in DIR from its checkpoint (on any number of "
                                "ranks); the case may differ in time.end and output.* only")
    p = sub.add_parser("sweep", help="run a case over a grid of key values (resumable) and "
                                     "collect the results in sweep.csv and sweep_*.png")
    p.add_argument("case", help="case file (TOML)")
    p.add_argument("--vary", action="append", default=[], metavar="SECTION.KEY=V1,V2,...",
                   help="values of one key (repeatable; all combinations, or --zip)")
    p.add_argument("--zip", action="store_true", help="pair the i-th values of every --vary")
    p.add_argument("-o", "--output", required=True, help="sweep directory (resumed if it exists)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a case key in every point (repeatable)")
    p.add_argument("--jobs", type=int, default=1, help="points run at the same time (default 1)")
    p.add_argument("--ranks", type=int, default=1, help="MPI ranks of each point (default 1)")
    p.add_argument("--retry-failed", action="store_true", help="run failed points again")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub.add_parser("keys", help="list every case key with its default, unit and rule")
    p = sub.add_parser("compare", help="table and picture comparing finished runs")
    p.add_argument("runs", nargs="+", help="output directories of finished runs")
    p.add_argument("-o", "--output", required=True, help="directory for comparison.{md,csv,png}")
    p = sub.add_parser("verify", help="run the verification benchmarks against exact results "
                                      "and write verification.md and img/convergence.png")
    p.add_argument("-o", "--output", default="docs",
                   help="directory for verification.md and img/convergence.png (default: docs)")
    p.add_argument("--level", type=int, choices=range(4), default=2,
                   help="resolution: 0 coarse (as in the tests) to 3 finest (default: 2)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    return parser


def _load(args, guard):
    from femsolver.case import load_case

    with guard.stage("case"):
        return load_case(args.case, args.set, output=args.output)


@contextmanager
def _transaction(args, case, comm, guard, command: str):
    """The output directory of `femsolver mesh` / `effective`: claimed, written in staging,
    committed with a summary naming the command (a failure is recorded as for `run`)."""
    from femsolver.progress import Progress
    from femsolver.rundir import now_text
    from femsolver.simulation import run_directory

    progress = Progress(comm, not args.quiet)
    with run_directory(case.output_directory, case.name, comm, guard, progress) as directory:
        summary = {"name": case.name, "command": command, "ranks": comm.size,
                   "started": directory.started, "status": "complete", "error": None,
                   "exit_code": 0}
        try:
            yield directory, summary
        except FemsolverError as err:
            summary.update(status=err.status, error=str(err), stage=guard.stage_text,
                           exit_code=err.exit_code)
            directory.commit({**summary, "ended": now_text()})
            raise
        directory.commit({**summary, "ended": now_text()})


def _mesh(args, comm, guard) -> None:
    from femsolver.mesh import build_domain, write_domain
    from femsolver.outputs.regions import plot_regions

    case = _load(args, guard)
    with _transaction(args, case, comm, guard, "mesh") as (directory, summary):
        with guard.stage("mesh"):
            domain = build_domain(case.geometry, case.mesh, comm)
        with guard.stage("outputs"):
            write_domain(domain, directory.staging)
            if hasattr(case.geometry, "image"):  # an image: its planes, volume fractions, components
                from femsolver.imaging import build, report

                report.image_picture(case.geometry, directory.staging / "regions.png", comm)
                summary["image"] = build.summary(case.geometry, comm)
                if comm.rank == 0:
                    (directory.staging / "image.md").write_text(
                        report.write_summary_text(summary["image"]))
            else:
                plot_regions(domain, directory.staging / "regions.png")
            cells = domain.mesh.topology.index_map(domain.mesh.topology.dim).size_global
            summary["cells"] = cells
    if comm.rank == 0 and not args.quiet:
        print(f"mesh of '{case.name}': {cells} cells -> {directory.path}")


def _effective(args, comm, guard) -> None:
    """Effective conductivity of the case's particle domain -> effective.json, effective.md."""
    from femsolver.effective import effective_conductivity, table
    from femsolver.materials.solid_electrolytes import ionic_conductivities
    from femsolver.mesh import build_domain

    from geometries import family_of

    case = _load(args, guard)
    loaded = family_of(case.geometry).load is not None  # an image or a mesh file
    if case.problem != "particle" and not loaded:
        raise CaseError("'femsolver effective' needs a particle geometry (geometry.kind = "
                        "'core_shell' or 'composite'), an image or a mesh file")
    try:
        conductivities = ionic_conductivities(case)
    except ValueError as err:
        raise CaseError(str(err)) from None
    from femsolver.imaging.report import effective_report, on_voxels

    with _transaction(args, case, comm, guard, "effective") as (directory, summary):
        with guard.stage("mesh"):  # a voxel image needs no mesh (imaging.structured)
            domain = None if on_voxels(case.geometry) else build_domain(case.geometry,
                                                                        case.mesh, comm)
        with guard.stage("solve"):
            if loaded:  # every direction, with TauFactor's and PoreSpy's figures (docs/images.md)
                figures, text = effective_report(case, domain, comm)
            else:
                result = effective_conductivity(domain, conductivities)
                figures = {"case": case.name, **result.as_dict()}
                text = f"# Effective ionic conductivity of '{case.name}'\n\n{table(result)}\n"
        with guard.stage("outputs"):
            summary.update({k: v for k, v in figures.items() if k != "case"})
            if comm.rank == 0:
                (directory.staging / "effective.md").write_text(text)
                tables.write_json(directory.staging / "effective.json", figures,
                                  comm=MPI.COMM_SELF)
    if comm.rank == 0 and not args.quiet:
        print(text + f"-> {directory.path}/effective.json, effective.md")


def _verify(args, comm) -> int:
    """Run the benchmarks and write the report; 1 if any check fails."""
    from femsolver.verification.report import verify

    def progress(message: str) -> None:
        if comm.rank == 0 and not args.quiet:
            print(message, flush=True)

    rows = verify(args.output, args.level, comm, progress)
    failed = [r for r in rows if not r.passed]
    if comm.rank == 0:
        for r in failed:
            print(f"FAILED {r.benchmark}: {r.quantity}: error {r.error:.3g} > "
                  f"tolerance {r.tolerance:.3g}", file=sys.stderr)
        print(f"{len(rows) - len(failed)} of {len(rows)} checks pass -> "
              f"{args.output}/verification.md")
    return 1 if failed else 0


def _command(args, comm, guard) -> int:
    if args.command == "keys":
        from femsolver.case import describe

        if comm.rank == 0:
            print(describe(), flush=True)
    elif args.command == "mesh":
        _mesh(args, comm, guard)
    elif args.command == "effective":
        _effective(args, comm, guard)
    elif args.command == "compare":
        from femsolver.compare import compare

        with guard.stage("outputs"):
            if comm.rank == 0:
                print(compare(args.runs, args.output), end="")
    elif args.command == "verify":
        return _verify(args, comm)
    else:
        from femsolver.simulation import run

        summary = run(_load(args, guard), comm, verbose=not args.quiet, guard=guard,
                      restart=args.restart)
        if summary["error"] is not None:
            _say_stopped(summary["status"], summary["error"], comm)
        return summary["exit_code"]
    return 0


def _say_stopped(status: str, message: str, comm) -> None:
    """The one message of a command that ended early (rank 0)."""
    if status == "interrupted":
        if comm.rank == 0:
            print(f"femsolver: {message}", file=sys.stderr, flush=True)
    else:
        report(message, comm)


def _sweep(args, comm) -> int:
    """`femsolver sweep`: its points are processes of their own (each with its guard); the
    sweep passes signals on to them itself."""
    from femsolver.progress import Progress
    from femsolver.sweep import run_sweep

    if comm.size > 1:
        raise CaseError("run 'femsolver sweep' without mpirun: --ranks gives each point its "
                        "ranks, --jobs the points at a time")
    return run_sweep(args.case, args.vary, args.zip, args.set, args.output, args.jobs,
                     args.ranks, args.retry_failed, Progress(comm, not args.quiet))


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (femsolver.errors lists them)."""
    from femsolver.guard import Guard

    args = _parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    try:
        if args.command == "sweep":
            try:
                return _sweep(args, comm)
            except FemsolverError as err:
                _say_stopped(err.status, str(err), comm)
                return err.exit_code
        with Guard(comm) as guard:
            try:
                return _command(args, comm, guard)
            except FemsolverError as err:
                # Agreed on by every rank (femsolver.guard): one message, from rank 0.
                _say_stopped(err.status, str(err), comm)
                return err.exit_code
    except BrokenPipeError:
        # The reader of our output went away (`femsolver keys | head`): not an error here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
