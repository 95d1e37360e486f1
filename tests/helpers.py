"""Test utilities. The small dolfinx domains, cases from dictionaries and global integrals are
library code now (the verification benchmarks use them): femsolver.verification.domains."""

from femsolver.verification.domains import (  # noqa: F401
    integrate, make_case, rectangle_domain)
