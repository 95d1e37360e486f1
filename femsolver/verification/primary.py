"""Benchmark 5: primary current distribution at a periodic array of active strips.

Strips of width 2a = f p, period p, on an insulating plane; the electrolyte above is ohmic
(conductivity kappa) and far away carries the uniform current density i_app (its mean over a
period). Conformal mapping (Newman & Thomas-Alyea, *Electrochemical Systems*, 3rd ed., sec.
18.4; issue 3) gives, with x measured from a strip centre and s = sin(pi f/2) = sin(pi a/p):
    i(x) / i_app = cos(pi x/p) / sqrt(s^2 - sin^2(pi x/p))          for |x| < a,
    R kappa / p = ln(1 / s) / pi,
R (ohm m2, per projected area) being the access resistance: the voltage beyond the ohmic drop
of the same gap over a fully active plane, divided by i_app.
Normalisation: substituting u = sin(pi x/p), du = (pi/p) cos(pi x/p) dx,
    integral_{-a}^{a} i(x) dx = i_app (p/pi) integral_{-s}^{s} du / sqrt(s^2 - u^2) = i_app p,
so a strip carries its period's current; the mean over the strip is i_app / f.

The model problem is tertiary; it reduces to the primary one when
- kinetics are fast: linear charge-transfer resistance R_ct = (RT/F) / (i0 (alpha_a + alpha_c))
  is negligible against the access resistance (Wagner number kappa R_ct / (f p) ~ 1e-6); its
  uniform-current share R_ct / f is subtracted from the voltage anyway;
- the concentration has not moved: one backward-Euler step of dt = 1e-15 s (the response just
  after switch-on; a steady state would not do: in a binary salt the steady concentration
  overpotential is comparable to the ohmic drop at any current). With c = c0 and D+ = D-,
  i = -kappa grad phi with kappa = F^2 c0 (D+ + D-) / (RT).
Both assumptions are checked by re-running the coarsest mesh with i0 / 10 and with dt x 10.
The current density is singular (~ r^(-1/2)) at the strip edges, so it is compared away from
them (|x| < 0.8 a), and errors fall only as h (the singularity pollutes the whole strip).
"""

from __future__ import annotations

import numpy as np
from mpi4py import MPI

from femsolver.mesh import build_domain
from femsolver.physics.constants import FARADAY, GAS_CONSTANT, thermal_voltage
from femsolver.outputs.tables import gather
from femsolver.problems.cell.outputs import InterfaceProbe
from femsolver.problems.cell.problem import CellProblem
from femsolver.time_stepping import time_steps
from femsolver.verification import Row, observed_rate, relative_error, solving
from femsolver.verification.domains import make_case
from geometries.li_foil import LiFoilGeometry

TITLE = "5. Primary current distribution, periodic strips"
PERIOD = 100e-9  # m
FRACTION = 0.2  # active fraction f: strips of 20 nm
SITES = 2  # periods in the model (width = SITES x PERIOD)
HEIGHT = 2 * PERIOD  # electrolyte; the strips' disturbance decays as exp(-2 pi y/p)
C0, D_ION = 1000.0, 1e-9
TEMPERATURE = 298.15
KAPPA = FARADAY ** 2 * C0 * 2 * D_ION / (GAS_CONSTANT * TEMPERATURE)  # S/m
I0 = 1e13  # A/m2 (alpha_a + alpha_c = 1)
WAGNER = KAPPA * thermal_voltage(TEMPERATURE) / I0 / (FRACTION * PERIOD)  # kappa R_ct / (f p)
DT = 1e-15  # s
I_APP = 25.0  # A/m2
EDGE = 0.8  # compare for |x| < EDGE a
# h_interface (h_bulk = 10 h_interface), halved per level
SEQUENCE = [1e-9 / 2 ** j for j in range(5)]
LEVELS = {0: 2, 1: 3, 2: 4, 3: 5}
QUIET = lambda message: None

SETUP = f"""\
The `li_foil` geometry (gmsh) with surface "bare": {SITES} regular active strips of
{FRACTION * PERIOD * 1e9:g} nm, period p = {PERIOD * 1e9:g} nm (f = {FRACTION:g}), electrolyte
{HEIGHT * 1e9:g} nm high, ideal counter electrode (`kinetics.counter = "ideal"`, phi = 0), D+ = D-
= {D_ION:g} m2/s, c0 = {C0:g} mol/m3 (kappa = F^2 c0 (D+ + D-)/(RT) = {KAPPA:.4g} S/m), i_app =
{I_APP:g} A/m2, i0 = {I0:.0e} A/m2 (kappa R_ct/(f p) = {WAGNER:.1e}), one backward-Euler step of dt
= {DT:g} s. Mesh: h_interface = 1, 0.5, 0.25, ... nm along the interface (two at level 0, each
level one more), h_bulk = 10 h_interface. R = -V/i_app - H/kappa - R_ct/f from the cell voltage V;
the current density is the plating current of the kinetics at the facet midpoints of the strips
(`InterfaceProbe`), compared with the formula for |x| < {EDGE:g} a. The order of the distribution
error is the least-squares slope over the whole sequence (the error does not fall evenly: the
discrete flux rings near the edges).

Reference: conformal mapping (Newman & Thomas-Alyea, *Electrochemical Systems*, 3rd ed., sec. 18.4;
issue 3): i/i_app = cos(pi x/p) / sqrt(sin^2(pi f/2) - sin^2(pi x/p)) (x from the strip centre; its
integral over a strip is i_app p), R kappa/p = ln(1/sin(pi f/2))/pi.
"""


def geometry() -> LiFoilGeometry:
    return LiFoilGeometry(surface="bare", width=SITES * PERIOD, electrolyte_height=HEIGHT,
                          electrode_thickness=PERIOD / 2, active_fraction=FRACTION,
                          site_width=FRACTION * PERIOD, site_layout="regular")


