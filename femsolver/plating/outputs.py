"""What a plating run reports: timeseries rows with the surface statistics, the stop tests
(shorted, contact), surface.csv, the ParaView series plating.pvd (VTK: one .pvtu per output
time, so the moving and remeshed mesh is drawn as it was), surface.png and plating.gif.

Lengths in m, times in s, charges in C/m2 of projected area, volumes in m^dim (2D: m2 per m of
depth; axisymmetric: m3). Heights are measured from the initial flat surface (y = 0, z = 0 in 3D).
"""

from __future__ import annotations

from pathlib import Path

import dolfinx.io
import numpy as np
from mpi4py import MPI

from femsolver.outputs import pictures, tables
from femsolver.plating import surface
from femsolver.problems.cell.outputs import CellOutputs

MAX_FRAMES = 60  # pictures in plating.gif (output times are thinned to this many)


class PlatingOutputs:
    """Rows, stop tests, fields and final files of a PlatingStepper's run (collective)."""

    def __init__(self, stepper, case, directory: Path, write_fields: bool):
        self.stepper, self.case, self.directory = stepper, case, directory
        self.dim = stepper.domain.mesh.geometry.dim
        self.axisymmetric = stepper.domain.axisymmetric
        self.volume_dim = 3 if self.axisymmetric else self.dim  # of the volume columns
        self.width = case.geometry.width if self.dim == 2 else None
        h = case.mesh.h_interface or stepper.domain.reference_length / 500
        self.short = case.plating.short_distance or h
        self.contact = case.plating.contact_distance or self.short
        self.cell = CellOutputs(stepper.problem)
        self.vtk = (dolfinx.io.VTKFile(stepper.comm, directory / "plating.pvd", "w")
                    if write_fields else None)
        self.records = []  # (time, interface points) per output time
        self.frames = []  # PNG files of the gif
        self.outcome = {"short_circuit_time_s": None, "contact_time_s": None}
        self.stats = self._statistics()

    def refresh(self) -> None:
        """After a remesh: the cell outputs of the new problem."""
        self.cell = CellOutputs(self.stepper.problem)

    def _statistics(self) -> dict:
        interface = surface.boundary(self.stepper.domain).interface()
        stats = surface.statistics(interface, self.dim, self.width, self.axisymmetric)
        stats["interface"] = interface
        return stats

    def row(self, t: float) -> dict:
        s = self.stepper
        area = s.domain.projected_area
        self.stats = self._statistics()
        return {**self.cell.metrics.step_row(t),
                "plated_charge_C_m2": s.charge / area,
                f"deposited_volume_m{self.volume_dim}": s.deposited_volume,
                f"charge_volume_m{self.volume_dim}": s.plated_volume,
                "mean_thickness_m": s.deposited_volume / area,
                "rms_roughness_m": self.stats["rms_roughness_m"],
                "max_height_m": self.stats["max_height_m"],
                "counter_gap_m": s.motion.top() - self.stats["max_height_m"],
                "max_tip_current_over_mean": s.motion.tip_ratio,
                "remeshes": s.remeshes, "worst_cell_quality": s.motion.worst_quality()}

    def stop(self, previous: dict, row: dict):
        """None, or (outcome updates with the status, message): shorted or contact."""
        gap = row["counter_gap_m"]
        if gap <= self.short:
            before = previous["counter_gap_m"]
            t0, t1 = previous["time_s"], row["time_s"]
            t = t1 if gap == before else t0 + (t1 - t0) * (before - self.short) / (before - gap)
            message = (f"the deposit came within {self.short:.3g} m of the counter electrode "
                       f"at t = {t:.4e} s: shorted (plating.short_distance)")
            return {"status": "shorted", "short_circuit_time_s": min(max(t, t0), t1)}, message
        if self.dim == 2:
            points, active = surface.polyline(self.stats["interface"])
            gap = min(surface.contact_distance(points, 4 * self.contact),
                      2 * surface.wall_gap(points, active))  # to its mirror image
            if gap <= self.contact:
                message = (f"two deposits came within {gap:.3g} m of each other at t = "
                           f"{row['time_s']:.4e} s (a deposit at a side wall meets its mirror "
                           "image, the next deposit of a periodic surface): the surface would "
                           "change topology (they merge), which a moving mesh cannot follow: "
                           "stopping (status contact)")
                return {"status": "contact", "contact_time_s": row["time_s"]}, message
        return None

    def write(self, t: float, draw: bool) -> None:
        """Fields, the surface and a picture of the gif at output time t."""
        self.cell.update()
        fields = self.cell.fields
        if self.vtk is not None:
            self.vtk.write_function([fields.c, fields.phi], t)
        interface = self.stats["interface"]
        if self.dim == 2:
            points, _ = surface.polyline(interface)
        else:
            points = interface.points.reshape(-1, self.dim)
        self.records.append((t, points))
        if draw and self.dim == 2:
            frame = self.directory / f".frame{len(self.frames):05d}.png"
            pictures.plot_map(fields.i, frame, title=f"|i| at t = {t:.3g} s",
                              label="|i| / (A m$^{-2}$)", magnitude=True,
                              segments=np.stack([points[:-1], points[1:]], axis=1))
            self.frames.append(frame)

    def close(self) -> None:
        if self.vtk is not None:
            self.vtk.close()
            self.vtk = None

    def finish(self, directory: Path, draw: bool) -> dict:
        """surface.csv, pictures and the summary entries of the run."""
        self.refresh()  # the probe's points at the final surface
        self.cell.update()
        s = self.stepper
        results = self.cell.finish(directory, draw)
        comm = s.comm
        if comm.rank == 0:
            self._surface_csv(directory / "surface.csv")
            if draw:
                self._surface_picture(directory / "surface.png")
                self._gif(directory / "plating.gif")
        comm.barrier()
        area = s.domain.projected_area
        results.update(
            plated_charge_C_m2=s.charge / area, plated_charge_mAh_cm2=s.charge / area / 3.6e4,
            deposited_volume=s.deposited_volume, charge_volume=s.plated_volume,
            li_volume_relative_error=(s.deposited_volume - s.plated_volume) / s.plated_volume
            if s.plated_volume else 0.0,
            mean_thickness_m=s.deposited_volume / area,
            max_height_m=self.stats["max_height_m"], rms_roughness_m=self.stats["rms_roughness_m"],
            remeshes=s.remeshes, salt_transfer_change_max=s.salt_correction,
            volume_scale_change_max=s.scale_change,
            steps=s.index, step_wall_time_s=s.seconds["step"],
            remesh_wall_time_s=s.seconds["remesh"],
            counter_recession_m=s.recession)
        return results

    def _surface_csv(self, path: Path) -> None:
        columns = {"time_s": [], **{f"{a}_m": [] for a in "xyz"[:self.dim]}}
        for t, points in self.records:
            columns["time_s"].append(np.full(len(points), t))
            for k, axis in enumerate("xyz"[:self.dim]):
                columns[f"{axis}_m"].append(points[:, k])
        tables.write_csv(path, {k: np.concatenate(v) if v else np.zeros(0)
                                for k, v in columns.items()}, comm=MPI.COMM_SELF)

    def _surface_picture(self, path: Path) -> None:
        import matplotlib.pyplot as plt

        times = [t for t, _ in self.records]
        points = np.concatenate([p for _, p in self.records])
        span = np.ptp(points, axis=0)
        fig, ax = plt.subplots(figsize=(10, 2.0 + 8 * span[-1] / max(span[0], 1e-30)))
        colours = plt.cm.viridis(np.linspace(0, 1, len(self.records)))
        for (t, points), colour in zip(self.records, colours):
            if self.dim == 2:
                ax.plot(points[:, 0] * 1e9, points[:, 1] * 1e9, color=colour, lw=1)
            else:
                ax.plot(points[:, 0] * 1e9, points[:, 2] * 1e9, ".", color=colour, ms=1)
        mappable = plt.cm.ScalarMappable(cmap="viridis", norm=plt.Normalize(min(times),
                                                                              max(times)))
        fig.colorbar(mappable, ax=ax, label="time / s", fraction=0.03)
        ax.set_aspect("equal")
        ax.set_xlabel("r / nm" if self.axisymmetric else "x / nm")
        ax.set_ylabel("height / nm")
        ax.set_title("Li surface over time")
        fig.tight_layout()
        fig.savefig(path, dpi=130)
        plt.close(fig)

    def _gif(self, path: Path) -> None:
        from PIL import Image

        if not self.frames:
            return
        chosen = self.frames[:: max(1, len(self.frames) // MAX_FRAMES)]
        images = [Image.open(frame).convert("P", palette=Image.ADAPTIVE) for frame in chosen]
        images[0].save(path, save_all=True, append_images=images[1:], duration=200, loop=0)
        for frame in self.frames:
            frame.unlink(missing_ok=True)
