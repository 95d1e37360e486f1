"""Benchmark: a sinusoidal perturbation of a flat plating electrode grows at the rate of
linear stability analysis (docs/physics.md, "Linear stability", G5-G6).

Surface y = a(t) cos(k x), counter electrode (ideal, c = c0 held there) at height L,
galvanostatic plating at i, the surface moving at (M/(rho F)) i_pl. To first order in a, any
quasi-steady electrolyte whose perturbation potential is harmonic gives
    delta i_pl = i k coth(kL) / (1 + l k coth(kL)) a,   s(k) = (M/(rho F)) delta i_pl / a
with a length l that sets the kinetic against the transport resistance:
- secondary limit (ohmic electrolyte, linearised Butler-Volmer): l = kappa R, R = 1/(di_n/deta)
  (G5); checked on the current modulation at t = 0, while c is still uniform;
- the model's binary salt at quasi-steady state (anions at rest, c harmonic, phi = (RT/F)
  ln c + const): l = 2 F D+ / (i_eta/(f c_s) - i_c) with i_eta = di_n/deta, i_c = di_n/dc at
  the base state (G6); for alpha_a + alpha_c = 1, D+ = D- and small currents this is kappa R / 2:
  the concentration change that comes with the potential change doubles the kinetic response.
  Checked on the growth rate of the surface.
The secondary form is the classical one (Aogaki & Makino, J. Electrochem. Soc. 128 (1981) 1036;
Sundstroem & Bark, Electrochim. Acta 40 (1995) 599; Monroe & Newman, J. Electrochem. Soc. 151
(2004) A880, without surface energy); as l k -> 0 it is the Laplacian growth s = v k coth(kL).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from femsolver.models import electrolyte_model
from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.plating.stepping import PlatingStepper
from femsolver.plating.surface import boundary
from femsolver.verification import Row, relative_error
from femsolver.verification.plating_flat import (
    I_APP,
    M_LI,
    QUIET,
    RHO_LI,
    electrolyte_box,
    plating_case,
)

TITLE = "Plating: linear stability of a flat electrode"
LAMBDAS = (100e-9, 200e-9, 400e-9)  # perturbation wavelengths, m
I0 = 3e6  # A/m2: l = F D c0 / i0 = 200 nm / 2 pi, so l k = 2, 1, 0.5 for the wavelengths
AMPLITUDE = 1 / 200  # initial amplitude / wavelength
GROWTH = 0.3  # s x simulated time: the perturbation grows by e^0.3
STEPS = 60
SIZES = {0: (16, 32), 1: (32, 64), 2: (32, 64), 3: (64, 128)}

SETUP = f"""\
Surface y = a cos(k x), a(0) = lambda/200, under an electrolyte of height L = lambda, on a strip
lambda/2 wide (crest to trough; the side walls are symmetry lines), for lambda = 100, 200, 400 nm.
Dilute 1 M salt, D+ = D- = 1e-9 m2/s (kappa = 7.51 S/m), i0 = {I0:g} A/m2, alpha = 0.5, i =
{I_APP:g} A/m2, ideal counter electrode with c = c0 held there (a reservoir, so that c0 does
not drift as the electrolyte shrinks). P1, structured 16 x 32 mesh (level 0; 32 x 64 at levels
1-2). a(t) is the least-squares cos(kx) coefficient of the interface nodes.

- Secondary limit (G5), at t = 0 while c is uniform: the modulation of the surface velocity,
  (dv/v)/a = k coth(kL) / (1 + kappa R k coth(kL)), kappa R = 2, 1, 0.5 / k.
- Growth (G6), plated for s t = {GROWTH} in {STEPS} equal steps (the concentration field settles
  within lambda^2/D = 1e-5 s): s is the slope of ln a against t; reference s(k) = (M/(rho F)) i
  k coth(kL) / (1 + l k coth(kL)) with l = 2 F D+ / (i_eta/(f c_s) - i_c) from the kinetics at the
  base state (l = 200 nm / 2 pi here) and L the mean gap of the run (the counter electrode
  recedes as the surface rises, so it stays near lambda). The explicit surface
  update observes ln(1 + s dt)/dt, a bias of -{GROWTH / STEPS / 2:.2%}.

