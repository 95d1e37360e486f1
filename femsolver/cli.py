"""Command line: `femsolver run CASE`, `mesh CASE`, `effective CASE`, `keys`, `compare RUNS`,
`verify`."""

from __future__ import annotations

import argparse
import sys
import traceback

from mpi4py import MPI

from femsolver.errors import CaseError, FemsolverError, report


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
    sub.add_parser("keys", help="list every case key with its default and unit")
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


def _load(args):
    from femsolver.case import load_case

    overrides = list(args.set) + ([f'output.directory="{args.output}"'] if args.output else [])
    return load_case(args.case, overrides)


def _mesh(args, comm) -> None:
    from femsolver.mesh import build_domain, write_domain
    from femsolver.outputs.regions import plot_regions
    from femsolver.simulation import prepare_directory

    case = _load(args)
    directory = case.output_directory
    prepare_directory(directory, comm)
    domain = build_domain(case.geometry, case.mesh, comm)
    write_domain(domain, directory)
    plot_regions(domain, directory / "regions.png")
    if comm.rank == 0 and not args.quiet:
        cells = domain.mesh.topology.index_map(domain.mesh.topology.dim).size_global
        print(f"mesh of '{case.name}': {cells} cells -> {directory}")


def _effective(args, comm) -> None:
    """Effective conductivity of the case's particle domain -> effective.json, effective.md."""
    import json

    from femsolver.effective import effective_conductivity, table
    from femsolver.materials.solid_electrolytes import ionic_conductivities
    from femsolver.mesh import build_domain

    case = _load(args)
    if case.problem != "particle":
        raise CaseError("'femsolver effective' needs a particle geometry (geometry.kind = "
                        "'core_shell' or 'composite')")
    try:
        conductivities = ionic_conductivities(case)
    except ValueError as err:
        raise CaseError(str(err)) from None
    directory = case.output_directory
    if comm.rank == 0:
        directory.mkdir(parents=True, exist_ok=True)
    domain = build_domain(case.geometry, case.mesh, comm)
    result = effective_conductivity(domain, conductivities)
    if comm.rank == 0:
        text = f"# Effective ionic conductivity of '{case.name}'\n\n{table(result)}\n"
        (directory / "effective.md").write_text(text)
        (directory / "effective.json").write_text(json.dumps(
            {"case": case.name, **result.as_dict()}, indent=1) + "\n")
        if not args.quiet:
            print(text + f"-> {directory}/effective.json, effective.md")


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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    comm = MPI.COMM_WORLD
    try:
        if args.command == "keys":
            from femsolver.case import describe

            if comm.rank == 0:
                print(describe())
        elif args.command == "mesh":
            _mesh(args, comm)
        elif args.command == "effective":
            _effective(args, comm)
        elif args.command == "compare":
            from femsolver.compare import compare

            if comm.rank == 0:
                print(compare(args.runs, args.output), end="")
        elif args.command == "verify":
            return _verify(args, comm)
        else:
            from femsolver.simulation import run

            summary = run(_load(args), comm, verbose=not args.quiet)
            if summary["status"] == "interrupted":
                return 130  # the conventional code for Ctrl-C, so scripts stop too
    except FemsolverError as err:
        # Raised on every rank alike (each rank reads the case and sees the same solve).
        report(str(err), comm)
        return 2 if isinstance(err, CaseError) else 1
    except KeyboardInterrupt:
        report("interrupted", comm)
        return 130
    except Exception:
        # An unexpected error may hit one rank only: print it there and stop all ranks
        # rather than leaving the others waiting in a collective call.
        traceback.print_exc()
        sys.stderr.flush()
        if comm.size > 1:
            comm.Abort(1)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
