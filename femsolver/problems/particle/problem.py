"""The coupled problem of an active particle (core) in an ion-conducting shell and matrix.

Physics and signs: docs/particles.md (eqs. P1-P8). `ParticleProblem(case, domain)` offers
femsolver.solver what CellProblem offers (`unknowns`, `residual`, `bcs`, `entity_maps`, `bdf`,
`u`, `u_n`, `u_nn`, `set_switch_on_state()`, `set_initial_guess()`, `set_control(t)`,
`control_times()`), so `start_newton` and `time_steps` run it unchanged.

Unknowns (nondimensional; forms keep SI coordinates, times and coefficients, and each block is
multiplied by one constant, `femsolver.problems.particle.scaling.ParticleScaling`):
    u    = x - x0, the core's Li stoichiometry x = c_s/c_max minus its initial value (P1, core
           submesh, ACTIVE cells); u, u_n, u_nn are the time-dependent field
    phi  = F phi_e / RT, the ion conductor's potential (P1 on the submesh of SHELL, MATRIX and
           COATING cells; 0 on COUNTER, the Li reference)
    V    = F V / RT - V_ref, the core potential at the collector (one Real dof); V_ref = U(x0) F/RT
    psi  = F (phi_s - V) / RT on the core submesh, only for a resolved core (active.conductivity
           given); 0 on CURRENT_COLLECTOR
    j    = i_n / i_scale on a facet submesh of PARTICLE_ACTIVE, only if coating.film_resistance
           > 0 (the film makes the kinetics implicit in i_n)
    c    = c/c0 - 1, the salt of a liquid matrix (solid_electrolyte.matrix = "liquid": a hybrid
           cell; P1 on the MATRIX submesh), and lam, its salt-inventory multiplier (one Real dof)
           unless electrolyte.reservoir_at_counter. phi is then the potential of a Li reference
           electrode in the liquid too (the model's Phi; the dilute model's electrostatic
           potential is phi + model.overpotential(0, 0, c)), so that one continuous field carries
           the Li+ equilibrium across the shell | liquid interface (P8). A core whose active
           surface faces the liquid directly (no shell) has i0 x (c_e/c_ref)^alpha_a (P5').
All integrals use femsolver.measures.measure: the same forms serve 2D (per metre of depth),
axisymmetric (x[0] = r) and 3D domains.

What the run (outputs) reads, all SI; scalars are global (same on every rank):
    cell_voltage() -> V vs Li            applied_current -> A (> 0: discharge, Li into the core)
    stoichiometry (ufl, core submesh)    concentration (ufl, mol/m3, core submesh)
    i_n (ufl, A/m2, anodic: < 0 in discharge) valid in integrals over `dA` (dS(PARTICLE_ACTIVE),
        weighted); `intercalation = -i_n`
    interface_current() -> A, integral of i_n (= -applied_current at convergence)
    counter_current() -> A, anodic current of the Li counter electrode (= applied_current)
    lithium_inventory() -> mol in the core;  inserted_charge() -> C inserted since t = 0
    surface_dofs() -> local dofs of u on the core surface; surface_stoichiometry() -> (min, max)
    core, ion: Region (submesh + maps);  material: ActiveMaterial;  conductivities: {tag: S/m}
    liquid: Region of a liquid matrix or None; model: its electrolyte model; u_liquid: its salt
        unknown; phi_liquid: the potential the model's current_density(u_liquid, .) takes
    active_mass (kg), core_volume (m3), active_area (m2) (per metre of depth in 2D)
The run must stop when surface_stoichiometry() reaches 1 (discharge) or 0 (charge): i0 (P5)
vanishes there (docs/particles.md, "The surface-saturation limit").
"""

from __future__ import annotations

import basix.ufl
import numpy as np
import ufl
from dolfinx import fem, mesh as dmesh
from mpi4py import MPI

from femsolver import tags
from femsolver.errors import GeometryError
from femsolver.materials.active import active_material
from femsolver.materials.solid_electrolytes import ionic_conductivities
from femsolver.measures import measure
from femsolver.models import electrolyte_model
from femsolver.physics import electrode, kinetics, solid
from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.problems.particle.scaling import ParticleScaling
from femsolver.problems.regions import Interface, Region, facet_dofs

ION_CONDUCTORS = (tags.SHELL, tags.MATRIX, tags.COATING)
MATERIAL_REFERENCE_TEMPERATURE = 298.15  # K, at which the named rate constants are given


