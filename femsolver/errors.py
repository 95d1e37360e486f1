"""Errors a user can act on, each with the exit code it ends the process with.

Exit codes (README, docs/reliability.md):
    0    a result: status complete, depleted or cutoff
    1    the run failed: the solver did not converge, or femsolver itself failed (a bug)
    2    bad input: the case file, an override or a geometry that cannot be built as asked
    3    the environment: output directory locked by another run, not writable, disk full,
         memory, a file that cannot be read
    128 + n  stopped by signal n: 130 for Ctrl-C (SIGINT), 143 for SIGTERM (e.g. Slurm)
"""

import signal
import sys

from mpi4py import MPI


class FemsolverError(Exception):
    """An error with a message for the user, no traceback."""

    exit_code = 1
    status = "failed"


class CaseError(FemsolverError):
    """The case file (or a --set override) is wrong; the message names the key."""

    exit_code = 2


class GeometryError(FemsolverError):
    """The requested geometry cannot be built."""

    exit_code = 2


class SolverError(FemsolverError):
    """Newton diverged or the time step fell below its minimum."""


class ResourceError(FemsolverError):
    """Something outside the case stops the run: files, disk space, memory, another run."""

    exit_code = 3


class Interrupted(FemsolverError):
    """A signal (Ctrl-C, SIGTERM) stopped the run; `phase` says where."""

    status = "interrupted"

    def __init__(self, signum: int, phase: str):
        self.signum, self.phase = signum, phase
        self.exit_code = 128 + signum
        super().__init__(f"interrupted by {signal.Signals(signum).name} during {phase}")


class InternalError(FemsolverError):
    """An unexpected exception (a bug, or a library failing): the message names its type."""


def describe(error: BaseException) -> FemsolverError:
    """`error` as a FemsolverError whose message names the cause (never an empty message)."""
    if isinstance(error, FemsolverError):
        return error
    text = str(error) or "no message"
    if isinstance(error, MemoryError):
        return ResourceError(f"out of memory ({text})")
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return ResourceError(f"{error.strerror or text}{where}")
    return InternalError(f"{type(error).__name__}: {text}")


def report(message: str, comm=MPI.COMM_WORLD) -> None:
    """Print an error message on rank 0 only."""
    if comm.rank == 0:
        print(f"femsolver: error: {message}", file=sys.stderr, flush=True)
