"""PETSc options of one solver object: under a prefix of its own, and in PETSc's global options
database only while that object is in use.

dolfinx's problems remove their options with `del` after a `prefixPush`, which removes the
unprefixed name in this petsc4py: the options stayed under the shared prefix and reached the next
solve. (Removed at once, options that PETSc reads at setup, such as the field splits', would be
lost instead.)
"""

from __future__ import annotations

import itertools

from petsc4py import PETSc

_solves = itertools.count()  # every rank creates the same solvers in the same order


class ScopedOptions:
    """`options` under the prefix `femsolver_<name><n>_` (n: this process's solver count) until
    `remove()`. Pass `prefix` to the solver object and call its `setFromOptions`."""

    def __init__(self, name: str, options: dict):
        self.prefix = f"femsolver_{name}{next(_solves)}_"
        self._keys = list(options)
        self._database = PETSc.Options(self.prefix)
        for key, value in options.items():
            self._database[key] = value

    def remove(self) -> None:
        for key in self._keys:
            self._database.delValue(key)
        self._keys = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

