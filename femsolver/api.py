"""femsolver from Python: what the command line does, for notebooks and scripts.

    from femsolver import api

    case = api.load("cases/li_foil_prs.toml", {"kinetics.i0": 100}, output="results/prs_100")
    result = api.run(case)                     # on MPI.COMM_WORLD, or any communicator
    result.status, result.summary["cell_voltage_V"]
    series = result.timeseries()               # {"time_s": array, "cell_voltage_V": array, ...}
    profile = result.interface_current()       # along the working interface, at the end
    earlier = api.read("results/prs")          # the outputs of a finished run

`run` is `femsolver run` without the process around it: the same stages, output directory
transaction, summary and error handling (docs/reliability.md). It returns a Result also for a
run that failed or was interrupted (`result.ok` is False, `result.summary["error"]` says why);
it raises a FemsolverError only for bad input or an output directory that cannot be used.
`femsolver sweep` loads and validates its points with `load` and reads them with `read`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mpi4py import MPI

from femsolver.case import Case, case_from_dict, load_case
from femsolver.errors import FemsolverError

RESULTS = ("complete", "depleted", "cutoff")


def overrides(values: Mapping[str, object] | Sequence[str] | None) -> list[str]:
    """`--set` texts from {"section.key": value} (values as Python numbers, strings, booleans)
    or from a list of "section.key=value" texts."""
    if values is None:
        return []
    if isinstance(values, Mapping):
        return [f"{key}={json.dumps(value)}" for key, value in values.items()]
    return list(values)


def load(case: str | Path | Mapping, changes: Mapping | Sequence[str] | None = None,
         output: str | Path | None = None) -> Case:
    """A validated case from a TOML file (or a dictionary of its tables), with overrides
    (`--set`) and an output directory (`-o`). Raises CaseError naming the key."""
    if isinstance(case, Mapping):
        from femsolver.case import apply_overrides

        data = apply_overrides(json.loads(json.dumps(case)), overrides(changes))
        if output is not None:
            data.setdefault("output", {})["directory"] = str(output)
        return case_from_dict(data)
    return load_case(case, overrides(changes), output=None if output is None else str(output))


def run(case: Case, comm=MPI.COMM_WORLD, verbose: bool = False) -> Result:
    """Run a case on `comm` (collective); the Result is the same on every rank."""
    from femsolver.simulation import run as run_case

    run_case(case, comm, verbose=verbose)
    return read(case.output_directory)


def read(directory: str | Path) -> Result:
    """The outputs of a finished run (its summary.json must exist)."""
    directory = Path(directory)
    path = directory / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except FileNotFoundError:
        raise FemsolverError(f"{path} not found: the run has not finished (or never started)") \
            from None
    return Result(directory, summary)


@dataclass(frozen=True)
class Result:
    """A finished run: its directory and summary, and readers for its tables."""

    directory: Path
    summary: dict

    @property
    def status(self) -> str:
        return self.summary["status"]

    @property
    def ok(self) -> bool:
        """Whether the run ended with a result (complete, depleted or cutoff)."""
        return self.status in RESULTS

    def timeseries(self) -> dict[str, np.ndarray]:
        """timeseries.csv as {column: values} (units in the column names)."""
        return _columns(self.directory / "timeseries.csv")

    def interface_current(self) -> dict[str, np.ndarray]:
        """interface_current.csv as {column: values}: the profile along the working interface
        (cell runs) or the core surface (particle runs) at the end of the run."""
        return _columns(self.directory / "interface_current.csv")

    def file(self, name: str) -> Path:
        """Path of one output file (e.g. "c.xdmf"); FileNotFoundError if the run has none."""
        path = self.directory / name
        if not path.exists():
            raise FileNotFoundError(f"{self.directory} has no {name}")
        return path


def _columns(path: Path) -> dict[str, np.ndarray]:
    data = np.genfromtxt(path, delimiter=",", names=True, ndmin=1)
    return {name: np.asarray(data[name]) for name in data.dtype.names}
