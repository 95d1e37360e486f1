"""Control and boundary options against analytic results: an open cell (c = c0 held at the
counter electrode) and restricted diffusion after the current is switched off."""

import json
from pathlib import Path

import numpy as np
import pytest

from femsolver.cli import main
from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.physics.kinetics import butler_volmer_inverse
from femsolver.verification import restricted

CASE = Path(__file__).resolve().parents[1] / "cases" / "planar_li_li.toml"
L, C0, I0 = 20e-6, 1000.0, 10.0
D_PLUS, D_MINUS = 1.5e-9, 0.8e-9
T_PLUS = D_PLUS / (D_PLUS + D_MINUS)
D_SALT = 2 * D_PLUS * D_MINUS / (D_PLUS + D_MINUS)  # ambipolar diffusion coefficient
PLANAR = ["--set", f"geometry.length={L}", "--set", f"electrolyte.D_cation={D_PLUS}",
          "--set", f"electrolyte.D_anion={D_MINUS}", "--set", "mesh.h_interface=1e-7",
          "--set", "mesh.h_bulk=4e-7", "--set", "output.pictures=false",
          "--set", "output.xdmf=false", "--set", "output.vtx=false"]


def run(out, *settings):
    assert main(["run", str(CASE), "-o", str(out), "-q", *PLANAR, *settings]) == 0
    return json.loads((out / "summary.json").read_text())


def test_open_cell_has_half_the_limiting_current_and_its_analytic_profile(shared_dir):
    # Steady, N- = 0 and N+ = -i/F: grad c = i / (2 F D+), now with c(L) = c0 held, so c(0)
    # reaches zero at i_lim = 2 F D+ c0 / L, half the closed cell's 4 F D+ c0 / L.
    i = 0.5 * 2 * FARADAY * D_PLUS * C0 / L
    c_w = C0 - i * L / (2 * FARADAY * D_PLUS)
    eta_w = butler_volmer_inverse(-i, I0, 0.5, 0.5, c_w / C0)
    eta_c = butler_volmer_inverse(i, I0, 0.5, 0.5, 1.0)
    V_exact = thermal_voltage(298.15) * (eta_w - eta_c + np.log(c_w / C0))
    summary = run(shared_dir / "open", "--set", "electrolyte.reservoir_at_counter=true",
                  "--set", "time.mode=steady", "--set", f"control.current_density={i}")
    assert summary["min_surface_concentration_mol_m3"] == pytest.approx(c_w, abs=1e-4 * C0)
    assert summary["electrolyte_concentration_max_mol_m3"] == pytest.approx(C0, abs=1e-9 * C0)
    # Observed: 2.1e-7 V off V_exact = -0.730 V (a discretisation error).
    assert summary["cell_voltage_V"] == pytest.approx(V_exact, abs=2e-5)


def test_restricted_diffusion_relaxes_at_the_salt_diffusion_rate(shared_dir):
    """After the current stops, the open-circuit voltage of a binary-salt concentration cell,
    2 (1 - t+) (RT/F) ln(c_w / c_c), decays with the slowest diffusion mode,
    exp(-pi^2 D t / L^2), D = 2 D+ D- / (D+ + D-): the restricted-diffusion method.

    Benchmark 4 (femsolver.verification.restricted, run in tests/test_verification.py) checks
    the voltage against the exact one; this runs `control.rest_after` through the command line
    and the gmsh planar geometry, with the benchmark's decay-rate fit."""
    tau = L**2 / (np.pi**2 * D_SALT)
    rest = 4 * tau
    out = shared_dir / "restricted"
    summary = run(out, "--set", f"control.current_density={0.3 * 4 * FARADAY * D_PLUS * C0 / L}",
                  "--set", f"control.rest_after={rest}", "--set", f"time.end={rest + 4 * tau}",
                  "--set", f"time.dt={tau / 100}", "--set", "time.growth=1.0")
    assert summary["status"] == "complete"
    series = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    t, V, current = series["time_s"], series["cell_voltage_V"], series["current_density_A_m2"]
    assert np.all(current[t > rest * (1 + 1e-9)] == pytest.approx(0.0, abs=1e-9))
    # Plating depleted the working side: c_w < c_c, so the OCV is negative but smaller than
    # the polarised voltage (the overpotentials have gone).
    assert V[t <= rest][-1] < V[t > rest][0] < 0
    late = (t > rest + 2 * tau) & (t < rest + 4 * tau)
    rate = restricted.decay_rate(t[late], V[late])
    # Observed: rate 0.04 % above pi^2 D / L^2 (spatial and BDF2 errors).
    assert rate == pytest.approx(1 / tau, rel=0.01)


def test_arrhenius_temperature_dependence_of_i0_and_diffusivities(shared_dir):
    """Steady closed cell at 318.15 K with i0 and D+- given at 298.15 K with activation
    energies: the analytic voltage with i0 and D taken to 318.15 K by Arrhenius (A1)."""
    from femsolver.physics.kinetics import arrhenius

    T, Ea_k, Ea_d = 318.15, 50e3, 20e3
    i0, D_p = (arrhenius(v, Ea, T, 298.15) for v, Ea in ((I0, Ea_k), (D_PLUS, Ea_d)))
    i = 0.5 * 4 * FARADAY * D_p * C0 / L
    c_w, c_c = (C0 + s * i * L / (4 * FARADAY * D_p) for s in (-1, 1))
    eta_w = butler_volmer_inverse(-i, i0, 0.5, 0.5, c_w / C0)
    eta_c = butler_volmer_inverse(i, i0, 0.5, 0.5, c_c / C0)
    V_exact = thermal_voltage(T) * (eta_w - eta_c + np.log(c_w / c_c))
    summary = run(shared_dir / "hot", "--set", f"electrolyte.temperature={T}",
                  "--set", f"kinetics.activation_energy={Ea_k}",
                  "--set", f"electrolyte.diffusion_activation_energy={Ea_d}",
                  "--set", "time.mode=steady", "--set", f"control.current_density={i}")
    assert summary["min_surface_concentration_mol_m3"] == pytest.approx(c_w, abs=1e-4 * C0)
    # Observed: 1.0e-6 V off V_exact = -0.783 V; without the Arrhenius factors V is -1.016 V.
    assert summary["cell_voltage_V"] == pytest.approx(V_exact, abs=1e-5)


def test_potentiostatic_control_inverts_galvanostatic_control(shared_dir):
    """The same steady cell under either control: V(i) and i(V) are one relation."""
    i = 0.4 * 4 * FARADAY * D_PLUS * C0 / L
    galvanostatic = run(shared_dir / "galv", "--set", "time.mode=steady",
                        "--set", f"control.current_density={i}")
    potentiostatic = run(shared_dir / "pot", "--set", "time.mode=steady",
                         "--set", "control.mode=potentiostatic",
                         "--set", f"control.voltage={galvanostatic['cell_voltage_V']}")
    assert potentiostatic["cell_voltage_V"] == galvanostatic["cell_voltage_V"]
    assert potentiostatic["applied_current_density_A_m2"] == pytest.approx(i, rel=1e-8)
