"""Equations of a growing surface on a moving mesh (docs/physics.md, "Plating", G1-G3).

SI units: velocities m/s, the molar volume M/rho in m3/mol, currents A/m2. `u = c/c0 - 1`.
"""

from __future__ import annotations

import ufl
from dolfinx import fem

from femsolver.physics.constants import FARADAY


class MovingMesh:
    """What the salt balance of a moving mesh reads: the mesh velocity w (P1 vector, m/s) and,
    per cell, |K^n| / |K^{n+1}|, its volume before the step over its volume after (DG0).

    Axisymmetric (`radius` is the parent mesh's r = x[0]): also the nodes' radii before the
    step (P1), since the weight 2 pi r of the old integral is not the new cell's."""

    def __init__(self, mesh, radius=None):
        dim = mesh.geometry.dim
        self.velocity = fem.Function(fem.functionspace(mesh, ("Lagrange", 1, (dim,))), name="w")
        self.volume_ratio = fem.Function(fem.functionspace(mesh, ("DG", 0)), name="ratio")
        self.volume_ratio.x.array[:] = 1.0
        self.radius = radius
        self.old_radius = None
        if radius is not None:
            self.old_radius = fem.Function(fem.functionspace(mesh, ("Lagrange", 1)), name="r_n")
            self.old_radius.interpolate(lambda x: x[0])

    def carried(self):
        """The factor that carries the old state's integral over the old cells to the new ones
        (G2): |K^n| / |K^{n+1}|, times r^n / r^{n+1} at the same reference point in
        axisymmetry (the measure's 2 pi r^{n+1} then makes it 2 pi r^n, exactly)."""
        if self.radius is None:
            return self.volume_ratio
        return self.volume_ratio * self.old_radius / self.radius


def plating_velocity(i_working, n, test, molar_volume: float, dA):
    """(G1) The surface velocity v = (M / (rho F)) (-i_n) (-n) = (M / (rho F)) i_n n, tested
    with a vector test function over the active interface (m^d/s per unit test function).

    `i_working` is the anodic current density (A/m2), `n` the outer normal of the electrolyte:
    plating (i_n < 0) moves the surface into the electrolyte, along -n.
    """
    return molar_volume / FARADAY * i_working * ufl.inner(n, test) * dA


def salt_time_derivative(u, u_n, a0, a1, carried):
    """(G2) BDF1 rate of c/c0 = 1 + u for the integral over cells that move with the mesh.

    The old state's integral over the old cells equals its integral over the new cells times
    `carried` (MovingMesh.carried; exact for affine cells: basis functions ride on the
    reference cell), so d/dt of the integral of (1 + u) v is
    [a0 (1 + u) + a1 carried (1 + u_n)] v on the new mesh.
    """
    return a0 * (1 + u) + a1 * carried * (1 + u_n)


def salt_advection(u, w, v, dx):
    """(G2) The salt the moving mesh carries: the weak form of the salt balance on cells that
    move at w is  d/dt(c v) - (N- - c w) . grad v = 0, so  + (c/c0) w . grad v  (m^d/s).

    Anions do not cross a moving boundary either: (N- - c w) . n = 0 is its natural condition.
    """
    return (1 + u) * ufl.inner(w, ufl.grad(v)) * dx


def extension(d, e, stiffness, dx):
    """(G3) Harmonic extension of the surface motion into the mesh: div(k grad d) = 0, with
    k = |K|^-p (plating.extension_stiffening) so that small cells (at the surface) move
    nearly rigidly."""
    return stiffness * ufl.inner(ufl.grad(d), ufl.grad(e)) * dx
