"""The sections of a case file ([mesh], [electrolyte], ... [plating]): one frozen dataclass each,
every key with its unit, default and range in its field metadata (`femsolver.schema.param`).
`femsolver.case` reads a TOML file into them.
"""

from __future__ import annotations

from dataclasses import dataclass

from femsolver.materials.active import MATERIALS, OCP
from femsolver.materials.electrolytes import ELECTROLYTES
from femsolver.materials.solid_electrolytes import SOLID_ELECTROLYTES
from femsolver.schema import param


@dataclass(frozen=True)
class MeshParams:
    h_interface: float | None = param(
        None, "element size at the working interface, m (default: reference length / 500)",
        positive=True)
    h_bulk: float | None = param(
        None, "element size far from the interface, m (default: reference length / 25)",
        positive=True)
    refine: int = param(0, "uniform refinements of the gmsh mesh done in dolfinx (each one x4 cells "
                        "in 2D, x8 in 3D)", at_least=0)
    max_cells: int = param(
        10_000_000, "largest mesh a run may make: a case whose predicted cell count (from the "
        "mesh sizes and refinements) is larger is refused before meshing", positive=True)


@dataclass(frozen=True)
class ElectrolyteParams:
    model: str = param("dilute", "dilute (Nernst-Planck) or concentrated (Newman)",
                       choices=("dilute", "concentrated"))
    c0: float = param(1000.0, "initial (bulk) salt concentration, mol/m3", positive=True)
    D_cation: float = param(1e-9, "dilute: cation diffusion coefficient, m2/s", positive=True)
    D_anion: float = param(1e-9, "dilute: anion diffusion coefficient, m2/s", positive=True)
    material: str | None = param(
        None, "concentrated: named electrolyte (femsolver/materials/electrolytes.py)",
        choices=tuple(ELECTROLYTES))
    conductivity: float | str | None = param(
        None, "concentrated: kappa, S/m; a number or an expression of c (mol/m3) and T (K)")
    diffusivity: float | str | None = param(
        None, "concentrated: salt diffusivity D, m2/s; number or expression of c and T")
    transference: float | None = param(None, "concentrated: cation transference number t+, 1",
                                       above=0, below=1)
    thermodynamic_factor: float | str | None = param(
        None, "concentrated: 1 + dln f/dln c, 1 (default 1); number or expression of c and T")
    temperature: float = param(298.15, "temperature, K", positive=True)
    reference_temperature: float = param(
        298.15, "temperature at which i0, D_cation and D_anion are given, K", positive=True)
    diffusion_activation_energy: float = param(
        0.0, "dilute: Arrhenius activation energy of D_cation and D_anion, J/mol",
        nonnegative=True)
    reservoir_at_counter: bool = param(
        False, "hold c = c0 at the counter electrode (an open cell fed by a well-mixed "
        "reservoir); false: a closed cell that keeps its salt")


@dataclass(frozen=True)
class ElectrodeParams:
    conductivity: float = param(1.26e7, "electronic conductivity of the working electrode, S/m",
                               positive=True)
    equipotential: bool = param(True, "treat the working electrode as one potential (no ohmic drop)")


@dataclass(frozen=True)
class KineticsParams:
    i0: float = param(10.0, "exchange current density at c = c_ref, A/m2", positive=True)
    alpha_a: float = param(0.5, "anodic transfer coefficient, 1", above=0, below=1)
    alpha_c: float = param(0.5, "cathodic transfer coefficient, 1", above=0, below=1)
    c_ref: float | None = param(None, "reference concentration of i0, mol/m3 (default: c0)",
                               positive=True)
    activation_energy: float = param(
        0.0, "Arrhenius activation energy of i0 (given at electrolyte.reference_temperature), "
        "J/mol", nonnegative=True)
    counter: str = param("butler_volmer", "counter-electrode kinetics (particle geometries: "
                         "ideal only, an ideal Li electrode)",
                         choices=("butler_volmer", "ideal"))


