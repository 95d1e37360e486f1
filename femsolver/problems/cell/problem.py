"""The coupled electrode | electrolyte problem: spaces, unknowns and residual forms.

Unknowns (docs/physics.md, "Discrete problem"):
    u      = c/c0 - 1 on the electrolyte submesh (P_k)
    phi    = F phi / RT - phi_ref on the electrolyte submesh (P_k); phi_ref is a constant set
             from the initial guess so that phi stays small and its gradient carries no
             round-off from an O(1) offset
             u and phi are the two components of one function (`fields`, a blocked P_k pair):
             the electrolyte's equations are then one form with one kernel, whose coefficients
             are packed once (residuals twice as fast as with one form per field)
    V      = F V_we / RT, the working-electrode potential (one Real dof)
    psi    = F (phi_s - V_we) / RT on the electrode submesh (P_k), only if the electrode is
             resolved (Ohm's law); zero on the current collector
    lam    = salt-inventory multiplier (one Real dof), only for steady solves of closed cells
Equations keep SI coordinates, times and coefficients; each block is multiplied by one constant
(`Scaling`) so that the assembled system is the nondimensional one.
"""

from __future__ import annotations

from dataclasses import dataclass

import basix.ufl
import numpy as np
import ufl
from ufl.algorithms import estimate_total_polynomial_degree
from dolfinx import fem
from mpi4py import MPI

from femsolver import tags
from femsolver.errors import GeometryError
from femsolver.measures import measure
from femsolver.models import electrolyte_model, invert_reaction
from femsolver.physics import electrode, kinetics
from femsolver.physics.constants import FARADAY, thermal_voltage
from femsolver.plating import ale
from femsolver.problems.regions import Interface, Region, facet_dofs


@dataclass(frozen=True)
class Scaling:
    """Units that make the discrete system O(1): length L0, concentration c0, diffusivity D0."""

    length: float
    c0: float
    D0: float
    dim: int

    @property
    def salt(self) -> float:
        """Factor on the salt balance (SI units m^d/s) that makes it nondimensional."""
        return 1.0 / (self.D0 * self.length ** (self.dim - 2))

    @property
    def charge(self) -> float:
        """Factor on charge balances and the current constraint (SI units A m^(d-3))."""
        return 1.0 / (FARADAY * self.c0 * self.D0 * self.length ** (self.dim - 3))

    def electrode(self, conductance: float) -> float:
        """Factor on the electrode's charge balance that makes its stiffness O(1).

        `conductance` is sigma RT/F (A/m). With the electrolyte's scale instead, a metal's
        rows would be ~1e9 times stiffer and their round-off would swamp the residual.
        """
        return 1.0 / (conductance * self.length ** (self.dim - 2))


class BoundaryInterface:
    """The working interface as a boundary of the electrolyte (no electrode cells): `dS` is
    the exterior-facet measure of the facet tags (one form takes one subdomain data per
    integral type, which the counter electrode's integral shares), `subdomain_data` the
    (cell, local facet) pairs of its owned facets per tag (Interface's are interior-facet
    quadruples with the electrolyte on '+')."""

    def __init__(self, domain, facet_tags=(tags.WORKING_ACTIVE, tags.WORKING_BLOCKING)):
        msh = domain.mesh
        tdim = msh.topology.dim
        msh.topology.create_connectivity(tdim - 1, tdim)
        msh.topology.create_connectivity(tdim, tdim - 1)
        owned = msh.topology.index_map(tdim - 1).size_local
        self.subdomain_data = []
        for tag in facet_tags:
            facets = domain.facet_tags.find(tag)
            pairs = fem.compute_integration_domains(
                fem.IntegralType.exterior_facet, msh.topology, facets[facets < owned])
            self.subdomain_data.append((tag, pairs))
        self.dS = measure("ds", domain, subdomain_data=domain.facet_tags)


