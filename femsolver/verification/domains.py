"""Small domains built directly in dolfinx, cases from dictionaries, global integrals.

The analytic and manufactured-solution benchmarks run on these structured meshes (a gmsh mesh
would add nothing but meshing time); the tests use them too.
"""

from __future__ import annotations

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh
from mpi4py import MPI

from femsolver import tags
from femsolver.case import SECTIONS, Case, build_section
from femsolver.mesh import Domain


def rectangle_domain(W, H, T, nx, ny_electrolyte, ny_electrode, active=lambda x: True,
                     comm=MPI.COMM_WORLD, cell=dmesh.CellType.triangle):
    """Structured two-region mesh; `active(x)` marks the working-interface facets by midpoint."""
    ny = ny_electrolyte + ny_electrode
    msh = dmesh.create_rectangle(comm, [[0, -T], [W, H]], [nx, ny], cell_type=cell,
                                 ghost_mode=dmesh.GhostMode.shared_facet)
    # Move the grid line between the regions exactly onto y = 0.
    y = msh.geometry.x[:, 1]
    j = np.rint((y + T) / (T + H) * ny)
    msh.geometry.x[:, 1] = np.where(j <= ny_electrode, -T + T * j / ny_electrode,
                                    H * (j - ny_electrode) / ny_electrolyte)
    tdim = 2
    cmap = msh.topology.index_map(tdim)
    cells = np.arange(cmap.size_local + cmap.num_ghosts, dtype=np.int32)
    mid = dmesh.compute_midpoints(msh, tdim, cells)
    cell_tags = dmesh.meshtags(msh, tdim, cells, np.where(
        mid[:, 1] < 0, tags.ELECTRODE, tags.ELECTROLYTE).astype(np.int32))
    msh.topology.create_connectivity(tdim - 1, tdim)
    # Absolute tolerance from the domain size (np.isclose's default 1e-8 m exceeds the element
    # size of sub-micrometre meshes).
    tol = 1e-9 * max(W, T + H)

    def on(coordinate, value):
        return np.isclose(coordinate, value, rtol=0.0, atol=tol)

    interface = dmesh.locate_entities(msh, tdim - 1, lambda x: on(x[1], 0.0))
    fmid = dmesh.compute_midpoints(msh, tdim - 1, interface)
    is_active = np.array([bool(active(p)) for p in fmid], dtype=bool)
    groups = {
        tags.WORKING_ACTIVE: interface[is_active],
        tags.WORKING_BLOCKING: interface[~is_active],
        tags.COUNTER: dmesh.locate_entities_boundary(msh, 1, lambda x: on(x[1], H)),
        tags.CURRENT_COLLECTOR: dmesh.locate_entities_boundary(msh, 1, lambda x: on(x[1], -T)),
        tags.ELECTROLYTE_SIDES: _sides(msh, W, lambda y: y >= 0, on),
        tags.ELECTRODE_SIDES: _sides(msh, W, lambda y: y <= 0, on),
    }
    facets = np.concatenate(list(groups.values()))
    values = np.concatenate([np.full(len(f), t, dtype=np.int32) for t, f in groups.items()])
    order = np.argsort(facets)
    facet_tags = dmesh.meshtags(msh, tdim - 1, facets[order], values[order])
    return Domain(msh, cell_tags, facet_tags, projected_area=W, reference_length=H)


def _sides(msh, W, region, on):
    """Facets on x = 0 or x = W (each side located alone, so a bottom facet spanning 0..W is not)."""
    return np.concatenate([
        dmesh.locate_entities_boundary(msh, 1, lambda x, s=s: on(x[0], s) & region(x[1]))
        for s in (0.0, W)])


def make_case(geometry=None, **sections) -> Case:
    """A Case with defaults, overridden per section: make_case(kinetics={"i0": 1.0})."""
    built = {s: build_section(cls, sections.get(s, {}), s) for s, cls in SECTIONS.items()}
    return Case(name="verification", geometry=geometry, **built)


def integrate(form, comm=MPI.COMM_WORLD, entity_maps=None) -> float:
    """Global value of a scalar ufl form (summed over the ranks of `comm`)."""
    return comm.allreduce(fem.assemble_scalar(fem.form(form, entity_maps=entity_maps)), op=MPI.SUM)
