"""Case keys: a default, a doc with the unit, and the rules a value must meet.

`param(...)` declares a key as a dataclass field; `check_value` and `check_keys` apply its rules.
Used by the case sections (femsolver/case.py) and the geometry families' parameter dataclasses
(geometries/), which therefore depend on this module only, not on the case loader.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import field


def param(default, doc, choices=None, positive=False, fraction=False, nonnegative=False,
          above=None, below=None, at_least=None, at_most=None):
    """A case key: default value, doc with unit, and its validation rules.

    positive: > 0; nonnegative: >= 0; fraction: in (0, 1]; above / below: strict bounds;
    at_least / at_most: inclusive bounds. Every number must be finite.
    """
    low, low_open = (0, True) if positive else (0, False) if nonnegative else (None, False)
    high, high_open = None, False
    if fraction:
        low, low_open, high, high_open = 0, True, 1, False
    if above is not None:
        low, low_open = above, True
    if at_least is not None:
        low, low_open = at_least, False
    if below is not None:
        high, high_open = below, True
    if at_most is not None:
        high, high_open = at_most, False
    meta = {"doc": doc, "choices": choices, "low": low, "low_open": low_open, "high": high,
            "high_open": high_open}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


def _interval(meta) -> str:
    low, high = meta.get("low"), meta.get("high")
    if low is not None and high is not None:
        return (f"in {'(' if meta['low_open'] else '['}{low:g}, {high:g}"
                f"{')' if meta['high_open'] else ']'}")
    if low is not None:
        return ("positive" if low == 0 and meta["low_open"] else
                f"{'>' if meta['low_open'] else '>='} {low:g}")
    return f"{'<' if meta['high_open'] else '<='} {high:g}"


def check_value(name: str, value, meta) -> None:
    """Raise ValueError naming `name` if `value` breaks the rules in `meta` (a field's metadata)."""
    choices = meta.get("choices")
    if choices and value not in choices:
        raise ValueError(f"'{name}' must be one of {', '.join(str(c) for c in choices)}, "
                         f"got {value!r}")
    if value is None or isinstance(value, (bool, str, dict)):
        return
    if not math.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number, got {value}")
    low, high = meta.get("low"), meta.get("high")
    too_low = low is not None and (value <= low if meta["low_open"] else value < low)
    too_high = high is not None and (value >= high if meta["high_open"] else value > high)
    if too_low or too_high:
        raise ValueError(f"'{name}' must be {_interval(meta)}, got {value}")


def check_keys(params, prefix: str) -> None:
    """Apply every field's rules to a parameter dataclass; raises ValueError naming the key.

    The case loader checks each key as it reads it; this makes a dataclass built directly in
    Python (tests, scripts) just as safe.
    """
    for f in dataclasses.fields(params):
        check_value(f"{prefix}.{f.name}", getattr(params, f.name), f.metadata)


def rules(meta) -> str:
    """The rules of a key in words ('' if none), for `femsolver keys`."""
    if meta.get("low") is None and meta.get("high") is None:
        return ""
    return _interval(meta)
