"""Particle runs end to end: the case keys, the outputs, the cut-off, errors, Ctrl-C, and serial =
parallel. (The physics against exact results: the verification tests.)"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from femsolver.case import case_from_dict, check_runnable, describe
from femsolver.cli import main
from femsolver.errors import CaseError
from femsolver.materials.active import MATERIALS, lfp_afshar2017
from femsolver.problems.particle.problem import ParticleProblem
from femsolver.problems.particle.outputs import ParticleFields, polar_angles
from femsolver.problems.particle.study import compare_particles
from femsolver.physics.constants import FARADAY
from helpers import interrupt_first_step
from test_particle import (A_CORE, B_SE, HYBRID, L_LIQUID, LIQUID, i_n_of, run_to_end,
                           slab_case, slab_domain)

CASES = Path(__file__).resolve().parents[1] / "cases"
CASE = CASES / "core_shell_lpscl_5wt.toml"
BIN = Path(sys.executable).parent
# About 1000 cells: the shell is one element thick; runs take a few seconds.
COARSE = ["--set", "mesh.h_interface=5e-7", "--set", "mesh.h_bulk=4e-6",
          "--set", "output.vtx=false"]
SHORT = ["--set", "time.end=60", "--set", "time.dt=10", "--set", "time.dt_max=20"]
serial_only = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="starts its own mpirun")

PARTICLE = {"name": "p", "geometry": {"kind": "core_shell", "axisymmetric": True},
            "control": {"c_rate": 1.0}}


def run_cli(*args) -> int:
    return main([str(a) for a in args])


def read(directory: Path, name: str):
    if name.endswith(".json"):
        return json.loads((directory / name).read_text())
    return np.genfromtxt(directory / name, delimiter=",", names=True)


def particle_case(**sections):
    data = {k: dict(v) for k, v in PARTICLE.items() if isinstance(v, dict)}
    data["name"] = "p"
    for section, values in sections.items():
        data.setdefault(section, {}).update(values)
    return case_from_dict(data)


def test_particle_case_defaults_and_problem_kind():
    case = particle_case()
    assert case.problem == "particle"
    assert case.active.material == "NMC811_Chen2020" and case.active.diffusivity is None
    assert case.solid_electrolyte.matrix == "solid" and case.coating.film_resistance == 0.0
    assert (case.control.direction, case.control.voltage_min, case.control.voltage_max) == (
        "discharge", 2.6, 4.3)
    assert case_from_dict({"name": "c", "geometry": {"kind": "li_foil"}}).problem == "cell"
    assert particle_case(kinetics={"counter": "ideal"}).kinetics.counter == "ideal"
    text = describe()
    for line in ("[active]  # active (particle geometries only)", "[solid_electrolyte]",
                 "[coating]", "  c_rate = None", "  rate_constant = None"):
        assert line in text, line


@pytest.mark.parametrize("sections, fragment", [
    ({"solid_electrolyte": {"conductivity": -0.1}},
     "'solid_electrolyte.conductivity' must be positive, got -0.1"),
    ({"coating": {"film_resistance": -1e-5}}, "'coating.film_resistance' must be >= 0"),
    ({"active": {"initial_stoichiometry": 1.5}}, "'active.initial_stoichiometry' must be in"),
    ({"active": {"material": "LFP"}}, "'active.material' must be one of NMC811_Chen2020"),
    ({"active": {"diffusivty": 1e-14}}, "unknown key 'active.diffusivty' (did you mean "
                                        "'diffusivity'?)"),
    ({"control": {"direction": "up"}}, "'control.direction' must be one of discharge, charge"),
    ({"control": {"voltage_min": 4.4}}, "'control.voltage_min' (4.4) must be below "
                                        "'control.voltage_max' (4.3)"),
    ({"control": {"current_density": 10.0}}, "'control.current_density' does not apply to "
                                             "particle geometries"),
    ({"control": {"mode": "potentiostatic", "voltage": 3.0}}, "'control.voltage' does not apply"),
    ({"coating": {"conductivity": 1e-4}}, "'coating.conductivity' needs "
                                          "geometry.coating_meshed = true"),
    ({"time": {"mode": "steady"}}, "'time.mode' must be 'transient' for particle geometries"),
    ({"kinetics": {"counter": "butler_volmer"}}, "'kinetics.counter' = 'butler_volmer' does not "
                                                 "apply to particle geometries"),
])
def test_bad_particle_input_names_the_key(sections, fragment):
    with pytest.raises(CaseError) as err:
        particle_case(**sections)
    assert fragment in str(err.value)


def test_missing_c_rate_and_particle_keys_in_a_cell_case():
    # A particle case without a C-rate loads (femsolver effective needs none); a run refuses it.
    particle = case_from_dict({"name": "p", "geometry": {"kind": "core_shell"}})
    with pytest.raises(CaseError, match=r"missing key 'control.c_rate'"):
        check_runnable(particle)
    cell = {"name": "c", "geometry": {"kind": "li_foil"}}
    with pytest.raises(CaseError, match=r"'active' applies to particle geometries only .* "
                                        r"not to geometry.kind = 'li_foil'"):
        case_from_dict({**cell, "active": {"density": 5000.0}})
    with pytest.raises(CaseError, match=r"'control.c_rate' applies to particle geometries only"):
        case_from_dict({**cell, "control": {"c_rate": 1.0}})


def test_polar_angles_about_the_fitted_centre():
    theta = np.radians(np.linspace(5, 170, 12))
    centre = np.array([0.0, 11e-6])
    section = centre + 10e-6 * np.column_stack([np.sin(theta), np.cos(theta)])
    assert np.allclose(polar_angles(section, axisymmetric=True), np.degrees(theta))
    full = np.vstack([section, section * [-1, 1]]) + [4e-6, 0]  # a 2D cross-section
    expected = np.degrees(np.concatenate([theta, -theta]))
    assert np.allclose(polar_angles(full, axisymmetric=False), expected)
    phi = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ball = np.column_stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi),
                            np.cos(theta)]) * 5e-6 + [1e-6, 2e-6, 6e-6]
    assert np.allclose(polar_angles(ball, axisymmetric=False), np.degrees(theta))


@pytest.mark.parametrize("liquid", [
    LIQUID, {"model": "dilute", "D_cation": 1e-12, "D_anion": 1e-12, "c0": 1000.0}])
def test_liquid_current_and_salt_fields(liquid):
    """Hybrid slab (core | shell | liquid | Li) with blocked anions: every cell of shell and
    liquid carries the interface current density, i = (0, i_n) (in the liquid the model's
    current with its diffusion term, not -sigma grad phi), and c_e is linear with slope
    -(1 - t+) i_n/(F D) about its mean c0 (dilute: t+ = D+/(D+ + D-), D = 2 D+ D-/(D+ + D-))."""
    case = slab_case(electrolyte=liquid, solid_electrolyte={"matrix": "liquid"})
    problem = ParticleProblem(case, slab_domain(HYBRID))
    run_to_end(problem, case)
    fields = ParticleFields(problem)
    fields.update()
    i_n = i_n_of(problem)
    i = fields.i.x.array.reshape(-1, 2)
    assert np.allclose(i[:, 1], i_n, rtol=1e-9, atol=0) and np.allclose(i[:, 0], 0, atol=1e-9)
    if liquid["model"] == "dilute":
        D, t_plus = liquid["D_cation"], 0.5
    else:
        D, t_plus = liquid["diffusivity"], liquid["transference"]
    slope = -(1 - t_plus) * i_n / (FARADAY * D)
    y = fields.c_e.function_space.tabulate_dof_coordinates()[:, 1]
    expected = 1000.0 + slope * (y - (A_CORE + B_SE + L_LIQUID / 2))
    assert abs(slope) * L_LIQUID > 50  # mol/m3: the salt gradient is not negligible
    assert np.allclose(fields.c_e.x.array, expected, rtol=1e-9, atol=0)


def test_run_writes_complete_outputs(shared_dir):
    out = shared_dir / "lpscl5"
    assert run_cli("run", CASE, "-o", out, "-q", *COARSE, *SHORT,
                   "--set", "output.vtx=true") == 0
    for name in ("summary.json", "timeseries.csv", "interface_current.csv", "c_s.xdmf",
                 "grad_c_s.xdmf", "phi_e.xdmf", "i.xdmf", "core.bp", "ion_conductor.bp",
                 "cell_tags.xdmf", "facet_tags.xdmf", "concentration.png", "potential.png",
                 "current_density.png", "interface_current.png", "voltage.png"):
        assert (out / name).exists(), name
    summary = read(out, "summary.json")
    assert summary["status"] == "complete" and summary["converged"]
    assert summary["final_time_s"] == pytest.approx(60.0)
    # 1C: 200 mAh/g in one hour, so 60 s give 200/60 mAh/g; charge conservation between the
    # counter electrode, the core surface and the applied current.
    current = summary["applied_current_A"]
    assert current == pytest.approx(200.0 * summary["active_mass_kg"], rel=1e-12)  # A h/kg
    assert summary["capacity_mAh_g"] == pytest.approx(200 / 60, rel=1e-12)
    assert summary["utilisation"] == pytest.approx(1 / 60, rel=1e-12)
    assert summary["counter_current_A"] == pytest.approx(current, rel=1e-8)
    assert summary["interface_current_A"] == pytest.approx(-current, rel=1e-8)
    mean = summary["interface_current_density_mean_A_m2"]
    assert mean * summary["core_surface_area_m2"] == pytest.approx(current, rel=1e-8)
    assert summary["active_area_fraction"] == pytest.approx(1.0)
    assert summary["interface_current_density_max_A_m2"] >= mean > 0
    assert 0 < summary["interface_current_density_cv"] < 1
    assert summary["concentration_gradient_max_mol_m4"] > 0
    assert summary["surface_stoichiometry_max"] > summary["mean_stoichiometry"] > 0.27

    series = read(out, "timeseries.csv")
    assert series["time_s"][0] == 0 and series["time_s"][-1] == pytest.approx(60.0)
    assert np.all(np.diff(series["cell_voltage_V"]) < 0)  # discharge: the voltage falls
    assert np.allclose(series["capacity_mAh_g"], 200 * series["time_s"] / 3600, rtol=1e-12)
    area = summary["capacity_Ah_m2"] / summary["capacity_mAh_g"]
    assert np.allclose(series["capacity_Ah_m2"], area * series["capacity_mAh_g"], rtol=1e-12)

    profile = read(out, "interface_current.csv")
    assert set(profile.dtype.names) >= {"x", "y", "area", "active", "polar_angle_deg",
                                        "intercalation_current_density", "overpotential",
                                        "stoichiometry"}
    assert np.all(np.diff(profile["polar_angle_deg"]) >= 0)
    assert profile["polar_angle_deg"][0] < 2 and 160 < profile["polar_angle_deg"][-1] < 180
    assert np.sum(profile["area"] * profile["intercalation_current_density"]) == pytest.approx(
        current, rel=1e-8)

    if MPI.COMM_WORLD.rank == 0:  # the comparison reads files only
        table = compare_particles([out, out], shared_dir / "comparison")
        assert table.count("| core_shell_lpscl_5wt | complete |") == 2
        rows = (shared_dir / "comparison" / "particle_comparison.csv").read_text().splitlines()
        assert len(rows) == 3 and rows[0].startswith("name,status,cutoff_reason,c_rate_per_h")
        assert (shared_dir / "comparison" / "particle_comparison.png").stat().st_size > 0


def test_lfp_carbon_case_conserves_charge_and_lithium(shared_dir):
    """Smoke run of the LFP@C case (a core wetted by a liquid, P5'): 60 s at 1C. Counter current
    = applied = -interface current; the Li in the core grew by the charge passed; the liquid's
    fields are written."""
    out = shared_dir / "lfp"
    assert run_cli("run", CASES / "core_shell_lfp_carbon.toml", "-o", out, "-q", *SHORT,
                   "--set", "output.vtx=false") == 0
    summary = read(out, "summary.json")
    assert summary["status"] == "complete" and summary["converged"]
    current, t = summary["applied_current_A"], summary["final_time_s"]
    assert summary["counter_current_A"] == pytest.approx(current, rel=1e-8)
    assert summary["interface_current_A"] == pytest.approx(-current, rel=1e-8)
    mat = MATERIALS["LFP_Prada2013"]
    assert current == pytest.approx(mat["specific_capacity"] * summary["active_mass_kg"],
                                    rel=1e-12)  # 1C
    core_volume = summary["active_mass_kg"] / mat["density"]
    inserted = summary["mean_stoichiometry"] - mat["initial_stoichiometry"]
    assert inserted == pytest.approx(current * t / (FARADAY * mat["max_concentration"]
                                                    * core_volume), rel=1e-8)
    assert summary["active_area_fraction"] == pytest.approx(1.0, rel=1e-3)
    assert 2.5 < summary["cell_voltage_V"] < lfp_afshar2017(mat["initial_stoichiometry"])
    for name in ("c_e.xdmf", "i.xdmf", "electrolyte_concentration.png", "current_density.png"):
        assert (out / name).exists(), name


def test_cutoff_voltage_stops_a_discharge_and_a_charge(shared_dir):
    for direction, limit in (("discharge", "voltage_min=4.1"), ("charge", "voltage_max=4.3")):
        out = shared_dir / direction
        assert run_cli("run", CASE, "-o", out, "-q", *COARSE, "--set", "output.pictures=false",
                       "--set", f"control.direction={direction}", "--set", f"control.{limit}",
                       "--set", "time.dt_max=30") == 0
        summary = read(out, "summary.json")
        assert summary["status"] == "cutoff" and summary["converged"], direction
        assert summary["cutoff_reason"] == "voltage"
        # The statistics are those of the current that flows: positive in charge too.
        assert summary["interface_current_density_max_A_m2"] >= summary[
            "interface_current_density_mean_A_m2"] > 0
        series = read(out, "timeseries.csv")
        V, t, cutoff = series["cell_voltage_V"], series["time_s"], float(limit.split("=")[1])
        sign = 1 if direction == "discharge" else -1
        # The last step crossed the cut-off, the one before did not; the reported time lies
        # between them, and the capacity is the one at that time.
        assert sign * (V[-1] - cutoff) <= 0 < sign * (V[-2] - cutoff)
        assert t[-2] < summary["cutoff_time_s"] <= t[-1]
        assert summary["capacity_mAh_g"] == pytest.approx(
            200 * summary["cutoff_time_s"] / 3600, rel=1e-9)


def test_saturated_core_surface_ends_a_fast_discharge(shared_dir):
    out = shared_dir / "fast"
    assert run_cli("run", CASE, "-o", out, "-q", *COARSE, "--set", "output.pictures=false",
                   "--set", "control.c_rate=20", "--set", "time.end=180",
                   "--set", "time.dt=0.5", "--set", "time.dt_max=5") == 0
    summary = read(out, "summary.json")
    assert summary["status"] == "cutoff" and summary["cutoff_reason"] == "surface_saturation"
    series = read(out, "timeseries.csv")
    x_max = series["surface_stoichiometry_max"]
    assert x_max[-2] < 0.999 <= x_max[-1]
    assert summary["utilisation"] < 0.5  # at 20C the surface fills long before the core


def test_bad_input_is_reported_with_its_name(shared_dir, capsys):
    for args, message in (
            ((CASE, "--set", "solid_electrolyte.conductivity=-1"),
             "'solid_electrolyte.conductivity' must be positive"),
            ((CASES / "li_foil_prs.toml", "--set", "control.c_rate=1"),
             "'control.c_rate' applies to particle geometries only")):
        assert run_cli("run", *args, "-o", shared_dir / "bad") == 2
        err = capsys.readouterr().err
        if MPI.COMM_WORLD.rank == 0:
            assert message in err
        else:
            assert err == ""
    assert not (shared_dir / "bad" / "summary.json").exists()


def test_diverging_newton_is_reported_and_marked_failed(shared_dir, capsys):
    out = shared_dir / "fails"
    code = run_cli("run", CASE, "-o", out, "-q", *COARSE, *SHORT,
                   "--set", "solver.max_iterations=1", "--set", "solver.step_tol=1e-300",
                   "--set", "time.dt_min=5")
    assert code == 1
    if MPI.COMM_WORLD.rank == 0:
        assert "Newton did not converge" in capsys.readouterr().err
    summary = read(out, "summary.json")
    assert summary["status"] == "failed" and not summary["converged"]


@serial_only
def test_ctrl_c_finishes_the_step_and_writes_an_interrupted_summary(shared_dir):
    out = shared_dir / "interrupted"
    returncode, output = interrupt_first_step(
        [CASE, "-o", out, *COARSE, "--set", "time.growth=1.0", "--set", "output.pictures=false"])
    assert returncode == 130
    assert "interrupted: writing the last step, a checkpoint and the summary" in output
    summary = read(out, "summary.json")
    assert summary["status"] == "interrupted" and 0 < summary["final_time_s"] < 5400
    assert read(out, "timeseries.csv")["time_s"][-1] == pytest.approx(summary["final_time_s"])


@serial_only
@pytest.mark.parametrize("case", ["core_shell_lpscl_5wt.toml", "core_shell_bare.toml"])
def test_two_ranks_reproduce_the_serial_run(shared_dir, case):
    args = ["run", str(CASES / case), "-q", *COARSE, *SHORT, "--set", "output.pictures=false"]
    assert run_cli(*args, "-o", shared_dir / "serial") == 0
    subprocess.run([BIN / "mpirun", "-n", "2", BIN / "femsolver", *args,
                    "-o", str(shared_dir / "parallel")], check=True)
    serial, parallel = (read(shared_dir / d, "summary.json") for d in ("serial", "parallel"))
    assert parallel["ranks"] == 2 and parallel["cells"] == serial["cells"]
    for key in ("cell_voltage_V", "interface_current_density_max_A_m2",
                "interface_current_density_cv", "mean_stoichiometry",
                "surface_stoichiometry_max", "concentration_gradient_max_mol_m4"):
        assert parallel[key] == pytest.approx(serial[key], rel=1e-9), key
    profiles = [read(shared_dir / d, "interface_current.csv") for d in ("serial", "parallel")]
    assert np.allclose(profiles[0]["intercalation_current_density"],
                       profiles[1]["intercalation_current_density"], rtol=1e-9, atol=1e-12)