def exact_distribution(x):
    """i / i_app at x (m) from a strip centre."""
    s = np.sin(np.pi * FRACTION / 2)
    return np.cos(np.pi * x / PERIOD) / np.sqrt(s ** 2 - np.sin(np.pi * x / PERIOD) ** 2)


def exact_resistance() -> float:
    """R kappa / p."""
    return np.log(1 / np.sin(np.pi * FRACTION / 2)) / np.pi


def ohmic_case(i0, dt=DT, current_density=I_APP, **sections):
    """A case for the ohmic (primary or secondary) limit: D+ = D- (no diffusion current),
    c0 and T as above (kappa = KAPPA), ideal counter electrode, one backward-Euler step of dt.
    `sections` add to or override the case (e.g. geometry, mesh)."""
    return make_case(**{
        "electrolyte": {"c0": C0, "D_cation": D_ION, "D_anion": D_ION,
                        "temperature": TEMPERATURE},
        "kinetics": {"i0": i0, "counter": "ideal"},
        "control": {"current_density": current_density},
        "time": {"end": dt, "dt": dt, "scheme": "bdf1"}, "solver": {"rtol": 1e-12},
        **sections})


def solve_ohmic(case, domain, comm=MPI.COMM_WORLD, adjust=None) -> CellProblem:
    """The CellProblem of an `ohmic_case` after its one time step: just after switch-on the
    concentration has not moved, so the potential solves Laplace's equation (conductivity
    KAPPA) with the Butler-Volmer boundary. `adjust(problem)` may change the problem (e.g.
    its boundary conditions) before the solver is built."""
    p = CellProblem(case, domain)
    if adjust is not None:
        adjust(p)
    with solving(p, comm) as newton:
        for _ in time_steps(p, newton, case.time, QUIET):
            pass
    return p


def solve(h_interface, i0=I0, dt=DT, comm=MPI.COMM_WORLD) -> tuple[float, float]:
    """(R kappa / p, largest relative error of i/i_app for |x| < 0.8 a) on one mesh."""
    geo = geometry()
    case = ohmic_case(i0, dt, geometry=geo,
                      mesh={"h_interface": h_interface, "h_bulk": 10 * h_interface})
    domain = build_domain(geo, case.mesh, comm)
    p = solve_ohmic(case, domain, comm)
    VT = p.thermal_voltage
    charge_transfer = VT / (i0 * (case.kinetics.alpha_a + case.kinetics.alpha_c))  # ohm m2
    V = p.V.x.array[0] * VT
    resistance = -V / I_APP - HEIGHT / KAPPA - charge_transfer / FRACTION
    profile = gather(comm, InterfaceProbe(p).sample())
    error = None
    if comm.rank == 0:
        active = profile["active"].astype(bool)
        x = profile["x"][active]
        x = x - (np.floor(x / PERIOD) + 0.5) * PERIOD  # from the strip centre
        inner = np.abs(x) < EDGE * FRACTION * PERIOD / 2
        exact = exact_distribution(x[inner])
        computed = profile["plating_current_density"][active][inner] / I_APP
        error = float(np.max(np.abs(computed - exact) / exact))
    return resistance * KAPPA / PERIOD, comm.bcast(error, root=0)


def _slope(series) -> float:
    """Least-squares order p of error ~ h^p over the whole sequence."""
    h, e = np.log(np.array(series)).T
    return float(np.polyfit(h, e, 1)[0])


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    sizes = SEQUENCE[:LEVELS[level]]
    results = [solve(h, comm=comm) for h in sizes]
    R_exact = exact_resistance()
    R_series = tuple((h, relative_error(R, R_exact)) for h, (R, _) in zip(sizes, results))
    i_series = tuple((h, e) for h, (_, e) in zip(sizes, results))
    R_rate, i_rate = observed_rate(R_series), _slope(i_series)
    # Checks of the primary-distribution assumptions on the coarsest mesh.
    R_coarse = results[0][0]
    R_slow = solve(sizes[0], i0=I0 / 10, comm=comm)[0]
    R_later = solve(sizes[0], dt=10 * DT, comm=comm)[0]
    name = TITLE
    return [
        Row(name, "access resistance R kappa / p", R_exact, "ln(1/sin(pi f/2))/pi",
            results[-1][0], R_series[-1][1], "rel", 0.025, rate=R_rate, series=R_series),
        # Energy-type functional of a solution with r^(1/2) singularities: error ~ h^(2 x 1/2).
        Row(name, "order of the R error in h", 1.0, "r^(1/2) edge singularity", R_rate,
            max(0.0, 1.0 - R_rate), "shortfall", 0.3, rate=R_rate),
        Row(name, f"i/i_app for |x| < {EDGE:g} a: largest relative error", None,
            "cos(pi x/p)/sqrt(sin^2(pi f/2) - sin^2(pi x/p))", None, i_series[-1][1],
            "rel", 0.05, rate=i_rate, series=i_series),
        Row(name, "order of the distribution error in h (least squares)", 1.0,
            "pollution from the edge singularity", i_rate, max(0.0, 1.0 - i_rate), "shortfall", 0.5,
            rate=i_rate),
        Row(name, "kinetics negligible: change of R kappa/p with i0 / 10", 0.0,
            "primary limit", relative_error(R_slow, R_coarse), relative_error(R_slow, R_coarse),
            "rel", 1e-3),
        Row(name, "concentration unchanged: change of R kappa/p with dt x 10", 0.0,
            "primary limit", relative_error(R_later, R_coarse),
            relative_error(R_later, R_coarse), "rel", 1e-3),
    ]
