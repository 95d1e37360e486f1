"""Small tables: the run summary (JSON), time series and profiles (CSV).

All functions may be called on every rank; only rank 0 of `comm` touches the file
system. None of them synchronises the ranks, so they are safe to call on an error
path where some ranks may already have stopped.
"""

import csv
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from mpi4py import MPI

from femsolver.errors import FemsolverError


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _to_builtin(value):
    """JSON encoder fallback: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _replace_atomically(path: Path, write) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it to `path`.

    A reader (or a crash) never sees a half-written file: `os.replace` is atomic on
    one file system, which the temporary file shares with `path`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get the usual mode
        with os.fdopen(fd, "w", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path, data: Mapping, comm=MPI.COMM_WORLD) -> None:
    """Write `data` as indented JSON to `path` atomically (rank 0 only).

    Numpy scalars and arrays are converted to numbers and lists.
    """
    if comm.rank != 0:
        return
    _replace_atomically(
        Path(path),
        lambda f: f.write(json.dumps(data, indent=2, default=_to_builtin) + "\n"),
    )


def write_csv(path, columns: Mapping[str, Sequence], comm=MPI.COMM_WORLD) -> None:
    """Write equal-length columns `{header: values}` to a CSV file atomically (rank 0 only)."""
    if comm.rank != 0:
        return
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise ValueError(f"CSV columns differ in length: { {k: len(a) for k, a in arrays.items()} }")

    def write(f):
        writer = csv.writer(f)
        writer.writerow(arrays)
        writer.writerows(zip(*(a.tolist() for a in arrays.values()), strict=True))

    _replace_atomically(Path(path), write)


class TimeSeries:
    """A CSV file that grows by one row per accepted time step (rank 0 only).

    Each row is flushed at once so an interrupted run keeps every step it finished.
    Values are written with Python's shortest round-trip float format; units belong in
    the column names (e.g. ``"t_s"``, ``"V_V"``).

    Example::

        with TimeSeries(out / "timeseries.csv", ["t_s", "V_V"]) as ts:
            ts.append(t_s=0.0, V_V=-0.012)
    """

    def __init__(self, path, columns: Sequence[str], comm=MPI.COMM_WORLD):
        self.columns = list(columns)
        self.path = Path(path)
        self._writes = comm.rank == 0
        self._file = None
        if self._writes:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=self.columns)
            self._writer.writeheader()
            self._file.flush()

    def append(self, **row) -> None:
        """Write one row; columns not given stay empty, unknown columns raise `KeyError`."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise KeyError(f"unknown time-series columns {sorted(unknown)}; known: {self.columns}")
        if not self._writes:
            return
        if self._file is None:
            raise ValueError("TimeSeries is closed")
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def gather(comm, arrays: dict[str, np.ndarray], sort_by: str = "x") -> dict[str, np.ndarray] | None:
    """Concatenate per-rank arrays on rank 0, sorted by `sort_by`; None elsewhere."""
    parts = comm.gather(arrays, root=0)
    if comm.rank != 0:
        return None
    merged = {k: np.concatenate([p[k] for p in parts]) for k in arrays}
    order = np.argsort(merged[sort_by], kind="stable")
    return {k: v[order] for k, v in merged.items()}


def load_summary(directory: Path) -> dict:
    path = Path(directory) / "summary.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FemsolverError(f"{path} not found: run the case first (or it did not finish)") from None
