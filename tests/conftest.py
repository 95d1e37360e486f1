"""Shared test set-up. femsolver is imported first: it loads dolfinx_solver before dolfinx."""

import femsolver  # noqa: F401
