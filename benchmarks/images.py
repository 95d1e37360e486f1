"""femsolver against TauFactor (and PoreSpy) on the same seeded PoreSpy images, side by side on
the same cores (docs/performance.md#images, docs/images.md).

    .venv/bin/python benchmarks/images.py [--size 128] [--porosity 0.5] [--ranks 2] [--repeat 2]
    .venv/bin/python benchmarks/images.py --mesh        # also the dolfinx mesh path
    .venv/bin/python benchmarks/images.py --test-images     # the peer tests' images, x1 and x2

Default: a size^3 blobs image to its effective conductivity along z, femsolver on `ranks` MPI
ranks against TauFactor on `ranks` threads (its default conv_crit 1e-2), alternating, `repeat`
times each. femsolver solves on the voxel grid (`femsolver effective` on an image of voxels:
Q1 elements, femsolver.imaging.structured; and `effective_method = "fv"`, TauFactor's finite
volumes, femsolver.imaging.finite_volume); --mesh adds its dolfinx path (one hexahedron per conducting
voxel: `femsolver run`'s mesh), the same Q1 problem. --test-images: tests/test_images.py's three
24^3 images and their x2 upsampling, with PoreSpy too (TauFactor conv_crit 1e-3, as in the
test), on the mesh path. Needs the peers' venv (scripts/setup_peers.sh).
femsolver's seconds, after start-up: set-up (reading its slab, node numbering; the mesh path:
the mesh and tags) + solve (assembly, the multigrid levels and CG; the mesh path: assembly, CG +
GAMG; the figures), and the CPU seconds of the busiest rank (less inflated by other jobs on the
cores than the wall clock). Memory: the peak resident set of each rank, summed, per image voxel.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEERS = Path(os.environ.get("FEMSOLVER_PEERS_VENV", REPO / ".venv-peers")) / "bin" / "python"
# Seeded PoreSpy images of the peer tests (24^3): blobs (features ~1 voxel) at porosity 0.5 and
# at 0.35, near the 0.31 site-percolation threshold of face-connected voxels, and the space
# between overlapping spheres of radius 3 at porosity 0.25
TEST_IMAGES = {"blobs_0.5": {"generate": "blobs", "porosity": 0.5, "seed": 1, "blobiness": 1},
               "blobs_0.35": {"generate": "blobs", "porosity": 0.35, "seed": 2, "blobiness": 1},
               "spheres_0.25": {"generate": "overlapping_spheres", "porosity": 0.25, "seed": 3,
                                "radius": 3}}


def peers(requests: list[dict]) -> list[dict]:
    """Answers of scripts/peers.py (in the peers' venv) to a list of requests."""
    out = subprocess.run([str(PEERS), str(REPO / "scripts" / "peers.py"), json.dumps(requests)],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"scripts/peers.py failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def femsolver_run(path: str, ranks: int, refine: int = 0, method: str = "voxels") -> dict:
    """Run this file's --worker part under mpirun; its JSON answer."""
    command = [str(REPO / ".venv" / "bin" / "mpirun"), "-n", str(ranks), sys.executable,
               __file__, "--worker", path, str(refine), method]
    out = subprocess.run(command, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"femsolver on {ranks} ranks failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def worker(path: str, refine: int, method: str) -> None:
    import femsolver  # noqa: F401 - dolfinx_solver first
    from mpi4py import MPI

    from femsolver import tags
    from femsolver.case import MeshParams
    from femsolver.imaging import finite_volume
    from femsolver.imaging.build import image_slab
    from femsolver.imaging.structured import VoxelConduction, VOXEL_SOLVER, solve_direction
    from femsolver.imaging.transport import direction_rows, directional_effective
    from femsolver.mesh import build_domain
    from geometries.image import ImageGeometry

    comm = MPI.COMM_WORLD
    sigma = {tags.MATRIX: 1.0}
    comm.barrier()
    start, cpu = time.perf_counter(), time.process_time()
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels={"0": "void", "1": "matrix"})
    if method == "voxels":  # imaging.structured.image_effective, timed in two parts
        system = VoxelConduction(*image_slab(geometry, refine, comm), sigma, comm)
        ready = time.perf_counter()
        row = direction_rows(system.fractions, 3, sigma, 1.0, ("z",), None,
                             lambda axis: solve_direction(system, 2 - axis, 1.0,
                                                          VOXEL_SOLVER))[0]
        size = comm.allreduce(system.owned)
    elif method == "fv":  # imaging.finite_volume.fv_effective, timed in two parts
        codes, below, above, k0, grid = image_slab(geometry, refine, comm)
        cells = finite_volume.VoxelCells(codes, below, above, grid, sigma, comm)
        ready = time.perf_counter()
        row = direction_rows(cells.fractions, 3, sigma, 1.0, ("z",), None,
                             lambda axis: finite_volume.solve_direction(
                                 cells, 2 - axis, 1.0, finite_volume.FV_SOLVER, k0))[0]
        size = comm.allreduce(cells.owned)
    else:
        domain = build_domain(geometry, MeshParams(refine=refine), comm)
        ready = time.perf_counter()
        row = directional_effective(domain, sigma, 1.0, ("z",))[0]
        size = domain.mesh.topology.index_map(3).size_global
    cpu = comm.allreduce(time.process_time() - cpu, op=MPI.MAX)
    comm.barrier()
    end = time.perf_counter()
    peak = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    if comm.rank == 0:
        voxels = 8 ** refine
        for n in geometry.image.shape:
            voxels *= n
        print(json.dumps({"tau": row["tortuosity_factor"], "D_rel": row["relative_conductivity"],
                          "seconds": end - start, "setup_seconds": ready - start,
                          "solve_seconds": end - ready, "cpu_seconds": cpu, "size": size,
                          "bytes_per_voxel": peak / voxels, "peak_bytes": peak}))


def large(args, path: str) -> None:
    made = peers([{"generate": "blobs", "shape": [args.size] * 3, "porosity": args.porosity,
                   "seed": 1, "blobiness": 1, "path": path}])[0]
    print(f"| {args.size}^3 blobs, porosity {made['porosity']:.3f} | tau | seconds | "
          f"memory |\n|---|---|---|---|")
    runs = {"voxels": [], "fv": [], "mesh": [], "TauFactor": []}
    for _ in range(args.repeat):  # alternating: the same load for both, as far as it goes
        for method in ("voxels", "fv", "mesh") if args.mesh else ("voxels", "fv"):
            ours = femsolver_run(path, args.ranks, method=method)
            runs[method].append(ours["seconds"])
            what = "cells" if method == "mesh" else "unknowns"
            print(f"| femsolver {method}, {args.ranks} ranks ({ours['size']} {what}; set-up "
                  f"{ours['setup_seconds']:.1f} s + solve {ours['solve_seconds']:.1f} s; CPU "
                  f"{ours['cpu_seconds']:.1f} s) | "
                  f"{ours['tau']:.4f} | {ours['seconds']:.1f} | "
                  f"{ours['bytes_per_voxel']:.0f} B/voxel ({ours['peak_bytes'] / 2**30:.2f} "
                  f"GiB) |", flush=True)
        theirs = peers([{"tortuosity": path, "axis": 0, "peers": ["taufactor"],
                         "threads": args.ranks}])[0]["taufactor"]
        runs["TauFactor"].append(theirs["seconds"])
        print(f"| TauFactor, {args.ranks} threads ({theirs['iterations']} iterations) | "
              f"{theirs['tau']:.4f} | {theirs['seconds']:.1f} | |", flush=True)
    for method in ("voxels", "fv", "mesh"):
        for ours, theirs in zip(runs[method], runs["TauFactor"]):
            print(f"time ratio femsolver {method} / TauFactor: {ours / theirs:.2f}")


def test_images(args, directory: Path) -> None:
    paths = {name: str(directory / f"{name}.npy") for name in TEST_IMAGES}
    made = peers([{**spec, "shape": [24] * 3, "path": paths[name]}
                  for name, spec in TEST_IMAGES.items()])
    print("| image (porosity) | voxels | femsolver tau (s) | TauFactor tau (s) | "
          "PoreSpy tau (s) | femsolver / TauFactor sigma_eff - 1 |\n|---|---|---|---|---|---|")
    for (name, path), porosity in zip(paths.items(), made):
        for refine in (0, 1):
            ours = femsolver_run(path, args.ranks, refine, "mesh")
            tf, ps = peers([{"tortuosity": path, "axis": 0, "peers": ["taufactor", "porespy"],
                             "upsample": 2 ** refine, "conv_crit": 1e-3,
                             "threads": args.ranks}])[0].values()
            print(f"| {name} ({porosity['porosity']:.3f}) | {24 * 2 ** refine}^3 | "
                  f"{ours['tau']:.3f} ({ours['seconds']:.1f}) | {tf['tau']:.3f} "
                  f"({tf['seconds']:.1f}) | {ps['tau']:.3f} ({ps['seconds']:.1f}) | "
                  f"{ours['D_rel'] / tf['D_rel'] - 1:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--porosity", type=float, default=0.5)
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="femsolver / TauFactor pairs")
    parser.add_argument("--mesh", action="store_true", help="also femsolver's dolfinx path")
    parser.add_argument("--test-images", action="store_true",
                        help="the peer tests' images at 24^3 and x2, with PoreSpy")
    args = parser.parse_args()
    if not PEERS.exists():
        sys.exit(f"no {PEERS}: run bash scripts/setup_peers.sh first")
    with tempfile.TemporaryDirectory() as tmp:
        if args.test_images:
            test_images(args, Path(tmp))
        else:
            large(args, str(Path(tmp) / "image.npy"))


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
