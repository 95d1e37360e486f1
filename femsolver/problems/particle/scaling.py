"""The constants that make each block of the particle problem nondimensional (docs/particles.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ParticleScaling:
    """Factors that make each block of the particle problem nondimensional.

    `length` L0 is the core radius; `dim` counts the dimensions the integrals span (3 for an
    axisymmetric section, whose measures carry 2 pi r).
    """

    length: float
    dim: int
    diffusivity: float  # D_s, m2/s
    conductance: float  # sigma RT/F of the ion conductor, A/m
    current: float  # i_scale = F c_max D_s / L0, A/m2: the core's diffusion current scale
    salt_diffusivity: float = 1.0  # D0 of a liquid matrix, m2/s

    @property
    def solid(self) -> float:
        """Factor on P1 (units m^d/s of x)."""
        return 1.0 / (self.diffusivity * self.length ** (self.dim - 2))

    def charge(self, conductance: float) -> float:
        """Factor on a charge balance of conductance sigma RT/F (units A m^(d-3))."""
        return 1.0 / (conductance * self.length ** (self.dim - 2))

    @property
    def salt(self) -> float:
        """Factor on a liquid matrix's salt balance (units m^d/s of c/c0)."""
        return 1.0 / (self.salt_diffusivity * self.length ** (self.dim - 2))

    @property
    def film(self) -> float:
        """Factor on the implicit kinetics (units A/m2 x m^(d-1))."""
        return 1.0 / (self.current * self.length ** (self.dim - 1))
