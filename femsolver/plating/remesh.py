"""A new electrolyte mesh from the present boundary (2D and axisymmetric), and the fields
carried over.

The boundary polyline is kept node for node (every node a gmsh point, every facet a gmsh line
with its tag), so the electrolyte keeps its volume and the Li its plated volume exactly;
lines longer than the size field asks for are split. Working-surface nodes next to a facet
shorter than half the interface size are dropped, and a neighbour moves to keep the area
(in axisymmetry the volume of revolution; `_coarsen`): that is where a deposit's foot has
covered the blocking surface, and where the surface folds into a concave corner.
The concentration is interpolated and shifted by one constant so that the salt inventory is
the same as before; the potentials are interpolated as Newton's starting point.
"""

from __future__ import annotations

import numpy as np
from dolfinx import fem
from mpi4py import MPI

from femsolver import tags
from femsolver.errors import SolverError
from femsolver.measures import measure
from femsolver.mesh import Domain, gmsh_mesh
from femsolver.plating.surface import INTERFACE, boundary, walk
from geometries.common import NM, graded_size_field, mesh_sizes

# A working-surface node goes when a facet next to it is shorter than SHORT x mesh.h_interface;
# a removal that changes the area by less than COLLINEAR x short^2 needs no compensation.
SHORT = 0.5
COLLINEAR = 1e-9
# ... and when the surface turns there by more than ~100 degrees (a cusp, where the surface
# folds as a concave corner fills in): cos of the angle between the facets' directions.
SHARP = -0.17


