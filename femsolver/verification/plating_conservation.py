"""Benchmark: Li and salt are conserved while a shaped surface grows on a moving,
remeshed mesh.

A bare Li foil with one 20 nm active site (the seed's 8 % on 250 nm) grows a deposit under a
galvanostatic 25 A/m2; the electrolyte is remeshed from its boundary whenever its worst cell
falls below plating.remesh_quality. The electrolyte must lose exactly the Li volume the charge
plated (G4; remeshing keeps the boundary), the charge must be the applied one, and the salt
inventory must survive every remesh (the interpolated concentration is shifted by one constant).
The same in axisymmetry: one disc site on the axis of a cylindrical cell, every volume and the
salt 2 pi r-weighted (G2's carried integral, G4's cubic, the remesh's volume-keeping removal).
"""

from __future__ import annotations

from mpi4py import MPI

from femsolver.mesh import build_domain
from femsolver.plating.remesh import salt
from femsolver.plating.stepping import PlatingStepper
from femsolver.verification import Row, relative_error
from femsolver.verification.plating_flat import I_APP, QUIET, plating_case
from geometries.li_foil import LiFoilGeometry

TITLE = "Plating: Li and salt conservation on a moving, remeshed mesh"
WIDTH, HEIGHT = 250e-9, 400e-9
CHARGE = 60.0  # C/m2 plated
SIZES = {0: 5e-9, 1: 4e-9, 2: 4e-9, 3: 2.5e-9}  # h_interface, m
# The axisymmetric cell: radius, height, the site's diameter, current and charge (the site
# carries 100 x 2.5 A/m2, about the strip's 25 A/m2 / 8 %)
RADIUS, DISC_HEIGHT, DISC_SITE, DISC_CURRENT, DISC_CHARGE = 100e-9, 200e-9, 20e-9, 2.5, 10.0
AXISYMMETRIC = (f"Axisymmetric (r, z): one {DISC_SITE * 1e9:g} nm disc site on the axis of a "
                f"{2 * RADIUS * 1e9:g} nm cylinder")

SETUP = f"""\
Bare Li foil, {WIDTH * 1e9:g} nm wide with one 20 nm active site (8 %), {HEIGHT * 1e9:g} nm of
electrolyte (gmsh, h_interface = 5 nm at level 0, 4 nm at levels 1-2, h_bulk = 40 nm; the
electrode not meshed), dilute 1 M salt, D = 1e-9 m2/s, i0 = 10 A/m2, galvanostatic 25 A/m2,
plated to control.plated_charge_C_m2 = {CHARGE:g} C/m2 (a deposit about 70 nm wide), remeshed
when the worst cell quality falls below 0.25.

Reference: the Li volume the charge stands for, Q W M/(rho F) (M/rho = 1.30e-5 m3/mol); the
charge of the galvanostatic control, i W t; the initial salt inventory c0 |electrolyte|.

Axisymmetric: the (r, z) section of a cylindrical cell of radius {RADIUS * 1e9:g} nm and height
{DISC_HEIGHT * 1e9:g} nm with one active disc of diameter {DISC_SITE * 1e9:g} nm on the
axis (1 % of the foil), the same h_interface and h_bulk = 25 nm, galvanostatic
{DISC_CURRENT:g} A/m2 to {DISC_CHARGE:g} C/m2 (a deposit about 23 nm high). References:
Q pi R^2 M/(rho F), i pi R^2 t, c0 pi R^2 H.
"""


def foil_case(h_interface: float, **plating):
    """The benchmark's case with `plating` keys overriding."""
    geometry = LiFoilGeometry(surface="bare", width=WIDTH, electrolyte_height=HEIGHT,
                              active_fraction=0.08, mesh_electrode=False)
    return plating_case(geometry=geometry, mesh={"h_interface": h_interface, "h_bulk": 40e-9},
                        control={"current_density": I_APP, "plated_charge_C_m2": CHARGE},
                        time={"end": 100.0, "dt": 0.01, "dt_max": 1.0, "scheme": "bdf1"},
                        plating={"remesh_quality": 0.25, **plating})


def disc_case(h_interface: float, **plating):
    """The axisymmetric disc-site case with `plating` keys overriding."""
    geometry = LiFoilGeometry(surface="bare", width=RADIUS, electrolyte_height=DISC_HEIGHT,
                              site_width=DISC_SITE, axisymmetric=True, mesh_electrode=False)
    return plating_case(geometry=geometry, mesh={"h_interface": h_interface, "h_bulk": 25e-9},
                        control={"current_density": DISC_CURRENT,
                                 "plated_charge_C_m2": DISC_CHARGE},
                        time={"end": 100.0, "dt": 0.01, "dt_max": 1.0, "scheme": "bdf1"},
                        plating={"remesh_quality": 0.25, **plating})


def plate(case, comm, on_step=None) -> PlatingStepper:
    """Run a plating case to its end (the caller closes the stepper)."""
    domain = build_domain(case.geometry, case.mesh, comm)
    stepper = PlatingStepper(case, domain, comm, QUIET)
    stepper.start()
    for step in stepper.steps():
        if on_step is not None:
            on_step(stepper, step)
    return stepper


def run(level: int, comm=MPI.COMM_WORLD) -> list[Row]:
    return (_rows(TITLE, foil_case(SIZES[level]), comm)
            + _rows(AXISYMMETRIC, disc_case(SIZES[level]), comm))


def _rows(group: str, case, comm) -> list[Row]:
    g = case.geometry
    area = g.projected_area  # W, or pi R^2
    inventory = area * g.electrolyte_height  # integral of c / c0 at the start
    axisymmetric = g.axisymmetric
    volume, charge_unit, symbol = (("m3", "C", "pi R^2") if axisymmetric
                                   else ("m2 per m", "C per m of depth", "W"))
    stepper = plate(case, comm)
    try:
        charge = case.control.plated_charge_C_m2 * area
        current = case.control.current_density * area
        final_salt = salt(stepper.problem)
        return [
            Row(group, f"Li volume lost by the electrolyte ({volume}), {stepper.remeshes} "
                "remeshes", stepper.plated_volume, f"Q {symbol} M/(rho F)",
                stepper.deposited_volume,
                relative_error(stepper.deposited_volume, stepper.plated_volume), "rel", 1e-9),
            Row(group, f"plated charge ({charge_unit})", charge, f"i {symbol} t",
                stepper.charge, relative_error(stepper.charge, current * stepper.time),
                "rel", 1e-6),  # the currents are exact to the Newton tolerance (~1e-9)
            Row(group, f"salt inventory after the remeshes ({volume}, over c0)", inventory,
                "c0 |electrolyte| at t = 0", final_salt, relative_error(final_salt, inventory),
                "rel", 1e-10),
            Row(group, "largest salt change of an interpolation, corrected (relative)", 0.0,
                "interpolation between meshes of one boundary", stepper.salt_correction,
                stepper.salt_correction, "abs", 1e-6),
        ]
    finally:
        stepper.close()
