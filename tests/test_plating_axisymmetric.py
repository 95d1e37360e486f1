"""Axisymmetric plating: the (r, z) section of a cylindrical cell, every volume 2 pi r-weighted.

The flat electrode and the disc site of the plating benchmarks run in tests/test_plating.py
(serially) and tests/test_verification.py (flat, 1 against 2 ranks); here: the foil's section,
the remesh's volume-keeping node removal, and the example case run whole, serially and on
2 ranks.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import ufl
from dolfinx import fem
from mpi4py import MPI

from femsolver import api, tags
from femsolver.measures import measure
from femsolver.mesh import build_domain
from femsolver.plating.remesh import _coarsen, _volume, salt
from femsolver.plating.stepping import PlatingStepper
from femsolver.verification import plating_conservation as conservation
from geometries.li_foil import LiFoilGeometry

CASES = Path(__file__).resolve().parents[1] / "cases"
M_OVER_RHO_F = 6.941e-3 / (534.0 * 96485.33212)


def test_foil_section_is_a_cylinder_with_one_disc_site_on_the_axis():
    """The r-weighted measures of the section give the 3D cell: the electrolyte pi R^2 H, the
    active site the disc pi a^2, the whole foil pi R^2 (exact for straight boundaries)."""
    case = conservation.disc_case(conservation.SIZES[0])
    domain = build_domain(case.geometry, case.mesh, MPI.COMM_WORLD)
    assert domain.axisymmetric
    R, H, a = conservation.RADIUS, conservation.DISC_HEIGHT, conservation.DISC_SITE / 2
    assert domain.projected_area == pytest.approx(np.pi * R ** 2, rel=1e-15)
    dx = measure("dx", domain, subdomain_data=domain.cell_tags)
    ds = measure("ds", domain, subdomain_data=domain.facet_tags)

    def integral(form):
        return MPI.COMM_WORLD.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)

    one = fem.Constant(domain.mesh, 1.0)
    assert integral(one * dx(tags.ELECTROLYTE)) == pytest.approx(np.pi * R ** 2 * H, rel=1e-12)
    assert integral(one * ds(tags.WORKING_ACTIVE)) == pytest.approx(np.pi * a ** 2, rel=1e-12)
    foil = integral(one * ds(tags.WORKING_ACTIVE) + one * ds(tags.WORKING_BLOCKING))
    assert foil == pytest.approx(np.pi * R ** 2, rel=1e-12)
    r = ufl.SpatialCoordinate(domain.mesh)[0]
    assert integral(r * ds(tags.WORKING_ACTIVE)) == pytest.approx(2 * np.pi * a ** 3 / 3,
                                                                  rel=1e-12)


@pytest.mark.parametrize("keys", [{"dimension": 3}, {"surface": "ers"},
                                  {"active_fraction": 0.1}, {"site_width": 200e-9}])
def test_axisymmetric_foil_is_one_bare_site_on_the_axis_of_a_2d_section(keys):
    with pytest.raises(ValueError, match="axisymmetric|site_width"):
        LiFoilGeometry(axisymmetric=True, width=100e-9, **keys)
    assert LiFoilGeometry(axisymmetric=True, width=100e-9).resolved_active_fraction == (
        pytest.approx(0.01, rel=1e-14))


def test_remesh_node_removal_keeps_the_swept_volume():
    """A working-surface node next to a short facet goes, and a neighbour moves so that the
    volume the polygon sweeps about the axis (not its area) is the same; the axis node stays."""
    interface = [(0, 10), (5, 10), (9, 8), (10, 7.9), (15, 3), (20, 0)]
    outer = [(30, 0), (30, 50), (0, 50)]
    xy = np.array(interface + outer, dtype=float)
    kinds = np.array([tags.WORKING_ACTIVE] * 5 + [tags.WORKING_BLOCKING]
                     + [tags.ELECTROLYTE_SIDES, tags.COUNTER, tags.ELECTROLYTE_SIDES])
    ids = np.arange(len(xy))
    kept, moved, _ = _coarsen(ids, xy, kinds, short=2.5, axisymmetric=True)
    assert len(kept) == len(ids) - 1 and 2 not in kept  # (9, 8): its facet after is 1 nm
    assert _volume(moved, True) == pytest.approx(_volume(xy, True), rel=1e-14)
    # The removal alone changes the volume by 3e-4; the move that restores it is not the one
    # that would restore the area (the removed triangle and the mover lie at different r)
    assert abs(_volume(np.delete(xy, 2, axis=0), True) / _volume(xy, True) - 1) > 1e-5
    assert abs(_volume(moved, False) / _volume(xy, False) - 1) > 1e-6
    assert moved[0, 0] == 0.0  # the axis node
    _, plane, _ = _coarsen(ids, xy, kinds, short=2.5)
    assert _volume(plane, False) == pytest.approx(_volume(xy, False), rel=1e-14)


def test_disc_site_case_plates_a_body_of_revolution(shared_dir):
    """cases/plating_site_axisymmetric.toml whole (serially and on 2 ranks): the deposit on
    the axis site is remeshed, its Li volume is the passed charge's (2 pi r-weighted), the
    mean thickness Q M/(rho F), and the surface nodes on the axis stay on it."""
    case = api.load(CASES / "plating_site_axisymmetric.toml",
                    {"output.pictures": False, "output.xdmf": False},
                    output=shared_dir / "axisymmetric")
    result = api.run(case)
    summary = result.summary
    assert summary["status"] == "complete", summary.get("error")
    # Observed: 8 remeshes, Li volume within 6.0e-14 of Q pi R^2 M/(rho F), deposit 23.2 nm high
    assert summary["remeshes"] >= 3
    assert abs(summary["li_volume_relative_error"]) < 1e-9
    assert summary["deposited_volume"] == pytest.approx(
        10.0 * np.pi * 100e-9 ** 2 * M_OVER_RHO_F, rel=1e-9)
    assert summary["mean_thickness_m"] == pytest.approx(10.0 * M_OVER_RHO_F, rel=1e-9)
    assert 15e-9 < summary["max_height_m"] < 40e-9
    assert "deposited_volume_m3" in result.timeseries()
    surface = np.genfromtxt(result.file("surface.csv"), delimiter=",", names=True)
    for t in np.unique(surface["time_s"]):
        assert surface["x_m"][surface["time_s"] == t].min() == 0.0


def test_prs_particle_on_the_axis_grows_with_li_and_salt_kept():
    """PRS@Li in axisymmetry: a 20 nm particle, half embedded, on a 40 nm site on the axis
    (its exposed half sphere and the ring of the site around it active), plated to 5 C/m2
    with remeshing: the Li volume is the charge's, the salt the initial inventory."""
    geometry = LiFoilGeometry(surface="prs", width=conservation.RADIUS,
                              electrolyte_height=conservation.DISC_HEIGHT, site_width=40e-9,
                              axisymmetric=True, mesh_electrode=False)
    case = conservation.disc_case(conservation.SIZES[0])
    case = replace(case, geometry=geometry,
                   control=replace(case.control, plated_charge_C_m2=5.0))
    domain = build_domain(geometry, case.mesh, MPI.COMM_WORLD)
    stepper = PlatingStepper(case, domain, MPI.COMM_WORLD, lambda message: None)
    inventory = salt(stepper.problem)
    r = 10e-9  # the active area: the half sphere above the foil and the ring (polygonal)
    assert stepper.problem.active_area == pytest.approx(2 * np.pi * r ** 2 + 3 * np.pi * r ** 2,
                                                        rel=0.02)
    try:
        stepper.start()
        for _ in stepper.steps():
            pass
        # Observed: 2 remeshes, Li volume within 1.5e-12 of the charge's, salt kept to 6e-16
        # (the active area 0.8 % below the exact one: the arc is a polygon)
        assert stepper.remeshes >= 1
        assert stepper.deposited_volume == pytest.approx(stepper.plated_volume, rel=1e-9)
        assert salt(stepper.problem) == pytest.approx(inventory, rel=1e-10)
    finally:
        stepper.close()


