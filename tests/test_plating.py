"""Deposition morphology (femsolver/plating): the surface grows with its plating current.

The verification benchmarks (femsolver/verification/plating_*.py) at level 0, the electrode
meshed only when resolved, and whole runs through `femsolver run` with their statuses and
files. Observed values are in the comments; under mpirun the same tests run on 2 ranks, and
tests/test_verification.py compares the flat and stability benchmarks' 2-rank values with 1
rank's; the remeshed ones are compared here (test_two_ranks_grow_the_deposit_of_one_rank).
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI
from test_mesh_file import BOUNDARIES, REGIONS, _cell_msh
from test_verification import check, find

from femsolver import api
from femsolver.case import case_from_dict
from femsolver.errors import CaseError
from femsolver.plating import study
from femsolver.plating.remesh import salt
from femsolver.plating.surface import boundary, distance, polyline
from femsolver.verification import (
    plating_conservation,
    plating_flat,
    plating_sensitivity,
    plating_stability,
)

CASES = Path(__file__).resolve().parents[1] / "cases"
BIN = Path(sys.executable).parent
sys.path.insert(0, str(CASES.parent / "benchmarks"))
import plating as plating_benchmark  # noqa: E402  (benchmarks/plating.py)


# The flat and stability benchmarks run on 2 ranks in tests/test_verification.py
# (test_two_ranks_reproduce_one_rank, against each rank's serial run); here serially.
serial = pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="2 ranks: test_verification.py")


@serial
def test_flat_electrode_grows_uniformly_by_i_t_M_over_rho_F():
    rows = plating_flat.run(0)
    check(rows)
    # Observed: thickness and plated volume within 8.3e-13 of i t M/(rho F), spread 5.7e-13 of
    # the thickness, salt kept to 8e-15; axisymmetric (a disc of radius W): thickness within
    # 8.0e-13, Li volume within 7.0e-13 of i pi W^2 t M/(rho F), spread 6.2e-13, salt 5e-15.
    assert find(rows, plating_flat.TITLE, "mean thickness").error < 1e-9
    assert find(rows, plating_flat.AXISYMMETRIC, "Li volume").quantity.endswith("(m3)")


def test_stripping_moves_a_flat_electrode_back():
    """The flat benchmark with the current reversed: the surface recedes by i t M/(rho F)
    (G1 with i_pl < 0) and the electrolyte gains that volume."""
    end = 20.0
    case = plating_flat.plating_case(control={"current_density": -plating_flat.I_APP},
                                     time={"end": end, "dt": 1.0, "dt_max": 2.0,
                                           "scheme": "bdf1"})
    domain = plating_flat.electrolyte_box(plating_flat.W, plating_flat.H, 8, 32)
    stepper = plating_flat.run_to_end(case, domain, MPI.COMM_WORLD)
    try:
        y = boundary(stepper.domain).interface().points[:, :, 1]
        recession = -plating_flat.I_APP * end * 6.941e-3 / (534.0 * 96485.33212)
        # Observed: thickness within 8e-14, spread 4.5e-13 of it, Li volume within 9e-14
        assert y.mean() == pytest.approx(recession, rel=1e-9)
        assert np.ptp(y) < 1e-9 * abs(recession)
        assert stepper.deposited_volume == pytest.approx(recession * plating_flat.W, rel=1e-9)
        assert stepper.plated_volume == pytest.approx(stepper.deposited_volume, rel=1e-9)
    finally:
        stepper.close()


@serial
def test_li_and_salt_are_conserved_across_motion_and_remeshing():
    rows = plating_conservation.run(0)
    check(rows)
    # Observed: 10 remeshes; Li volume within 2.3e-13 of Q W M/(rho F); charge within 2.1e-9 of
    # i W t; salt within 2.7e-15; an interpolation changed the salt by at most 1.2e-8
    # (corrected).
    # Axisymmetric disc site: 6 remeshes; Li volume within 1.2e-12 of Q pi R^2 M/(rho F), charge
    # within 7.3e-9, salt within 4.8e-16 (without G2's r^n/r^{n+1} it drifted by 1.1 %), an
    # interpolation changed the salt by at most 4.1e-8 (corrected).
    for group in (plating_conservation.TITLE, plating_conservation.AXISYMMETRIC):
        volume = find(rows, group, "Li volume")
        assert int(volume.quantity.split(", ")[1].split()[0]) >= 3  # it did remesh


@serial
def test_perturbation_grows_at_the_linear_stability_rate():
    rows = plating_stability.run(0)
    check(rows)
    # Observed (16 x 32): secondary limit at t = 0 within 0.48, 0.34, 0.18 % (lambda = 100, 200,
    # 400 nm); growth rates within 1.4, 1.0, 0.64 % of G6. The ohmic length kappa R in place of
    # G6's (twice as long here) predicts rates 33, 25, 17 % lower: the check tells them apart.
    for row in rows:
        if row.quantity.startswith("growth rate"):
            ohmic = row.reference * (1 + 0.5 * _kl(row)) / (1 + _kl(row))
            assert abs(row.computed - ohmic) / ohmic > 0.1


def _kl(row) -> float:
    """kappa R k coth(kL) of a growth-rate row (kappa R = 200 nm / pi at these parameters)."""
    wavelength = float(row.quantity.rsplit("= ", 1)[1].split()[0]) * 1e-9
    k = 2 * np.pi / wavelength
    return 2 * 200e-9 / (2 * np.pi) * k / np.tanh(k * wavelength)


def test_step_limit_remeshing_threshold_and_mesh_motion_leave_the_surface():
    """Serially and on 2 ranks (remeshed runs are compared with 1 rank below, not in
    test_verification.py)."""
    rows = plating_sensitivity.run(0)
    check(rows)
    # Observed: the surfaces differ by 0.20 % (step_fraction 0.1), 0.27 % (remesh_quality 0.4),
    # 0.085 % (plain Laplace motion) of the deposit height.
    assert len(rows) == 3


@pytest.mark.skipif(MPI.COMM_WORLD.size == 1, reason="compares 2 ranks with 1")
@pytest.mark.parametrize("make_case", [plating_conservation.foil_case,
                                       plating_conservation.disc_case],
                         ids=["strip", "axisymmetric"])
def test_two_ranks_grow_the_deposit_of_one_rank(make_case):
    """The conservation benchmark's deposits (the strip's and the axisymmetric disc site's)
    on 1 rank (COMM_SELF) and on all ranks.

    gmsh's triangulation of a polygon changes with round-off: the first remesh's polygon
    with 1e-13 nm of noise on its vertices gave 629 or 631 cells (Mesh.Algorithm 5; 6 and 8
    vary more). The ranks' fields differ at the solver tolerance, so after the first remesh
    1 and 2 ranks solve on different meshes: conserved quantities still agree to round-off,
    the surface to the remeshing's own tolerance (plating_sensitivity, 1 % of the height)."""
    case = make_case(plating_conservation.SIZES[0])
    runs = []
    for comm in (MPI.COMM_SELF, MPI.COMM_WORLD):
        stepper = plating_conservation.plate(case, comm)
        try:
            points, _ = polyline(boundary(stepper.domain).interface())
            runs.append((points, stepper.deposited_volume, stepper.plated_volume,
                         salt(stepper.problem)))
        finally:
            stepper.close()
    (one, *values_one), (two, *values_two) = runs
    assert values_two == pytest.approx(values_one, rel=1e-9)
    assert values_two[0] == pytest.approx(values_two[1], rel=1e-9)  # Li volume = charge
    apart = distance(one, two) / float(one[:, 1].max())
    assert apart < plating_sensitivity.TOLERANCE


