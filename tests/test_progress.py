"""Progress lines: which lines each FEMSOLVER_PROGRESS mode prints, and the time left."""

from types import SimpleNamespace

from femsolver import progress as progress_module
from femsolver.progress import PROGRESS_ENV, Progress


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_interval_mode_prints_a_step_line_every_interval_and_the_last(monkeypatch, capsys):
    clock = iter([0.0, 0.0, 1.0, 20.0, 21.0])
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: next(clock))
    monkeypatch.setenv(PROGRESS_ENV, "interval")
    progress = Progress(SimpleNamespace(rank=0))
    progress.step("step 1", 0.1)   # t = 0: the first step starts the estimate
    progress.step("step 2", 0.2)   # t = 1: within the interval, not printed
    progress.detail("newton 1")    # details only in "all"
    progress.step("step 3", 0.5)   # t = 20: 20 s for 0.5 -> 20 s left
    progress.step("step 4", 1.0)   # the last step is always printed
    assert _lines(capsys) == ["step 1  [10 %]", "step 3  [50 %, ~20 s left]", "step 4  [100 %]"]


def test_all_mode_prints_details_and_other_ranks_print_nothing(monkeypatch, capsys):
    monkeypatch.setenv(PROGRESS_ENV, "all")
    Progress(SimpleNamespace(rank=0)).detail("newton 1")
    quiet = Progress(SimpleNamespace(rank=1))
    quiet("status")
    quiet.step("step 1", 0.5)
    assert _lines(capsys) == ["newton 1"]


def test_time_left_is_given_in_seconds_minutes_or_hours():
    assert [progress_module._duration(s) for s in (30, 600, 7200)] == ["30 s", "10 min", "2.0 h"]
