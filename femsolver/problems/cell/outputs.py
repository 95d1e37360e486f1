"""Quantities in SI units derived from the solution of a CellProblem: fields for maps, interface
profile, metrics, and `CellOutputs`, which is what `femsolver.simulation.run` sees of them.

Every problem kind has an outputs class with the same small interface (`CellOutputs` here,
`femsolver.problems.particle.outputs.ParticleOutputs` for particles), so one time loop serves them all:
    functions          exported fields (one XDMF file each)
    vtx_files()        {"<name>.bp": functions of one mesh}
    update()           refresh `functions` from the unknowns
    outcome            extra summary keys that `stop` may set, with their initial values
    row(t)             one timeseries.csv row (dict; its keys are the columns)
    progress(step, r)  the progress line of an accepted step
    stop(prev, row)    None, or (outcome updates including "status", message) to end the run
    finish(directory, pictures)  write the final tables and pictures; return summary entries
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ufl
from dolfinx import fem
from dolfinx.mesh import compute_midpoints
from mpi4py import MPI

from femsolver import tags
from femsolver.outputs import pictures, tables
from femsolver.outputs.fields import vtx_groups
from femsolver.outputs.tables import gather


def _dg0_vector(mesh, name):
    return fem.Function(fem.functionspace(mesh, ("DG", 0, (mesh.geometry.dim,))), name=name)


class DerivedFields:
    """c (mol/m3), phi (V), phi_s (V), i (A/m2) and E (V/m) as dolfinx Functions.

    i and E are cell-wise constant (DG0): exact for the gradient of a P1 potential, and a
    format both XDMF and VTX take. `update()` refreshes them from the unknowns.
    """

    def __init__(self, problem):
        p = problem
        VT = p.thermal_voltage
        Vp = p.space
        self.c = fem.Function(Vp, name="c")
        self.phi = fem.Function(Vp, name="phi")
        electrode_mesh = p.electrode.mesh if p.resolved else None
        self.phi_s = (fem.Function(fem.functionspace(electrode_mesh, ("Lagrange", 1)), name="phi_s")
                      if electrode_mesh is not None else None)
        self.i = _dg0_vector(p.mesh_e, "i")
        self.E = _dg0_vector(p.mesh_e, "E")
        i_expr = p.model.current_density(p.u, p.phi_full)
        points = self.i.function_space.element.interpolation_points
        self._i_expr = fem.Expression(i_expr, points)
        self._E_expr = fem.Expression(-VT * ufl.grad(p.phi), points)
        self._problem = problem

    @property
    def functions(self) -> list[fem.Function]:
        return [f for f in (self.c, self.phi, self.phi_s, self.i, self.E) if f is not None]

    def update(self) -> None:
        p = self._problem
        VT, c0 = p.thermal_voltage, p.case.electrolyte.c0
        self.c.x.array[:] = c0 * (1 + p.u_values)
        self.phi.x.array[:] = VT * (p.phi_ref.value + p.phi_values)
        if self.phi_s is not None:
            self.phi_s.x.array[:] = VT * (p.V.x.array[0] + p.psi.x.array)
        self.i.interpolate(self._i_expr)
        self.E.interpolate(self._E_expr)


class InterfaceProbe:
    """Values at the midpoints of the working-interface facets (owned ones, on every rank)."""

    def __init__(self, problem):
        p = problem
        interface_data = p.interface.subdomain_data
        msh = p.domain.mesh
        tdim = msh.topology.dim
        c2f = msh.topology.connectivity(tdim, tdim - 1)
        rows, self.active = [], []
        width = 2 * p.interface_sides  # (cell, local facet) per side, electrolyte first
        for tag, pairs in interface_data:
            pairs = pairs.reshape(-1, width)
            rows.append(pairs)
            self.active.append(np.full(len(pairs), tag == tags.WORKING_ACTIVE))
        pairs = np.vstack(rows) if rows else np.zeros((0, width), dtype=np.int32)
        self.active = np.concatenate(self.active) if self.active else np.zeros(0, dtype=bool)
        facets = np.array([c2f.links(c)[lf] for c, lf in pairs[:, :2]], dtype=np.int32)
        self.points = compute_midpoints(msh, tdim - 1, facets) if len(facets) else np.zeros((0, 3))
        self.cells_e = p.electrolyte.cell_map.sub_topology_to_topology(pairs[:, 0], inverse=True)
        self.cells_s = (p.electrode.cell_map.sub_topology_to_topology(pairs[:, 2], inverse=True)
                        if p.resolved else None)
        self._problem = problem

    def sample(self) -> dict[str, np.ndarray]:
        """Local arrays: x, y (, z) in m, plating current density A/m2, eta V, c mol/m3."""
        p = self._problem
        el, VT = p.case.electrolyte, p.thermal_voltage
        u, phi = (p.fields.eval(self.points, self.cells_e).T if len(self.points)
                  else np.zeros((2, 0)))
        phi = phi + p.phi_ref.value
        phi_s = p.V.x.array[0] + (p.psi.eval(self.points, self.cells_s).ravel()
                                  if p.resolved and len(self.points) else 0.0)
        i_n = p.model.reaction(phi_s, phi, u, library="numpy")
        eta = p.model.overpotential(phi_s, phi, u, library="numpy")
        out = {axis: self.points[:, k] for k, axis in enumerate("xyz"[: p.domain.mesh.geometry.dim])}
        out.update(active=self.active.astype(int),
                   plating_current_density=np.where(self.active, -i_n, 0.0),
                   overpotential=eta * VT, concentration=el.c0 * (1 + u))
        return out


class Metrics:
    """Scalar results for timeseries.csv and summary.json (SI units)."""

    def __init__(self, problem, fields: DerivedFields, surface_dofs: np.ndarray):
        p = problem
        self._p, self._fields, self._surface_dofs = p, fields, surface_dofs
        forms = {"working_current": p.i_working * p.dA, "eta": p.eta_working * p.dA}
        self._forms = {k: fem.form(f, entity_maps=p.entity_maps) for k, f in forms.items()}
        self.comm = p.domain.mesh.comm

    def _integral(self, name):
        return self.comm.allreduce(fem.assemble_scalar(self._forms[name]), op=MPI.SUM)

    def _min(self, values):
        return self.comm.allreduce(float(values.min()) if len(values) else np.inf, op=MPI.MIN)

    def _max(self, values):
        return self.comm.allreduce(float(values.max()) if len(values) else -np.inf, op=MPI.MAX)

    def cell_voltage(self) -> float:
        """Working minus counter electrode potential, V (counter grounded)."""
        return float(self._p.V.x.array[0] * self._p.thermal_voltage)

    def current_density(self) -> float:
        """Working-electrode current over the projected area, A/m2 (> 0 plates Li)."""
        return -self._integral("working_current") / self._p.domain.projected_area

    def min_surface_concentration(self) -> float:
        """Smallest c at the nodes of the working interface and the counter electrode, mol/m3."""
        c0 = self._p.case.electrolyte.c0
        return c0 * (1 + self._min(self._p.u_values[self._surface_dofs]))

    def step_row(self, t: float) -> dict:
        return {"time_s": t, "cell_voltage_V": self.cell_voltage(),
                "current_density_A_m2": self.current_density(),
                "min_surface_concentration_mol_m3": self.min_surface_concentration()}

    def summary(self, profile: dict[str, np.ndarray]) -> dict:
        """Interface and field statistics; `profile` is the rank-local InterfaceProbe sample."""
        p, f = self._p, self._fields
        n = p.active_area
        active = profile["active"].astype(bool)
        plating = profile["plating_current_density"][active]
        mean = -self._integral("working_current") / n
        E_local = f.E.x.array.reshape(-1, p.domain.mesh.geometry.dim)
        return {
            "cell_voltage_V": self.cell_voltage(),
            "applied_current_density_A_m2": p.case.control.current_density
            if p.case.control.mode == "galvanostatic" else self.current_density(),
            "active_area_per_projected_area": p.active_area / p.domain.projected_area,
            "interface_current_density_mean_A_m2": mean,
            "interface_current_density_max_A_m2": self._max(plating),
            "interface_current_density_min_A_m2": self._min(plating),
            "interface_current_density_max_over_mean": self._max(plating) / mean if mean else None,
            "overpotential_mean_V": self._integral("eta") / n * p.thermal_voltage,
            "min_surface_concentration_mol_m3": self.min_surface_concentration(),
            "electrolyte_concentration_min_mol_m3": self._min(f.c.x.array),
            "electrolyte_concentration_max_mol_m3": self._max(f.c.x.array),
            "electric_field_max_V_m": self._max(np.linalg.norm(E_local, axis=1)),
        }


class CellOutputs:
    """Fields, time series, stop test and final outputs of a CellProblem run."""

    def __init__(self, problem):
        self._p = problem
        self.fields = DerivedFields(problem)
        self.probe = InterfaceProbe(problem)
        self.metrics = Metrics(problem, self.fields, problem.surface_dofs())
        self.outcome = {"depletion_time_s": None}
        self.threshold = problem.case.time.depletion_threshold * problem.case.electrolyte.c0

    @property
    def functions(self):
        return self.fields.functions

    def vtx_files(self) -> dict[str, list]:
        return vtx_groups(self.functions, ["electrolyte.bp", "electrode.bp"])

    def resume(self, rows: list[dict]) -> None:
        """A restart's time series so far (the stop test needs only the last row, which the
        loop keeps)."""

    def update(self) -> None:
        self.fields.update()

    def row(self, t: float) -> dict:
        return self.metrics.step_row(t)

    def progress(self, step, row) -> str:
        return (f"  t = {step.time:.4e} s: V = {row['cell_voltage_V']:.6f} V, "
                f"{step.iterations} Newton iterations, "
                f"min surface c = {row['min_surface_concentration_mol_m3']:.7g} mol/m3")

    def stop(self, previous: dict, row: dict):
        """Stop when the surface concentration reaches time.depletion_threshold x c0."""
        key = "min_surface_concentration_mol_m3"
        c_min = row[key]
        if c_min > self.threshold:
            return None
        # Linear interpolation of the crossing between the last two steps.
        c_prev, t_prev = previous[key], previous["time_s"]
        t_cross = t_prev + (row["time_s"] - t_prev) * (c_prev - self.threshold) / (c_prev - c_min)
        return ({"status": "depleted", "depletion_time_s": t_cross},
                f"surface concentration reached {self.threshold:.3g} mol/m3 "
                f"(time.depletion_threshold x c0) at t = {t_cross:.4e} s: stopping")

    def finish(self, directory: Path, draw: bool) -> dict:
        profile = self.probe.sample()
        summary = {"active_fraction": getattr(self._p.case.geometry, "active_fraction", None),
                   **self.metrics.summary(profile)}
        comm = self.metrics.comm
        everywhere = gather(comm, profile)
        if comm.rank == 0:
            tables.write_csv(directory / "interface_current.csv", everywhere, comm=MPI.COMM_SELF)
        if draw:
            self._pictures(directory, everywhere, comm)
        return summary

    def _pictures(self, directory: Path, profile, comm) -> None:
        fields = self.fields
        pictures.plot_map(fields.i, directory / "current_density.png",
                          title="Current density |i|", label="|i| / (A m$^{-2}$)", magnitude=True)
        pictures.plot_map(fields.E, directory / "electric_field.png",
                          title="Electric field |E|", label="|E| / (V m$^{-1}$)", magnitude=True)
        pictures.plot_map(fields.c, directory / "concentration.png",
                          title="Salt concentration c", label="c / (mol m$^{-3}$)")
        title = "Current density along the working interface (> 0: Li plating)"
        label = "normal current density / (A m$^{-2}$)"
        if comm.rank != 0:
            return
        if self._p.domain.mesh.geometry.dim == 2:
            pictures.plot_profile(profile["x"] * 1e9,
                                  {"plating current density": profile["plating_current_density"]},
                                  directory / "interface_current.png", xlabel="x / nm",
                                  ylabel=label, title=title)
        else:
            pictures.plot_surface(profile["x"] * 1e9, profile["y"] * 1e9,
                                  profile["plating_current_density"],
                                  directory / "interface_current.png", title=title, label=label)
