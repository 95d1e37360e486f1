"""Pieces of the parent mesh that every problem family works on: a region's submesh with its
maps (`Region`), an interface's facets with a fixed '+' side (`Interface`), and the dofs of a
region's space on tagged facets (`facet_dofs`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dolfinx import fem
from dolfinx import mesh as dmesh

from femsolver import tags
from femsolver.measures import measure


class Interface:
    """Interface facets of the parent mesh (`facet_tags`, default the working interface) with the
    electrolyte (`electrolyte_cells`) always on the '+' side."""

    def __init__(self, domain, electrolyte_cells: np.ndarray,
                 facet_tags=(tags.WORKING_ACTIVE, tags.WORKING_BLOCKING)):
        msh = domain.mesh
        tdim = msh.topology.dim
        msh.topology.create_connectivity(tdim - 1, tdim)
        msh.topology.create_connectivity(tdim, tdim - 1)
        num_cells = msh.topology.index_map(tdim).size_local + msh.topology.index_map(tdim).num_ghosts
        in_electrolyte = np.zeros(num_cells, dtype=bool)
        in_electrolyte[electrolyte_cells] = True
        self.subdomain_data = []
        for tag in facet_tags:
            facets = domain.facet_tags.find(tag)
            pairs = fem.compute_integration_domains(
                fem.IntegralType.interior_facet, msh.topology, facets).reshape(-1, 4)
            swap = ~in_electrolyte[pairs[:, 0]]
            pairs[swap] = pairs[swap][:, [2, 3, 0, 1]]
            self.subdomain_data.append((tag, pairs.ravel()))
        self.dS = measure("dS", domain, subdomain_data=self.subdomain_data)


@dataclass(frozen=True)
class Region:
    """A region's submesh and its maps to the parent mesh."""

    mesh: dmesh.Mesh
    cell_map: dmesh.EntityMap
    vertex_map: dmesh.EntityMap

    @classmethod
    def of(cls, domain, tag):
        tdim = domain.mesh.topology.dim
        submesh, cell_map, vertex_map, _ = dmesh.create_submesh(
            domain.mesh, tdim, domain.cell_tags.find(tag))
        return cls(submesh, cell_map, vertex_map)

    def parent_cells(self) -> np.ndarray:
        """Parent-mesh indices of all local cells (owned and ghost) of the region."""
        imap = self.mesh.topology.index_map(self.mesh.topology.dim)
        local = np.arange(imap.size_local + imap.num_ghosts, dtype=np.int32)
        return self.cell_map.sub_topology_to_topology(local, inverse=False)


def facet_dofs(domain, space, region: Region, facet_tags) -> np.ndarray:
    """Local dofs of `space` (on `region`) on the parent facets with any of `facet_tags`."""
    sub_tags = dmesh.transfer_meshtags_to_submesh(
        domain.facet_tags, region.mesh, region.vertex_map, region.cell_map)
    tdim = region.mesh.topology.dim
    region.mesh.topology.create_connectivity(tdim - 1, tdim)
    facets = np.concatenate([sub_tags.find(t) for t in facet_tags])
    return fem.locate_dofs_topological(space, tdim - 1, facets)