@dataclass(frozen=True)
class ControlParams:
    mode: str = param("galvanostatic", "control mode", choices=("galvanostatic", "potentiostatic"))
    current_density: float = param(
        25.0, "applied current density over the projected area, A/m2; > 0 plates Li on the "
        "working electrode")
    voltage: float | None = param(
        None, "potentiostatic: working minus counter electrode potential, V")
    rest_after: float | None = param(
        None, "galvanostatic: the current is switched off (open circuit) at this time, s; "
        "e.g. restricted-diffusion relaxation", positive=True)
    plated_charge_C_m2: float | None = param(
        None, "plating runs: stop (status complete) once this charge per projected area has "
        "been plated, C/m2 (1 mAh/cm2 = 36000 C/m2)", positive=True)
    c_rate: float | None = param(
        None, "particle geometries: applied current as a C-rate, 1/h (1C = active mass x "
        "active.specific_capacity per hour)", positive=True)
    direction: str = param("discharge", "particle geometries: discharge (Li into the core) or "
                           "charge (Li out of it)", choices=("discharge", "charge"))
    voltage_min: float = param(2.6, "particle geometries: lower cut-off voltage, V vs Li; a "
                               "discharge stops there (status 'cutoff')", positive=True)
    voltage_max: float = param(4.3, "particle geometries: upper cut-off voltage, V vs Li; a "
                               "charge stops there (status 'cutoff')", positive=True)


@dataclass(frozen=True)
class TimeParams:
    mode: str = param("transient", "transient or steady", choices=("transient", "steady"))
    end: float = param(1e-3, "end time, s", positive=True)
    dt: float = param(1e-5, "initial time step, s", positive=True)
    scheme: str = param("bdf2", "time discretisation", choices=("bdf1", "bdf2"))
    dt_min: float | None = param(None, "smallest time step before giving up, s (default dt/1e4)",
                                positive=True)
    dt_max: float | None = param(None, "largest time step, s (default end/10)", positive=True)
    growth: float = param(1.5, "step growth factor after an easy Newton solve, 1 (1: constant "
                          "steps)", at_least=1)
    depletion_threshold: float = param(
        1e-3, "stop when the surface concentration falls below this fraction of c0, 1",
        fraction=True)


@dataclass(frozen=True)
class SolverParams:
    linear: str = param("auto", "linear solver: direct (MUMPS), iterative (fieldsplit + GAMG) "
                        "or auto (direct unless its memory would not fit)",
                        choices=("auto", "direct", "iterative"))
    rtol: float = param(
        1e-10, "Newton stops when the residual is below rtol x the residual of the applied "
        "control at switch-on, 1", above=0, below=1)
    step_tol: float = param(
        1e-10, "Newton also stops when the RMS update of the nondimensional unknowns (c/c0, "
        "potentials in RT/F) is below this, 1", above=0, below=1)
    max_iterations: int = param(25, "Newton iterations per solve", positive=True)
    petsc_options: dict = param({}, "extra PETSc options for the SNES (override the defaults); "
                                "values are numbers, words or viewer names, and a viewer file "
                                "is a bare file name, written in the output directory")


@dataclass(frozen=True)
class OutputParams:
    directory: str | None = param(None, "output directory (default results/<name>)")
    xdmf: bool = param(True, "write XDMF/HDF5 fields for ParaView")
    vtx: bool = param(True, "write VTX (.bp) fields for ParaView builds with ADIOS2")
    pictures: bool = param(True, "write PNG maps")
    every: int = param(1, "write fields every n accepted steps (the last step is always written)",
                      positive=True)
    checkpoint: bool = param(True, "transient runs: write a checkpoint (femsolver run --restart) "
                             "at the end and when interrupted")
    checkpoint_every: int = param(0, "also every n accepted steps (0: not by steps)",
                                  nonnegative=True)
    checkpoint_seconds: float = param(3600.0, "and every this many seconds of wall time, s",
                                      positive=True)


@dataclass(frozen=True)
class ActiveParams:
    material: str = param("NMC811_Chen2020", "named active material "
                          "(femsolver/materials/active.py); its values are the defaults of the "
                          "keys below", choices=tuple(MATERIALS))
    diffusivity: float | None = param(None, "Li diffusivity in the core D_s, m2/s",
                                      positive=True)
    max_concentration: float | None = param(None, "maximum Li concentration c_max, mol/m3",
                                            positive=True)
    density: float | None = param(None, "density of the active material, kg/m3", positive=True)
    specific_capacity: float | None = param(
        None, "capacity per mass that defines 1C, A h/kg (200 = 200 mAh/g)", positive=True)
    ocp: str | None = param(None, "named open-circuit potential U(x), V vs Li "
                            "(femsolver/materials/active.py)", choices=tuple(OCP))
    initial_stoichiometry: float | None = param(
        None, "initial x0 = c_s/c_max, 1", fraction=True)
    conductivity: float | None = param(
        None, "electronic conductivity of the core, S/m (omitted: equipotential core)",
        positive=True)
    rate_constant: float | None = param(
        None, "k of i0 = k c_s^alpha_c (c_max - c_s)^alpha_a, A/m2 per "
        "(mol/m3)^(alpha_a + alpha_c)", positive=True)
    rate_activation_energy: float | None = param(
        None, "Arrhenius activation energy of rate_constant, J/mol", nonnegative=True)