def _summary(directory) -> dict:
    return json.loads((Path(directory) / "summary.json").read_text())


SEED = ["--set", "mesh.h_interface=5e-9", "--set", "mesh.h_bulk=40e-9", "--set",
        "time.end=1e-4", "--set", "output.pictures=false", "--set", "output.xdmf=false",
        "--set", "output.vtx=false", "--set", "output.checkpoint=false"]


@pytest.mark.skipif(MPI.COMM_WORLD.size > 1, reason="starts its own processes")
@pytest.mark.parametrize("surface", ["bare", "prs"])
def test_unmeshed_electrode_gives_the_same_results(surface, shared_dir):
    """An equipotential electrode is no longer meshed: the seed cases' results stay the same
    (observed on the full seed cases: 63 % fewer cells, every summary value within 1.3e-8,
    the bare case's one-node difference in the electrolyte mesh, prs and ers within 1e-13)."""
    results = {}
    for meshed in ("true", "false"):
        out = shared_dir / meshed
        subprocess.run([BIN / "femsolver", "run", CASES / f"li_foil_{surface}.toml", "-q", "-o",
                        out, *SEED, "--set", f"geometry.mesh_electrode={meshed}"], check=True,
                       timeout=300)
        results[meshed] = _summary(out)
    with_slab, without = results["true"], results["false"]
    assert without["cells"] < 0.7 * with_slab["cells"]
    for key in ("cell_voltage_V", "interface_current_density_max_A_m2",
                "interface_current_density_min_A_m2", "electric_field_max_V_m",
                "min_surface_concentration_mol_m3"):
        assert without[key] == pytest.approx(with_slab[key], rel=1e-6), key


