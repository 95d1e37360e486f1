"""Geometry parameters -> distributed dolfinx mesh with region and boundary tags, in metres.

Gmsh runs on rank 0 only; `dolfinx.io.gmsh.model_to_mesh` distributes the cells with a
shared-facet ghost layer (interior-facet integrals on the working interface need the cells on
both sides of every owned facet).

Mesh cache: with the environment variable FEMSOLVER_MESH_CACHE set to a directory, the gmsh
mesh (before `mesh.refine`) is stored there as XDMF/HDF5, keyed by the geometry parameters, the
mesh sizes and the source of the builder, and later builds of the same geometry read it in
parallel instead of running gmsh (`femsolver mesh` then fills the cache for later runs).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path

import dolfinx.io.gmsh
import dolfinx.mesh
import gmsh
from mpi4py import MPI

from femsolver.errors import GeometryError
from femsolver.guard import reinstall_handlers
from femsolver.meshtags import complete_ghosts, refine
from femsolver.outputs.fields import write_meshtags_xdmf
from geometries import family_of
from geometries.common import NM


@dataclass(frozen=True)
class Domain:
    """The parent mesh (metres) and its tags (`femsolver.tags` values)."""

    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    projected_area: float  # projected working-electrode area: m in 2D (width), m2 in 3D
    reference_length: float  # length unit of the geometry family, m
    axisymmetric: bool = False  # 2D (r, z) section of a body of revolution: x[0] = r, x[1] = z


def build_domain(geometry, mesh_params, comm: MPI.Comm = MPI.COMM_WORLD,
                 verbose: bool = False) -> Domain:
    """Build, mesh and distribute a geometry; refine it `mesh_params.refine` times.

    `geometry` is a parameter dataclass of a registered family, `mesh_params` a
    `femsolver.case.MeshParams`. Raises GeometryError on every rank if the geometry cannot be
    built or meshed.
    """
    load = family_of(geometry).load
    cache = None if load else cache_path(geometry, mesh_params)
    if load is not None:  # a mesh file or an image: its loader also does mesh.refine
        mesh, cell_tags, facet_tags = load(geometry, mesh_params, comm)
    elif cache is not None and _cached(cache, comm):
        mesh, cell_tags, facet_tags = read_cached(cache, comm)
    else:
        mesh, cell_tags, facet_tags = _gmsh_mesh(geometry, mesh_params, comm, verbose)
        if cache is not None:
            write_cache(cache, mesh, cell_tags, facet_tags, _cache_key_data(geometry, mesh_params))
    for _ in range(0 if load else mesh_params.refine):
        mesh, cell_tags, facet_tags = refine(mesh, cell_tags, facet_tags)
    mesh.name, cell_tags.name, facet_tags.name = "mesh", "cell_tags", "facet_tags"
    return Domain(mesh=mesh, cell_tags=cell_tags, facet_tags=facet_tags,
                  projected_area=geometry.projected_area,
                  reference_length=geometry.reference_length,
                  axisymmetric=getattr(geometry, "axisymmetric", False))


def _gmsh_mesh(geometry, mesh_params, comm: MPI.Comm, verbose: bool):
    """Mesh a geometry family with gmsh on rank 0 and distribute: (mesh in m, cell, facet tags)."""
    family = family_of(geometry)
    dim = geometry.dimension
    return gmsh_mesh(lambda: _generate(family.build, geometry, mesh_params, dim), dim, comm,
                     verbose=verbose)


def gmsh_mesh(make, dim: int, comm: MPI.Comm, unit: float = NM, verbose: bool = False):
    """Run `make()` (adds and meshes a gmsh model) on rank 0 and distribute its mesh with
    shared-facet ghosts: (mesh in metres, cell tags, facet tags). `unit`: model units per metre."""
    owns_gmsh = comm.rank == 0 and not gmsh.isInitialized()
    if owns_gmsh:
        # interruptible=False keeps Python's Ctrl-C handler (gmsh would reset it to SIG_DFL)
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        reinstall_handlers()  # gmsh has just reset SIGTERM and SIGPIPE to their defaults
    try:
        if comm.rank == 0:
            gmsh.model.add("femsolver")
            gmsh.option.setNumber("General.Terminal", 1 if verbose else 0)
        _on_rank_zero(comm, make)
        partitioner = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model, comm, 0, gdim=dim,
                                             partitioner=partitioner)
    finally:
        if comm.rank == 0:
            gmsh.model.remove()
        if owns_gmsh:
            gmsh.finalize()
    data.mesh.geometry.x[:] /= unit
    return data.mesh, data.cell_tags, data.facet_tags


# ---- mesh cache ---------------------------------------------------------------------------------
CACHE_ENV = "FEMSOLVER_MESH_CACHE"
_CACHE_FORMAT = 1  # bump when the stored layout changes


def _cache_key_data(geometry, mesh_params) -> dict:
    """Everything the gmsh mesh depends on: parameters, sizes, the builder and meshing code."""
    import geometries.common

    family = family_of(geometry)
    sources = hashlib.sha256()
    for module in (inspect.getmodule(family.build), geometries.common,
                   inspect.getmodule(_generate)):
        sources.update(Path(inspect.getfile(module)).read_bytes())
    return {"format": _CACHE_FORMAT, "family": type(geometry).__name__,
            "geometry": dataclasses.asdict(geometry),
            "h_interface": mesh_params.h_interface, "h_bulk": mesh_params.h_bulk,
            "sources_sha256": sources.hexdigest(), "gmsh": gmsh.__version__}


def cache_path(geometry, mesh_params, directory: str | Path | None = None) -> Path | None:
    """`<directory>/<key>.xdmf` of this geometry's gmsh mesh; None if no cache directory.

    `directory` defaults to $FEMSOLVER_MESH_CACHE (unset or empty: no cache). `mesh.refine`
    is not part of the key: refinement is done after reading.
    """
    directory = directory if directory is not None else os.environ.get(CACHE_ENV, "")
    if not str(directory):
        return None
    text = json.dumps(_cache_key_data(geometry, mesh_params), sort_keys=True, default=str)
    return Path(directory) / f"{hashlib.sha256(text.encode()).hexdigest()[:24]}.xdmf"


def _cached(path: Path, comm: MPI.Comm) -> bool:
    """Whether a complete entry exists (its .json is written last), as rank 0 sees it."""
    return comm.bcast(path.with_suffix(".json").exists() if comm.rank == 0 else None, root=0)


def write_cache(path: Path, mesh, cell_tags, facet_tags, key_data: dict) -> None:
    """Store mesh and tags as XDMF/HDF5 (collective); the .json marker is written last."""
    comm = mesh.comm
    if comm.rank == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
    comm.barrier()
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    mesh.name = "mesh"
    with dolfinx.io.XDMFFile(comm, path, "w") as f:
        f.write_mesh(mesh)
        for name, tags in (("cell_tags", cell_tags), ("facet_tags", facet_tags)):
            named = dolfinx.mesh.meshtags(mesh, tags.dim, tags.indices, tags.values)
            named.name = name
            f.write_meshtags(named, mesh.geometry)
    comm.barrier()
    if comm.rank == 0:
        cells = mesh.topology.index_map(tdim).size_global
        path.with_suffix(".json").write_text(
            json.dumps({**key_data, "cells": cells}, indent=1, default=str))
    comm.barrier()


def read_cached(path: Path, comm: MPI.Comm):
    """(mesh, cell tags, facet tags) from a cache entry, partitioned over `comm`."""
    with dolfinx.io.XDMFFile(comm, path, "r") as f:
        mesh = f.read_mesh(ghost_mode=dolfinx.mesh.GhostMode.shared_facet, name="mesh")
        tdim = mesh.topology.dim
        mesh.topology.create_connectivity(tdim - 1, tdim)
        tags = [f.read_meshtags(mesh, name) for name in ("cell_tags", "facet_tags")]
    return mesh, complete_ghosts(mesh, tags[0]), complete_ghosts(mesh, tags[1])


def _generate(build, geometry, mesh_params, dim: int) -> None:
    """Run the builder and mesh (rank 0); check what model_to_mesh relies on."""
    build(gmsh.model, geometry, mesh_params)
    # Sizes come from the builder's background field only
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    if dim == 2:
        gmsh.option.setNumber("Mesh.Algorithm", 5)  # Delaunay: fastest 2D mesher here
    gmsh.model.mesh.generate(dim)
    for _, tag in gmsh.model.getEntities(dim):
        if len(gmsh.model.getPhysicalGroupsForEntity(dim, tag)) != 1:
            raise GeometryError(f"gmsh entity ({dim}, {tag}) is not in exactly one region")
        if not any(len(e) for e in gmsh.model.mesh.getElements(dim, tag)[1]):
            raise GeometryError(f"gmsh produced no cells in entity ({dim}, {tag})")


def _on_rank_zero(comm: MPI.Comm, work) -> None:
    """Run `work` on rank 0; a failure there is raised on every rank, so none waits forever.

    GeometryError and gmsh's own errors (plain Exception) become GeometryError everywhere; any
    other exception is a bug: rank 0 re-raises it, the others raise RuntimeError.
    """
    failure, error = None, None
    if comm.rank == 0:
        try:
            work()
        except GeometryError as err:
            failure, error = ("geometry", str(err)), err
        except Exception as err:  # noqa: BLE001 - must reach the other ranks whatever it is
            if type(err) is Exception:  # the gmsh API raises Exception(last gmsh error)
                error = GeometryError(f"gmsh could not build or mesh the geometry: {err}")
                error.__cause__ = err
                failure = ("geometry", str(error))
            else:
                failure, error = ("bug", f"{type(err).__name__}: {err}"), err
    failure = comm.bcast(failure, root=0)
    if failure is None:
        return
    if comm.rank == 0:
        raise error
    kind, message = failure
    if kind == "geometry":
        raise GeometryError(message)
    raise RuntimeError(f"rank 0 failed while building the mesh: {message}")


def write_domain(domain: Domain, directory: str | Path) -> None:
    """Write `cell_tags.xdmf` and `facet_tags.xdmf`, one tag set per file (for ParaView)."""
    for name, tags in (("cell_tags", domain.cell_tags), ("facet_tags", domain.facet_tags)):
        write_meshtags_xdmf(directory, name, domain.mesh, tags)
