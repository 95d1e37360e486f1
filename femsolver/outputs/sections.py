"""PNG maps of 2D sections drawn on the mesh itself, optionally mirrored about x = 0.

An axisymmetric (r, z) section is half of the body's meridian plane: drawn once more at -r it
shows the whole particle as a cut through its axis. Collective like
`femsolver.outputs.pictures.plot_map` (every rank calls, rank 0 gathers and draws); 3D meshes
are passed on to `plot_map` (its section through the middle of the y extent).
"""

from __future__ import annotations

import numpy as np

from femsolver.outputs import pictures
from femsolver.outputs.pictures import plt


def plot_section(function, path, title: str, label: str, mirror: bool = False,
                 magnitude: bool = False, scale: float = 1.0, units_length: float = 1e-6,
                 cmap: str | None = None, segments: np.ndarray | None = None,
                 axes: tuple[str, str] = ("x", "z")) -> None:
    """Colour map of a P1 or DG0 function on a 2D triangle mesh (or a 3D section) to `path`.

    Args:
        function: P1 or DG0, scalar or vector (drawn as its norm).
        mirror: also draw the section reflected at x = 0 (axisymmetric meshes).
        magnitude: draw |f| for a scalar too.
        scale: factor on the values (unit conversion).
        units_length: axis unit in metres (1e-6: um).
        segments: (K, 2, 2) lines in metres drawn on top (e.g. the core surface), rank 0 only.
        axes: names of the horizontal and vertical axes.
    """
    V = function.function_space
    if V.mesh.geometry.dim == 3:
        pictures.plot_map(function, path, title=title, label=label, magnitude=magnitude,
                          scale=scale, units_length=units_length, cmap=cmap, segments=segments)
        return
    cellwise = V.element.basix_element.embedded_superdegree == 0
    is_vector = V.dofmap.index_map_bs > 1
    gathered = pictures.gather_dg0(function) if cellwise else pictures.gather_p1(function)
    if V.mesh.comm.rank != 0:
        return
    points, triangles, values = gathered
    if is_vector:
        values = np.linalg.norm(values, axis=-1)
    values = scale * (np.abs(values) if magnitude else values)
    cmap = cmap or ("inferno" if magnitude or is_vector else "viridis")
    limits = {"vmin": float(values.min()), "vmax": float(values.max())}
    signs = (1, -1) if mirror else (1,)
    unit = pictures._length_unit(units_length)
    fig, ax = plt.subplots(figsize=(7, 5), dpi=150)
    for sign in signs:
        tri = pictures.Triangulation(sign * points[:, 0] / units_length,
                                     points[:, 1] / units_length, triangles)
        if cellwise:
            image = ax.tripcolor(tri, facecolors=values, cmap=cmap, **limits)
        else:
            image = ax.tripcolor(tri, values, shading="gouraud", cmap=cmap, **limits)
    if segments is not None and len(segments):
        for sign in signs:
            drawn = np.array(segments, dtype=float) / units_length
            drawn[:, :, 0] *= sign
            lines = pictures.LineCollection(drawn, colors="white", linewidths=0.8)
            lines.set_path_effects([pictures.patheffects.withStroke(linewidth=2.0,
                                                                    foreground="black")])
            ax.add_collection(lines)
    ax.set(xlabel=f"{axes[0]} ({unit})", ylabel=f"{axes[1]} ({unit})", title=title,
           aspect="equal")
    fig.colorbar(image, ax=ax, label=label, shrink=0.8)
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
