"""Verification suite: each benchmark checks one part of the physics against an exact result.

One module per benchmark, each with `TITLE`, `SETUP` (markdown: set-up, reference formulas and
their sources) and `run(level, comm) -> list[Row]`; `level` sets the resolution (0: coarse, for
the tests; 2-3: the report). `femsolver.verification.report` runs them all and writes
docs/verification.md and docs/img/convergence.png (`femsolver verify`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from femsolver.solver import NewtonSolver, start_newton


@dataclass(frozen=True)
class Row:
    """One checked quantity of a benchmark: passes when error <= tolerance.

    `error_kind` says how the error is measured ("rel": |computed - reference| / |reference|,
    "abs, V": |computed - reference| in volts, "shortfall": how far the observed order falls
    short of the reference order, 0 if it does not). `reference` and `computed` are None when
    the reference is a function (`source`) and `error` a norm of the difference.
    `series` holds (h or dt, error) along a refinement sequence and `rate` the order observed
    over its last refinement; `step` names the sequence variable ("h" or "dt").
    """

    benchmark: str
    quantity: str
    reference: float | None
    source: str
    computed: float | None
    error: float
    error_kind: str
    tolerance: float
    rate: float | None = None
    series: tuple[tuple[float, float], ...] = ()
    step: str = "h"

    @property
    def passed(self) -> bool:
        return bool(self.error <= self.tolerance)


def observed_rate(series) -> float:
    """Order p of error ~ step^p over the last two entries of [(step, error), ...]."""
    (h1, e1), (h2, e2) = series[-2], series[-1]
    return float(np.log(e1 / e2) / np.log(h1 / h2))


def relative_error(computed: float, reference: float) -> float:
    return abs(computed - reference) / abs(reference)


def solving(problem, comm) -> NewtonSolver:
    """`start_newton` for `problem` (quiet); use it in a `with` block so that its PETSc objects
    are freed on exit (see NewtonSolver.close)."""
    return start_newton(problem, problem.case.solver, comm, lambda message: None)
