"""What a result was computed with: code versions, the fully resolved case and its hash, where.

`record(case, comm)` goes into every summary, so that a number in a paper can be traced to the
exact inputs (every key, defaults included) and software that produced it. `case_keys` and
`differences` compare two resolved cases key by key (restarts refuse a changed case).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

from mpi4py import MPI

import femsolver


def resolved_case(case) -> dict:
    """Every key of the case, defaults included, as plain TOML-like values."""
    data = dataclasses.asdict(case)
    data["geometry"] = {"kind": _kind(case.geometry), **data["geometry"]}
    return data


def case_hash(case) -> str:
    """SHA-256 of the resolved case (keys sorted): equal hashes, equal inputs."""
    text = json.dumps(resolved_case(case), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def case_keys(data: dict, prefix: str = "") -> dict:
    """A resolved case flattened to {'section.key': value}."""
    flat = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and key != "petsc_options":
            flat.update(case_keys(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def differences(a: dict, b: dict) -> list[str]:
    """Keys ('section.key') whose values differ between two resolved cases."""
    fa, fb = case_keys(a), case_keys(b)
    return sorted(k for k in fa.keys() | fb.keys() if fa.get(k) != fb.get(k))


def record(case, comm=MPI.COMM_WORLD) -> dict:
    """Provenance entries of a summary (collective: the hosts of every rank)."""
    hosts = sorted(set(comm.allgather(socket.gethostname())))
    commit = comm.bcast(_git_commit() if comm.rank == 0 else None, root=0)
    return {"femsolver_version": femsolver.__version__, "git_commit": commit,
            "versions": software_versions(), "hosts": hosts,
            "case": resolved_case(case), "case_sha256": case_hash(case)}


@cache
def software_versions() -> dict:
    """Versions of the stack a run used."""
    import dolfinx
    import gmsh
    from petsc4py import PETSc

    versions = {"python": platform.python_version(), "dolfinx": dolfinx.__version__,
                "petsc": ".".join(map(str, PETSc.Sys.getVersion())), "gmsh": gmsh.__version__,
                "mpi": MPI.Get_library_version().splitlines()[0].strip()}
    for name in ("dolfinx-solver-real", "numpy", "mpi4py"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


@cache
def _git_commit() -> str | None:
    """The commit of the femsolver checkout in use, '+' marking local changes; None outside a
    git checkout (an installed copy)."""
    root = Path(femsolver.__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], text=True,
                                capture_output=True, timeout=10)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain",
                                "--untracked-files=no"], text=True, capture_output=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return commit.stdout.strip() + ("+" if dirty else "")


def _kind(geometry) -> str:
    from geometries import REGISTRY

    return next(k for k, family in REGISTRY.items() if isinstance(geometry, family.params))
