"""Mesh tags on distributed, ghosted meshes: ghosts completed from their owners, and uniform
refinement that carries the tags over.

Kept apart from `femsolver.mesh` (which knows the geometry families) so that the loaders of
file geometries (`geometries.image`, `geometries.mesh_file`, `femsolver.imaging`) can use it
without importing `geometries` back.
"""

from __future__ import annotations

import dolfinx.la
import dolfinx.mesh
import numpy as np


def dense_tags(tags, index_map) -> np.ndarray:
    """Tag value of every local entity, 0 where untagged (all tags in femsolver.tags are > 0)."""
    values = np.zeros(index_map.size_local + index_map.num_ghosts, dtype=np.int32)
    values[tags.indices] = tags.values
    return values


def tags_from_owned(mesh, dim: int, entities: np.ndarray, values: np.ndarray):
    """MeshTags from values known on owned entities (and perhaps some ghosts); ghosts get
    their owner's value."""
    dense = dolfinx.la.vector(mesh.topology.index_map(dim), 1, dtype=np.int32)
    dense.array[entities] = values
    dense.scatter_forward()
    tagged = np.flatnonzero(dense.array).astype(np.int32)
    return dolfinx.mesh.meshtags(mesh, dim, tagged, dense.array[tagged])


def complete_ghosts(mesh, tags):
    """Tags read from a file (known on owned entities) with ghost entities given their owner's
    value, as after model_to_mesh and refinement."""
    imap = mesh.topology.index_map(tags.dim)
    owned = np.arange(imap.size_local, dtype=np.int32)
    return tags_from_owned(mesh, tags.dim, owned, dense_tags(tags, imap)[owned])


def refine(mesh, cell_tags, facet_tags):
    """One uniform refinement (each cell into 2^dim); tags follow the parent cells and facets.

    `dolfinx.mesh.transfer_meshtag` refuses ghosted meshes in 0.11, so the tags are carried
    over here. `refine` reports parents for the owned fine cells only, in their creation order
    (`original_cell_index`, global); every owned facet touches an owned cell, so a forward
    scatter completes the ghosts.
    """
    tdim = mesh.topology.dim
    mesh.topology.create_entities(1)
    mesh.topology.create_connectivity(tdim, tdim - 1)
    fine, parent_cell, parent_facet = dolfinx.mesh.refine(
        mesh, option=dolfinx.mesh.RefinementOption.parent_cell_and_facet)
    fine.topology.create_connectivity(tdim, tdim - 1)
    fine.topology.create_connectivity(tdim - 1, tdim)
    cells = fine.topology.index_map(tdim)
    owned = np.arange(cells.size_local, dtype=np.int32)
    created = (np.asarray(fine.topology.original_cell_index[:cells.size_local])
               - cells.local_range[0])
    parent = parent_cell[created]
    fine_cell_tags = tags_from_owned(
        fine, tdim, owned, dense_tags(cell_tags, mesh.topology.index_map(tdim))[parent])

    facets_per_cell = tdim + 1  # simplices
    fine_facets = _cell_facets(fine, facets_per_cell)[owned]
    coarse_facets = _cell_facets(mesh, facets_per_cell)[parent]
    # Local index of the parent's facet containing each fine facet, -1 if inside the parent
    local = parent_facet.reshape(-1, facets_per_cell)[created]
    on_parent = local >= 0
    parents = np.take_along_axis(coarse_facets, np.where(on_parent, local, 0), axis=1)
    coarse_values = dense_tags(facet_tags, mesh.topology.index_map(tdim - 1))
    fine_facet_tags = tags_from_owned(fine, tdim - 1, fine_facets[on_parent],
                                      coarse_values[parents[on_parent]])
    return fine, fine_cell_tags, fine_facet_tags


def _cell_facets(mesh, facets_per_cell: int) -> np.ndarray:
    """(cells, facets per cell) array of local facet indices."""
    return mesh.topology.connectivity(mesh.topology.dim, mesh.topology.dim - 1).array.reshape(
        -1, facets_per_cell)
