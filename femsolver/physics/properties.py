"""Material properties given as expressions of concentration and temperature.

A case file may give a property as a number or as a string such as
"0.1297*(c/1000)**3 - 2.51*(c/1000)**1.5 + 3.329*(c/1000)", a function of
c (mol/m3) and T (K) with the constants F and R and the functions exp, log, sqrt, tanh,
sinh, cosh. Only that arithmetic is accepted (the text is parsed, never executed as Python),
in bounded size (MAX_LENGTH characters, MAX_NODES syntax nodes), with every number a float so
that no power can grow without bound (10**10**10 overflows at once instead of computing).
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
MAX_LENGTH, MAX_NODES = 400, 200
# Concentrations (in units of c0) at which a property must be finite, real and in range: from
# the default depletion threshold (the run stops below it) to twice the bulk value.
PROBE = np.geomspace(1e-3, 2.0, 41)
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
        if len(self.text) > MAX_LENGTH:
            raise ValueError(f"'{key}': expression longer than {MAX_LENGTH} characters")
        try:
            tree = ast.parse(value, mode="eval")
        except SyntaxError as err:
            raise ValueError(f"'{key}': cannot read expression {value!r}: {err.msg}") from None
        except (RecursionError, MemoryError):
            raise ValueError(f"'{key}': expression {value!r} is nested too deeply") from None
        nodes = list(ast.walk(tree))
        if len(nodes) > MAX_NODES:
            raise ValueError(f"'{key}': expression has more than {MAX_NODES} terms")
        for node in nodes:
            if not isinstance(node, _NODES):
                raise ValueError(f"'{key}': {type(node).__name__} is not allowed in {value!r}")
            if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not
                                                   isinstance(node.value, (int, float))):
                raise ValueError(f"'{key}': {node.value!r} is not a number, in {value!r}")
            if isinstance(node, ast.Name) and node.id not in (*VARIABLES, *CONSTANTS, *FUNCTIONS):
                raise ValueError(f"'{key}': unknown name '{node.id}' in {value!r} (use c in "
                                 "mol/m3, T in K, F, R and " + ", ".join(FUNCTIONS) + ")")
            if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name)
                                                   and node.func.id in FUNCTIONS
                                                   and len(node.args) == 1 and not node.keywords):
                raise ValueError(f"'{key}': only {', '.join(FUNCTIONS)} may be called, with one "
                                 "argument")
            if isinstance(node, ast.Constant):
                node.value = float(node.value)
        self._code = compile(tree, key, "eval")

    def __call__(self, c, T, library: str = "ufl"):
        """Value at concentration c (mol/m3) and temperature T (K)."""
        if self._code is None:
            return self._value
        namespace = {"c": c, "T": T, **CONSTANTS, **_LIBRARIES[library]}
        return eval(self._code, {"__builtins__": {}}, namespace)  # noqa: S307 (parsed above)

    def check(self, c0: float, T: float, low: float = 0.0, high: float = np.inf) -> None:
        """Require a finite value with low < value < high at every concentration of PROBE x c0
        (mol/m3) at temperature T (K); a clear message naming the key otherwise."""
        c = PROBE * c0
        try:
            with np.errstate(all="ignore"):
                raw = np.asarray(self(c, T, library="numpy"))
        except (ArithmeticError, ValueError, TypeError, RecursionError) as err:
            why = err.args[-1] if err.args else type(err).__name__
            raise ValueError(f"'{self.key}' = {self.text!r} cannot be evaluated at T = {T:g} K: "
                             f"{why}") from None
        if np.iscomplexobj(raw):
            raise ValueError(f"'{self.key}' = {self.text!r} gives complex numbers (a negative "
                             "number to a fractional power?)")
        values = np.broadcast_to(raw.astype(float), c.shape)
        bad = ~(np.isfinite(values) & (values > low) & (values < high))
        if bad.any():
            k = int(np.argmax(bad))
            bounds = f"between {low} and {high}" if np.isfinite(high) else f"above {low}"
            raise ValueError(f"'{self.key}' = {self.text!r} gives {values[k]:.4g} at c = "
                             f"{c[k]:.4g} mol/m3, T = {T:g} K; it must be finite and {bounds} "
                             f"for c from {c[0]:.3g} to {c[-1]:.3g} mol/m3")
