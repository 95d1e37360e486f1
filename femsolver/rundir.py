"""An output directory used as a transaction: one run at a time, nothing stale, summary last.

    DIR/femsolver.lock   held while a run writes here: host, pid, case, start time
    DIR/in-progress/     where the run writes; its entries move into DIR when the run ends
    DIR/manifest.json    what the run wrote (its files, relative to DIR), written at the end
    DIR/summary.json     written last: a reader that finds it finds a finished run
    DIR/previous/        the earlier run's files, moved aside when a new run starts here

The lock's heartbeat (its modification time) is kept fresh by the run's watchdog process
(femsolver.watchdog), which also removes it if it has to kill a stuck run.

A second run into a locked directory is refused, naming the run that holds it. A lock whose
run is gone (its process on this host has ended, or on another host its heartbeat is older
than STALE_AFTER) is taken over. A small reserve file keeps room for the summary and the
manifest when the disk fills up. Only rank 0 touches the file system; `claim` and
`require_space` are collective and raise the same error on every rank.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from mpi4py import MPI

from femsolver.errors import ResourceError
from femsolver.outputs.tables import write_json

LOCK, STAGING, PREVIOUS = "femsolver.lock", "in-progress", "previous"
MANIFEST, SUMMARY, RESERVE = "manifest.json", "summary.json", ".femsolver-reserve"
RESERVE_BYTES = 256 << 10
STALE_AFTER = 600.0  # s without a heartbeat after which a lock from another host is stale
# Names femsolver writes; without a manifest (runs of earlier versions) these are the run's.
OUTPUT_PATTERNS = ("*.xdmf", "*.h5", "*.bp", "*.png", "*.gif", "*.csv", "*.json", "*.md")


def now_text() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


class RunDirectory:
    """The output directory of one command (`femsolver run`, `mesh`, `effective`)."""

    def __init__(self, path: str | Path, comm=MPI.COMM_WORLD, name: str = "", say=print):
        self.path = Path(path)
        self.staging = self.path / STAGING
        self.comm = comm
        self.name = name
        self.say = say
        self.started = now_text()
        self.held = False

    # ---- claim ----------------------------------------------------------------------------
    def claim(self) -> None:
        """Lock the directory, move an earlier run aside and create the staging directory
        (collective). ResourceError on every rank if the directory cannot be used."""
        message = None
        if self.comm.rank == 0:
            try:
                self._claim()
            except ResourceError as err:
                message = str(err)
            except OSError as err:
                message = f"cannot use the output directory {self.path}: " \
                          f"{err.strerror or err}" + (f" ({err.filename})" if err.filename else "")
        message = self.comm.bcast(message, root=0)
        if message is not None:
            raise ResourceError(message)
        self.held = True

    def _claim(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise ResourceError(f"the output path {self.path} exists and is not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ResourceError(f"cannot create the output directory {self.path}: "
                                f"{err.strerror or err}") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise ResourceError(f"the output directory {self.path} is not writable")
        self._lock()
        try:
            self._move_earlier_run_aside()
            self.staging.mkdir()
            with open(self.path / RESERVE, "wb") as f:
                f.write(b"\0" * RESERVE_BYTES)
        except BaseException:
            (self.path / LOCK).unlink(missing_ok=True)
            raise

    def _lock(self) -> None:
        take_lock(self.path / LOCK, {"case": self.name, "host": socket.gethostname(),
                                     "pid": os.getpid(), "started": self.started,
                                     "command": " ".join(sys.argv)}, self.say)

    @property
    def lock(self) -> Path:
        return self.path / LOCK

    def note(self, name: str, data: dict) -> Path:
        """Write `data` as in-progress/.<name>.json (any rank; the commit drops such notes)."""
        path = self.staging / f".{name}.json"
        write_json(path, data, comm=MPI.COMM_SELF)
        return path

    def _move_earlier_run_aside(self) -> None:
        """Move the files of an earlier run here to previous/ (replacing an older previous/)."""
        manifest = _read_json(self.path / MANIFEST)
        if manifest:
            names = set(manifest.get("files", [])) | {MANIFEST, SUMMARY}
        elif (self.path / SUMMARY).exists() or (self.path / STAGING).exists():
            names = {p.name for p in self.path.iterdir()
                     if any(fnmatch.fnmatch(p.name, pattern) for pattern in OUTPUT_PATTERNS)}
        else:
            names = set()
        names |= {STAGING}
        present = sorted(n for n in names if (self.path / n).exists() or
                         (self.path / n).is_symlink())
        if not present:
            return
        earlier = _read_json(self.path / SUMMARY)
        previous = self.path / PREVIOUS
        if previous.exists():
            shutil.rmtree(previous)
        previous.mkdir()
        for name in present:
            os.replace(self.path / name, previous / name)
        what = (f"case '{earlier.get('name')}', status {earlier.get('status')}" if earlier
                else "no summary: it did not finish")
        self.say(f"output: moved the {len(present)} files of the earlier run here ({what}) to "
                 f"{previous}/")

    # ---- during the run -------------------------------------------------------------------
    def require_space(self, nbytes: float) -> None:
        """ResourceError on every rank unless the file system of the directory has room for
        `nbytes` (a global estimate) and a margin (collective)."""
        free = None
        if self.comm.rank == 0:
            try:
                stat = os.statvfs(self.path)
                free = stat.f_bavail * stat.f_frsize
            except OSError:
                free = None
        free = self.comm.bcast(free, root=0)
        need = 1.2 * nbytes + (1 << 20)
        if free is not None and free < need:
            raise ResourceError(f"disk full: {free / 2**20:.1f} MiB free on the file system of "
                                f"{self.path}, the next write needs about {need / 2**20:.1f} MiB")

    # ---- the end --------------------------------------------------------------------------
    def commit(self, summary: dict) -> None:
        """Move what the run wrote into the directory, write the manifest, then the summary,
        and unlock (collective: every rank returns once the files are final)."""
        self.comm.barrier()
        error = None
        if self.comm.rank == 0:
            try:
                (self.path / RESERVE).unlink(missing_ok=True)
                files = []
                for entry in sorted(self.staging.iterdir()):
                    if entry.name.startswith("."):  # the run's own notes (see `note`)
                        entry.unlink()
                        continue
                    os.replace(entry, self.path / entry.name)
                    files.append(entry.name)
                self.staging.rmdir()
                self._finish(summary, files)
            except OSError as err:
                error = f"could not finish the output directory {self.path}: " \
                        f"{err.strerror or err}"
        error = self.comm.bcast(error, root=0)
        self.held = False
        if error is not None:
            raise ResourceError(error)

    def _finish(self, summary: dict, files: list[str]) -> None:
        ended = now_text()
        write_json(self.path / MANIFEST, {
            "case": self.name, "status": summary.get("status"), "started": self.started,
            "ended": ended, "files": files}, comm=MPI.COMM_SELF)
        write_json(self.path / SUMMARY, summary, comm=MPI.COMM_SELF)
        (self.path / LOCK).unlink(missing_ok=True)


def take_lock(lock: Path, record: dict, say=print) -> None:
    """Create `lock` holding `record` (case, host, pid, started, command), or raise
    ResourceError naming the run that holds it; a lock whose run is gone is taken over."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_json(lock)
            if _alive(holder, lock):
                raise ResourceError(
                    f"{lock.parent} is in use by another run: case '{holder.get('case')}', pid "
                    f"{holder.get('pid')} on {holder.get('host')}, started "
                    f"{holder.get('started')}; wait for it to end or choose another directory "
                    f"(-o). If that run no longer exists, delete {lock}") from None
            say(f"output: took over the lock of an ended run (pid {holder.get('pid')} on "
                f"{holder.get('host')}, started {holder.get('started')})")
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        return
    raise ResourceError(f"could not lock {lock.parent}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _alive(holder: dict, lock: Path) -> bool:
    """Whether the run recorded in a lock file may still be running."""
    if not holder:  # being written right now (held), or left unreadable long ago (stale)
        try:
            return time.time() - lock.stat().st_mtime < 10
        except OSError:
            return False
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, KeyError, ValueError, TypeError):
            return True
        return True
    try:
        return time.time() - lock.stat().st_mtime < STALE_AFTER
    except OSError:
        return False