def _region(domain, cell_tags) -> Region:
    cells = np.sort(np.concatenate([domain.cell_tags.find(t) for t in cell_tags]))
    submesh, cell_map, vertex_map, _ = dmesh.create_submesh(
        domain.mesh, domain.mesh.topology.dim, cells)
    return Region(submesh, cell_map, vertex_map)


def _present(domain, tag: int, dim: int) -> bool:
    entities = (domain.cell_tags if dim == domain.mesh.topology.dim else domain.facet_tags)
    return domain.mesh.comm.allreduce(len(entities.find(tag)), op=MPI.SUM) > 0


class ParticleProblem:
    """Residual forms and unknowns of one particle in its ion conductor; no solver state."""

    def __init__(self, case, domain, degree: int = 1):
        self.case, self.domain = case, domain
        msh = domain.mesh
        tdim = msh.topology.dim
        self.axisymmetric = getattr(domain, "axisymmetric", False)
        T = case.electrolyte.temperature
        self.thermal_voltage = VT = thermal_voltage(T)
        self.material = mat = active_material(case.active)
        self.x0 = mat.initial_stoichiometry
        self.rate_constant = float(kinetics.arrhenius(
            mat.rate_constant, mat.rate_activation_energy, T, MATERIAL_REFERENCE_TEMPERATURE))
        self.film_resistance = case.coating.film_resistance
        self.film = self.film_resistance > 0
        self.resolved = mat.conductivity is not None
        self.conductivities = sigma = ionic_conductivities(case)
        ion_tags = self._check_regions()
        liquid = (getattr(case.solid_electrolyte, "matrix", "solid") == "liquid"
                  and tags.MATRIX in ion_tags)
        self.solid_tags = [t for t in ion_tags if not (liquid and t == tags.MATRIX)]
        self.model = electrolyte_model(case, VT) if liquid else None
        self.inventory = liquid and not case.electrolyte.reservoir_at_counter
        self.scaling = ParticleScaling(
            domain.reference_length, 3 if self.axisymmetric else msh.geometry.dim,
            mat.diffusivity, max(sigma[t] for t in ion_tags) * VT,
            FARADAY * mat.max_concentration * mat.diffusivity / domain.reference_length,
            self.model.reference_diffusivity if liquid else 1.0)

        # Regions (the '+' side of the core surface is the ion conductor) and measures
        self.core = _region(domain, [tags.ACTIVE])
        self.ion = _region(domain, ion_tags)
        self.liquid = _region(domain, [tags.MATRIX]) if liquid else None
        self.regions = [r for r in (self.core, self.ion, self.liquid) if r]
        self.entity_maps = [r.cell_map for r in self.regions]
        interface = Interface(domain, self.ion.parent_cells(), facet_tags=(tags.PARTICLE_ACTIVE,))
        self.liquid_contact = liquid and self._liquid_contact(interface)
        self.dx = measure("dx", domain, subdomain_data=domain.cell_tags)
        self.ds = measure("ds", domain, subdomain_data=domain.facet_tags)
        self.dA = measure("dS", domain, subdomain_data=interface.subdomain_data)(
            tags.PARTICLE_ACTIVE)
        self.core_volume = self._assemble(fem.form(1.0 * self.dx(tags.ACTIVE)))
        self.active_area = self._assemble(fem.form(1.0 * self.dA))
        self.active_mass = mat.density * self.core_volume

        tests = self._unknowns(degree, tdim)
        self.bdf = [fem.Constant(msh, 0.0) for _ in range(3)]
        self.applied = fem.Constant(msh, 0.0)  # A, > 0 in discharge
        self.V_ref = fem.Constant(msh, mat.open_circuit_potential(self.x0) / VT)
        self._kinetics()
        self.residual_form = self._residual(tests)
        self.residual = ufl.extract_blocks(self.residual_form)
        self.bcs = self._boundary_conditions()

        # Consistent counter-electrode current: the charge residual tested with a function that
        # is 1 on the counter and 0 elsewhere (exact for the discrete solution, unlike -sigma
        # grad phi . n, which is only first-order accurate for P1).
        indicator = fem.Function(self.phi.function_space)
        indicator.x.array[self.bcs[0].dof_indices()[0]] = 1.0
        indicator.x.scatter_forward()
        forms = {"counter": self._charge_volume(indicator),
                 "interface": self.i_n * self.dA,
                 "inventory": self.concentration * self.dx(tags.ACTIVE)}
        self._forms = {k: fem.form(f, entity_maps=self.entity_maps) for k, f in forms.items()}
        self.inventory0 = mat.max_concentration * self.x0 * self.core_volume

    def _check_regions(self) -> list[int]:
        """The ion-conducting region tags present; GeometryError if a needed part is missing."""
        domain, tdim = self.domain, self.domain.mesh.topology.dim
        for tag, name, dim in ((tags.ACTIVE, "active", tdim),
                               (tags.PARTICLE_ACTIVE, "particle_active", tdim - 1),
                               (tags.COUNTER, "counter", tdim - 1)):
            if not _present(domain, tag, dim):
                raise GeometryError(f"a particle geometry needs a '{name}' region/boundary")
        ion_tags = [t for t in ION_CONDUCTORS if _present(domain, t, tdim)]
        if not ion_tags:
            raise GeometryError("a particle geometry needs a shell, matrix or coating region")
        if tags.COATING in ion_tags and tags.COATING not in self.conductivities:
            raise GeometryError("the geometry meshes a coating: set coating.conductivity")
        return ion_tags

    def _liquid_contact(self, interface) -> bool:
        """Whether the core's active surface faces the liquid (True) or solid electrolytes
        (False); GeometryError if both, which one (P5) cannot serve."""
        msh = self.domain.mesh
        imap = msh.topology.index_map(msh.topology.dim)
        region = np.zeros(imap.size_local + imap.num_ghosts, dtype=np.int32)
        region[self.domain.cell_tags.indices] = self.domain.cell_tags.values
        plus = region[interface.subdomain_data[0][1].reshape(-1, 4)[:, 0]] == tags.MATRIX
        liquid = msh.comm.allreduce(bool(np.any(plus)), op=MPI.LOR)
        if liquid and msh.comm.allreduce(not np.all(plus), op=MPI.LOR):
            raise GeometryError("the core touches both the liquid matrix and a solid electrolyte; "
                                "one particle can have only one kind of interface kinetics")
        return liquid

    def _unknowns(self, degree: int, tdim: int) -> dict:
        """Create the spaces and unknowns; returns the test functions by unknown name."""
        P = ("Lagrange", degree)
        ion = self.ion.mesh
        spaces = {"u": fem.functionspace(self.core.mesh, P), "phi": fem.functionspace(ion, P),
                  "V": fem.functionspace(ion, basix.ufl.real_element(ion.basix_cell(),
                                                                      dtype=np.float64))}
        if self.resolved:
            spaces["psi"] = fem.functionspace(self.core.mesh, P)
        if self.film:
            facets = self.domain.facet_tags.find(tags.PARTICLE_ACTIVE)
            facet_mesh, facet_map, _, _ = dmesh.create_submesh(self.domain.mesh, tdim - 1,
                                                                facets)
            self.entity_maps.append(facet_map)
            spaces["j"] = fem.functionspace(facet_mesh, P)
        if self.liquid:
            liquid = self.liquid.mesh
            spaces["c"] = fem.functionspace(liquid, P)
            if self.inventory:
                spaces["lam"] = fem.functionspace(liquid, basix.ufl.real_element(
                    liquid.basix_cell(), dtype=np.float64))
        self.unknowns = [fem.Function(V, name=n) for n, V in spaces.items()]
        named = dict(zip(spaces, self.unknowns))
        self.u, self.phi, self.V = named["u"], named["phi"], named["V"]
        self.psi, self.j = named.get("psi"), named.get("j")
        self.u_liquid, self.lam = named.get("c"), named.get("lam")
        self.u_values = self.u.x.array  # what the time loop keeps as u_n (as CellProblem's)
        self.u_n = fem.Function(spaces["u"], name="u_n")
        self.u_nn = fem.Function(spaces["u"], name="u_nn")
        return dict(zip(spaces, ufl.TestFunctions(ufl.MixedFunctionSpace(*spaces.values()))))

    def _kinetics(self) -> None:
        """x, c_s, the overpotential and i_n (P4, P5) as ufl expressions."""
        mat, kin, VT = self.material, self.case.kinetics, self.thermal_voltage
        c_max = mat.max_concentration
        self.stoichiometry = x = self.x0 + self.u
        self.concentration = c_max * x
        if self.liquid:
            # The model's own potential variable: Phi (concentrated) or phi (dilute).
            self.phi_liquid = self.phi + self.model.overpotential(0.0, 0.0, self.u_liquid)
        x_surf = x("-")
        phi_s = self.V_ref + self.V("+") + (self.psi("-") if self.resolved else 0)
        ocp = mat.open_circuit_potential(x_surf, ufl) / VT
        self.i0 = solid.exchange_current_density(x_surf, self.rate_constant, c_max,
                                                 kin.alpha_a, kin.alpha_c)
        if self.liquid_contact:  # (P5'): k is given at c_e = c_ref
            self.i0 *= (self._liquid_ratio * (1 + self.u_liquid("+"))) ** kin.alpha_a
        if self.film:
            self.i_n = self.scaling.current * self.j("+")
            self.eta = solid.overpotential(phi_s, self.phi("+"), ocp,
                                           self.film_resistance * self.i_n / VT)
        else:
            self.eta = solid.overpotential(phi_s, self.phi("+"), ocp)
        self.i_kinetic = kinetics.butler_volmer(self.eta, 1.0, self.i0, kin.alpha_a, kin.alpha_c)
        if not self.film:
            self.i_n = self.i_kinetic
        self.intercalation = -self.i_n

    def _charge_volume(self, w):
        """Volume part of the ion conductor's charge balance tested with w (P3, P8)."""
        sigma, VT, dx = self.conductivities, self.thermal_voltage, self.dx
        form = sum(solid.ion_residual(self.phi, w, sigma[t] * VT, dx(t)) for t in self.solid_tags)
        if self.liquid:
            form += self.model.charge(self.u_liquid, self.phi_liquid, w, dx(tags.MATRIX))
        return form

    def _residual(self, tests):
        """The scaled residual of P1-P8 (one ufl form over all blocks)."""
        S, mat, dA, dx = self.scaling, self.material, self.dA, self.dx
        a0, a1, a2 = self.bdf
        u, i_n = self.u, self.i_n
        u_dot = a0 * u + a1 * self.u_n + a2 * self.u_nn
        v, w, q = tests["u"], tests["phi"], tests["V"]
        F_solid = (solid.diffusion_residual(u_dot, u, v, mat.diffusivity, dx(tags.ACTIVE))
                   + solid.insertion_flux(i_n, mat.max_concentration) * v("-") * dA)
        F_charge = self._charge_volume(w) - i_n * w("+") * dA
        F_constraint = (i_n + self.applied / self.active_area) * q("+") * dA  # (P7)
        residual = S.solid * F_solid + S.charge(S.conductance) * (F_charge + F_constraint)
        if self.resolved:
            w_s = tests["psi"]
            conductance = mat.conductivity * self.thermal_voltage
            residual += S.charge(conductance) * (
                electrode.ohm_residual(self.psi, w_s, conductance, dx(tags.ACTIVE))
                + i_n * w_s("-") * dA)
        if self.film:
            residual += S.film * (i_n - self.i_kinetic) * tests["j"]("+") * dA
        if self.liquid:
            # Quasi-steady salt: the liquid relaxes in L^2/D ~ 0.1-1 s, far below the core's
            # time steps; a closed liquid keeps its salt through the multiplier lam (P8).
            c, v_c, dx_l = self.u_liquid, tests["c"], dx(tags.MATRIX)
            no_storage = fem.Constant(self.domain.mesh, 0.0)
            F_salt = self.model.salt(no_storage * c, c, self.phi_liquid, v_c, dx_l)
            if self.inventory:
                F_salt += self.lam * v_c * dx_l + c * tests["lam"] * dx_l
            residual += S.salt * F_salt
        return residual

    def _boundary_conditions(self) -> list:
        """phi = 0 on the counter (Li reference); psi = 0 on the collector; c = c0 at the
        counter of an open liquid (electrolyte.reservoir_at_counter)."""
        V_phi = self.phi.function_space
        bcs = [fem.dirichletbc(0.0, facet_dofs(self.domain, V_phi, self.ion, [tags.COUNTER]),
                               V_phi)]
        if self.resolved:
            V_psi = self.psi.function_space
            collector = facet_dofs(self.domain, V_psi, self.core, [tags.CURRENT_COLLECTOR])
            if self.domain.mesh.comm.allreduce(len(collector), op=MPI.SUM) == 0:
                raise GeometryError("the geometry has no 'current_collector' boundary, which a "
                                    "resolved core (active.conductivity) needs")
            bcs.append(fem.dirichletbc(0.0, collector, V_psi))
        if self.liquid and not self.inventory:
            V_c = self.u_liquid.function_space
            bcs.append(fem.dirichletbc(
                0.0, facet_dofs(self.domain, V_c, self.liquid, [tags.COUNTER]), V_c))
        return bcs

    @property
    def _liquid_ratio(self) -> float:
        """c0/c_ref of a liquid in contact with the core (kinetics.c_ref, default c0)."""
        el = self.case.electrolyte
        return el.c0 / (self.case.kinetics.c_ref or el.c0)

    # ---- control ---------------------------------------------------------------------------
    @property
    def applied_current(self) -> float:
        """The current of control.c_rate (A; per metre of depth in 2D), > 0 in discharge."""
        control = self.case.control
        sign = 1.0 if getattr(control, "direction", "discharge") == "discharge" else -1.0
        one_c = self.material.specific_capacity * self.active_mass  # A h/kg x kg / (1 h) = A
        return sign * control.c_rate * one_c

    def set_switch_on_state(self) -> None:
        """Equilibrium at x0 with the current just applied: its residual sets Newton's scale."""
        for f in self.unknowns:
            f.x.array[:] = 0.0
        for f in (self.u_n, self.u_nn):
            f.x.array[:] = 0.0
        self.applied.value = self.applied_current

    def set_control(self, t: float) -> None:
        """The applied current for a step ending at time t (s): off after control.rest_after."""
        rest = getattr(self.case.control, "rest_after", None)
        on = rest is None or t <= rest * (1 + 1e-12)
        self.applied.value = self.applied_current if on else 0.0

    def control_times(self) -> list[float]:
        rest = getattr(self.case.control, "rest_after", None)
        return [] if rest is None else [rest]

    def set_initial_guess(self) -> None:
        """Uniform x0; V from inverting P4 for the mean interface current plus the film drop."""
        kin = self.case.kinetics
        i_mean = -self.applied_current / self.active_area
        i0 = float(solid.exchange_current_density(self.x0, self.rate_constant,
                                                  self.material.max_concentration, kin.alpha_a,
                                                  kin.alpha_c, clip=np.maximum))
        if self.liquid_contact:
            i0 *= self._liquid_ratio ** kin.alpha_a
        eta = kinetics.butler_volmer_inverse(i_mean, i0, kin.alpha_a, kin.alpha_c)
        self.V.x.array[:] = eta + self.film_resistance * i_mean / self.thermal_voltage
        if self.film:
            self.j.x.array[:] = i_mean / self.scaling.current

    # ---- quantities in SI units --------------------------------------------------------------
    def _assemble(self, form) -> float:
        return self.domain.mesh.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def cell_voltage(self) -> float:
        """Core potential at the collector vs the Li counter electrode, V."""
        return float((self.V_ref.value + self.V.x.array[0]) * self.thermal_voltage)

    def interface_current(self) -> float:
        """Integral of the anodic i_n over the core's active surface, A (< 0 in discharge)."""
        return self._assemble(self._forms["interface"])

    def counter_current(self) -> float:
        """Anodic current of the Li counter electrode into the ion conductor, A."""
        return self._assemble(self._forms["counter"])

    def lithium_inventory(self) -> float:
        """Li in the core, mol (per metre of depth in 2D)."""
        return self._assemble(self._forms["inventory"])

    def inserted_charge(self) -> float:
        """Charge carried into the core since t = 0, C (the discharge capacity passed)."""
        return FARADAY * (self.lithium_inventory() - self.inventory0)

    def surface_dofs(self) -> np.ndarray:
        """Local dofs of u on the core surface (active and blocking parts)."""
        return facet_dofs(self.domain, self.u.function_space, self.core,
                          [tags.PARTICLE_ACTIVE, tags.PARTICLE_BLOCKING])

    def surface_stoichiometry(self) -> tuple[float, float]:
        """(min, max) of x over the core surface nodes, global."""
        comm = self.domain.mesh.comm
        dofs = self.surface_dofs()
        owned = dofs[dofs < self.u.function_space.dofmap.index_map.size_local]
        values = self.x0 + self.u.x.array[owned]
        lo = comm.allreduce(values.min() if len(values) else np.inf, op=MPI.MIN)
        hi = comm.allreduce(values.max() if len(values) else -np.inf, op=MPI.MAX)
        return float(lo), float(hi)
