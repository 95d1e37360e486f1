"""Checkpoints of a transient run, and restarts from them on any number of ranks.

A checkpoint holds what a run needs to go on exactly as if it had not stopped: the mesh and its
tags, the unknowns and the two previous concentration fields (BDF2), the time loop's state
(time, next step, last step, step count; femsolver.time_stepping.StepperState), Newton's round-off
floor, and the time series so far. The run's resolved case is stored beside it, and a restart
refuses a case that differs in anything but time.end and output.* (naming the keys).

Files, in the run's directory (in-progress/ while it runs): two slots, checkpoint-a.bp and
checkpoint-b.bp, written in turn, so that the newest complete one always survives a kill during
the next write; checkpoint-<slot>.csv, the time series up to it; and checkpoint.json, replaced
atomically after each write, naming the newest slot. At the end of the run the older slot is
removed.

The fields are written with io4dolfinx (ADIOS2, N-to-M: read back on another number of ranks
into the new partition). Unknowns on region submeshes are stored as functions of the parent
mesh (copied cell by cell, exact for the same element); one-dof (Real) unknowns as attributes;
unknowns on facet meshes (the particle film current) are not stored: they are algebraic, and the
first Newton solve after the restart finds them from the initial guess.
io4dolfinx needs ADIOS2's Python bindings built with MPI: scripts/install_checkpoint_io.sh,
which scripts/setup.sh runs, builds them against the ADIOS2 inside the dolfinx wheel.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femsolver.errors import CaseError, ResourceError
from femsolver.mesh import Domain
from femsolver.meshtags import complete_ghosts
from femsolver.outputs.tables import write_json
from femsolver.provenance import differences, resolved_case
from femsolver.time_stepping import StepperState

POINTER = "checkpoint.json"
SLOTS = ("a", "b")
# Keys a restart may change: when to stop, and what to write.
RESTARTABLE = ("time.end", "output.")
# Where a run's checkpoint can be, relative to its directory: finished, killed (left in
# in-progress/), or moved aside by a new run into the same directory.
PLACES = ("", "in-progress", "previous", "previous/in-progress")


def io4dolfinx():
    """The io4dolfinx module, or ResourceError saying how to get it."""
    try:
        import io4dolfinx as io4
    except ImportError as err:
        raise ResourceError(f"checkpoints need io4dolfinx with an MPI build of ADIOS2 ({err}); "
                            "run: bash scripts/install_checkpoint_io.sh") from None
    return io4


def available() -> bool:
    try:
        io4dolfinx()
    except ResourceError:
        return False
    return True


# ---- writing ------------------------------------------------------------------------------
class Checkpointer:
    """Writes checkpoints of one run into `directory` (its in-progress/)."""

    def __init__(self, directory: Path, domain: Domain, problem, case, comm):
        self.directory, self.domain, self.problem, self.case = directory, domain, problem, case
        self.comm = comm
        self.every = case.output.checkpoint_every
        self.seconds = case.output.checkpoint_seconds
        self.last_wall = time.monotonic()
        self.slot = None  # newest complete slot
        self.written = None  # its time, s

    def due(self, state: StepperState) -> bool:
        """Whether the step just accepted should be checkpointed (same answer on every rank)."""
        by_steps = self.every > 0 and state.index % self.every == 0
        by_wall = self.comm.bcast(time.monotonic() - self.last_wall >= self.seconds, root=0)
        return by_steps or by_wall

    def write(self, state: StepperState, floor: float, series: Path) -> None:
        """Write the current state into the older slot, then point checkpoint.json at it
        (collective)."""
        io4 = io4dolfinx()
        slot = SLOTS[1] if self.slot == SLOTS[0] else SLOTS[0]
        path = self.directory / f"checkpoint-{slot}.bp"
        if self.comm.rank == 0:
            shutil.rmtree(path, ignore_errors=True)
        self.comm.barrier()
        msh = self.domain.mesh
        io4.write_mesh(path, msh, mode=io4.FileMode.write)
        for name, tags in (("cell_tags", self.domain.cell_tags),
                           ("facet_tags", self.domain.facet_tags)):
            io4.write_meshtags(path, msh, tags, meshtag_name=name)
        reals = {}
        for f in saved_functions(self.problem):
            if _is_real(f):
                reals[f"real_{f.name}"] = np.array([f.x.array[0]])
            elif f.function_space.mesh.topology.dim == msh.topology.dim:
                io4.write_function(path, _on_parent(f, self.problem, msh), time=0.0,
                                   name=f.name)
        io4.write_attributes(path, self.comm, "reals", reals)
        if self.comm.rank == 0:
            shutil.copyfile(series, self.directory / f"checkpoint-{slot}.csv")
            write_json(self.directory / POINTER, {
                "slot": slot, "time_s": state.time, "dt_s": state.dt,
                "dt_previous_s": state.dt_previous, "step": state.index,
                "newton_floor": floor, "ranks": self.comm.size,
                "fields": [f.name for f in saved_functions(self.problem)],
                "case": resolved_case(self.case), "written": time.time()}, comm=MPI.COMM_SELF)
        self.comm.barrier()
        self.slot, self.written, self.last_wall = slot, state.time, time.monotonic()

    def finish(self) -> dict | None:
        """Remove the older slot; the summary's entry for the newest."""
        if self.slot is None:
            return None
        if self.comm.rank == 0:
            older = SLOTS[1] if self.slot == SLOTS[0] else SLOTS[0]
            shutil.rmtree(self.directory / f"checkpoint-{older}.bp", ignore_errors=True)
            (self.directory / f"checkpoint-{older}.csv").unlink(missing_ok=True)
        return {"file": f"checkpoint-{self.slot}.bp", "time_s": self.written}


