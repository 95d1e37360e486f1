"""Concentrated-solution electrolyte (Newman): the dilute model as its special case, a steady
planar cell with each named electrolyte's conductivity against its analytic solution. The
manufactured-solution rates are femsolver.verification.mms rows (tests/test_verification.py)."""

import json
from pathlib import Path

import numpy as np
import pytest

from femsolver.cli import main
from femsolver.physics.concentrated import butler_volmer
from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.physics.kinetics import invert

CASES = Path(__file__).resolve().parents[1] / "cases"
COARSE = ["-q", "--set", "mesh.h_interface=4e-9", "--set", "mesh.h_bulk=50e-9",
          "--set", "time.end=2e-4", "--set", "time.dt=2e-5", "--set", "output.pictures=false"]


def run(out, case, *settings):
    assert main(["run", str(CASES / case), "-o", str(out), *settings]) == 0
    return json.loads((out / "summary.json").read_text())


def test_dilute_electrolyte_written_as_concentrated_gives_the_same_run(shared_dir):
    """kappa = F^2 c (D+ + D-)/RT, D = 2 D+ D-/(D+ + D-), t+ = D+/(D+ + D-), chi = 1 and
    Phi = phi + (RT/F) ln(c/c0) turn Newman's equations into the dilute ones."""
    dilute = run(shared_dir / "dilute", "li_foil_prs.toml", *COARSE)
    newman = run(shared_dir / "newman", "li_foil_prs.toml", *COARSE,
                 "--set", "electrolyte.model=concentrated",
                 "--set", "electrolyte.material=seed_dilute_1e-9")
    # Observed: equal to 1e-15 (the concentration varies by 1e-5 here, so the two discrete
    # forms differ by far less than round-off).
    for key in ("cell_voltage_V", "min_surface_concentration_mol_m3",
                "interface_current_density_max_A_m2"):
        assert newman[key] == pytest.approx(dilute[key], rel=1e-10), key


L, D, C0, I0, T = 20e-6, 3e-10, 1000.0, 10.0, 298.15  # the steady planar cell below


def steady_planar_reference(kappa, t_plus):
    """Electrode concentration c(0) and cell voltage of the steady closed cell at half the
    limiting current, for constant D and t+ and conductivity kappa(c), and that current.

    N- = -D grad c - (1 - t+) i/F = 0 with i = -i_app gives a linear c(y) = c0 + (1 - t+) i_app (y - L/2)
    /(F D); (N1) then gives Phi(0) - Phi(L) = -i_app int dy/kappa(c(y)) + 2 (1 - t+) (RT/F)
    ln(c(0)/c(L)), and the cell voltage adds the overpotentials of (N3) at c(0) and c(L).
    """
    VT = thermal_voltage(T)
    i_app = 0.5 * 2 * FARADAY * D * C0 / ((1 - t_plus) * L)

    def c(y):
        return C0 + (1 - t_plus) * i_app * (y - L / 2) / (FARADAY * D)

    y = np.linspace(0, L, 200001)
    ohmic = np.trapezoid(1 / kappa(c(y)), y) * i_app
    eta_w = invert(lambda e: butler_volmer(e, c(0) / C0, I0, 0.5, 0.5, exp=np.exp), -i_app)
    eta_c = invert(lambda e: butler_volmer(e, c(L) / C0, I0, 0.5, 0.5, exp=np.exp), i_app)
    V = VT * (eta_w - eta_c) - ohmic + 2 * (1 - t_plus) * VT * np.log(c(0) / c(L))
    return c(0), V, i_app


def run_steady_planar(out, material, t_plus, i_app, h_bulk):
    summary = run(out, "planar_li_li.toml", "-q",
                  "--set", f"geometry.length={L}", "--set", f"mesh.h_interface={h_bulk / 4}",
                  "--set", f"mesh.h_bulk={h_bulk}", "--set", "electrolyte.model=concentrated",
                  "--set", f"electrolyte.material={material}",
                  "--set", f"electrolyte.transference={t_plus}",
                  "--set", f"electrolyte.diffusivity={D}", "--set", "time.mode=steady",
                  "--set", f"control.current_density={i_app}", "--set", "output.pictures=false")
    return summary["min_surface_concentration_mol_m3"], summary["cell_voltage_V"]


def test_steady_planar_cell_with_nyman_conductivity_matches_analytic_voltage(shared_dir):
    """kappa(c) of LiPF6 (Nyman 2008), t+ of the named set."""
    def kappa(conc):
        x = conc / 1000
        return 0.1297 * x**3 - 2.51 * x**1.5 + 3.329 * x

    c_w, V_exact, i_app = steady_planar_reference(kappa, 0.2594)
    c_run, V_run = run_steady_planar(shared_dir / "nyman", "LiPF6_EC_EMC_Nyman2008", 0.2594,
                                     i_app, h_bulk=4e-7)
    # Observed: c(0) within 3e-8 relative, V within 4.1e-7 V of V_exact = -0.635 V.
    assert c_run == pytest.approx(c_w, rel=1e-6)
    assert V_run == pytest.approx(V_exact, abs=2e-6)


def test_steady_planar_cell_with_litfsi_dol_dme_converges_to_analytic_solution(shared_dir):
    """The LiTFSI DOL:DME set (constant kappa = 10.97 mS/cm) with D and t+ given by the case.

    The log term of Phi is not in P1, yet the nodal values of this one-dimensional solution are
    exact up to a floor: the salt and charge balances are integrated with the same quadrature, so
    the discrete current in the salt balance is the conserved one. (Integrating them at different
    degrees, as femsolver did before, left P1-order errors: 1.2e-5 c0 and 2.1e-6 V at 4e-7 m.)
    """
    t_plus = 0.4
    c_w, V_exact, i_app = steady_planar_reference(lambda c: np.full_like(c, 1.0967742), t_plus)
    errors = []
    for h in (4e-7, 2e-7):
        c_run, V_run = run_steady_planar(shared_dir / f"litfsi_{h}", "LiTFSI_DOL_DME_1M_BKCS2011",
                                         t_plus, i_app, h)
        errors.append((abs(c_run - c_w) / C0, abs(V_run - V_exact)))
    # Observed: c errors 1.06e-8 and 8.5e-9 of c0, V errors 2.9e-11 and 1.9e-12 V.
    for ec, eV in errors:
        assert ec < 5e-8 and eV < 2e-10
