"""Shared test set-up. femsolver is imported first: it loads dolfinx_solver before dolfinx."""

import os
import shutil
import sys
import tempfile
from pathlib import Path

import femsolver  # noqa: F401
import gmsh
import pytest
from mpi4py import MPI

# Tests never read or fill a user's mesh cache; the cache tests set their own directory.
os.environ.pop("FEMSOLVER_MESH_CACHE", None)


@pytest.fixture
def model():
    """A fresh, silent gmsh model; gmsh is finalised afterwards."""
    gmsh.initialize(readConfigFiles=False, interruptible=False)
    gmsh.option.setNumber("General.Terminal", 0)
    gmsh.model.add("test")
    yield gmsh.model
    gmsh.finalize()


@pytest.fixture
def shared_dir():
    """A fresh directory that every MPI rank sees (pytest's tmp_path differs per rank)."""
    comm = MPI.COMM_WORLD
    path = Path(comm.bcast(tempfile.mkdtemp(prefix="femsolver-") if comm.rank == 0 else None))
    yield path
    comm.barrier()
    if comm.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


def pytest_runtest_logreport(report):
    """Under MPI a test failing on one rank leaves the others waiting in a collective call:
    print the failure and stop every rank at once instead of hanging."""
    comm = MPI.COMM_WORLD
    if report.failed and comm.size > 1:
        sys.stderr.write(f"\nrank {comm.rank}: {report.nodeid} FAILED; aborting all ranks\n"
                         f"{report.longreprtext}\n")
        sys.stderr.flush()
        comm.Abort(1)
