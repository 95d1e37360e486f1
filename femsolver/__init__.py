"""femsolver: tertiary current distribution at battery interfaces (Gmsh + dolfinx)."""

# dolfinx_solver must be imported before dolfinx or petsc4py: it selects the
# real-scalar PETSc build shipped in the wheel. This is the one place it happens.
import dolfinx_solver  # noqa: F401

__version__ = "0.1.0"

# Form compilation waits long enough for a busy node and survives killed runs (femsolver/jit.py).
from femsolver import jit as _jit  # noqa: E402

_jit.configure()
