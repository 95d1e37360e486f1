"""Particle physics (femsolver/problems/particle/problem.py, femsolver/physics/solid.py, the materials): analytic
voltage of a planar slab particle, charge and Li conservation, Crank's sphere, the cylinder of a
2D cross-section. Serial and under `mpirun -n 2`."""

import dataclasses

import numpy as np
import pytest
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femsolver import tags
from femsolver.materials.active import MATERIALS, active_material, nmc811_chen2020
from femsolver.materials.solid_electrolytes import ionic_conductivities
from femsolver.case import MeshParams
from femsolver.errors import GeometryError
from femsolver.mesh import Domain, build_domain
from femsolver.problems.particle.problem import ParticleProblem
from femsolver.physics.constants import FARADAY, GAS_CONSTANT, thermal_voltage
from femsolver.time_stepping import time_steps
from femsolver.verification import solving
from femsolver.verification import sphere_diffusion as sd
from femsolver.verification.domains import make_case
from geometries.core_shell import CoreShellGeometry

A_CORE, B_SE, WIDTH = 4e-6, 2e-6, 1e-6  # slab: core thickness, solid-electrolyte thickness, width


def slab_domain(layers=((A_CORE, 16, tags.ACTIVE), (B_SE, 8, tags.MATRIX)), nx=2,
                comm=MPI.COMM_WORLD) -> Domain:
    """Layers (thickness, cells, region tag) stacked from the collector (y = 0) upwards over a
    width W; the first is the core (PARTICLE_ACTIVE on its top), the top is the counter.

    Quadrilaterals: Q1 keeps a solution that is uniform in x exactly uniform, so the slab is
    exactly one-dimensional."""
    tops = np.cumsum([t for t, _, _ in layers])
    counts = np.cumsum([0] + [n for _, n, _ in layers])
    msh = dmesh.create_rectangle(comm, [[0, 0], [WIDTH, tops[-1]]], [nx, counts[-1]],
                                 cell_type=dmesh.CellType.quadrilateral,
                                 ghost_mode=dmesh.GhostMode.shared_facet)
    j = np.rint(msh.geometry.x[:, 1] / tops[-1] * counts[-1])  # grid line index
    bottoms = np.concatenate([[0.0], tops[:-1]])
    k = np.clip(np.searchsorted(counts, j, side="right") - 1, 0, len(layers) - 1)
    msh.geometry.x[:, 1] = bottoms[k] + (j - counts[k]) / np.diff(counts)[k] * np.diff(
        np.concatenate([[0.0], tops]))[k]
    imap = msh.topology.index_map(2)
    cells = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    layer = np.searchsorted(tops, dmesh.compute_midpoints(msh, 2, cells)[:, 1])
    region = np.array([t for _, _, t in layers], dtype=np.int32)[layer]
    cell_tags = dmesh.meshtags(msh, 2, cells, region)
    msh.topology.create_connectivity(1, 2)
    on = lambda value: lambda x: np.isclose(x[1], value)  # noqa: E731
    groups = {
        tags.PARTICLE_ACTIVE: dmesh.locate_entities(msh, 1, on(tops[0])),
        tags.COUNTER: dmesh.locate_entities_boundary(msh, 1, on(tops[-1])),
        tags.CURRENT_COLLECTOR: dmesh.locate_entities_boundary(msh, 1, on(0.0)),
    }
    facets = np.concatenate(list(groups.values()))
    values = np.concatenate([np.full(len(f), t, dtype=np.int32) for t, f in groups.items()])
    order = np.argsort(facets)
    facet_tags = dmesh.meshtags(msh, 1, facets[order], values[order])
    return Domain(msh, cell_tags, facet_tags, projected_area=WIDTH, reference_length=A_CORE)


def butler_volmer_eta(i_n, i0, VT):
    """eta (V) with i_n = i0 [exp(0.3 eta/VT) - exp(-0.7 eta/VT)]: z = exp(0.1 eta/VT) solves
    z^10 - (i_n/i0) z^7 - 1 = 0, which has one positive root (one sign change)."""
    z = [r.real for r in np.roots([1.0, 0, 0, -i_n / i0, 0, 0, 0, 0, 0, 0, -1.0])
         if abs(r.imag) < 1e-12 and r.real > 0]
    assert len(z) == 1
    return 10 * VT * np.log(z[0])


def i_n_of(problem):
    """The uniform anodic interface current density of a slab, A/m2."""
    return -problem.applied_current / WIDTH


