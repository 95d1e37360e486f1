"""What a particle run writes: fields, the core-surface profile, the voltage curve, the summary.

`ParticleOutputs(problem)` has the interface of `femsolver.problems.cell.outputs.CellOutputs` (described
there), so `femsolver.simulation.run` drives it with the same time loop. SI units throughout;
capacities also in mAh/g (per gram of active material) and A h/m2 (per projected area). Sign:
the "intercalation current density" is > 0 where Li enters the core (discharge of a cathode).
docs/particles.md ("Running and outputs") lists the files and the summary entries.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import ufl
from dolfinx import fem, la, mesh as dmesh
from mpi4py import MPI

from femsolver import tags
from femsolver.measures import measure
from femsolver.outputs import pictures, tables
from femsolver.outputs.pictures import plt
from femsolver.outputs.sections import plot_section
from femsolver.outputs.fields import vtx_groups
from femsolver.outputs.tables import gather
from femsolver.problems.regions import Interface

SURFACE = (tags.PARTICLE_ACTIVE, tags.PARTICLE_BLOCKING)
SECONDS_PER_HOUR = 3600.0
# A discharge also stops when the core surface is this close to saturation (x = 1; charge: x = 0).
# There i0 ~ (1 - x)^alpha_a vanishes and the voltage collapses: reaching 2.6 V would take
# 1 - x ~ 1e-15 at the surface, beyond the resolution of x, and less capacity than this margin.
SATURATION_MARGIN = 1e-3


def _dg0(mesh, name, vector=False):
    shape = (mesh.geometry.dim,) if vector else ()
    return fem.Function(fem.functionspace(mesh, ("DG", 0, shape)), name=name)


class ParticleFields:
    """c_s (mol/m3) and grad_c_s (mol/m4, DG0) in the core; phi_e (V) and i (A/m2, DG0) in the
    ion conductor (shell, matrix, coating); phi_s (V) in a resolved core; c_e (mol/m3) in a
    liquid matrix.

    i is the cell average of the current density: -sigma grad phi in the solid electrolytes,
    the electrolyte model's current (with its diffusion term) in a liquid matrix. Averaging (an
    integral per cell, 2 pi r-weighted in axisymmetry) keeps the discrete charge balance: the
    cell averages carry the same current as the interface and the counter electrode.
    """

    def __init__(self, problem):
        p = problem
        self._p = p
        self.c_s = fem.Function(p.u.function_space, name="c_s")
        self.phi_e = fem.Function(p.phi.function_space, name="phi_e")
        self.phi_s = (fem.Function(p.psi.function_space, name="phi_s") if p.resolved else None)
        self.c_e = (fem.Function(p.u_liquid.function_space, name="c_e") if p.liquid else None)
        self.grad_c_s = _dg0(p.core.mesh, "grad_c_s", vector=True)
        self.i = _dg0(p.ion.mesh, "i", vector=True)
        c_max = p.material.max_concentration
        self._grad = fem.Expression(c_max * ufl.grad(p.u),
                                    self.grad_c_s.function_space.element.interpolation_points)
        v = ufl.TestFunction(self.i.function_space)
        sigma, VT, dx = p.conductivities, p.thermal_voltage, p.dx
        densities = {t: -sigma[t] * VT * ufl.grad(p.phi) for t in p.solid_tags}
        if p.liquid:
            densities[tags.MATRIX] = p.model.current_density(p.u_liquid, p.phi_liquid)
        ones = ufl.as_vector([1.0] * p.domain.mesh.geometry.dim)
        current = sum(ufl.inner(i, v) * dx(t) for t, i in densities.items())
        volume = sum(ufl.inner(ones, v) * dx(t) for t in densities)
        self._current = fem.form(current, entity_maps=p.entity_maps)
        owned = self.i.function_space.dofmap.index_map.size_local
        self._owned = owned * self.i.function_space.dofmap.index_map_bs
        self._volume = self._cell_integrals(fem.form(volume, entity_maps=p.entity_maps))

    def _cell_integrals(self, form) -> np.ndarray:
        """Integral per owned ion-conductor cell (and component) of a form linear in v."""
        vector = fem.assemble_vector(form)
        vector.scatter_reverse(la.InsertMode.add)
        return vector.array[:self._owned].copy()

    @property
    def functions(self) -> list[fem.Function]:
        return [f for f in (self.c_s, self.grad_c_s, self.phi_e, self.i, self.phi_s, self.c_e)
                if f is not None]

    def update(self) -> None:
        p = self._p
        VT, c_max = p.thermal_voltage, p.material.max_concentration
        self.c_s.x.array[:] = c_max * (p.x0 + p.u.x.array)
        self.phi_e.x.array[:] = VT * p.phi.x.array
        if self.phi_s is not None:
            self.phi_s.x.array[:] = VT * (p.V_ref.value + p.V.x.array[0] + p.psi.x.array)
        if self.c_e is not None:
            self.c_e.x.array[:] = p.case.electrolyte.c0 * (1 + p.u_liquid.x.array)
        self.grad_c_s.interpolate(self._grad)
        self.i.x.array[:self._owned] = self._cell_integrals(self._current) / self._volume
        self.i.x.scatter_forward()

    def max_gradient(self) -> float:
        """Largest |grad c_s| over the core, mol/m4 (exact cell values of the P1 field)."""
        self.grad_c_s.interpolate(self._grad)
        g = self.grad_c_s.x.array.reshape(-1, self._p.domain.mesh.geometry.dim)
        local = float(np.linalg.norm(g, axis=1).max()) if len(g) else 0.0
        return self._p.domain.mesh.comm.allreduce(local, op=MPI.MAX)


class SurfaceProfile:
    """Facet averages along the core surface that faces the ion conductor (active and blocking
    facets): intercalation current density (A/m2), overpotential (V), stoichiometry x.

    Each value is the integral of the quantity over one facet divided by the facet's area (both
    with the axisymmetric 2 pi r weight), so the area-weighted sums of the profile are the
    surface integrals of the run, whatever the mesh.
    """

    def __init__(self, problem):
        p = problem
        self._p = p
        msh = p.domain.mesh
        tdim = msh.topology.dim
        facets = np.sort(np.concatenate([p.domain.facet_tags.find(t) for t in SURFACE]))
        facet_mesh, facet_map, _, _ = dmesh.create_submesh(msh, tdim - 1, facets)
        self.space = W = fem.functionspace(facet_mesh, ("DG", 0))
        v = ufl.TestFunction(W)("+")
        interface = Interface(p.domain, p.ion.parent_cells(), facet_tags=SURFACE)
        dS = measure("dS", p.domain, subdomain_data=interface.subdomain_data)
        active = dS(tags.PARTICLE_ACTIVE)
        whole = [dS(t) for t in SURFACE]
        integrands = {
            "area": sum(v * m for m in whole),
            "active": v * active,
            "intercalation_current_density": p.intercalation * v * active,
            "overpotential": p.eta * p.thermal_voltage * v * active,
            "stoichiometry": sum(p.stoichiometry("-") * v * m for m in whole),
        }
        maps = list(p.entity_maps) + [facet_map]
        self._forms = {k: fem.form(f, entity_maps=maps) for k, f in integrands.items()}
        self._owned = W.dofmap.index_map.size_local
        self.points = W.tabulate_dof_coordinates()[:self._owned]

    def _facet_integrals(self, name) -> np.ndarray:
        vector = fem.assemble_vector(self._forms[name])
        vector.scatter_reverse(la.InsertMode.add)
        return vector.array[:self._owned].copy()

    def sample(self) -> dict[str, np.ndarray]:
        """Rank-local arrays over the owned facets: coordinates x, y (, z) in m, area (m2; per
        metre of depth in 2D), active (1/0), and the facet averages."""
        area = self._facet_integrals("area")
        safe = np.where(area > 0, area, 1.0)
        active_area = self._facet_integrals("active")
        out = {axis: self.points[:, k]
               for k, axis in enumerate("xyz"[: self._p.domain.mesh.geometry.dim])}
        out["area"] = area
        out["active"] = (active_area > 0.5 * area).astype(int)
        for name in ("intercalation_current_density", "overpotential", "stoichiometry"):
            # The active quantities are zero on blocking facets, averaged over the whole facet.
            out[name] = self._facet_integrals(name) / safe
        return out

    def statistics(self, sample: dict[str, np.ndarray], sign: float) -> dict[str, float]:
        """Area-weighted mean, maximum and coefficient of variation of `sign` x the intercalation
        current density over the core surface facing the ion conductor (blocking parts count as
        0); sign -1 in charge, so that the statistics are those of the current that flows."""
        comm = self._p.domain.mesh.comm
        a, i = sample["area"], sign * sample["intercalation_current_density"]
        total = comm.allreduce(float(a.sum()), op=MPI.SUM)
        mean = comm.allreduce(float((a * i).sum()), op=MPI.SUM) / total
        variance = comm.allreduce(float((a * (i - mean) ** 2).sum()), op=MPI.SUM) / total
        peak = comm.allreduce(float(i.max()) if len(i) else -np.inf, op=MPI.MAX)
        active = comm.allreduce(float((a * sample["active"]).sum()), op=MPI.SUM)
        return {"core_surface_area_m2": total, "active_area_fraction": active / total,
                "interface_current_density_mean_A_m2": mean,
                "interface_current_density_max_A_m2": peak,
                "interface_current_density_max_over_mean": peak / mean if mean else None,
                "interface_current_density_cv": np.sqrt(variance) / abs(mean) if mean else None}


def polar_angles(points: np.ndarray, axisymmetric: bool) -> np.ndarray:
    """Polar angle (degrees) of core-surface points about the core centre: 0 at the top (facing
    the counter electrode), 180 at the bottom (the collector). In a 2D cross-section the angle is
    signed (x > centre positive). The centre is the least-squares fit of a circle (sphere)."""
    dim = points.shape[1]
    fit = np.linalg.lstsq(np.hstack([2 * points, np.ones((len(points), 1))]),
                          (points ** 2).sum(axis=1), rcond=None)[0]
    centre = fit[:dim]
    if axisymmetric:
        centre[0] = 0.0  # on the axis r = 0
    d = points - centre
    lateral = d[:, 0] if dim == 2 else np.linalg.norm(d[:, :2], axis=1)
    return np.degrees(np.arctan2(lateral, d[:, -1]))


class ParticleOutputs:
    """Fields, time series, cut-off test and final outputs of a ParticleProblem run."""

    def __init__(self, problem):
        p = problem
        self._p = p
        self.comm = p.domain.mesh.comm
        self.fields = ParticleFields(p)
        self.profile = SurfaceProfile(p)
        self.outcome = {"cutoff_time_s": None, "cutoff_reason": None}
        control = p.case.control
        self.discharge = control.direction == "discharge"
        self.cutoff = control.voltage_min if self.discharge else control.voltage_max
        self.current = abs(p.applied_current)  # A (per metre of depth in 2D)
        self.nominal = p.material.specific_capacity * p.active_mass  # A h at 100 % utilisation
        self.rows: list[dict] = []  # every accepted row, for the voltage curve
        self.at_cutoff: dict | None = None

    @property
    def functions(self):
        return self.fields.functions

    def vtx_files(self) -> dict[str, list]:
        return vtx_groups(self.functions, ["core.bp", "ion_conductor.bp", "liquid.bp"])

    def update(self) -> None:
        self.fields.update()

    def resume(self, rows: list[dict]) -> None:
        """A restart's time series so far: the voltage curve and the run's maxima use them."""
        self.rows = [dict(r) for r in rows]

    def row(self, t: float) -> dict:
        p = self._p
        amp_hours = self.current * t / SECONDS_PER_HOUR
        x_min, x_max = p.surface_stoichiometry()
        row = {"time_s": t, "cell_voltage_V": p.cell_voltage(),
               "current_A": p.applied_current,
               "capacity_mAh_g": amp_hours / p.active_mass,  # A h/kg = mAh/g
               "capacity_Ah_m2": amp_hours / p.domain.projected_area,
               "mean_stoichiometry": p.lithium_inventory()
               / (p.material.max_concentration * p.core_volume),
               "surface_stoichiometry_min": x_min, "surface_stoichiometry_max": x_max,
               "concentration_gradient_max_mol_m4": self.fields.max_gradient()}
        if not self.rows or t > self.rows[-1]["time_s"]:
            self.rows.append(row)
        return row

    def progress(self, step, row) -> str:
        return (f"  t = {step.time:.4e} s: V = {row['cell_voltage_V']:.6f} V, "
                f"{step.iterations} Newton iterations, "
                f"capacity = {row['capacity_mAh_g']:.4g} mAh/g, surface x = "
                f"{row['surface_stoichiometry_min']:.4f}-{row['surface_stoichiometry_max']:.4f}")

    def stop(self, previous: dict, row: dict):
        """Stop at the cut-off voltage (control.voltage_min in discharge, voltage_max in charge)
        or when the core surface saturates (SATURATION_MARGIN), whichever comes first."""
        limits = ((("cell_voltage_V", self.cutoff, "voltage"),
                   ("surface_stoichiometry_max", 1 - SATURATION_MARGIN, "surface_saturation"))
                  if self.discharge else
                  (("cell_voltage_V", self.cutoff, "voltage"),
                   ("surface_stoichiometry_min", SATURATION_MARGIN, "surface_saturation")))
        for key, limit, reason in limits:
            falling = (key == "cell_voltage_V") == self.discharge
            if (row[key] <= limit) if falling else (row[key] >= limit):
                break
        else:
            return None
        # Linear interpolation of the crossing between the last two steps.
        change = row[key] - previous[key]
        share = (limit - previous[key]) / change if change else 1.0
        self.at_cutoff = {k: previous[k] + share * (row[k] - previous[k])
                          for k in ("time_s", "capacity_mAh_g", "capacity_Ah_m2")}
        t = self.at_cutoff["time_s"]
        what = (f"cell voltage reached the cut-off {self.cutoff:g} V" if reason == "voltage" else
                f"core surface saturated (x = {limit:g}; the voltage collapses)")
        return ({"status": "cutoff", "cutoff_time_s": t, "cutoff_reason": reason},
                f"{what} at t = {t:.4e} s ({self.at_cutoff['capacity_mAh_g']:.4g} mAh/g): "
                f"stopping")

    def finish(self, directory: Path, draw: bool) -> dict:
        p = self._p
        last = self.rows[-1] if self.rows else self.row(0.0)
        end = self.at_cutoff or last
        sample = self.profile.sample()
        geometry = p.case.geometry
        summary = {
            "cell_voltage_V": p.cell_voltage(),
            "variant": getattr(geometry, "variant", None),
            "core_radius_m": p.domain.reference_length,
            "shell_thickness_m": getattr(geometry, "resolved_shell_thickness", None),
            "c_rate_per_h": p.case.control.c_rate,
            "direction": p.case.control.direction,
            "applied_current_A": p.applied_current,
            "active_mass_kg": p.active_mass,
            "capacity_mAh_g": end["capacity_mAh_g"],
            "capacity_Ah_m2": end["capacity_Ah_m2"],
            "utilisation": self.current * end["time_s"] / SECONDS_PER_HOUR / self.nominal,
            **self.profile.statistics(sample, 1.0 if self.discharge else -1.0),
            "mean_stoichiometry": last["mean_stoichiometry"],
            "surface_stoichiometry_min": last["surface_stoichiometry_min"],
            "surface_stoichiometry_max": last["surface_stoichiometry_max"],
            "concentration_gradient_max_mol_m4": last["concentration_gradient_max_mol_m4"],
            "concentration_gradient_max_over_run_mol_m4":
                max(r["concentration_gradient_max_mol_m4"] for r in self.rows),
            "counter_current_A": p.counter_current(),
            "interface_current_A": p.interface_current(),
        }
        everywhere = gather(self.comm, sample)
        if self.comm.rank == 0:
            everywhere["polar_angle_deg"] = polar_angles(
                np.column_stack([everywhere[a] for a in "xyz"[: p.domain.mesh.geometry.dim]]),
                p.axisymmetric)
            order = np.argsort(everywhere["polar_angle_deg"], kind="stable")
            everywhere = {k: v[order] for k, v in everywhere.items()}
            tables.write_csv(directory / "interface_current.csv", everywhere, comm=MPI.COMM_SELF)
        if draw:
            self._pictures(directory, everywhere, summary)
        return summary

    def _pictures(self, directory: Path, profile, summary) -> None:
        p, f = self._p, self.fields
        mirror = p.axisymmetric
        axes = ("r", "z") if p.axisymmetric else ("x", "y")
        facets = np.concatenate([p.domain.facet_tags.find(t) for t in SURFACE])
        outline = (pictures.gather_facet_segments(p.domain.mesh, facets)
                   if p.domain.mesh.geometry.dim == 2 else None)
        common = {"mirror": mirror, "segments": outline, "axes": axes}
        plot_section(f.c_s, directory / "concentration.png", "Li concentration in the core",
                     "c$_s$ / (mol m$^{-3}$)", **common)
        plot_section(f.phi_e, directory / "potential.png",
                     "Potential of the ion conductor (Li counter electrode: 0)",
                     r"$\phi_e$ / mV", scale=1e3, **common)
        plot_section(f.i, directory / "current_density.png",
                     "Ionic current density |i| in shell and matrix", "|i| / (A m$^{-2}$)",
                     **common)
        if f.c_e is not None:
            plot_section(f.c_e, directory / "electrolyte_concentration.png",
                         "Salt concentration of the liquid electrolyte",
                         "c$_e$ / (mol m$^{-3}$)", **common)
        if self.comm.rank == 0:
            self._plot_profile(directory / "interface_current.png", profile, summary)
            self._plot_voltage(directory / "voltage.png")

    def _plot_profile(self, path: Path, profile, summary) -> None:
        fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(7, 6), dpi=150)
        angle = profile["polar_angle_deg"]
        top.plot(angle, profile["intercalation_current_density"], ".", ms=2)
        top.axhline(summary["interface_current_density_mean_A_m2"], color="k", lw=0.8, ls="--",
                    label="mean over the core surface")
        ratio, cv = (summary[f"interface_current_density_{k}"] for k in ("max_over_mean", "cv"))
        top.set(ylabel="intercalation current\ndensity / (A m$^{-2}$)",
                title=f"Core surface: max/mean {ratio or float('nan'):.3g}, "
                      f"CV {cv or float('nan'):.3g}")
        top.legend(fontsize=8)
        bottom.plot(angle, profile["stoichiometry"], ".", ms=2)
        bottom.set(xlabel="polar angle / degree (0: top, facing the counter electrode)",
                   ylabel="surface stoichiometry x")
        for ax in (top, bottom):
            ax.grid(True, alpha=0.3)
        fig.tight_layout()
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)

    def _plot_voltage(self, path: Path) -> None:
        capacity = [r["capacity_mAh_g"] for r in self.rows]
        voltage = [r["cell_voltage_V"] for r in self.rows]
        fig, ax = plt.subplots(figsize=(7, 4), dpi=150)
        ax.plot(capacity, voltage, "-")
        ax.axhline(self.cutoff, color="k", lw=0.8, ls="--", label="cut-off")
        c = self._p.case.control
        ax.set(xlabel="capacity / (mAh g$^{-1}$)", ylabel="cell voltage / V vs Li",
               title=f"{self._p.case.name}: {c.direction} at {c.c_rate:g}C")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)
