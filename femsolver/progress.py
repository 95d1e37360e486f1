"""Progress lines of a run on rank 0: status, Newton details and steps with the time left."""

from __future__ import annotations

import os
import sys
import time


PROGRESS_ENV = "FEMSOLVER_PROGRESS"
PROGRESS_SECONDS = 10.0  # between step lines when the output is a file (a batch job's log)


class Progress:
    """Progress lines on rank 0.

    `progress(message)`: a status line, always. `progress.detail(message)`: Newton iterations
    and step starts. `progress.step(message, fraction)`: an accepted step, with the estimated
    time left. FEMSOLVER_PROGRESS chooses: "all" (every line; the default on a terminal),
    "steps" (status and step lines), "interval" (status lines and a step line every
    PROGRESS_SECONDS; the default when the output is a file or a pipe, as under Slurm). If
    nobody reads the lines any more (a closed pipe) the run goes on without them.
    """

    def __init__(self, comm, verbose: bool = True):
        self.quiet = not verbose or comm.rank != 0
        default = "all" if sys.stdout.isatty() else "interval"
        self.mode = os.environ.get(PROGRESS_ENV, default)
        self.start = time.monotonic()
        self.last_step = None

    def __call__(self, message: str) -> None:
        if self.quiet:
            return
        try:
            print(message, flush=True)
        except BrokenPipeError:
            self.quiet = True
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    def detail(self, message: str) -> None:
        if self.mode == "all":
            self(message)

    def step(self, message: str, fraction: float) -> None:
        """An accepted step; `fraction` of the simulated time done since the loop began."""
        now = time.monotonic()
        if self.last_step is None:
            self.start = now  # the loop's first step: the estimate starts here
        elif self.mode == "interval" and now - self.last_step < PROGRESS_SECONDS \
                and fraction < 1:
            return
        self.last_step = now
        left = ""
        if 0 < fraction < 1 and now > self.start:
            left = f", ~{_duration((now - self.start) * (1 - fraction) / fraction)} left"
        self(f"{message}  [{100 * fraction:.0f} %{left}]")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