class CellProblem:
    """Residual forms and unknowns of one electrochemical cell; holds no solver state."""

    def __init__(self, case, domain, degree: int = 1, moving: bool = False):
        """`moving`: the mesh moves (plating runs, femsolver.plating): the salt balance is
        written on the moving mesh (eq. G2), with BDF1 time steps only."""
        self.case = case
        self.domain = domain
        msh = domain.mesh
        dim = msh.geometry.dim
        el = case.electrolyte
        self.thermal_voltage = thermal_voltage(el.temperature)
        self.model = model = electrolyte_model(case, self.thermal_voltage)
        # An axisymmetric section's integrals are over the 3D body (2 pi r-weighted)
        self.scaling = Scaling(domain.reference_length, el.c0, model.reference_diffusivity,
                               3 if domain.axisymmetric else dim)
        # A steady closed cell fixes c only up to its inventory (E5): one more unknown.
        self.inventory = case.time.mode == "steady" and not el.reservoir_at_counter
        self.resolved = not case.electrode.equipotential

        # Region submeshes and the maps that let parent-mesh integrals see their functions.
        self.electrolyte = Region.of(domain, tags.ELECTROLYTE)
        self.mesh_e = self.electrolyte.mesh
        self.entity_maps = [self.electrolyte.cell_map]
        # An equipotential electrode need not be meshed: its surface is then a boundary.
        meshed = msh.comm.allreduce(len(domain.cell_tags.find(tags.ELECTRODE)), op=MPI.SUM) > 0
        if self.resolved and not meshed:
            raise GeometryError("a resolved electrode (electrode.equipotential = false) needs "
                                "its cells: the mesh has none (geometry.mesh_electrode)")
        self.interface = interface = (Interface(domain, self.electrolyte.parent_cells())
                                      if meshed else BoundaryInterface(domain))
        self.interface_sides = 2 if meshed else 1  # meshed sides: interior facets or a boundary

        def side(f):
            """f on the electrolyte side of the interface."""
            return f("+") if meshed else f

        P = basix.ufl.element("Lagrange", self.mesh_e.basix_cell(), degree)
        real = basix.ufl.real_element(self.mesh_e.basix_cell(), dtype=np.float64)
        # One field's space: its dofs are the pair's nodes in the same order
        self.space = fem.functionspace(self.mesh_e, P)
        spaces = [fem.functionspace(self.mesh_e, basix.ufl.blocked_element(P, shape=(2,))),
                  fem.functionspace(self.mesh_e, real)]
        if self.resolved:
            self.electrode = Region.of(domain, tags.ELECTRODE)
            self.entity_maps.append(self.electrode.cell_map)
            spaces.append(fem.functionspace(self.electrode.mesh, P))
        self.regions = [self.electrolyte, self.electrode] if self.resolved else [self.electrolyte]
        if self.inventory:
            spaces.append(fem.functionspace(self.mesh_e, real))
        names = ["u_phi", "V"] + ["psi"] * self.resolved + ["lam"] * self.inventory
        self.unknowns = [fem.Function(V, name=n) for V, n in zip(spaces, names)]
        self.fields, self.V = self.unknowns[:2]
        pair = spaces[0]
        self.u, self.phi = ufl.split(self.fields)
        # Writable views of the pair's interleaved values: u's and phi's dof arrays
        self.u_values = self.fields.x.array[0::2]
        self.phi_values = self.fields.x.array[1::2]
        self.psi = self.unknowns[2] if self.resolved else None
        self.u_n = fem.Function(self.space, name="u_n")
        self.u_nn = fem.Function(self.space, name="u_nn")

        tests = ufl.TestFunctions(ufl.MixedFunctionSpace(*spaces))
        (v, w), q = ufl.split(tests[0]), tests[1]
        dx = measure("dx", domain, subdomain_data=domain.cell_tags)
        ds = measure("ds", domain, subdomain_data=domain.facet_tags)
        dS = interface.dS

        # Time derivative du/dt = a0 u + a1 u_n + a2 u_nn (BDF1/BDF2, set by the stepper).
        self.bdf = [fem.Constant(msh, 0.0) for _ in range(3)]
        a0, a1, a2 = self.bdf
        self.phi_ref = fem.Constant(msh, 0.0)
        u, V = self.u, self.V
        phi = self.phi_ref + self.phi
        self.phi_full = phi
        # A steady solve has no storage term: its u_n, u_nn are then not packed, and the dilute
        # model's P1 integrand is linear (one quadrature point, exact) instead of quadratic.
        steady = case.time.mode == "steady"
        u_dot = None if steady else a0 * u + a1 * self.u_n + a2 * self.u_nn
        radius = ufl.SpatialCoordinate(msh)[0] if domain.axisymmetric else None
        self.moving = ale.MovingMesh(self.mesh_e, radius) if moving else None
        if moving:
            u_dot = ale.salt_time_derivative(u, self.u_n, a0, a1, self.moving.carried())

        # Kinetics at the working interface ('+' = electrolyte) and at the counter electrode.
        phi_s = side(V) + (self.psi("-") if self.resolved else 0)
        self.eta_working = model.overpotential(phi_s, side(phi), side(u))
        self.i_working = model.reaction(phi_s, side(phi), side(u))
        self.i_counter = model.reaction(0.0, phi, u)
        dA = dS(tags.WORKING_ACTIVE)
        self.dA = dA
        self.ds = ds

        S = self.scaling
        dx_e = dx(tags.ELECTROLYTE)
        if not model.polynomial:
            # Quadrature is then a choice, steady or not: the transient salt balance's degree,
            # for every electrolyte integral (FFCx takes one degree per cell group of a form)
            cells = ufl.dx(domain=self.mesh_e)
            dx_e = dx(tags.ELECTROLYTE, degree=max(estimate_total_polynomial_degree(
                i.integrand()) for i in model.salt(u, u, phi, v, cells).integrals()))
        F_salt = model.salt(u_dot, u, phi, v, dx_e)
        if moving:
            F_salt += ale.salt_advection(u, self.moving.velocity, v, dx_e)
        F_charge = model.charge(u, phi, w, dx_e) - self.i_working * side(w) * dA
        self.bcs = []
        if case.kinetics.counter == "butler_volmer":
            F_charge -= self.i_counter * w * ds(tags.COUNTER)
        else:  # ideal counter electrode: no overpotential, phi = phi_s = 0 there
            self.bcs.append(fem.dirichletbc(
                0.0, facet_dofs(self.domain, pair.sub(1), self.electrolyte, [tags.COUNTER]),
                pair.sub(1)))

        self.active_area = self._assemble(fem.form(1.0 * dA))
        self.applied = fem.Constant(msh, 0.0)  # A/m2 (galvanostatic) or V/(RT/F) (potentiostatic)
        if case.control.mode == "galvanostatic":
            # Total anodic current of the working interface = -i_app * projected area (plating > 0).
            # projected / active area: a moving mesh (femsolver.plating) updates it as it moves
            self.mean_share = fem.Constant(msh, domain.projected_area / self.active_area)
            F_constraint = S.charge * (self.i_working + self.applied * self.mean_share) \
                * side(q) * dA
        else:
            F_constraint = (side(V) - self.applied) / self.active_area * side(q) * dA
        residual = S.salt * F_salt + S.charge * F_charge + F_constraint

        if self.resolved:
            w_s = tests[2]
            conductance = case.electrode.conductivity * self.thermal_voltage
            residual += S.electrode(conductance) * (
                electrode.ohm_residual(self.psi, w_s, conductance, dx(tags.ELECTRODE))
                + self.i_working * w_s("-") * dA)
            collector = facet_dofs(self.domain, spaces[2], self.electrode, [tags.CURRENT_COLLECTOR])
            if msh.comm.allreduce(len(collector), op=MPI.SUM) == 0:
                raise GeometryError("the geometry has no 'current_collector' boundary, which a "
                                    "resolved electrode (electrode.equipotential = false) needs")
            self.bcs.append(fem.dirichletbc(0.0, collector, spaces[2]))
        if el.reservoir_at_counter:
            self.bcs.append(fem.dirichletbc(
                0.0, facet_dofs(self.domain, pair.sub(0), self.electrolyte, [tags.COUNTER]),
                pair.sub(0)))
        if self.inventory:
            lam, mu = self.unknowns[-1], tests[-1]
            residual += S.salt * (lam * v * dx_e + u * mu * dx_e)
        self.residual_form = residual
        self.residual = ufl.extract_blocks(residual)

    def surface_dofs(self) -> np.ndarray:
        """Dofs of u on the electrode surfaces (working active part and counter electrode)."""
        return facet_dofs(self.domain, self.space, self.electrolyte,
                          [tags.WORKING_ACTIVE, tags.COUNTER])

    def _balancing_potential(self, V: float) -> float:
        """The uniform electrolyte potential (RT/F) at which the working electrode at V and the
        counter electrode at 0 carry opposite currents, the ohmic drop neglected: a potentiostatic
        run's initial guess (V/2 assumed equal areas and overshot the first Newton step)."""
        working, counter = self.active_area, self.domain.projected_area

        def net_cathodic(phi):
            return -(working * self.model.reaction(V, phi, 0.0, library="numpy")
                     + counter * self.model.reaction(0.0, phi, 0.0, library="numpy"))

        return kinetics.invert(net_cathodic, 0.0)

    def _assemble(self, form) -> float:
        return self.domain.mesh.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)

    def set_switch_on_state(self) -> None:
        """Equilibrium fields with the control just applied: its residual sets Newton's scale."""
        for f in self.unknowns:
            f.x.array[:] = 0.0
        self.phi_ref.value = 0.0
        control = self.case.control
        if control.mode == "galvanostatic":
            self.applied.value = control.current_density
        else:
            self.applied.value = control.voltage / self.thermal_voltage
            self.V.x.array[:] = self.applied.value

    def set_control(self, t: float) -> None:
        """The applied current for a step ending at time t (s): off after control.rest_after."""
        control = self.case.control
        if control.mode == "galvanostatic":
            on = control.rest_after is None or t <= control.rest_after * (1 + 1e-12)
            self.applied.value = control.current_density if on else 0.0

    def control_times(self) -> list[float]:
        """Times (s) at which the control changes: time steps must end exactly there."""
        rest = self.case.control.rest_after
        return [] if rest is None else [rest]

    def set_initial_guess(self) -> None:
        """Uniform concentration; potentials from inverting the kinetics for the mean currents.

        A good guess for the one global unknown V saves most Newton iterations (2 instead of
        ~13 in the dolfinx notes' measurements).
        """
        control = self.case.control
        ideal_counter = self.case.kinetics.counter == "ideal"
        if control.mode == "galvanostatic":
            i_app = control.current_density
            mean_working = -i_app * self.domain.projected_area / self.active_area
            phi_ref = 0.0 if ideal_counter else -invert_reaction(self.model, i_app)
            V = invert_reaction(self.model, mean_working) + phi_ref
        else:
            V = control.voltage / self.thermal_voltage
            phi_ref = 0.0 if ideal_counter else self._balancing_potential(V)
        self.phi_ref.value = phi_ref
        self.V.x.array[:] = V