def test_plating_needs_an_unmeshed_equipotential_electrode(shared_dir):
    base = {"name": "p", "geometry": {"kind": "planar"}, "plating": {"enabled": True}}
    case = case_from_dict(base)
    assert case.geometry.mesh_electrode is False
    with pytest.raises(CaseError, match="equipotential electrode that is not meshed"):
        case_from_dict({**base, "electrode": {"equipotential": False}})
    with pytest.raises(CaseError, match="needs plating.enabled"):
        case_from_dict({"name": "p", "geometry": {"kind": "planar"},
                        "control": {"plated_charge_C_m2": 10.0}})
    mesh_file = {"kind": "mesh_file", "path": _cell_msh(shared_dir / "cell.msh", 4.1, size=0.5),
                 "regions": REGIONS, "boundaries": BOUNDARIES}
    with pytest.raises(CaseError, match="applies to the li_foil and planar geometries"):
        case_from_dict({**base, "geometry": mesh_file})
    with pytest.raises(CaseError, match="geometry.mesh_electrode' = false leaves no cells"):
        case_from_dict({"name": "p", "geometry": {"kind": "planar", "mesh_electrode": False},
                        "electrode": {"equipotential": False}})


TINY = {"geometry.width": 100e-9, "geometry.electrolyte_height": 120e-9,
        "geometry.active_fraction": 0.2, "mesh.h_interface": 5e-9, "mesh.h_bulk": 20e-9,
        "output.vtx": False, "output.every": 2}


def test_a_deposit_that_reaches_the_counter_electrode_shorts_the_cell(shared_dir):
    """One 20 nm site on 300 nm under 40 nm of electrolyte: the deposit reaches the counter
    electrode (which recedes by the mean thickness) before the side walls; the run stops
    with status shorted (exit 0), its time, and every file of a plating run."""
    case = api.load(CASES / "plating_bare.toml",
                    {**TINY, "geometry.width": 300e-9, "geometry.active_fraction": 1 / 15,
                     "geometry.electrolyte_height": 40e-9,
                     "control.plated_charge_C_m2": 1000.0},
                    output=shared_dir / "short")
    result = api.run(case)
    summary = result.summary
    assert summary["status"] == "shorted" and summary["exit_code"] == 0, summary.get("error")
    assert summary["converged"] is True
    t = summary["short_circuit_time_s"]
    assert 0 < t <= summary["final_time_s"]
    # The deposit's top is within plating.short_distance (h_interface) of the counter, which
    # has receded by what it stripped.
    assert summary["max_height_m"] >= 40e-9 + summary["counter_recession_m"] - 5e-9
    assert abs(summary["li_volume_relative_error"]) < 1e-9
    series = result.timeseries()
    for column in ("plated_charge_C_m2", "mean_thickness_m", "rms_roughness_m", "max_height_m",
                   "max_tip_current_over_mean", "deposited_volume_m2"):
        assert column in series, column
    assert np.all(np.diff(series["max_height_m"]) >= -1e-12)  # it only grows
    for name in ("surface.csv", "surface.png", "plating.gif", "plating.pvd",
                 "interface_current.csv", "timeseries.csv"):
        assert result.file(name).stat().st_size > 0, name
    surface = np.genfromtxt(result.file("surface.csv"), delimiter=",", names=True)
    assert set(surface.dtype.names) == {"time_s", "x_m", "y_m"}
    assert surface["time_s"][-1] == pytest.approx(summary["final_time_s"])
    if MPI.COMM_WORLD.rank == 0:  # the study's comparison of finished runs (one process)
        study.compare([result.directory], shared_dir / "study")
        table = (shared_dir / "study" / "plating_comparison.md").read_text()
        assert "| short | shorted |" in table and "\nshorted: a deposit reached" in table
        assert (shared_dir / "study" / "plating_comparison.png").stat().st_size > 0
        (cost,) = plating_benchmark.main(["--runs", str(result.directory)])  # no timings checked
        assert cost[3] == "shorted" and cost[6] == summary["remeshes"]


def test_a_deposit_that_meets_its_neighbour_stops_with_contact(shared_dir):
    """One 20 nm site on 100 nm under 120 nm: the deposit widens to the side walls, symmetry
    planes, where it meets its mirror image (the neighbouring deposit): status contact."""
    case = api.load(CASES / "plating_bare.toml",
                    {**TINY, "control.plated_charge_C_m2": 1000.0, "output.pictures": False,
                     "output.xdmf": False},
                    output=shared_dir / "contact")
    summary = api.run(case).summary
    assert summary["status"] == "contact" and summary["exit_code"] == 0, summary.get("error")
    assert summary["contact_time_s"] == summary["final_time_s"] > 0
    assert summary["max_height_m"] < 120e-9 - 5e-9  # not shorted
    assert abs(summary["li_volume_relative_error"]) < 1e-9


