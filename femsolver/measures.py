"""Integration measures that know the geometry: plain in 2D/3D, 2 pi r-weighted in axisymmetry.

An axisymmetric domain is the (r, z) half-plane section (x[0] = r >= 0) of a body of
revolution; every integral over it is the integral over the 3D body, 2 pi r d(area). The
weighted measures are used exactly like ufl measures (`f * dx(tag)`), so physics forms are
written once for all three kinds of geometry. The symmetry axis needs no boundary condition:
its weight is zero.
"""

from __future__ import annotations

import numpy as np
import ufl


class WeightedMeasure:
    """A ufl measure whose integrands are multiplied by `weight` (`f * dx` -> `f w dx`)."""

    def __init__(self, measure: ufl.Measure, weight):
        self.measure, self.weight = measure, weight

    def __call__(self, *args, **kwargs) -> "WeightedMeasure":
        return WeightedMeasure(self.measure(*args, **kwargs), self.weight)

    def __rmul__(self, integrand):
        return (integrand * self.weight) * self.measure


def weight(domain):
    """2 pi r for an axisymmetric domain, else None."""
    if not domain.axisymmetric:
        return None
    return 2 * np.pi * ufl.SpatialCoordinate(domain.mesh)[0]


def measure(kind: str, domain, **kwargs):
    """`ufl.Measure(kind, domain=domain.mesh, **kwargs)`, 2 pi r-weighted if axisymmetric."""
    plain = ufl.Measure(kind, domain=domain.mesh, **kwargs)
    w = weight(domain)
    return plain if w is None else WeightedMeasure(plain, w)
