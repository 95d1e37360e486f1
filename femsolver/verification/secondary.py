"""Benchmark 6: secondary current distribution, one Fourier mode of imposed potential over
linear kinetics.

Electrolyte 0 < y < H of conductivity kappa above a flat electrode (y = 0) at potential V = 0
with linear kinetics, anodic i_n = (V - phi)/R_ct; at y = H the potential is imposed,
phi = A cos(k x). Separation of variables: phi = (a cosh(k y) + b sinh(k y)) cos(k x) with
    a cosh(kH) + b sinh(kH) = A                         (y = H)
    -a / R_ct = -kappa k b,  i.e.  a = Wa_k b            (y = 0: i_n = i . e_y = -kappa dphi/dy)
with Wa_k = kappa k R_ct (the Wagner number of the mode), so the interface current is
    i_n(x) = i_k cos(k x),  i_k = -kappa k A / (sinh(kH) + Wa_k cosh(kH)),
and relative to the primary distribution (R_ct = 0, i_k = -kappa k A / sinh(kH)) the current
modulation is 1 / (1 + Wa_k coth(kH)): kinetics flatten short wavelengths.

The model problem is the dilute cell in its ohmic limit (as in benchmark 5: D+ = D-, one
backward-Euler step of 1e-15 s, so c = c0 and kappa = F^2 c0 (D+ + D-)/RT) with Butler-Volmer
kinetics, alpha_a = alpha_c = 1/2: i_n = 2 i0 sinh(eta/2) = (i0 F/RT) eta (1 + eta^2/24 + ...),
so R_ct = RT/(F i0). The imposed amplitude is 1e-3 RT/F; the cubic term changes i_k by
(3/4)(eta^2/24) < 4e-8 (checked by re-running with 10 x the amplitude). The imposed potential
replaces the ideal counter electrode's phi = 0 (a Dirichlet condition on the same boundary);
the galvanostatic constraint holds the mean current at zero, so V = 0 by symmetry.
"""

from __future__ import annotations

import numpy as np
import ufl
from dolfinx import fem
from mpi4py import MPI

from femsolver import tags
from femsolver.physics.constants import thermal_voltage
from femsolver.problems.regions import facet_dofs
from femsolver.verification import Row, observed_rate, relative_error
from femsolver.verification.domains import integrate, rectangle_domain
from femsolver.verification.primary import KAPPA, TEMPERATURE, ohmic_case, solve_ohmic

TITLE = "6. Secondary current distribution, one Fourier mode"
WAVELENGTH = 1e-6  # m
K = 2 * np.pi / WAVELENGTH  # 1/m
WIDTH = WAVELENGTH / 2  # half a period: cos(k x) has zero slope at x = 0 and x = W
HEIGHT = WAVELENGTH / 4  # kH = pi/2
ELECTRODE = WAVELENGTH / 20
AMPLITUDE = 1e-3  # imposed amplitude in RT/F
WAGNER = (0.1, 1.0, 10.0)  # Wa_k = kappa k R_ct
VT = thermal_voltage(TEMPERATURE)
# ny elements over H (nx = 2 ny over W = 2 H), doubled per mesh
SEQUENCE = (8, 16, 32, 64, 128)
LEVELS = {0: 2, 1: 3, 2: 4, 3: 5}
# The P1 error of the modulation is about (k h)^2 / 4 relative (h = H/ny; observed 0.28, 0.17,
# 0.06 (k h)^2 for Wa_k = 0.1, 1, 10): 2.4e-3 on the finest level-0 mesh (ny = 16); twice that.
TOLERANCE = 5e-3

