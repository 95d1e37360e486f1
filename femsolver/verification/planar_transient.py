"""Benchmark 2: the closed planar cell after a current step (Fourier series in time).

With N- eliminated, the salt balance of the 1D binary electrolyte is a diffusion equation with
the ambipolar D = 2 D+ D- / (D+ + D-):
    N- = -D dc/dy - (1 - t+) i/F,   dc/dt = D d2c/dy2,   N- = 0 at y = 0 and y = L,
i.e. dc/dy = g = (1 - t+) i_app / (F D) = i_app / (2 F D+) at both electrodes (plating current
i_app > 0 flows towards y = 0), from c = c0 at t = 0. The steady part is c0 + g (y - L/2); the
rest, -g (y - L/2) at t = 0, has the cosine series y - L/2 = -sum_{n odd} 4L/(n pi)^2 cos(n pi y/L)
on [0, L], and each mode decays as exp(-n^2 t/tau), tau = L^2 / (pi^2 D):
    c(y, t) = c0 + g (y - L/2) + g sum_{n odd} 4L/(n pi)^2 cos(n pi y/L) exp(-n^2 t/tau).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from femsolver.physics.constants import FARADAY
from femsolver.problems.cell.problem import CellProblem
from femsolver.time_stepping import time_steps
from femsolver.verification import Row, observed_rate, solving
from femsolver.verification.planar_steady import (
    C0,
    D_MINUS,
    D_PLUS,
    QUIET,
    L,
    limiting_current,
    planar,
)

TITLE = "2. Closed planar cell after a current step"
D_AMBIPOLAR = 2 * D_PLUS * D_MINUS / (D_PLUS + D_MINUS)
TAU = L ** 2 / (np.pi ** 2 * D_AMBIPOLAR)  # s
SAMPLES = (0.25, 0.5, 1.0)  # times compared, in units of tau
NY, DEGREE = 50, 2
STEPS = {0: (32, 64), 1: (32, 64, 128), 2: (32, 64, 128, 256), 3: (32, 64, 128, 256, 512)}

SETUP = f"""\
The closed cell of benchmark 1 (D+ = {D_PLUS:g}, D- = {D_MINUS:g} m2/s, ambipolar D =
{D_AMBIPOLAR:.4g} m2/s, tau = L^2/(pi^2 D) = {TAU:.4g} s) at rest, then i = 0.5 i_lim from t = 0,
constant time steps dt = tau/M (M = 32, 64, 128, ...: two at level 0, each level one more) with
BDF1 and with BDF2 (whose first step is BDF1). The concentration at the working electrode is
compared at t = {', '.join(f'{s:g}' for s in SAMPLES)} tau; the error is the largest over these
times. Space: P2 on ny = {NY} elements (one row of quadrilaterals), whose error (~1e-8 c0, from ny
= 100) is far below the time error.

Reference (Carslaw & Jaeger, *Conduction of Heat in Solids*, 2nd ed., sec. 3.4: slab with constant
flux at both faces; Newman & Thomas-Alyea ch. 11 for the binary-salt diffusion equation): c(0, t) =
c0 - g L/2 + g sum_(n odd) 4L/(n pi)^2 exp(-n^2 t/tau), g = (1 - t+) i/(F D) = i/(2 F D+), D = 2 D+
D-/(D+ + D-), tau = L^2/(pi^2 D).
"""


def concentration(y, t, i_app):
    """c(y, t) of the closed planar cell after the current step i_app at t = 0, mol/m3."""
    g = i_app / (2 * FARADAY * D_PLUS)
    n = np.arange(1, 2001, 2)[:, None]
    y = np.atleast_1d(np.asarray(y, dtype=float))[None, :]
    modes = 4 * L / (n * np.pi) ** 2 * np.cos(n * np.pi * y / L) * np.exp(-n ** 2 * t / TAU)
    return C0 + g * (y[0] - L / 2) + g * modes.sum(axis=0)


def surface_errors(scheme: str, steps_per_tau: int, comm=MPI.COMM_WORLD) -> dict[float, tuple]:
    """{sample time (s): (computed c at y = 0, exact c)} for one time-step size."""
    i_app = 0.5 * limiting_current()
    dt = TAU / steps_per_tau
    case, domain = planar(NY, comm, control={"current_density": i_app},
                          time={"end": SAMPLES[-1] * TAU, "dt": dt, "dt_max": dt,
                                "growth": 1.0, "scheme": scheme})
    p = CellProblem(case, domain, degree=DEGREE)
    y = p.space.tabulate_dof_coordinates()[:, 1]
    at_working = np.isclose(y, 0.0, rtol=0, atol=1e-9 * L)
    samples = {round(s * steps_per_tau): s for s in SAMPLES}
    results = {}
    with solving(p, comm) as newton:
        for step in time_steps(p, newton, case.time, QUIET):
            if step.index in samples:
                c = comm.allreduce(np.max(C0 * (1 + p.u_values[at_working]), initial=-np.inf),
                                   op=MPI.MAX)
                results[samples[step.index]] = (c, concentration(0.0, step.time, i_app)[0])
    return results


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    steps = STEPS[level]
    series = {}
    finest = None
    for scheme in ("bdf1", "bdf2"):
        errors = []
        for M in steps:
            results = surface_errors(scheme, M, comm)
            errors.append((TAU / M, max(abs(c - exact) / C0 for c, exact in results.values())))
        series[scheme] = tuple(errors)
        if scheme == "bdf2":
            finest = results
    formula = "c0 - g L/2 + g sum_(n odd) 4L/(n pi)^2 exp(-n^2 t/tau)"
    name = TITLE
    rows = [Row(name, f"c at the working electrode (mol/m3), t = {s:g} tau, BDF2", exact, formula,
                c, abs(c - exact) / C0, "abs / c0", 1e-4)
            for s, (c, exact) in finest.items()]
    for scheme, order, error_tol, rate_tol in (("bdf1", 1, 5e-3, 0.05), ("bdf2", 2, 1e-4, 0.1)):
        s = series[scheme]
        rate = observed_rate(s)
        label = scheme.upper()
        rows += [
            Row(name, f"{label}: largest error of c(0, t) over the sample times", None, formula,
                None, s[-1][1], "abs / c0", error_tol, rate=rate, series=s, step="dt"),
            Row(name, f"order of the {label} error in dt", float(order), f"{label} order", rate,
                abs(rate - order), "abs", rate_tol, rate=rate),
        ]
    return rows
