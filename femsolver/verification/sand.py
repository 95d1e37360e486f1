"""Benchmark 3: Sand's time, galvanostatic depletion of a semi-infinite electrolyte.

Under a constant plating current i the salt at the working electrode follows (Sand 1901;
Bard & Faulkner, *Electrochemical Methods*, 2nd ed., sec. 8.2, with the binary-salt flux
(1 - t+) i / F and the ambipolar D):
    c_s(t) = c0 - 2 i (1 - t+) sqrt(t) / (F sqrt(pi D)),
so c_s reaches theta c0 at t = t_s (1 - theta)^2, t_s = pi D (F c0)^2 / (4 (i (1 - t+))^2).
The run is the whole `femsolver run` pipeline (gmsh planar cell, time loop, depletion
detection): its summary's `depletion_time_s` is compared.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np
from mpi4py import MPI

from femsolver.physics.constants import FARADAY
from femsolver.simulation import run as run_case
from femsolver.verification import Row, observed_rate, relative_error
from femsolver.verification.domains import make_case
from geometries.planar import PlanarGeometry

TITLE = "3. Sand's time"
L = 20e-6  # m: the diffusion layer (sqrt(D t_s) = 0.11 L) stays thin against the gap
WIDTH = 2e-7  # m: a narrow strip, the problem is 1D
D_PLUS, D_MINUS, C0 = 1.5e-9, 0.8e-9, 1000.0
D = 2 * D_PLUS * D_MINUS / (D_PLUS + D_MINUS)
T_PLUS = D_PLUS / (D_PLUS + D_MINUS)
I_APP = 4 * (4 * FARADAY * D_PLUS * C0 / L)  # 4 x the steady limiting current, A/m2
T_SAND = np.pi * D * (FARADAY * C0) ** 2 / (4 * (I_APP * (1 - T_PLUS)) ** 2)  # s
THRESHOLD = 1e-3  # time.depletion_threshold (its default)
# (h_interface, h_bulk, steps per t_s), halved / doubled together
SEQUENCE = [(2e-8 / 2 ** j, 2e-7 / 2 ** j, 12 * 2 ** j) for j in range(5)]
LEVELS = {0: 2, 1: 3, 2: 4, 3: 5}

SETUP = f"""\
The `planar` geometry (gmsh; L = {L * 1e6:g} um, strip {WIDTH * 1e9:g} nm wide), D+ = {D_PLUS:g},
D- = {D_MINUS:g} m2/s (t+ = {T_PLUS:.3f}, D = {D:.4g} m2/s), driven at i = {I_APP:.4g} A/m2 (4 x
the steady limiting current) until the surface concentration falls below time.depletion_threshold x
c0; `femsolver.simulation.run` reports the crossing time (linear interpolation between the last two
steps). t_s = {T_SAND:.5g} s; sqrt(D t_s) = 0.11 L, so the finite gap changes c_s by ~erfc(L /
sqrt(D t_s)) ~ 1e-37 (negligible). BDF2 with constant steps t_s/M; the mesh (h at the electrodes /
in the bulk) and the step are refined together: (h, h_bulk, M) = (20 nm, 200 nm, 12) / 2^j, j = 0,
1 at level 0, each level one more. A second run with threshold 0.5 checks the sqrt(t) law halfway
(c_s = c0/2 at t_s/4), on the finest mesh with steps t_s/(4M) (linear interpolation of the crossing
has a relative error ~ (dt/t)^2/16: 1.7e-3 with 6 steps).

Reference: Sand, *Phil. Mag.* 1, 45 (1901); Bard & Faulkner, *Electrochemical Methods*, 2nd ed.,
sec. 8.2; issue 3. c_s(t) = c0 - 2 i (1 - t+) sqrt(t)/(F sqrt(pi D)), t_s = pi D (F c0)^2 / (4 (i
(1 - t+))^2), reached at theta c0 at t_s (1 - theta)^2.
"""


def depletion_time(h_interface, h_bulk, steps, threshold, comm=MPI.COMM_WORLD) -> float:
    """The run's reported depletion time (s); NaN if the run did not report depletion."""
    directory = comm.bcast(tempfile.mkdtemp(prefix="femsolver-sand-") if comm.rank == 0
                           else None)
    case = make_case(
        geometry=PlanarGeometry(length=L, width=WIDTH),
        electrolyte={"D_cation": D_PLUS, "D_anion": D_MINUS, "c0": C0},
        mesh={"h_interface": h_interface, "h_bulk": h_bulk},
        control={"current_density": I_APP},
        time={"end": 10 * T_SAND, "dt": T_SAND / steps, "growth": 1.0,
              "depletion_threshold": threshold},
        output={"directory": directory, "pictures": False, "xdmf": False, "vtx": False})
    try:
        summary = run_case(case, comm, verbose=False)
    finally:
        comm.barrier()
        if comm.rank == 0:
            shutil.rmtree(directory, ignore_errors=True)
    if summary["status"] != "depleted":
        return float("nan")
    return summary["depletion_time_s"]


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    sequence = SEQUENCE[:LEVELS[level]]
    reference = T_SAND * (1 - THRESHOLD) ** 2
    times = [depletion_time(h, hb, M, THRESHOLD, comm) for h, hb, M in sequence]
    series = tuple((T_SAND / M, relative_error(t, reference))
                   for (_, _, M), t in zip(sequence, times))
    h, hb, M = sequence[-1]
    half = depletion_time(h, hb, 4 * M, 0.5, comm)  # as many steps as the full run
    formula = "t_s = pi D (F c0)^2 / (4 (i (1 - t+))^2)"
    return [
        Row(TITLE, f"depletion time (s), threshold {THRESHOLD:g} c0", reference,
            f"{formula}, times (1 - theta)^2", times[-1], series[-1][1], "rel", 1e-3,
            rate=observed_rate(series), series=series, step="dt"),
        Row(TITLE, "time (s) at which c_s = c0/2 (threshold 0.5)", T_SAND / 4,
            f"{formula}, times 1/4", half, relative_error(half, T_SAND / 4), "rel", 1e-3),
    ]