def surface_terms(problem, T, c_ratio=1.0):
    """(U(x_s), eta, i_n) at the uniform surface stoichiometry x_s of a slab run; i0 is
    multiplied by c_ratio^alpha_a (a liquid at the core)."""
    x_lo, x_hi = problem.surface_stoichiometry()
    assert x_hi - x_lo < 1e-12  # one-dimensional
    mat = problem.material
    i_n = i_n_of(problem)
    k = mat.rate_constant * np.exp(-mat.rate_activation_energy / GAS_CONSTANT
                                   * (1 / T - 1 / 298.15))
    c_s = mat.max_concentration * x_lo
    i0 = k * c_s**0.7 * (mat.max_concentration - c_s) ** 0.3 * c_ratio**0.3
    return (mat.open_circuit_potential(x_lo), butler_volmer_eta(i_n, i0, thermal_voltage(T)),
            i_n)


def run_to_end(problem, case, comm=MPI.COMM_WORLD):
    """Time-step `problem` to case.time.end; returns the accepted steps."""
    with solving(problem, comm) as newton:
        return [step for step in time_steps(problem, newton, case.time, lambda m: None)]


# ---- materials ----------------------------------------------------------------------------------
def test_nmc811_chen2020_values():
    """The Chen 2020 set as in PyBaMM (checked against its parameter file) and seed 003."""
    m = MATERIALS["NMC811_Chen2020"]
    assert (m["diffusivity"], m["max_concentration"]) == (4e-15, 63104.0)
    assert m["initial_stoichiometry"] == pytest.approx(0.27, abs=2e-3)
    assert m["rate_constant"] == pytest.approx(3.42e-6 * 1000**0.5)
    assert (m["density"], m["specific_capacity"]) == (4800.0, 200.0)
    # U falls monotonically over Chen's window, from ~4.2 V (charged) to ~3.5 V (discharged)
    x = np.linspace(0.2661, 0.9084, 200)
    U = nmc811_chen2020(x)
    assert np.all(np.diff(U) < 0)
    assert 4.1 < nmc811_chen2020(0.27) < 4.3 and 3.4 < nmc811_chen2020(0.9084) < 3.7


def test_lfp_prada2013_values():
    """PyBaMM's Prada2013 LFP (checked against its parameter file); 1C and density from
    M(LiFePO4) = 157.76 g/mol: 169.9 mAh/g and c_max M = 3598 kg/m3."""
    m = MATERIALS["LFP_Prada2013"]
    assert (m["diffusivity"], m["max_concentration"]) == (5.9e-18, 22806.0)
    assert m["specific_capacity"] == pytest.approx(169.9, abs=0.05)
    assert m["density"] == pytest.approx(3598, abs=1)
    lfp = active_material(make_case(active={"material": "LFP_Prada2013"}).active)
    assert lfp.open_circuit_potential(0.5) == pytest.approx(3.3976, abs=1e-4)  # the plateau
    assert lfp.open_circuit_potential(0.99) < 3.0 < 3.5 < lfp.open_circuit_potential(0.001)


def test_material_overrides_and_errors():
    case = make_case(active={"diffusivity": 1e-14, "initial_stoichiometry": 0.5})
    mat = active_material(case.active)
    assert (mat.diffusivity, mat.initial_stoichiometry, mat.conductivity) == (1e-14, 0.5, None)
    assert mat.max_concentration == 63104.0


def test_lpscl_arrhenius():
    """0.145 S/m at 298.15 K, Ea = 0.22 eV: at 333.15 K sigma = 0.145 exp(-Ea/R (1/T - 1/T0))."""
    case = make_case(electrolyte={"temperature": 333.15},
                     solid_electrolyte={"shell_conductivity": 0.05})
    sigma = ionic_conductivities(case)
    factor = np.exp(-0.22 * FARADAY / GAS_CONSTANT * (1 / 333.15 - 1 / 298.15))
    assert sigma[tags.MATRIX] == pytest.approx(0.145 * factor, rel=1e-12)
    assert sigma[tags.SHELL] == pytest.approx(0.05 * factor, rel=1e-12)
    assert factor == pytest.approx(2.45, abs=0.01)  # 0.22 eV over 35 K
    assert ionic_conductivities(make_case())[tags.MATRIX] == 0.145


