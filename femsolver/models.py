"""Electrolyte models bound to a case: the same small interface for dilute and concentrated.

Potentials are in units of RT/F: `phi` is the electrolyte unknown (electrostatic potential
for the dilute model, potential of a Li reference electrode for the concentrated one), `phi_s`
the electrode potential; `u = c/c0 - 1`. `library` selects ufl (forms) or numpy (profiles).
"""

from __future__ import annotations

import numpy as np
import ufl

from femsolver.materials.electrolytes import concentrated_properties
from femsolver.physics import concentrated, electrolyte, kinetics
from femsolver.physics.constants import FARADAY

_EXP = {"ufl": ufl.exp, "numpy": np.exp}
_LOG = {"ufl": ufl.ln, "numpy": np.log}


def _at_temperature(value, activation_energy, el):
    return float(kinetics.arrhenius(value, activation_energy, el.temperature,
                                    el.reference_temperature))


class DiluteElectrolyte:
    """Nernst-Planck (E1-E4) with Butler-Volmer in the form K1."""

    polynomial = True  # its volume integrands: ufl's quadrature degree is exact for them

    def __init__(self, case, thermal_voltage: float):
        self.el, self.kin = case.electrolyte, case.kinetics
        Ea = self.el.diffusion_activation_energy
        self.D_cation = _at_temperature(self.el.D_cation, Ea, self.el)
        self.D_anion = _at_temperature(self.el.D_anion, Ea, self.el)
        self.i0 = _at_temperature(self.kin.i0, self.kin.activation_energy, self.el)
        self.reference_diffusivity = self.D_cation
        self._c_ratio0 = self.el.c0 / (self.kin.c_ref or self.el.c0)

    def salt(self, u_dot, u, phi, v, dx):
        return electrolyte.salt_residual(u_dot, u, phi, v, self.D_anion, dx)

    def charge(self, u, phi, w, dx):
        return electrolyte.charge_residual(u, phi, w, self.D_cation, self.D_anion,
                                           FARADAY * self.el.c0, dx)

    def current_density(self, u, phi):
        return electrolyte.current_density(u, phi, self.D_cation, self.D_anion,
                                           FARADAY * self.el.c0)

    def reaction(self, phi_s, phi, u, library="ufl"):
        """Anodic i_n (A/m2) of K1, eta = phi_s - phi."""
        return kinetics.butler_volmer(kinetics.overpotential(phi_s, phi),
                                      self._c_ratio0 * (1 + u), self.i0, self.kin.alpha_a,
                                      self.kin.alpha_c, exp=_EXP[library])

    def overpotential(self, phi_s, phi, u, library="ufl"):
        """Surface overpotential against a Li reference at the local concentration (RT/F)."""
        return phi_s - phi - _LOG[library](self._c_ratio0 * (1 + u))


class ConcentratedElectrolyte:
    """Newman's concentrated binary electrolyte (N1-N3)."""

    polynomial = False  # kappa(c), D(c), chi(c) and 1/c: the quadrature degree is a choice

    def __init__(self, case, thermal_voltage: float):
        self.el, self.kin = case.electrolyte, case.kinetics
        self.props = concentrated_properties(self.el)
        self.VT = thermal_voltage
        self.reference_diffusivity = float(
            self.props.diffusivity(self.el.c0, self.el.temperature, library="numpy"))
        self.i0 = _at_temperature(self.kin.i0, self.kin.activation_energy, self.el)
        self._c_ratio0 = self.el.c0 / (self.kin.c_ref or self.el.c0)

    def _args(self):
        return self.props, self.el.c0, self.el.temperature, self.VT

    def salt(self, u_dot, u, phi, v, dx):
        return concentrated.salt_residual(u_dot, u, phi, v, *self._args(), dx)

    def charge(self, u, phi, w, dx):
        return concentrated.charge_residual(u, phi, w, *self._args(), dx)

    def current_density(self, u, phi):
        return concentrated.current_density(u, phi, *self._args())

    def reaction(self, phi_s, phi, u, library="ufl"):
        """Anodic i_n (A/m2) of N3."""
        return concentrated.butler_volmer(phi_s - phi, self._c_ratio0 * (1 + u), self.i0,
                                          self.kin.alpha_a, self.kin.alpha_c, exp=_EXP[library])

    def overpotential(self, phi_s, phi, u, library="ufl"):
        """Surface overpotential against a Li reference at the local concentration (RT/F)."""
        return phi_s - phi


MODELS = {"dilute": DiluteElectrolyte, "concentrated": ConcentratedElectrolyte}


def electrolyte_model(case, thermal_voltage: float):
    return MODELS[case.electrolyte.model](case, thermal_voltage)


def invert_reaction(model, i_n: float) -> float:
    """The eta = phi_s - phi (RT/F) at which the uniform initial state carries i_n (A/m2)."""
    return kinetics.invert(lambda eta: model.reaction(eta, 0.0, 0.0, library="numpy"), i_n)
