"""Dilute binary 1:1 electrolyte, electroneutral (c+ = c- = c), Nernst-Planck fluxes.

In the variables u = c/c0 - 1 and phi in units of RT/F (docs/physics.md, eqs. E1-E4), with
SI coordinates, times and diffusivities; fluxes are divided by c0 (units m/s):
    N+/c0 = -D+ (grad u + (1 + u) grad phi)      (E1)
    N-/c0 = -D- (grad u - (1 + u) grad phi)      (E2)
    i     = F c0 (N+/c0 - N-/c0)                 (E3)  A/m2
    d u/dt + div(N-/c0) = 0,   div i = 0         (E4)  anion balance and charge conservation
The anion balance stands for the salt balance: anions are blocked at every boundary, so its
flux condition is the natural one (zero) everywhere.
"""

import ufl


def cation_flux(u, phi, D_cation):
    """N+/c0 (E1), m/s."""
    return -D_cation * (ufl.grad(u) + (1 + u) * ufl.grad(phi))


def anion_flux(u, phi, D_anion):
    """N-/c0 (E2), m/s."""
    return -D_anion * (ufl.grad(u) - (1 + u) * ufl.grad(phi))


def current_density(u, phi, D_cation, D_anion, Fc0):
    """i (E3), A/m2; Fc0 = F c0 in C/m3."""
    return Fc0 * (cation_flux(u, phi, D_cation) - anion_flux(u, phi, D_anion))


def salt_residual(u_dot, u, phi, v, D_anion, dx):
    """Weak form of du/dt + div(N-/c0) = 0 with N-.n = 0 on the whole boundary (E4), m^d/s;
    u_dot None: steady."""
    flux = -ufl.inner(anion_flux(u, phi, D_anion), ufl.grad(v)) * dx
    return flux if u_dot is None else u_dot * v * dx + flux


def charge_residual(u, phi, w, D_cation, D_anion, Fc0, dx):
    """Volume part of the weak form of div i = 0 (E4), A m^(d-3).

    The boundary part, minus the integral of i_n w over each electrode (i_n anodic, leaving
    the electrode), is added with the kinetics: i.n = -i_n on the electrolyte's outer normal.
    """
    return -ufl.inner(current_density(u, phi, D_cation, D_anion, Fc0), ufl.grad(w)) * dx
