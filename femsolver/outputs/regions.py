"""Picture of a domain's regions and tagged boundaries (`femsolver mesh`), drawn on rank 0.

2D: the triangles coloured by region, the tagged facets drawn as coloured lines.
3D: the working interface seen from above (along -z), its faces coloured active / blocking.
Collective: every rank passes its owned entities to rank 0, which alone writes the file.
"""

from __future__ import annotations

from pathlib import Path

import dolfinx.mesh
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from femsolver import tags

# Active blue and blocking red as in the paper's Fig. S6
COLOURS = {
    tags.ELECTROLYTE: "#d6e6f5",
    tags.ELECTRODE: "#c9c9c9",
    tags.WORKING_ACTIVE: "#1f5fbf",
    tags.WORKING_BLOCKING: "#d62728",
    tags.COUNTER: "#2ca02c",
    tags.CURRENT_COLLECTOR: "#9467bd",
    tags.ELECTROLYTE_SIDES: "#ff7f0e",
    tags.ELECTRODE_SIDES: "#8c564b",
    tags.ACTIVE: "#e7c9a9",
    tags.SHELL: "#b5e0b0",
    tags.MATRIX: "#d6e6f5",
    tags.COATING: "#f2e35c",
    tags.PARTICLE_ACTIVE: "#1f5fbf",
    tags.PARTICLE_BLOCKING: "#d62728",
}

_UNITS = ((1.0, "m"), (1e-3, "mm"), (1e-6, "µm"), (1e-9, "nm"))


def plot_regions(domain, path: str | Path) -> None:
    """Write a PNG of the domain's regions (2D) or working interface (3D) to `path`."""
    mesh = domain.mesh
    scale, unit = _unit(domain.reference_length)
    if mesh.topology.dim == 2:
        cells, cell_values = _gather(mesh, 2, domain.cell_tags)
        facets, facet_values = _gather(mesh, 1, domain.facet_tags)
        if mesh.comm.rank == 0:
            axes = "rz" if domain.axisymmetric else "xy"
            _draw_2d(cells / scale, cell_values, facets / scale, facet_values, unit, axes, path)
    else:
        faces, face_values = _gather(mesh, 2, domain.facet_tags,
                                     keep=(tags.WORKING_ACTIVE, tags.WORKING_BLOCKING))
        if mesh.comm.rank == 0:
            _draw_interface_3d(faces / scale, face_values, unit, path)


def _unit(reference_length: float) -> tuple[float, str]:
    """Largest unit in which the reference length is at least 1 (500 nm, 100 µm)."""
    for size, name in _UNITS:
        if reference_length >= size:
            return size, name
    return _UNITS[-1]


def _gather(mesh, dim: int, meshtags, keep=None):
    """Vertex coordinates (K, dim + 1, gdim) and tag values (K,) of the owned tagged entities
    of dimension `dim`, on rank 0 (None elsewhere)."""
    mesh.topology.create_connectivity(dim, mesh.topology.dim)  # for entities_to_geometry
    owned = meshtags.indices < mesh.topology.index_map(dim).size_local
    if keep is not None:
        owned &= np.isin(meshtags.values, keep)
    entities, values = meshtags.indices[owned], meshtags.values[owned]
    nodes = dolfinx.mesh.entities_to_geometry(mesh, dim, entities)[:, :dim + 1]
    gdim = mesh.geometry.dim
    points = mesh.comm.gather(mesh.geometry.x[nodes][:, :, :gdim], root=0)
    values = mesh.comm.gather(values, root=0)
    if mesh.comm.rank != 0:
        return None, None
    return np.concatenate(points), np.concatenate(values)


def _draw_2d(cells, cell_values, facets, facet_values, unit: str, axes: str, path) -> None:
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    ax.add_collection(PolyCollection(cells, facecolors=[COLOURS[v] for v in cell_values],
                                     edgecolors="#7f7f7f", linewidths=0.1))
    handles = [Patch(color=COLOURS[t], label=tags.NAMES[t]) for t in tags.REGIONS.values()
               if np.any(cell_values == t)]
    for tag in tags.BOUNDARIES.values():
        segments = facets[facet_values == tag]
        if len(segments):
            ax.add_collection(LineCollection(segments, colors=COLOURS[tag], linewidths=1.5))
            handles.append(Line2D([], [], color=COLOURS[tag], lw=1.5, label=tags.NAMES[tag]))
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set(xlabel=f"{axes[0]} ({unit})", ylabel=f"{axes[1]} ({unit})",
           title="regions and boundary tags")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    fig.savefig(path, dpi=200, bbox_inches="tight")


def _draw_interface_3d(faces, face_values, unit: str, path) -> None:
    # Painter's order: lower faces first, so particle caps cover what lies beneath them
    order = np.argsort(faces[:, :, 2].mean(axis=1))
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    ax.add_collection(PolyCollection(faces[order, :, :2],
                                     facecolors=[COLOURS[v] for v in face_values[order]],
                                     edgecolors="#404040", linewidths=0.05))
    handles = [Patch(color=COLOURS[t], label=tags.NAMES[t])
               for t in (tags.WORKING_ACTIVE, tags.WORKING_BLOCKING)]
    ax.autoscale_view()
    ax.set_aspect("equal")
    ax.set(xlabel=f"x ({unit})", ylabel=f"y ({unit})", title="working interface, seen from above")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    fig.savefig(path, dpi=200, bbox_inches="tight")
