"""Errors a user can act on, reported once (rank 0) without a traceback."""

import sys

from mpi4py import MPI


class FemsolverError(Exception):
    """An error caused by the input or the physics, with a message for the user."""


class CaseError(FemsolverError):
    """The case file (or a --set override) is wrong; the message names the key."""


class GeometryError(FemsolverError):
    """The requested geometry cannot be built."""


class SolverError(FemsolverError):
    """Newton diverged or the time step fell below its minimum."""


def report(message: str, comm=MPI.COMM_WORLD) -> None:
    """Print an error message on rank 0 only."""
    if comm.rank == 0:
        print(f"femsolver: error: {message}", file=sys.stderr, flush=True)
