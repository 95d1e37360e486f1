"""A core-shell particle: solid diffusion in the core, single-ion conduction in the solid
electrolyte, intercalation kinetics with a film resistance (docs/particles.md, eqs. P1-P5).

x = c_s/c_max is the core's Li stoichiometry; potentials are in units of RT/F; i_n is the anodic
current density leaving the core into the ion conductor (delithiation > 0), A/m2.
    dx/dt = div(D_s grad x) in the core                                                 (P1)
    -D_s grad x . n = i_n/(F c_max) on its active surface                                (P2)
    i = -sigma grad phi_e,  div i = 0 in shell, matrix and coating (t+ = 1)             (P3)
    i_n = i0 [exp(alpha_a eta) - exp(-alpha_c eta)],
    eta = phi_s - phi_e - U(x) - R_film i_n / (RT/F)                                    (P4)
    i0 = k c_s^alpha_c (c_max - c_s)^alpha_a                                             (P5)
"""

import ufl

from femsolver.physics.constants import FARADAY


def diffusion_residual(x_dot, x, v, diffusivity, dx):
    """Volume part of the weak form of P1 (units m^d/s of x); the surface adds
    +integral of `insertion_flux` v."""
    return x_dot * v * dx + diffusivity * ufl.inner(ufl.grad(x), ufl.grad(v)) * dx


def insertion_flux(i_n, max_concentration):
    """-D_s grad x . n (P2): the outward flux of x through the core surface, m/s."""
    return i_n / (FARADAY * max_concentration)


def ion_current_density(phi, conductance):
    """i of P3, A/m2; `conductance` = sigma RT/F (A/m), phi in RT/F."""
    return -conductance * ufl.grad(phi)


def ion_residual(phi, w, conductance, dx):
    """Volume part of the weak form of div i = 0 (P3); the core surface adds -integral of i_n w
    (i . n = -i_n on the ion conductor's outer normal)."""
    return -ufl.inner(ion_current_density(phi, conductance), ufl.grad(w)) * dx


def exchange_current_density(x, rate_constant, max_concentration, alpha_a, alpha_c,
                             clip=ufl.max_value):
    """i0 of P5, A/m2, at stoichiometry x.

    x and 1 - x are clipped at a tiny positive value: a Newton iterate may step outside (0, 1),
    where the powers are not real.
    """
    tiny = 1e-12
    c_s = max_concentration * clip(x, tiny)
    vacancies = max_concentration * clip(1 - x, tiny)
    return rate_constant * c_s**alpha_c * vacancies**alpha_a


def overpotential(phi_s, phi_e, ocp, film_drop=0.0):
    """eta of P4 (RT/F): `ocp` = U(x) and `film_drop` = R_film i_n, both in RT/F."""
    return phi_s - phi_e - ocp - film_drop