# ---- slab particle: voltage, film, i0(c_s) and conservation ---------------------------------
def slab_case(direction="discharge", film=0.0, core_conductivity=None, c_rate=1.0, end=200.0,
              electrolyte=None, solid_electrolyte=None):
    return make_case(
        active={"initial_stoichiometry": 0.4, "conductivity": core_conductivity},
        kinetics={"alpha_a": 0.3, "alpha_c": 0.7},
        coating={"film_resistance": film},
        solid_electrolyte={"conductivity": 0.01, **(solid_electrolyte or {})},
        electrolyte={"temperature": 310.0, **(electrolyte or {})},
        control={"c_rate": c_rate, "direction": direction},
        time={"end": end, "dt": end / 8, "growth": 1.0})


@pytest.mark.parametrize("direction, film, core_conductivity", [
    ("discharge", 0.0, None), ("discharge", 2e-3, None), ("charge", 2e-3, None),
    ("discharge", 2e-3, 1e-3)])
def test_slab_voltage(direction, film, core_conductivity):
    """V = U(x_s) + eta + i_n (R_film + b/sigma_e + a/sigma_s) on a 1D slab, with eta the
    inverse of i_n = i0 [exp(aa f eta) - exp(-ac f eta)], i0 = k c_s^ac (c_max - c_s)^aa,
    all evaluated here from the formulas at the computed surface stoichiometry x_s."""
    case = slab_case(direction, film, core_conductivity)
    problem = ParticleProblem(case, slab_domain())
    run_to_end(problem, case)
    T = 310.0
    U, eta, i_n = surface_terms(problem, T)
    sigma_e = 0.01 * np.exp(-0.22 * FARADAY / GAS_CONSTANT * (1 / T - 1 / 298.15))
    core_drop = A_CORE / core_conductivity if core_conductivity else 0.0
    expected = U + eta + i_n * (film + B_SE / sigma_e + core_drop)
    assert problem.cell_voltage() == pytest.approx(expected, abs=1e-10)
    assert (problem.cell_voltage() < U) == (direction == "discharge")


def test_slab_conservation():
    """Counter current = applied = -interface current; Li inserted = integral of the current."""
    case = slab_case(film=2e-3, end=400.0)
    problem = ParticleProblem(case, slab_domain())
    steps = run_to_end(problem, case)
    I = problem.applied_current
    assert I == pytest.approx(200 * 4800 * A_CORE * WIDTH)  # 1C, A per metre of depth
    assert problem.counter_current() == pytest.approx(I, rel=1e-10)
    assert problem.interface_current() == pytest.approx(-I, rel=1e-10)
    assert problem.inserted_charge() == pytest.approx(I * steps[-1].time, rel=1e-10)


# ---- hybrid cell: solid-electrolyte shell, liquid matrix -----------------------------------------
L_LIQUID = 4e-6
HYBRID = ((A_CORE, 16, tags.ACTIVE), (B_SE, 8, tags.SHELL), (L_LIQUID, 16, tags.MATRIX))
# A slow liquid (D = 1e-12 m2/s) so that the salt term is ~5 mV at the particle's current.
LIQUID = {"model": "concentrated", "conductivity": 0.5, "diffusivity": 1e-12,
          "transference": 0.3, "c0": 1000.0}


@pytest.mark.parametrize("direction", ["discharge", "charge"])
def test_hybrid_slab_voltage(direction):
    """Shell | liquid | Li counter, steady 1D liquid with blocked anions: c linear with slope
    -(1 - t+) i_n/(F D) and mean c0, and Phi_bottom = i_n L/kappa - 2 (RT/F)(1 - t+) ln(c_top /
    c_bot) (Li reference potential, ideal counter); so V = U + eta + i_n (R_film + b/sigma +
    L/kappa) - 2 (RT/F)(1 - t+) ln(c_top/c_bot)."""
    case = slab_case(direction, film=1e-3, electrolyte=LIQUID,
                     solid_electrolyte={"matrix": "liquid"})
    problem = ParticleProblem(case, slab_domain(HYBRID))
    run_to_end(problem, case)
    T = 310.0
    U, eta, i_n = surface_terms(problem, T)
    sigma_e = 0.01 * np.exp(-0.22 * FARADAY / GAS_CONSTANT * (1 / T - 1 / 298.15))
    slope = -(1 - 0.3) * i_n / (FARADAY * 1e-12)  # mol/m4
    c_top, c_bot = 1000 + slope * L_LIQUID / 2, 1000 - slope * L_LIQUID / 2
    expected = (U + eta + i_n * (1e-3 + B_SE / sigma_e + L_LIQUID / 0.5)
                - 2 * thermal_voltage(T) * (1 - 0.3) * np.log(c_top / c_bot))
    assert abs(np.log(c_top / c_bot)) > 0.05  # the salt term matters at this current
    assert problem.cell_voltage() == pytest.approx(expected, abs=1e-9)
    assert problem.counter_current() == pytest.approx(problem.applied_current, rel=1e-10)


