"""Mesh generation: gmsh at increasing resolution against dolfinx refinement of a coarse mesh.

Default geometry: the 2D PRS@Li seed case. Two ways to a fine mesh, as femsolver does them
(`femsolver.mesh`):

* gmsh: the case's h_interface and h_bulk divided by each `--scale` factor, the graded zone
  kept as wide (`geometries.common.GRADING` divided by the factor too), so scale 2 is the
  same mesh twice as fine everywhere, like one `mesh.refine` (cells x 4 in 2D). Times: the
  builder (OCC geometry, physical groups, size field), `generate` (gmsh on rank 0) and
  `model_to_mesh` (distribution to all ranks with the shared-facet ghost layer).
* cache: each gmsh mesh written to and read back from the femsolver mesh cache (XDMF/HDF5,
  `femsolver.mesh.write_cache` / `read_cached`, read partitioned over all ranks).
* refine: the scale-1 mesh refined `mesh.refine` times in dolfinx (each level x4 cells in 2D,
  tags carried over; `femsolver.meshtags.refine`), on all ranks.

    python benchmarks/mesh_generation.py                       # scales 1 2 4 8, refine 0..3
    mpirun -n 2 python benchmarks/mesh_generation.py
    python benchmarks/mesh_generation.py --gmsh-threads 2      # gmsh's own threads (rank 0)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402  (imports femsolver, hence dolfinx_solver, first)
from _common import COMM, fmt, say, table  # noqa: E402

import dolfinx.io.gmsh  # noqa: E402
import dolfinx.mesh  # noqa: E402
import gmsh  # noqa: E402

from femsolver import mesh as fmesh  # noqa: E402
from femsolver.meshtags import refine  # noqa: E402
import geometries.common  # noqa: E402
from geometries import family_of  # noqa: E402
from geometries.common import GRADING, NM, mesh_sizes  # noqa: E402


def gmsh_mesh(geometry, mesh_params, threads: int) -> dict:
    """Build + mesh on rank 0 and distribute with model_to_mesh; returns times and the mesh."""
    family = family_of(geometry)
    dim = geometry.dimension
    t = {}
    if COMM.rank == 0:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.NumThreads", threads)
        gmsh.model.add("benchmark")

        def build(*args):
            start = time.perf_counter()
            family.build(*args)
            t["build"] = time.perf_counter() - start

        start = time.perf_counter()
        fmesh._generate(build, geometry, mesh_params, dim)  # builder, options, generate, checks
        t["generate"] = time.perf_counter() - start - t["build"]
    t = COMM.bcast(t, root=0)
    partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
    with common.timer(t, "model_to_mesh"):
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, COMM, 0, gdim=dim,
                                             partitioner=partitioner)
        data.mesh.geometry.x[:] /= NM
    if COMM.rank == 0:
        gmsh.finalize()
    t["cells"] = common.global_cells(data.mesh)
    return t, data


def measure(args) -> dict:
    usage = common.Usage()
    case = common.load(args.case, args.set)
    h_interface, h_bulk = mesh_sizes(case.geometry.reference_length, case.mesh)  # nm
    results = {"ranks": COMM.size, "machine": common.machine(), "case": str(args.case),
               "overrides": args.set, "gmsh_threads": args.gmsh_threads, "gmsh": [],
               "refine": []}
    coarse = None
    cache_dir = None
    if not args.no_cache:
        made = (tempfile.mkdtemp(prefix="femsolver-meshcache-", dir=args.cache_dir)
                if COMM.rank == 0 else None)
        cache_dir = Path(COMM.bcast(made))
    for scale in args.scale:
        params = replace(case.mesh, h_interface=h_interface / scale / NM,
                         h_bulk=h_bulk / scale / NM, refine=0)
        geometries.common.GRADING = GRADING / scale  # same graded zone, scale x finer
        try:
            t, data = gmsh_mesh(case.geometry, params, args.gmsh_threads)
        finally:
            geometries.common.GRADING = GRADING
        t.update(scale=scale, h_interface_nm=h_interface / scale, h_bulk_nm=h_bulk / scale)
        if cache_dir is not None:
            entry = cache_dir / f"scale{scale:g}.xdmf"
            with common.timer(t, "cache_write"):
                fmesh.write_cache(entry, data.mesh, data.cell_tags, data.facet_tags, {})
            with common.timer(t, "cache_read"):
                fmesh.read_cached(entry, COMM)
        results["gmsh"].append(t)
        say(f"  gmsh scale {scale:g}: {t['cells']} cells")
        if scale == args.scale[0]:
            coarse = data
        del data
    if cache_dir is not None and COMM.rank == 0:
        shutil.rmtree(cache_dir, ignore_errors=True)
    mesh, cell_tags, facet_tags = coarse.mesh, coarse.cell_tags, coarse.facet_tags
    base = results["gmsh"][0]
    total = base["build"] + base["generate"] + base["model_to_mesh"]
    results["refine"].append({"level": 0, "cells": common.global_cells(mesh), "seconds": 0.0,
                              "cumulative": total})
    for level in range(1, args.refine + 1):
        t = {}
        with common.timer(t, "seconds"):
            mesh, cell_tags, facet_tags = refine(mesh, cell_tags, facet_tags)
        total += t["seconds"]
        results["refine"].append({"level": level, "cells": common.global_cells(mesh),
                                  "seconds": t["seconds"], "cumulative": total})
        say(f"  refine {level}: {results['refine'][-1]['cells']} cells")
    results["usage"] = usage.summary()
    return results


def report(results: dict) -> str:
    out = [f"# mesh_generation: {results['ranks']} rank(s), gmsh threads "
           f"{results['gmsh_threads']}; {results['machine']}",
           f"# case {Path(results['case']).name} {' '.join(results['overrides'])}",
           common.Usage.line(results["usage"])]
    rows = [[f"{g['scale']:g}", f"{g['h_interface_nm']:.3g}", f"{g['h_bulk_nm']:.3g}", g["cells"],
             fmt(g["build"]), fmt(g["generate"]), f"{g['cells'] / g['generate']:.3g}",
             fmt(g["model_to_mesh"]), fmt(g["build"] + g["generate"] + g["model_to_mesh"]),
             fmt(g.get("cache_write")), fmt(g.get("cache_read"))]
            for g in results["gmsh"]]
    out.append(table(["scale", "h_int nm", "h_bulk nm", "cells", "build s", "generate s",
                      "cells/s", "model_to_mesh s", "total s", "cache write s",
                      "cache read s"], rows,
                     "\ngmsh on rank 0 (build + generate), then model_to_mesh to all ranks; "
                     "the mesh cache (XDMF) written and read back"))
    rows = [[r["level"], r["cells"], fmt(r["seconds"]) if r["level"] else "-",
             f"{r['cells'] / r['seconds']:.3g}" if r["level"] else "-", fmt(r["cumulative"])]
            for r in results["refine"]]
    out.append(table(["refine", "cells", "refine s", "fine cells/s", "total s (gmsh scale "
                      f"{results['gmsh'][0]['scale']:g} + refines)"], rows,
                     "\ndolfinx refinement of the first gmsh mesh (femsolver mesh.refine)"))
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", type=Path, default=common.DEFAULT_CASE)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="case override, e.g. --set geometry.dimension=3 (repeatable)")
    p.add_argument("--scale", type=float, nargs="+", default=[1, 2, 4, 8],
                   help="divide the case's mesh sizes by these factors (first: refined mesh)")
    p.add_argument("--refine", type=int, default=3, help="refine the first mesh 1..N times")
    p.add_argument("--no-cache", action="store_true", help="do not time the mesh cache")
    p.add_argument("--cache-dir", help="where the timed cache entries go (removed afterwards; "
                   "default: the system temporary directory)")
    p.add_argument("--gmsh-threads", type=int, default=1, help="gmsh General.NumThreads")
    p.add_argument("--json", type=Path, help="also write the figures as JSON")
    return p


def main(argv: list[str] | None = None) -> dict:
    args = parser().parse_args(argv)
    results = measure(args)
    say(report(results))
    common.write_json(args.json, results)
    return results


if __name__ == "__main__":
    main()