def test_planar_disc_cell_grows_by_q_m_over_rho_f(shared_dir):
    """geometry.axisymmetric on the planar family: a disc electrode of radius 100 nm grows
    uniformly by Q M/(rho F), the counter electrode recedes as much (its area is pi R^2)."""
    case = api.load({"name": "disc", "geometry": {"kind": "planar", "length": 400e-9,
                                                   "width": 100e-9, "axisymmetric": True},
                     "mesh": {"h_interface": 20e-9, "h_bulk": 50e-9},
                     "control": {"plated_charge_C_m2": 100.0},
                     "time": {"end": 100.0, "dt": 0.5, "dt_max": 2.0},
                     "plating": {"enabled": True},
                     "output": {"vtx": False, "pictures": False, "checkpoint": False}},
                    output=shared_dir / "disc")
    summary = api.run(case).summary
    assert summary["status"] == "complete", summary.get("error")
    thickness = 100.0 * M_OVER_RHO_F
    # Observed: thickness within 5.7e-14, height 5.1e-13, recession 1.7e-15, Li volume 5.6e-14,
    # roughness 3.1e-13 of the thickness
    assert summary["mean_thickness_m"] == pytest.approx(thickness, rel=1e-9)
    assert summary["max_height_m"] == pytest.approx(thickness, rel=1e-9)
    assert summary["rms_roughness_m"] < 1e-9 * thickness
    assert summary["counter_recession_m"] == pytest.approx(thickness, rel=1e-9)
    assert summary["deposited_volume"] == pytest.approx(np.pi * 100e-9 ** 2 * thickness,
                                                        rel=1e-9)