def test_potentiostatic_plating_keeps_li_volume_equal_to_the_passed_charge(shared_dir):
    case = api.load(CASES / "plating_bare.toml",
                    {**TINY, "control.mode": "potentiostatic", "control.voltage": -0.05,
                     "control.plated_charge_C_m2": 20.0, "output.pictures": False,
                     "output.xdmf": False},
                    output=shared_dir / "potentiostatic")
    summary = api.run(case).summary
    assert summary["status"] == "complete", summary.get("error")
    assert summary["plated_charge_C_m2"] == pytest.approx(20.0, rel=1e-12)
    assert abs(summary["li_volume_relative_error"]) < 1e-9
    assert summary["cell_voltage_V"] == pytest.approx(-0.05, rel=1e-12)


@pytest.mark.paraview
def test_paraview_opens_the_moving_mesh_series(shared_dir):
    """plating.pvd in Debian's ParaView 5.11 (pvpython): every output time, the mesh as it was
    (the counter electrode rises by what it stripped, remeshes change the cell count)."""
    from test_paraview import require_paraview, run_pvpython

    require_paraview()
    case = api.load(CASES / "plating_bare.toml",
                    {**TINY, "control.plated_charge_C_m2": 30.0, "output.pictures": False},
                    output=shared_dir / "series")
    result = api.run(case)
    assert result.status == "complete", result.summary.get("error")
    run = run_pvpython(Path(__file__).with_name("paraview_series.py"), shared_dir,
                       result.file("plating.pvd"))
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    series = result.timeseries()
    assert report["times"][0] == 0.0
    assert report["times"][-1] == pytest.approx(result.summary["final_time_s"])
    rise = np.array(report["top"]) - report["top"][0]
    recession = result.summary["counter_recession_m"]
    assert rise[-1] == pytest.approx(recession, rel=1e-5)  # ParaView reads 32-bit floats
    assert np.all(np.diff(rise) > 0)
    # The area is kept: the counter electrode gives back what the deposit takes.
    assert np.ptp(report["area"]) < 1e-5 * report["area"][0]
    assert len(set(report["cells"])) > 1 or result.summary["remeshes"] == 0
    assert report["c_range"][-1][1] > report["c_range"][-1][0] > 0
    assert len(series["time_s"]) >= len(report["times"]) - 1


def test_3d_mesh_moves_with_a_flat_electrode(shared_dir):
    """3D (mesh motion, no remeshing): a flat electrode in a square column grows by
    Q M/(rho F), the counter electrode recedes as much, Li volume = charge volume."""
    case = api.load({"name": "flat3d", "geometry": {"kind": "planar", "dimension": 3,
                                                     "length": 400e-9, "width": 100e-9},
                     "mesh": {"h_interface": 25e-9, "h_bulk": 50e-9},
                     "control": {"plated_charge_C_m2": 100.0},
                     "time": {"end": 100.0, "dt": 0.5, "dt_max": 2.0},
                     "plating": {"enabled": True},
                     "output": {"vtx": False, "pictures": False, "checkpoint": False}},
                    output=shared_dir / "flat3d")
    summary = api.run(case).summary
    assert summary["status"] == "complete", summary.get("error")
    thickness = 100.0 * 6.941e-3 / (534.0 * 96485.33212)
    # Observed: thickness within 1e-12, Li volume within 3e-14, no roughness.
    assert summary["mean_thickness_m"] == pytest.approx(thickness, rel=1e-9)
    assert summary["max_height_m"] == pytest.approx(thickness, rel=1e-9)
    assert summary["counter_recession_m"] == pytest.approx(thickness, rel=1e-9)
    assert abs(summary["li_volume_relative_error"]) < 1e-9


def test_3d_particles_grow_until_the_mesh_degrades(shared_dir):
    """3D PRS@Li (mesh motion, no remeshing): gmsh's tetrahedra start at a worst quality of
    0.12, below plating.remesh_quality, so the run goes on until that has halved; before that
    the Li volume equals the charge volume."""
    overrides = {"geometry.dimension": 3, "geometry.width": 120e-9,
                 "geometry.electrolyte_height": 150e-9, "mesh.h_interface": 6e-9,
                 "mesh.h_bulk": 40e-9, "output.pictures": False, "output.xdmf": False}
    case = api.load(CASES / "plating_prs.toml", {**overrides, "control.plated_charge_C_m2": 5.0},
                    output=shared_dir / "prs3d")
    summary = api.run(case).summary
    assert summary["status"] == "complete", summary.get("error")
    # Observed: 8 steps, Li volume within 6.5e-14 of the charge's; the tops rise by 0.8 nm.
    assert abs(summary["li_volume_relative_error"]) < 1e-9
    assert summary["max_height_m"] > 10e-9  # the particles' tops (10 nm) grew
