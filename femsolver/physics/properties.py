"""Material properties given as expressions of concentration and temperature.

A case file may give a property as a number or as a string such as
"0.1297*(c/1000)**3 - 2.51*(c/1000)**1.5 + 3.329*(c/1000)", a function of
c (mol/m3) and T (K) with the constants F and R and the functions exp, log, sqrt, tanh,
sinh, cosh. Only that arithmetic is accepted (the text is parsed, never executed as Python).
The same expression evaluates to a ufl expression (forms) or to numbers (checks, profiles).
"""

from __future__ import annotations

import ast

import numpy as np
import ufl

from femsolver.physics.constants import FARADAY, GAS_CONSTANT

FUNCTIONS = ("exp", "log", "sqrt", "tanh", "sinh", "cosh")
VARIABLES = ("c", "T")
CONSTANTS = {"F": FARADAY, "R": GAS_CONSTANT}
_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load, ast.Constant,
          ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)
_LIBRARIES = {
    "ufl": {"exp": ufl.exp, "log": ufl.ln, "sqrt": ufl.sqrt, "tanh": ufl.tanh,
            "sinh": ufl.sinh, "cosh": ufl.cosh},
    "numpy": {name: getattr(np, name) for name in FUNCTIONS},
}


class Property:
    """A property p(c, T): a constant or a parsed expression."""

    def __init__(self, value: float | str, key: str):
        self.text = str(value)
        self.key = key
        if isinstance(value, (int, float)):
            self._code = None
            self._value = float(value)
            return
        try:
            tree = ast.parse(value, mode="eval")
        except SyntaxError as err:
            raise ValueError(f"'{key}': cannot read expression {value!r}: {err.msg}") from None
        for node in ast.walk(tree):
            if not isinstance(node, _NODES):
                raise ValueError(f"'{key}': {type(node).__name__} is not allowed in {value!r}")
            if isinstance(node, ast.Name) and node.id not in (*VARIABLES, *CONSTANTS, *FUNCTIONS):
                raise ValueError(f"'{key}': unknown name '{node.id}' in {value!r} (use c in "
                                 "mol/m3, T in K, F, R and " + ", ".join(FUNCTIONS) + ")")
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                                                   and node.func.id in FUNCTIONS):
                raise ValueError(f"'{key}': only {', '.join(FUNCTIONS)} may be called")
        self._code = compile(tree, key, "eval")

    def __call__(self, c, T, library: str = "ufl"):
        """Value at concentration c (mol/m3) and temperature T (K)."""
        if self._code is None:
            return self._value
        namespace = {"c": c, "T": T, **CONSTANTS, **_LIBRARIES[library]}
        return eval(self._code, {"__builtins__": {}}, namespace)  # noqa: S307 (parsed above)

    def check(self, c: float, T: float, low: float = 0.0, high: float = np.inf) -> float:
        """Evaluate at a state and require low < value < high (a clear message otherwise)."""
        with np.errstate(all="ignore"):
            value = float(self(c, T, library="numpy"))
        if not low < value < high:
            bounds = f"between {low} and {high}" if np.isfinite(high) else f"above {low}"
            raise ValueError(f"'{self.key}' = {self.text!r} gives {value:.4g} at c = {c:g} "
                             f"mol/m3, T = {T:g} K; it must be {bounds}")
        return value