def test_hybrid_dilute_equals_concentrated():
    """The dilute liquid (D+, D-) and the concentrated one with kappa = F^2 c (D+ + D-)/RT,
    D = 2 D+ D-/(D+ + D-), t+ = D+/(D+ + D-) are the same equations in (c, Phi)."""
    Dp, Dm = 2e-10, 4e-10
    dilute = {"model": "dilute", "D_cation": Dp, "D_anion": Dm, "c0": 1000.0}
    concentrated = {"model": "concentrated", "conductivity": f"F**2*c*{Dp + Dm}/(R*T)",
                    "diffusivity": 2 * Dp * Dm / (Dp + Dm), "transference": Dp / (Dp + Dm),
                    "c0": 1000.0}
    voltages = []
    for liquid in (dilute, concentrated):
        case = slab_case(electrolyte=liquid, solid_electrolyte={"matrix": "liquid"})
        problem = ParticleProblem(case, slab_domain(HYBRID))
        run_to_end(problem, case)
        voltages.append(problem.cell_voltage())
    assert voltages[0] == pytest.approx(voltages[1], abs=1e-11)


# ---- the core_shell geometry: charge and Li conservation ---------------------------------------
@pytest.mark.parametrize("geometry, film, core_conductivity, h, extra", [
    (dict(dimension=2, axisymmetric=True, shell_thickness=2e-6), 1e-3, None, (0.5e-6, 2e-6), {}),
    (dict(dimension=2, axisymmetric=True, shell_thickness=2e-6), 0.0, 0.18, (0.5e-6, 2e-6),
     {"control": {"direction": "charge"}, "active": {"initial_stoichiometry": 0.8}}),
    (dict(dimension=2, shell_thickness=2e-6), 1e-3, None, (0.5e-6, 2e-6),
     {"solid_electrolyte": {"matrix": "liquid"},
      "electrolyte": {"model": "concentrated", "material": "LiPF6_EC_EMC_Nyman2008"}}),
    (dict(dimension=2, variant="bare", contact_spots=3), 0.0, None, (0.5e-6, 2e-6), {}),
    (dict(dimension=2, variant="bare", contact_spots=3), 0.0, None, (0.5e-6, 2e-6),
     {"solid_electrolyte": {"matrix": "liquid"},
      "electrolyte": {"model": "concentrated", "material": "LiPF6_EC_EMC_Nyman2008"}}),
    (dict(dimension=3, shell_thickness=2e-6), 1e-3, None, (3e-6, 6e-6), {}),
])
def test_core_shell_conservation(geometry, film, core_conductivity, h, extra):
    """Counter current = applied current = -(interface current); Li inserted into the core =
    applied current x time, to the solver's tolerance (solver.rtol = 1e-10). Shell (2D section,
    axisymmetric, 3D), film, resolved core in charge, hybrid (liquid matrix), bare in a solid
    and in a liquid matrix."""
    params = CoreShellGeometry(**geometry)
    domain = build_domain(params, MeshParams(h_interface=h[0], h_bulk=h[1]))
    sections = {"coating": {"film_resistance": film}, "control": {"c_rate": 1.0},
                "time": {"end": 100.0, "dt": 20.0}, **extra}
    sections["control"] = {"c_rate": 1.0, **sections["control"]}
    sections["active"] = {"conductivity": core_conductivity, **extra.get("active", {})}
    case = make_case(geometry=params, **sections)
    problem = ParticleProblem(case, domain)
    steps = run_to_end(problem, case)
    I = problem.applied_current
    if case.solid_electrolyte.matrix == "liquid":
        assert problem.liquid_contact == (params.variant == "bare")
    if params.dimension == 3 or params.axisymmetric:  # 1C of the capped sphere, A
        V = 4 / 3 * np.pi * params.core_radius**3
        assert abs(I) == pytest.approx(200 * 4800 * V, rel=0.05)
    assert problem.counter_current() == pytest.approx(I, rel=1e-9)
    assert problem.interface_current() == pytest.approx(-I, rel=1e-9)
    assert problem.inserted_charge() == pytest.approx(I * steps[-1].time, rel=1e-9)
    x0 = problem.x0
    discharge = case.control.direction == "discharge"
    assert (problem.cell_voltage() < nmc811_chen2020(x0)) == discharge
    assert abs(problem.cell_voltage() - nmc811_chen2020(x0)) < 1.0  # sanity: bare spots fill