def saved_functions(problem) -> list:
    """The functions a checkpoint stores: the unknowns and the concentration history."""
    return [*problem.unknowns, problem.u_n, problem.u_nn]


def _is_real(f) -> bool:
    return f.function_space.dofmap.index_map.size_global == 1


def _region_cells(region):
    """(submesh cells, their parent cells), owned and ghost."""
    imap = region.mesh.topology.index_map(region.mesh.topology.dim)
    local = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
    return local, region.parent_cells()


def _region_of(f, problem):
    for region in problem.regions:
        if region.mesh is f.function_space.mesh:
            return region
    return None


def _on_parent(f, problem, msh):
    """`f` as a function of the parent mesh (itself if it lives there)."""
    if f.function_space.mesh is msh:
        return f
    local, parent = _region_cells(_region_of(f, problem))
    copy = fem.Function(fem.functionspace(msh, f.function_space.ufl_element()), name=f.name)
    copy.interpolate(f, cells0=local, cells1=parent)
    return copy


# ---- reading ------------------------------------------------------------------------------
def locate(directory: Path) -> Path | None:
    """The checkpoint.json of a run's directory (newest of the places a run leaves one)."""
    found = [Path(directory) / place / POINTER for place in PLACES]
    found = [p for p in found if p.exists()]
    if not found:
        return None
    return max(found, key=lambda p: json.loads(p.read_text()).get("written", 0))


def read_pointer(directory: Path, comm) -> tuple[Path, dict]:
    """(checkpoint.json, its content) of a run's directory, read on rank 0 (collective);
    ResourceError if there is none."""
    found = None
    if comm.rank == 0:
        path = locate(directory)
        found = (path, json.loads(path.read_text())) if path else None
    found = comm.bcast(found, root=0)
    if found is None:
        raise ResourceError(f"no checkpoint in {directory} (looked for {POINTER} in "
                            + ", ".join(f"{directory}/{p}" if p else str(directory)
                                        for p in PLACES) + ")")
    return found


def check_restart(case, info: dict) -> None:
    """Refuse a restart whose case differs from the checkpointed one in anything but the end
    time and the outputs, or that has nothing left to do."""
    if case.time.mode != "transient":
        raise CaseError("--restart continues a transient run: time.mode must be 'transient'")
    if "fields" not in info:
        raise CaseError("--restart: the checkpoint was written by an earlier femsolver, which "
                        "stored the cell's u and phi apart; continue it with that version")
    changed = [k for k in differences(info["case"], resolved_case(case))
               if not k.startswith(RESTARTABLE)]
    if changed:
        raise CaseError(f"--restart: the case differs from the checkpointed run in "
                        f"{', '.join(changed)}; only time.end and output.* may change")
    if info["time_s"] >= case.time.end * (1 - 1e-12):
        raise CaseError(f"--restart: the checkpoint is at t = {info['time_s']:g} s, not before "
                        f"time.end = {case.time.end:g} s; raise time.end to go on")


def read_domain(pointer: Path, info: dict, geometry, comm) -> Domain:
    """The checkpointed mesh and tags, partitioned over `comm`."""
    io4 = io4dolfinx()
    path = pointer.parent / f"checkpoint-{info['slot']}.bp"
    msh = io4.read_mesh(path, comm, ghost_mode=dmesh.GhostMode.shared_facet)
    tdim = msh.topology.dim
    msh.topology.create_connectivity(tdim - 1, tdim)
    tags = [complete_ghosts(msh, io4.read_meshtags(path, msh, meshtag_name=name))
            for name in ("cell_tags", "facet_tags")]
    msh.name, tags[0].name, tags[1].name = "mesh", "cell_tags", "facet_tags"
    return Domain(mesh=msh, cell_tags=tags[0], facet_tags=tags[1],
                  projected_area=geometry.projected_area,
                  reference_length=geometry.reference_length,
                  axisymmetric=getattr(geometry, "axisymmetric", False))


def restore(pointer: Path, info: dict, problem) -> tuple[StepperState, float, list[dict]]:
    """Put the checkpointed fields into `problem` (built on `read_domain`'s mesh); returns the
    time loop's state, Newton's floor and the time-series rows so far (collective)."""
    io4 = io4dolfinx()
    path = pointer.parent / f"checkpoint-{info['slot']}.bp"
    msh = problem.domain.mesh
    reals = io4.read_attributes(path, msh.comm, "reals")
    for f in saved_functions(problem):
        if _is_real(f):
            f.x.array[:] = reals[f"real_{f.name}"][0]
        elif f.function_space.mesh.topology.dim == msh.topology.dim:
            parent = fem.Function(fem.functionspace(msh, f.function_space.ufl_element()))
            io4.read_function(path, parent, time=0.0, name=f.name)
            if f.function_space.mesh is msh:
                f.x.array[:] = parent.x.array
            else:
                local, parents = _region_cells(_region_of(f, problem))
                f.interpolate(parent, cells0=parents, cells1=local)
            f.x.scatter_forward()
    state = StepperState(time=info["time_s"], dt=info["dt_s"], dt_previous=info["dt_previous_s"],
                         index=info["step"])
    rows = None
    if msh.comm.rank == 0:
        with open(pointer.parent / f"checkpoint-{info['slot']}.csv", newline="") as f:
            rows = [{k: float(v) if v not in ("", None) else None for k, v in r.items()}
                    for r in csv.DictReader(f)]
    return state, info["newton_floor"], msh.comm.bcast(rows, root=0)