Derivation: docs/physics.md, "Linear stability"; the secondary form is that of Aogaki & Makino
(J. Electrochem. Soc. 128 (1981) 1036), Sundstroem & Bark (Electrochim. Acta 40 (1995) 599) and
Monroe & Newman (J. Electrochem. Soc. 151 (2004) A880) without surface energy.
"""


def _case(end: float):
    return plating_case(
        electrolyte={"reservoir_at_counter": True},
        kinetics={"i0": I0, "counter": "ideal"},
        time={"end": end, "dt": end / STEPS, "dt_max": end / STEPS, "growth": 1.0,
              "scheme": "bdf1"},
        plating={"step_fraction": 1.0})


def kinetic_slopes(case, c_surface: float) -> tuple[float, float]:
    """(i_eta in A/m2 per RT/F, i_c in A/m2 per mol/m3) of the working kinetics at the base
    state: plating at I_APP with the surface concentration c_surface."""
    VT = thermal_voltage(case.electrolyte.temperature)
    model = electrolyte_model(case, VT)
    u = c_surface / case.electrolyte.c0 - 1
    reaction = lambda eta, u: model.reaction(eta, 0.0, u, library="numpy")
    eta, d = 0.0, 1e-7
    for _ in range(50):  # Newton for i_n(eta) = -I_APP
        slope = (reaction(eta + d, u) - reaction(eta - d, u)) / (2 * d)
        eta -= (reaction(eta, u) + I_APP) / slope
    i_c = (reaction(eta, u + d) - reaction(eta, u - d)) / (2 * d) / case.electrolyte.c0
    return slope, i_c


def modulation(k: float, L: float, length: float) -> float:
    """(G5, G6) delta i_pl / (i a) = k coth(kL) / (1 + length k coth(kL)), 1/m."""
    coth = 1 / np.tanh(k * L)
    return k * coth / (1 + length * k * coth)


def ohmic_length(case) -> float:
    """(G5) kappa R, m: the dilute conductivity and the kinetic resistance at c0."""
    el = case.electrolyte
    VT = thermal_voltage(el.temperature)
    kappa = FARADAY * el.c0 * (el.D_cation + el.D_anion) / VT
    i_eta, _ = kinetic_slopes(case, el.c0)
    return kappa * VT / i_eta


def binary_length(case, c_surface: float) -> float:
    """(G6) 2 F D+ / (i_eta/(f c_s) - i_c), m: the quasi-steady binary salt."""
    i_eta, i_c = kinetic_slopes(case, c_surface)
    return 2 * FARADAY * case.electrolyte.D_cation / (i_eta / c_surface - i_c)


def amplitude(domain, k: float) -> tuple[float, float]:
    """(mean height, cos(kx) coefficient) of the interface nodes, least squares, m."""
    points = boundary(domain).interface().points.reshape(-1, 2)
    points = np.unique(points, axis=0)
    basis = np.stack([np.ones(len(points)), np.cos(k * points[:, 0])], axis=1)
    (mean, a), *_ = np.linalg.lstsq(basis, points[:, 1], rcond=None)
    return float(mean), float(a)


def growth_rate(wavelength: float, nx: int, ny: int, comm) -> dict:
    """Observed and predicted velocity modulation at t = 0 (1/m) and growth rate (1/s)."""
    k = 2 * np.pi / wavelength
    probe = _case(1.0)
    speed = M_LI / (RHO_LI * FARADAY) * I_APP
    c_surface = probe.electrolyte.c0 - I_APP * wavelength / (2 * FARADAY * probe.electrolyte.D_cation)
    rate = speed * modulation(k, wavelength, binary_length(probe, c_surface))
    case = _case(GROWTH / rate)
    domain = electrolyte_box(wavelength / 2, wavelength, nx, ny,
                             shape=lambda x: AMPLITUDE * wavelength * np.cos(k * x), comm=comm)
    stepper = PlatingStepper(case, domain, comm, QUIET)
    try:
        stepper.start()
        initial = _velocity_modulation(stepper, k) / (AMPLITUDE * wavelength)
        times, logs, gaps = [0.0], [np.log(amplitude(domain, k)[1])], []
        for step in stepper.steps():
            mean, a = amplitude(stepper.domain, k)
            times.append(step.time)
            logs.append(np.log(a))
            gaps.append(stepper.motion.top() - mean)
    finally:
        stepper.close()
    gap = float(np.mean(gaps))  # the counter electrode recedes as the surface rises
    return {"initial": initial, "initial_reference": modulation(k, wavelength, ohmic_length(case)),
            "rate": float(np.polyfit(times, logs, 1)[0]),
            "rate_reference": speed * modulation(k, gap, binary_length(case, c_surface))}


def _velocity_modulation(stepper, k: float) -> float:
    """(cos(kx) coefficient / mean) of the surface velocity's y component."""
    motion = stepper.motion
    velocity = motion.velocity()[motion.surface, 1]
    x = motion.mesh.geometry.x[motion.node_of_dof[motion.surface], 0]
    parts = motion.comm.allgather((x, velocity))
    x, velocity = (np.concatenate([p[i] for p in parts]) for i in (0, 1))
    basis = np.stack([np.ones(len(x)), np.cos(k * x)], axis=1)
    (mean, a), *_ = np.linalg.lstsq(basis, velocity, rcond=None)
    return a / mean


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    nx, ny = SIZES[level]
    rows = []
    for wavelength in LAMBDAS:
        r = growth_rate(wavelength, nx, ny, comm)
        name = f"lambda = {wavelength * 1e9:g} nm"
        rows += [
            Row(TITLE, f"secondary limit: (dv/v)/a at t = 0 (1/m), {name}", r["initial_reference"],
                "k coth(kL) / (1 + kappa R k coth(kL))", r["initial"],
                relative_error(r["initial"], r["initial_reference"]), "rel", 0.01),
            Row(TITLE, f"growth rate s (1/s), {name}", r["rate_reference"],
                "(M/(rho F)) i k coth(kL) / (1 + l k coth(kL)), l = 2 F D+/(i_eta/(f c_s) - i_c)",
                r["rate"], relative_error(r["rate"], r["rate_reference"]), "rel", 0.03),
        ]
    return rows
