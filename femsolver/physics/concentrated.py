"""Concentrated binary electrolyte (Newman), docs/physics.md eqs. N1-N3.

Unknowns u = c/c0 - 1 and Phi, the potential of a Li reference electrode in the electrolyte at
the local concentration, in units of RT/F (SI coordinates, times and properties otherwise):
    i = kappa(c) (RT/F) [-grad Phi + 2 (1 - t+) chi(c) grad ln c]          (N1)  A/m2
    dc/dt = div(D(c) grad c) + div((1 - t+) i / F),   div i = 0             (N2)
    i_n = i0 (c/c_ref)^alpha_a [exp(alpha_a eta) - exp(-alpha_c eta)],
    eta = phi_s - Phi                                                        (N3)
chi = 1 + dln f/dln c is the thermodynamic factor; t+ is constant (the t+(c) terms of
Newman's theory are not included). (N2) is the anion balance, -div N- with
N- = -D grad c - (1 - t+) i / F, so anions blocked at every boundary is its natural condition.
`props` holds the Property objects conductivity, diffusivity, thermodynamic_factor and the
number transference.
"""

import ufl

from femsolver.physics.constants import FARADAY


def current_density(u, Phi, props, c0, T, thermal_voltage):
    """i (N1), A/m2."""
    c = c0 * (1 + u)
    chi = props.thermodynamic_factor(c, T)
    return props.conductivity(c, T) * thermal_voltage * (
        -ufl.grad(Phi) + 2 * (1 - props.transference) * chi * ufl.grad(u) / (1 + u))


def salt_residual(u_dot, u, Phi, v, props, c0, T, thermal_voltage, dx):
    """Weak form of (N2) divided by c0 (N- . n = 0 on the whole boundary), m^d/s; u_dot
    None: steady."""
    i = current_density(u, Phi, props, c0, T, thermal_voltage)
    flux = props.diffusivity(c0 * (1 + u), T) * ufl.grad(u) \
        + (1 - props.transference) * i / (FARADAY * c0)
    weak_flux = ufl.inner(flux, ufl.grad(v)) * dx
    return weak_flux if u_dot is None else u_dot * v * dx + weak_flux


def charge_residual(u, Phi, w, props, c0, T, thermal_voltage, dx):
    """Volume part of the weak form of div i = 0 (N2); electrodes add -integral of i_n w."""
    return -ufl.inner(current_density(u, Phi, props, c0, T, thermal_voltage), ufl.grad(w)) * dx


def butler_volmer(eta, c_ratio, i0, alpha_a, alpha_c, exp=ufl.exp):
    """i_n of (N3) with eta against a Li reference at the local concentration."""
    return i0 * c_ratio**alpha_a * (exp(alpha_a * eta) - exp(-alpha_c * eta))