@dataclass(frozen=True)
class SolidElectrolyteParams:
    material: str = param("Li6PS5Cl_seed003", "named solid electrolyte "
                          "(femsolver/materials/solid_electrolytes.py); its values are the "
                          "defaults of the keys below", choices=tuple(SOLID_ELECTROLYTES))
    conductivity: float | None = param(
        None, "ionic conductivity at electrolyte.reference_temperature, S/m", positive=True)
    activation_energy: float | None = param(
        None, "Arrhenius activation energy of the conductivities, J/mol", nonnegative=True)
    shell_conductivity: float | None = param(
        None, "ionic conductivity of the shell at the reference temperature, S/m (default: "
        "conductivity)", positive=True)
    matrix: str = param("solid", "what fills the space around the particles: solid (this solid "
                        "electrolyte) or liquid (the [electrolyte]: a hybrid cell)",
                        choices=("solid", "liquid"))


@dataclass(frozen=True)
class CoatingParams:
    film_resistance: float = param(
        0.0, "area-specific resistance of the coating (e.g. LiNbO3) in series with the "
        "core-surface kinetics, ohm m2", nonnegative=True)
    conductivity: float | None = param(
        None, "ionic conductivity of a meshed coating, S/m (only when the geometry meshes it)",
        positive=True)


@dataclass(frozen=True)
class PlatingParams:
    enabled: bool = param(False, "grow the working surface with its plating current: the "
                          "interface moves, the electrolyte mesh follows and is remeshed "
                          "(cell geometries, equipotential electrode, transient)")
    molar_mass: float = param(6.941e-3, "molar mass M of the plated metal (Li), kg/mol",
                              positive=True)
    density: float = param(534.0, "density rho of the plated metal (Li), kg/m3", positive=True)
    step_fraction: float = param(
        0.2, "a time step moves no interface node by more than this fraction of its smallest "
        "adjacent cell edge, 1", fraction=True)
    extension_stiffening: float = param(
        1.0, "exponent p of the mesh motion's stiffness |K|^-p (0: plain Laplace; 1: small "
        "cells at the surface move nearly rigidly), 1", at_least=0, at_most=3)
    remesh_quality: float = param(
        0.25, "remesh the electrolyte from its surface when the worst cell quality (1: "
        "equilateral, 0: flat) falls below this, 1", below=1, above=0)
    short_distance: float | None = param(
        None, "status shorted once the deposit comes this close to the counter electrode, m "
        "(default: mesh.h_interface)", positive=True)
    contact_distance: float | None = param(
        None, "status contact once two parts of the surface that are far apart along it come "
        "this close (2D), m (default: short_distance)", positive=True)


SECTIONS = {
    "mesh": MeshParams,
    "electrolyte": ElectrolyteParams,
    "electrode": ElectrodeParams,
    "kinetics": KineticsParams,
    "control": ControlParams,
    "time": TimeParams,
    "solver": SolverParams,
    "output": OutputParams,
    "active": ActiveParams,
    "solid_electrolyte": SolidElectrolyteParams,
    "coating": CoatingParams,
    "plating": PlatingParams,
}
# Sections and [control] keys that only particle geometries (GeometryFamily.problem = "particle")
# read; a cell case that sets them is refused rather than silently ignoring them.
PARTICLE_SECTIONS = ("active", "solid_electrolyte", "coating")
PARTICLE_CONTROL_KEYS = ("c_rate", "direction", "voltage_min", "voltage_max")
# [control] keys that particle runs do not read (their current comes from control.c_rate).
CELL_CONTROL_KEYS = ("current_density", "voltage", "rest_after")
