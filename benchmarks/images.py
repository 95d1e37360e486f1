"""A 128^3 image to its effective conductivity along z: femsolver on 2 MPI ranks against
TauFactor on 2 threads, side by side, on the same seeded PoreSpy image (docs/performance.md).

    .venv/bin/python benchmarks/images.py [--size 128] [--porosity 0.5]

Needs the peers' venv (bash scripts/setup_peers.sh). femsolver's time is the whole command
after start-up: reading its slab, meshing (one hexahedron per pore voxel; the solid is not
meshed), the CG + GAMG solve and the figures. Memory: the peak resident set of each rank,
summed, per image voxel.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PEERS = REPO / ".venv-peers" / "bin" / "python"


def femsolver_run(path: str, ranks: int) -> dict:
    """Run this file's --worker part under mpirun; its JSON answer."""
    command = [str(REPO / ".venv" / "bin" / "mpirun"), "-n", str(ranks), sys.executable,
               __file__, "--worker", path]
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def worker(path: str) -> None:
    import femsolver  # noqa: F401 - dolfinx_solver first
    from mpi4py import MPI

    from femsolver import tags
    from femsolver.case import MeshParams
    from femsolver.imaging.transport import directional_effective
    from femsolver.mesh import build_domain
    from geometries.image import ImageGeometry

    comm = MPI.COMM_WORLD
    comm.barrier()
    start = time.perf_counter()
    geometry = ImageGeometry(path=path, voxel_size=1e-6, labels={"0": "void", "1": "matrix"})
    domain = build_domain(geometry, MeshParams(), comm)
    meshed = time.perf_counter()
    row = directional_effective(domain, {tags.MATRIX: 1.0}, 1.0, ("z",))[0]
    comm.barrier()
    end = time.perf_counter()
    peak = comm.allreduce(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    if comm.rank == 0:
        voxels = 1
        for n in geometry.image.shape:
            voxels *= n
        print(json.dumps({"tau": row["tortuosity_factor"], "seconds": end - start,
                          "mesh_seconds": meshed - start, "solve_seconds": end - meshed,
                          "cells": domain.mesh.topology.index_map(3).size_global,
                          "bytes_per_voxel": peak / voxels, "peak_bytes": peak}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--porosity", type=float, default=0.5)
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    if not PEERS.exists():
        sys.exit(f"no {PEERS}: run bash scripts/setup_peers.sh first")
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "image.npy")
        peers = [str(PEERS), str(REPO / "scripts" / "peers.py")]
        made = json.loads(subprocess.run(peers + [json.dumps(
            {"generate": "blobs", "shape": [args.size] * 3, "porosity": args.porosity,
             "seed": 1, "blobiness": 1, "path": path})], capture_output=True, text=True,
            check=True).stdout.splitlines()[-1])
        ours = femsolver_run(path, args.ranks)
        theirs = json.loads(subprocess.run(peers + [json.dumps(
            {"tortuosity": path, "axis": 0, "peers": ["taufactor"], "threads": args.ranks})],
            capture_output=True, text=True, check=True).stdout.splitlines()[-1])["taufactor"]
    print(f"| {args.size}^3 blobs, porosity {made['porosity']:.3f} | tau | seconds | "
          f"memory |\n|---|---|---|---|")
    print(f"| femsolver, {args.ranks} ranks (mesh {ours['mesh_seconds']:.1f} s + solve "
          f"{ours['solve_seconds']:.1f} s) | {ours['tau']:.4f} | {ours['seconds']:.1f} | "
          f"{ours['bytes_per_voxel']:.0f} B/voxel ({ours['peak_bytes'] / 2**30:.2f} GiB) |")
    print(f"| TauFactor, {args.ranks} threads ({theirs['iterations']} SOR iterations) | "
          f"{theirs['tau']:.4f} | {theirs['seconds']:.1f} | |")
    print(f"time ratio femsolver / TauFactor: {ours['seconds'] / theirs['seconds']:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        worker(sys.argv[2])
    else:
        main()