SETUP = f"""\
Electrolyte [0, W] x [0, H] (W = lambda/2 = {WIDTH * 1e6:g} um, H = lambda/4 = {HEIGHT * 1e6:g}
um: k = 2 pi/lambda, kH = pi/2) on a flat equipotential electrode at V = 0, the ohmic limit of the
dilute cell as in benchmark 5 (D+ = D-, c = c0 after one backward-Euler step of 1e-15 s, kappa =
{KAPPA:.4g} S/m), Butler-Volmer with alpha_a = alpha_c = 1/2 linearised by a small amplitude:
imposed potential phi = A cos(k x) at y = H (A = {AMPLITUDE:g} RT/F, replacing the ideal counter
electrode's phi = 0), mean current zero. i0 = kappa k (RT/F) / Wa_k for Wa_k = {', '.join(
f'{w:g}' for w in WAGNER)} (R_ct = RT/(F i0)). Structured triangles, ny = 8, 16, 32, ... over H
and nx = 2 ny over W (two meshes at level 0, each level one more), P1. The computed modulation is
the cos(k x) Fourier coefficient of the Butler-Volmer current over the interface, integral i_n
cos(k x) dx / integral cos^2(k x) dx, divided by the primary value -kappa k A / sinh(kH). The
cubic term of the kinetics changes it by < 4e-8 at this amplitude (checked with 10 A). Tolerance:
the P1 error is about (k h)^2/4 (h = H/ny), 2.4e-3 at ny = 16; the tolerance is twice that.

Reference: separation of variables (derivation in `femsolver/verification/secondary.py`; issue 3;
the Wagner number: C. Wagner, *J. Electrochem. Soc.* 98, 116 (1951); Newman & Thomas-Alyea,
*Electrochemical Systems*, 3rd ed., ch. 18): i_n = i_k cos(k x), i_k = -kappa k A / (sinh(kH) +
Wa_k cosh(kH)); modulation i_k / i_k(primary) = 1/(1 + Wa_k coth(kH)), Wa_k = kappa k R_ct.
"""


def exact_modulation(wagner: float) -> float:
    return 1.0 / (1.0 + wagner / np.tanh(K * HEIGHT))


def primary_amplitude(amplitude: float = AMPLITUDE) -> float:
    """i_k of the primary distribution (A/m2, anodic): -kappa k A / sinh(kH)."""
    return -KAPPA * K * amplitude * VT / np.sinh(K * HEIGHT)


def modulation(ny: int, wagner: float, amplitude: float = AMPLITUDE,
               comm=MPI.COMM_WORLD) -> float:
    """Computed i_k / i_k(primary) on the mesh with ny elements over H."""
    i0 = KAPPA * K * VT / wagner  # R_ct = VT / i0 (alpha_a + alpha_c = 1)
    case = ohmic_case(i0, current_density=0.0)
    domain = rectangle_domain(WIDTH, HEIGHT, ELECTRODE, 2 * ny, ny, 2, comm=comm)

    def impose(p):
        # The ideal counter electrode's phi = 0 (the problem's first Dirichlet condition)
        # becomes phi = A cos(k x) (in RT/F; phi_ref = 0 with an ideal counter electrode).
        phi_space = p.fields.function_space.sub(1)
        imposed = fem.Function(p.space)
        imposed.interpolate(lambda x: amplitude * np.cos(K * x[0]))
        dofs = facet_dofs(p.domain, [phi_space, p.space], p.electrolyte, [tags.COUNTER])
        p.bcs[0] = fem.dirichletbc(imposed, dofs, phi_space)

    p = solve_ohmic(case, domain, comm, adjust=impose)
    x = ufl.SpatialCoordinate(domain.mesh)
    mode = ufl.cos(K * x[0])
    i_k = (integrate(p.i_working * mode("+") * p.dA, comm, p.entity_maps)
           / integrate(mode("+") ** 2 * p.dA, comm, p.entity_maps))
    return i_k / primary_amplitude(amplitude)


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    sizes = SEQUENCE[:LEVELS[level]]
    rows = []
    for wagner in WAGNER:
        exact = exact_modulation(wagner)
        computed = [modulation(ny, wagner, comm=comm) for ny in sizes]
        series = tuple((HEIGHT / ny, relative_error(m, exact)) for ny, m in zip(sizes, computed))
        rate = observed_rate(series)
        rows.append(Row(TITLE, f"current modulation i_k / i_k(primary), Wa_k = {wagner:g}", exact,
                        "1/(1 + Wa_k coth(kH))", computed[-1], series[-1][1], "rel", TOLERANCE,
                        rate=rate, series=series))
        if wagner == 1.0:
            # A smooth solution: the interface trace of phi converges as h^2 in P1.
            rows.append(Row(TITLE, f"order of the modulation error in h, Wa_k = {wagner:g}", 2.0,
                            "P1, smooth solution", rate, max(0.0, 2.0 - rate), "shortfall",
                            0.2, rate=rate))
            larger = modulation(sizes[0], wagner, amplitude=10 * AMPLITUDE, comm=comm)
            change = relative_error(larger, computed[0])
            rows.append(Row(TITLE, "linear kinetics: change of the modulation with 10 x the "
                            "amplitude", 0.0, "(3/4)(eta^2/24) x 99 < 4e-6", change, change,
                            "rel", 1e-4))
    return rows