# ---- Crank's sphere, the 2D cylinder and the 3D sphere -------------------------------------------
def test_sphere_diffusion_rows():
    """Axisymmetric sphere vs Crank's series: the report rows at level 0, second order."""
    rows = sd.run(0)
    assert all(r.passed for r in rows), [(r.quantity, r.error) for r in rows]
    assert rows[0].rate > 1.7 and rows[1].rate > 1.8


def test_crank_series():
    """tan(beta) = beta roots; the bracket starts at 0 (sum 1/beta_n^2 = 1/10) and tends to
    3 tau + 1/5."""
    beta = sd.eigenvalues(5)
    assert np.allclose(np.tan(beta), beta, rtol=1e-12)
    assert beta[0] == pytest.approx(4.493409457909, rel=1e-11)
    assert sd.crank_surface(0.0, terms=20000) == pytest.approx(0.0, abs=2e-5)
    assert sd.crank_surface(2.0) == pytest.approx(6.2, rel=1e-12)


@pytest.mark.parametrize("dim, shape, h_rel, tolerance", [
    (2, 2, 1 / 8, 1e-2),  # 2D cross-section = cylinder: N R/(4 D); measured error 0.5 %
    (3, 3, 1 / 5, 3e-2),  # 3D octant, coarse: measured 2.0 % (4.3 % at R/3)
])
def test_long_time_surface_excess(dim, shape, h_rel, tolerance):
    """c_surf - c_avg -> N R/((shape + 2) D): the 2D section is a cylinder, the 3D a sphere."""
    domain = sd.concentric_domain(h_rel * sd.R, dim=dim, axisymmetric=False)
    result = sd.simulate(domain, sd.particle_case(sd.c_rate(shape), 1.0, 20))
    excess = (result["x_surf"] - result["x_avg"]) / sd.FLUX_SCALE
    assert excess == pytest.approx(1 / (shape + 2), rel=tolerance)


@pytest.mark.parametrize("material, c_rate, end", [("NMC811_Chen2020", 1.0, 200.0),
                                                    ("LFP_Prada2013", 0.01, 25.0)])
def test_core_in_liquid_slab_voltage(material, c_rate, end):
    """Core | liquid | Li (no shell, as under a thin carbon coat): i0 carries (c_e/c0)^alpha_a
    with c_e the liquid's concentration at the core (P5'); otherwise as the hybrid slab. LFP
    (D_s = 5.9e-18 m2/s) at 0.01C: a 4 um slab fills its surface within seconds at 1C."""
    case = slab_case(film=1e-3, electrolyte=LIQUID, solid_electrolyte={"matrix": "liquid"},
                     c_rate=c_rate, end=end)
    case = dataclasses.replace(case, active=dataclasses.replace(
        case.active, material=material, initial_stoichiometry=None))
    problem = ParticleProblem(case, slab_domain(((A_CORE, 16, tags.ACTIVE),
                                                 (L_LIQUID, 16, tags.MATRIX))))
    assert problem.liquid_contact
    run_to_end(problem, case)
    T = 310.0
    slope = -(1 - 0.3) * i_n_of(problem) / (FARADAY * 1e-12)
    c_top, c_bot = 1000 + slope * L_LIQUID / 2, 1000 - slope * L_LIQUID / 2
    U, eta, i_n = surface_terms(problem, T, c_ratio=c_bot / 1000)
    expected = (U + eta + i_n * (1e-3 + L_LIQUID / 0.5)
                - 2 * thermal_voltage(T) * (1 - 0.3) * np.log(c_top / c_bot))
    assert problem.cell_voltage() == pytest.approx(expected, abs=1e-9)


def test_mixed_core_contact_is_refused():
    """A core touching the liquid and a solid electrolyte would need two kinetics: refused."""
    domain = slab_domain(HYBRID)
    msh, ct = domain.mesh, domain.cell_tags
    right = dmesh.compute_midpoints(msh, 2, ct.indices)[:, 0] > WIDTH / 2
    values = np.where((ct.values == tags.SHELL) & right, tags.MATRIX, ct.values)
    mixed = Domain(msh, dmesh.meshtags(msh, 2, ct.indices, values.astype(np.int32)),
                   domain.facet_tags, domain.projected_area, domain.reference_length)
    case = slab_case(electrolyte=LIQUID, solid_electrolyte={"matrix": "liquid"})
    with pytest.raises(GeometryError, match="touches both the liquid matrix and a solid"):
        ParticleProblem(case, mixed)
