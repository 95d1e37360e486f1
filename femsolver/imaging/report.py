"""What `femsolver effective` and `femsolver mesh` write for images and mesh files."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from mpi4py import MPI

from femsolver import tags
from femsolver.imaging import labels as roles
from femsolver.imaging.build import PHASES, read_codes
from femsolver.imaging.components import components, spanning_fraction
from femsolver.imaging.finite_volume import fv_effective
from femsolver.imaging.structured import image_effective
from femsolver.imaging.transport import directional_effective, table
from femsolver.outputs.regions import COLOURS


def conductivities(case) -> tuple[dict[int, float], float]:
    """({region tag: S/m}, sigma_ref): a particle domain's ion conductors
    (`ionic_conductivities`) with the matrix as reference, or a cell domain's electrolyte at c0
    (the electrode carries no ions)."""
    from femsolver.materials.solid_electrolytes import ionic_conductivities, liquid_conductivity

    if case.problem == "particle":
        sigma = ionic_conductivities(case)
        return sigma, sigma[tags.MATRIX]
    sigma = liquid_conductivity(case.electrolyte)
    return {tags.ELECTROLYTE: sigma}, sigma


def spanning(params, conducting: dict[int, float], comm: MPI.Comm) -> dict[int, float]:
    """{coordinate axis: fraction of the conducting voxels in face-connected components that
    reach both faces normal to it} of an image geometry."""
    codes, _ = read_codes(params, comm)
    members = [roles.CODES[r] for r, t in roles.ROLE_TAGS.items()
               if t in conducting and r != "void"]
    _, stats = components(np.isin(codes, members), comm)
    dim = codes.ndim
    # array axis a is coordinate axis dim - 1 - a (array (z, y, x), coordinates (x, y, z))
    return {dim - 1 - a: spanning_fraction(stats, a) for a in range(dim)}


def on_voxels(geometry) -> bool:
    """Whether `femsolver effective` solves on the voxel grid (`imaging.structured`): an image
    meshed with one hexahedron (quadrilateral) per voxel, the same Q1 problem without the mesh."""
    return hasattr(geometry, "image") and not geometry.simplices


def effective_report(case, domain, comm: MPI.Comm, directions=None) -> tuple[dict, str]:
    """(figures for effective.json, markdown) of an image or mesh-file domain; `domain` None:
    an image solved on its voxel grid (`on_voxels`)."""
    sigma, sigma_ref = conductivities(case)
    dim = case.geometry.dimension if domain is None else domain.mesh.topology.dim
    directions = directions or ("x", "y", "z")[:dim]
    fractions = spanning(case.geometry, sigma, comm) if hasattr(case.geometry, "image") else None
    fv = domain is None and case.geometry.effective_method == "fv"
    if domain is None:
        solve = fv_effective if fv else image_effective
        rows = solve(case.geometry, case.mesh.refine, sigma, sigma_ref, directions, fractions,
                     comm)
    else:
        rows = directional_effective(domain, sigma, sigma_ref, directions, fractions)
    method = ("cell-centred finite volumes (TauFactor's)" if fv else
              "finite elements (P1, Q1 on voxels)")
    text = (f"# Effective ionic conductivity of '{case.name}'\n\nConducting regions: "
            + ", ".join(f"{tags.NAMES[t]} {s:.4g} S/m" for t, s in sigma.items())
            + f"; reference sigma_ref = {sigma_ref:.4g} S/m; {method}.\n\n{table(rows)}\n")
    return {"case": case.name, "method": method, "directions": rows}, text


def image_picture(params, path, comm: MPI.Comm) -> None:
    """Region picture of an image: a 2D image whole, a 3D image's middle plane normal to each
    axis, coloured by role (collective; rank 0 draws)."""
    codes, k0 = read_codes(params, comm)
    shape = params.image.shape
    if len(shape) == 2:
        slices = [(np.concatenate(comm.allgather(codes)), "image", ("x", "y"))]
    else:
        middle = [n // 2 for n in shape]
        mine = codes[middle[0] - k0] if k0 <= middle[0] < k0 + len(codes) else None
        slices = [(next(p for p in comm.allgather(mine) if p is not None),
                   f"z = plane {middle[0]}", ("x", "y"))]
        for axis, name, across in ((1, "y", "x"), (2, "x", "y")):
            part = np.concatenate(comm.allgather(np.take(codes, middle[axis], axis=axis)))
            slices.append((part, f"{name} = plane {middle[axis]}", (across, "z")))
    if comm.rank != 0:
        return
    inverse = {code: role for role, code in roles.CODES.items()}
    colours = ["white" if inverse[c] == "void" else COLOURS[roles.ROLE_TAGS[inverse[c]]]
               for c in range(len(inverse))]
    cmap = ListedColormap(colours)
    fig = Figure(figsize=(4.5 * len(slices), 4.5))
    for i, (picture, title, (across, up)) in enumerate(slices):
        ax = fig.add_subplot(1, len(slices), i + 1)
        ax.imshow(picture, origin="lower", cmap=cmap, vmin=-0.5, vmax=len(colours) - 0.5,
                  interpolation="nearest")
        ax.set(title=title, xlabel=f"{across} (voxels)", ylabel=f"{up} (voxels)")
    present = sorted({int(c) for picture, _, _ in slices for c in np.unique(picture)})
    fig.legend(handles=[Patch(color=colours[c], label=inverse[c]) for c in present],
               loc="upper right", fontsize="small")
    fig.savefig(path, dpi=150, bbox_inches="tight")


def write_summary_text(summary: dict) -> str:
    """Markdown of `femsolver.imaging.build.summary`."""
    lines = [f"# Image: {' x '.join(str(n) for n in summary['shape'])} voxels of "
             f"{' x '.join(f'{h:.3g}' for h in summary['voxel_size_m'])} m", "",
             "| label | volume fraction |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in summary["label_fractions"].items()]
    lines += ["", "| role | volume fraction |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in summary["role_fractions"].items()]
    lines += ["", "Face-connected components per phase (bottom = first plane, top = last):", "",
              "| phase | components | largest (voxels) | spanning bottom-top | fraction in "
              "them | isolated (touch neither) | fraction in them |", "|---|---|---|---|---|---|---|"]
    for phase in PHASES:
        c = summary["components"].get(phase)
        if c:
            lines.append(f"| {phase} | {c['components']} | {c['largest_component_voxels']} | "
                         f"{c['spanning_components']} | {c['spanning_fraction']:.4f} | "
                         f"{c['isolated_components']} | {c['isolated_fraction']:.4f} |")
    return "\n".join(lines) + "\n"