def _loop(nodes, points, kinds) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The closed boundary in order: (node ids, coordinates (nm), kind of the facet after)."""
    order, flipped = walk(nodes)
    p = points[order]
    p[flipped] = p[flipped][:, ::-1]
    n = nodes[order]
    n[flipped] = n[flipped][:, ::-1]
    return n[:, 0], p[:, 0] * NM, kinds[order]


def _volume(xy: np.ndarray, axisymmetric: bool) -> float:
    """Signed area of a closed polygon (shoelace), nm2; in axisymmetry the volume it sweeps
    about the axis x = 0, 2 pi times its first moment in x (Pappus), nm3."""
    x, y = xy[:, 0], xy[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    if axisymmetric:
        return 2 * np.pi / 6 * float(np.sum((x + np.roll(x, -1)) * cross))
    return 0.5 * float(np.sum(cross))


def _restored(xy, keep, mover: int, direction: np.ndarray, target: float, axisymmetric: bool):
    """Where `mover` goes along `direction` for the polygon xy[keep] to have the volume
    `target`: the volume is linear (plane) or quadratic (axisymmetric) in the move, fitted
    exactly through three samples, then Newton from no move."""
    def volume(t):
        trial = xy.copy()
        trial[mover] += t * direction
        return _volume(trial[keep], axisymmetric)

    samples = np.array([-1.0, 0.0, 1.0])
    polynomial = np.polynomial.Polynomial.fit(samples, [volume(t) for t in samples], 2).convert()
    t = 0.0
    for _ in range(20):
        t -= (polynomial(t) - target) / polynomial.deriv()(t)
    return xy[mover] + t * direction


def _coarsen(ids, xy, kinds, short: float, axisymmetric: bool = False):
    """Remove working-surface nodes next to a facet shorter than `short` (nm), where the
    surface turns sharply (a cusp) or that came within short/2 of a side wall (only the wall's
    own node may lie there), keeping the polygon's area (in axisymmetry the volume it sweeps):
    where the removed node was not on a straight line, a neighbour of its own kind moves along
    the normal of its new facets by what the removal took. Short facets are where a deposit's
    foot covered the blocking surface and where the surface folds into itself in a concave
    corner."""
    xy = xy.copy()
    keep = np.ones(len(ids), dtype=bool)
    walls = xy[:, 0].min(), xy[:, 0].max()

    def neighbour(k, step):
        j = (k + step) % len(ids)
        while not keep[j]:
            j = (j + step) % len(ids)
        return j

    for k in range(len(ids)):
        before, after = neighbour(k, -1), neighbour(k, 1)
        if kinds[before] != kinds[k] or kinds[k] not in INTERFACE:
            continue
        a, b = xy[k] - xy[before], xy[after] - xy[k]
        la, lb = np.linalg.norm(a), np.linalg.norm(b)
        at_wall = min(abs(xy[k, 0] - w) for w in walls) < short / 2
        if min(la, lb) >= short and a @ b > SHARP * la * lb and not at_wall:
            continue
        volume = _volume(xy[keep], axisymmetric)
        keep[k] = False
        lost = volume - _volume(xy[keep], axisymmetric)
        # A straight line: a change of round-off size (volume per area: 2 pi r at the node)
        if abs(lost) <= COLLINEAR * short ** 2 * (2 * np.pi * max(xy[k, 0], short)
                                                 if axisymmetric else 1.0):
            continue
        for mover in (after, before):  # a node between two facets of the removed one's kind
            left, right = neighbour(mover, -1), neighbour(mover, 1)
            if kinds[left] == kinds[mover] == kinds[k]:
                normal = np.array([xy[right, 1] - xy[left, 1], xy[left, 0] - xy[right, 0]])
                moved = _restored(xy, keep, mover, normal / np.linalg.norm(normal), volume,
                                  axisymmetric)
                inside = walls[0] + short / 2 < moved[0] < walls[1] - short / 2
                if np.linalg.norm(moved - xy[mover]) < short and inside:  # a small move only
                    xy[mover] = moved
                    break
        else:
            keep[k] = True  # no neighbour may move: keep the node
    return ids[keep], xy[keep], kinds[keep]


def _build(xy, kinds, h_min: float, h_max: float):
    """The gmsh model of the electrolyte polygon (rank 0; nm), meshed."""
    import gmsh

    model = gmsh.model
    geo = model.geo
    points = [geo.addPoint(x, y, 0.0) for x, y in xy]
    lines = [geo.addLine(points[k], points[(k + 1) % len(points)]) for k in range(len(points))]
    surface = geo.addPlaneSurface([geo.addCurveLoop(lines)])
    geo.synchronize()
    model.addPhysicalGroup(2, [surface], tag=tags.ELECTROLYTE, name=tags.NAMES[tags.ELECTROLYTE])
    for kind in np.unique(kinds):
        chosen = [line for line, k in zip(lines, kinds) if k == kind]
        model.addPhysicalGroup(1, chosen, tag=int(kind), name=tags.NAMES[int(kind)])
    distance = model.mesh.field.add("Distance")
    model.mesh.field.setNumbers(distance, "CurvesList",
                                [line for line, k in zip(lines, kinds) if k in INTERFACE])
    graded_size_field(model, [distance], h_min, h_max)
    for option in ("MeshSizeFromPoints", "MeshSizeFromCurvature", "MeshSizeExtendFromBoundary"):
        gmsh.option.setNumber(f"Mesh.{option}", 0)
    gmsh.option.setNumber("Mesh.Algorithm", 5)
    model.mesh.generate(2)


def remesh(domain: Domain, case, comm) -> Domain:
    """A new mesh of the electrolyte inside its present boundary (collective)."""
    edges = boundary(domain)
    h_min, h_max = mesh_sizes(domain.reference_length, case.mesh)
    ids, xy, kinds = _loop(edges.nodes, edges.points, edges.tags)
    ids, xy, kinds = _coarsen(ids, xy, kinds, SHORT * h_min, domain.axisymmetric)
    mesh, cell_tags, facet_tags = gmsh_mesh(lambda: _build(xy, kinds, h_min, h_max), 2, comm,
                                            unit=NM)
    if facet_tags is None or mesh.topology.index_map(2).size_global == 0:
        raise SolverError("remeshing failed: gmsh could not mesh the electrolyte inside the "
                          "present surface (it has folded or nearly touches itself); refine "
                          "mesh.h_interface or stop earlier (control.plated_charge_C_m2)")
    return Domain(mesh, cell_tags, facet_tags, domain.projected_area, domain.reference_length,
                  domain.axisymmetric)


def _interpolate(target: fem.Function, source: fem.Function) -> None:
    """target = source at target's nodes (meshes that cover the same region)."""
    mesh = target.function_space.mesh
    cells = np.arange(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32)
    data = fem.create_interpolation_data(target.function_space, source.function_space, cells,
                                         padding=1e-8)
    target.interpolate_nonmatching(source, cells, data)
    target.x.scatter_forward()


def integral(problem, integrand) -> float:
    """Integral over the electrolyte of a problem (collective)."""
    dx = measure("dx", problem.domain, subdomain_data=problem.domain.cell_tags)
    form = fem.form(integrand * dx(tags.ELECTROLYTE), entity_maps=problem.entity_maps)
    return problem.domain.mesh.comm.allreduce(fem.assemble_scalar(form), op=MPI.SUM)


def salt(problem) -> float:
    """Salt inventory of the electrolyte over c0: the integral of 1 + u, m^d."""
    return integral(problem, 1 + problem.u)


def transfer(old, new) -> float:
    """Carry u, phi, V and phi_ref from `old` to `new` (CellProblems); keep the salt inventory.
    Returns the relative salt change that the constant shift of u corrected."""
    _interpolate(new.fields, old.fields)
    new.V.x.array[:] = old.V.x.array[0]
    new.phi_ref.value = old.phi_ref.value
    before, after = salt(old), salt(new)
    new.u_values[:] += (before - after) / integral(new, 1.0)
    new.u_n.x.array[:] = new.u_values
    return (after - before) / before
