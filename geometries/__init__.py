"""Gmsh geometry builders, one module per geometry family.

A family is a frozen parameter dataclass (SI units, `reference_length` and `projected_area`
properties) and a builder `build(model, params, mesh_params) -> None` that adds the OCC
geometry in nanometres, its physical groups (`femsolver.tags`) and a background size field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from geometries import composite, core_shell, image, inclusion, li_foil, mesh_file, planar


@dataclass(frozen=True)
class GeometryFamily:
    """A geometry kind: its parameter dataclass and its gmsh builder."""

    params: type
    build: Callable[..., None] | None
    problem: str = "cell"  # "cell" (electrode | electrolyte) or "particle" (femsolver.simulation)
    # Geometries read from files: load(params, mesh_params, comm) -> (mesh in m, cell tags,
    # facet tags), called by femsolver.mesh.build_domain instead of gmsh (and of refinement)
    load: Callable | None = None


REGISTRY = {
    "li_foil": GeometryFamily(params=li_foil.LiFoilGeometry, build=li_foil.build),
    "planar": GeometryFamily(params=planar.PlanarGeometry, build=planar.build),
    "core_shell": GeometryFamily(params=core_shell.CoreShellGeometry, build=core_shell.build,
                                 problem="particle"),
    "composite": GeometryFamily(params=composite.CompositeGeometry, build=composite.build,
                                problem="particle"),
    "inclusion": GeometryFamily(params=inclusion.InclusionGeometry, build=inclusion.build,
                                problem="particle"),
    # problem: ImageGeometry.problem (cell or particle, from the label roles)
    "image": GeometryFamily(params=image.ImageGeometry, build=None, load=image.load),
    # problem: MeshFileGeometry.problem (a key of the case)
    "mesh_file": GeometryFamily(params=mesh_file.MeshFileGeometry, build=None,
                                load=mesh_file.load),
}


def family_of(params) -> GeometryFamily:
    """The family whose parameter dataclass `params` is an instance of."""
    for family in REGISTRY.values():
        if isinstance(params, family.params):
            return family
    raise TypeError(f"{type(params).__name__} is not a registered geometry parameter class")
