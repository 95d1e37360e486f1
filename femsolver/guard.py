"""Signals and failures of a run, turned into one outcome that every rank agrees on.

A run goes through stages (`STAGES`). `Guard.stage(name)` runs one: whatever any rank raises
in it, or a signal any rank received, ends the stage on every rank with the same error
(`agree`), so no rank is left waiting in a collective call that the others have left.
Signals never raise where they land: SIGINT and SIGTERM set a flag that the next safe point
(the end of a stage, each time step: `check`, `collect`) turns into `Interrupted` on every rank.

Where no safe point comes, a watchdog process (femsolver/watchdog.py, one per rank) ends the
run: `grace` seconds after a signal, at once on a second signal, and `agree_timeout` seconds
after a rank met an error that the other ranks never came to agree on (they are stuck in a
collective call it left). It learns of signals from Python's C-level handler, so it acts even
when the run's Python is stuck in a C call; it writes the summary that the run prepared
(`prepare_summary`), with the reason, removes the lock and kills the process (exit 137; under
mpirun the other ranks go too).

FEMSOLVER_PAUSE_AT=<stage> pauses at the start of that stage (FEMSOLVER_PAUSE_SECONDS, default
30 s, or until a signal arrives) after printing "femsolver: paused at <stage>": tests use it
to deliver a signal inside a given stage. With FEMSOLVER_PAUSE_STUCK=1 the pause ignores
signals, like a C call that never returns to Python. FEMSOLVER_FAIL_AT=<stage>:<rank>[:start]
makes that rank fail at the end (or the start) of that stage: a failure on one rank only, after
the stage's collective calls (or before them, leaving the other ranks in one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from contextlib import contextmanager
from pathlib import Path

from mpi4py import MPI

from femsolver.errors import FemsolverError, InternalError, Interrupted, describe

STAGES = {
    "case": "loading the case",
    "directory": "preparing the output directory",
    "mesh": "meshing",
    "setup": "setting up the problem (forms, compilation)",
    "solver": "setting up the solver",
    "steps": "time stepping",
    "solve": "solving",  # femsolver effective: one linear solve per direction
    "outputs": "writing the outputs",
}
SIGNALS = (signal.SIGINT, signal.SIGTERM)
GRACE_ENV, AGREE_ENV = "FEMSOLVER_SIGNAL_GRACE", "FEMSOLVER_AGREE_TIMEOUT"
PAUSE_ENV, PAUSE_SECONDS_ENV = "FEMSOLVER_PAUSE_AT", "FEMSOLVER_PAUSE_SECONDS"
STUCK_ENV, FAIL_ENV = "FEMSOLVER_PAUSE_STUCK", "FEMSOLVER_FAIL_AT"
WATCHDOG = Path(__file__).with_name("watchdog.py")

_ACTIVE = None  # the installed Guard, if any


def reinstall_handlers() -> None:
    """Put the active guard's signal handlers back after a library replaced them (gmsh's
    initialisation resets SIGTERM and SIGPIPE to their defaults)."""
    if _ACTIVE is not None:
        _ACTIVE.install_handlers()


def _seconds(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class Guard:
    """One per process and command; a context manager that installs the signal handlers and
    starts the watchdog."""

    def __init__(self, comm=MPI.COMM_WORLD, grace: float | None = None,
                 agree_timeout: float | None = None):
        self.comm = comm
        self.grace = grace if grace is not None else _seconds(GRACE_ENV, 60.0)
        self.agree_timeout = (agree_timeout if agree_timeout is not None
                              else _seconds(AGREE_ENV, 120.0))
        self.stage_name = "case"
        self.stage_seconds: dict[str, float] = {}  # wall time spent in each stage
        self.signum = 0  # first signal not yet acted on (0: none)
        # record(stage, error or None): called at each stage's start (error None) and when this
        # rank meets an error; the run keeps the summary the watchdog would write up to date.
        self.record = None

    # ---- installation ---------------------------------------------------------------------
    def __enter__(self):
        global _ACTIVE
        # PETSc installs handlers for SIGTERM and SIGPIPE (among others) when it is first
        # imported, replacing any installed before: import it first so that ours stay.
        from petsc4py import PETSc  # noqa: F401

        read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._watchdog = subprocess.Popen(
            [sys.executable, str(WATCHDOG), str(read), str(os.getpid()), str(self.comm.rank),
             str(self.grace)], pass_fds=[read], stdin=subprocess.DEVNULL)
        os.close(read)
        self._old_handlers = {s: signal.getsignal(s) for s in (*SIGNALS, signal.SIGPIPE)}
        self.install_handlers()
        self._old_wakeup = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        _ACTIVE = self
        return self

    def install_handlers(self) -> None:
        """(Re)install the handlers: libraries such as gmsh reset them to the defaults."""
        for s in SIGNALS:
            signal.signal(s, self._on_signal)
        # A reader of our output that goes away (`| head`, a closed terminal) must not kill the
        # run (PETSc's handler would): writes raise BrokenPipeError instead.
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def __exit__(self, *exc):
        global _ACTIVE
        _ACTIVE = None
        signal.set_wakeup_fd(self._old_wakeup)
        for s, handler in self._old_handlers.items():
            signal.signal(s, handler)
        self._tell(b"Q")
        os.close(self._write)
        try:
            self._watchdog.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._watchdog.kill()

    def _on_signal(self, signum, frame):
        # Main thread, between bytecodes: only remember it (the watchdog has seen it already
        # and says so).
        if not self.signum:
            self.signum = signum

    def _tell(self, message: bytes) -> None:
        try:
            os.write(self._write, message)
        except OSError:  # the watchdog is gone: nothing to tell
            pass

    # ---- what the watchdog needs to record a stop -----------------------------------------
    def prepare_summary(self, path: Path | None) -> None:
        """The summary (a JSON file with the run's fields so far) that the watchdog completes
        and writes as summary.json beside its directory's parent if it has to kill the run."""
        self._tell(b"F" + (str(path).encode() if path else b"") + b"\n")

    def keep_lock(self, path: Path | None) -> None:
        """A lock file the watchdog keeps fresh while the process lives, and removes if it has
        to kill it."""
        self._tell(b"L" + (str(path).encode() if path else b"") + b"\n")

    # ---- stages and agreement -------------------------------------------------------------
    @property
    def stage_text(self) -> str:
        return STAGES.get(self.stage_name, self.stage_name)

    @contextmanager
    def stage(self, name: str):
        """Run one stage; on leaving it every rank raises the same error, or Interrupted if any
        rank received a signal, or nothing."""
        self.stage_name = name
        self.install_handlers()
        if self.record is not None:
            self.record(self.stage_text, None)
        self._pause(name)
        start = time.perf_counter()
        try:
            with self.collect():
                self._fail(name, "start")
                yield
                self._fail(name, "end")
        finally:
            self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + (
                time.perf_counter() - start)

    @contextmanager
    def collect(self):
        """A safe point after a block (collective): whatever a rank raises in the block is
        agreed on by every rank, and a signal any rank received becomes Interrupted."""
        error = None
        try:
            yield
        except BaseException as err:  # noqa: BLE001 - every error must reach the agreement
            error = err
        self.agree(error)

    def check(self) -> None:
        """A safe point inside a stage (collective): Interrupted on every rank if any rank
        received a signal."""
        self.agree(None)

    def agree(self, error: BaseException | None) -> None:
        """Collective: raise one error on every rank if any rank has one (the lowest failing
        rank's), else Interrupted if any rank received a signal, else return."""
        local = None
        if error is not None:
            local = describe(error)
            if isinstance(local, InternalError) and not isinstance(error, FemsolverError):
                # A bug: its traceback, once, from the rank where it happened.
                traceback.print_exception(error, file=sys.stderr)
                sys.stderr.flush()
            if self.record is not None:
                self.record(self.stage_text, local)
            self._tell(f"E{self.agree_timeout}\n".encode())
        outcomes = self.comm.allgather((_portable(local), self.signum))
        if local is not None:
            self._tell(b"D")
        failures = [f for f, _ in outcomes if f is not None]
        if failures:
            raise _rebuild(failures[0]) from (error if local is not None else None)
        signums = [s for _, s in outcomes if s]
        if signums:
            raise Interrupted(signums[0], self.stage_text)

    def acknowledge(self) -> None:
        """The run has acted on its interruption and now writes what it has: the watchdog
        gives it a new grace period for that; a later signal stops it at once."""
        self.signum = 0
        self._tell(b"A")

    # ---- test hooks -----------------------------------------------------------------------
    def _fail(self, name: str, when: str) -> None:
        if os.environ.get(FAIL_ENV) in (f"{name}:{self.comm.rank}:{when}",
                                        *([f"{name}:{self.comm.rank}"] if when == "end" else [])):
            raise RuntimeError(f"failure injected at {name} on rank {self.comm.rank} "
                               f"({FAIL_ENV})")

    def _pause(self, name: str) -> None:
        if os.environ.get(PAUSE_ENV) != name:
            return
        if self.comm.rank == 0:
            print(f"femsolver: paused at {name}", flush=True)
        end = time.monotonic() + _seconds(PAUSE_SECONDS_ENV, 30.0)
        stuck = os.environ.get(STUCK_ENV) == "1"
        while time.monotonic() < end and (stuck or not self.signum):
            time.sleep(0.05)


def _portable(error: FemsolverError | None):
    """What allgather sends of an error: (class name, constructor arguments)."""
    if error is None:
        return None
    if isinstance(error, Interrupted):
        return "Interrupted", (error.signum, error.phase)
    return type(error).__name__, (str(error),)


def _rebuild(portable) -> FemsolverError:
    from femsolver import errors

    name, args = portable
    return getattr(errors, name)(*args)
