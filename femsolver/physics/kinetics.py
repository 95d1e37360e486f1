"""Butler-Volmer kinetics at a Li/Li+ interface (docs/physics.md, eq. K1).

    i_n = i0 [exp(alpha_a eta) - (c / c_ref) exp(-alpha_c eta)],  eta = phi_s - phi - U   (K1)

i_n is the anodic (oxidation) current density leaving the electrode into the electrolyte;
eta, phi_s, phi, U are in RT/F and i_n, i0 in any consistent unit.
"""

import numpy as np
import ufl

from femsolver.physics.constants import GAS_CONSTANT


def arrhenius(value, activation_energy, temperature, reference_temperature):
    """value x exp(-Ea/R (1/T - 1/T_ref)): a rate constant given at T_ref, taken to T (A1)."""
    return value * np.exp(-activation_energy / GAS_CONSTANT
                          * (1 / temperature - 1 / reference_temperature))


def overpotential(phi_s, phi, U_ref=0.0):
    """eta = phi_s - phi - U_ref (K1)."""
    return phi_s - phi - U_ref


def butler_volmer(eta, c_ratio, i0, alpha_a, alpha_c, exp=ufl.exp):
    """i_n of K1; `exp` is ufl.exp for forms or np.exp for arrays."""
    return i0 * (exp(alpha_a * eta) - c_ratio * exp(-alpha_c * eta))


def invert(rate, target: float) -> float:
    """The eta at which the increasing function rate(eta) equals target (bisection).

    A bracket grows until it holds the root, so any transfer coefficients work.
    """
    lo, hi = -1.0, 1.0
    while rate(lo) > target:
        lo *= 2
    while rate(hi) < target:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if rate(mid) < target else (lo, mid)
    return 0.5 * (lo + hi)


def butler_volmer_inverse(i_n, i0, alpha_a, alpha_c, c_ratio=1.0):
    """The eta of K1 that gives current density i_n at concentration ratio c_ratio."""
    return invert(lambda eta: butler_volmer(eta, c_ratio, i0, alpha_a, alpha_c, exp=np.exp), i_n)
