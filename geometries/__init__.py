"""Gmsh geometry builders, one module per geometry family.

A family is a frozen parameter dataclass (SI units, `reference_length` and `projected_area`
properties) and a builder `build(model, params, mesh_params) -> None` that adds the OCC
geometry in nanometres, its physical groups (`femsolver.tags`) and a background size field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from geometries import composite, core_shell, inclusion, li_foil, planar


@dataclass(frozen=True)
class GeometryFamily:
    """A geometry kind: its parameter dataclass and its gmsh builder."""

    params: type
    build: Callable[..., None]
    problem: str = "cell"  # "cell" (electrode | electrolyte) or "particle" (femsolver.simulation)


REGISTRY = {
    "li_foil": GeometryFamily(params=li_foil.LiFoilGeometry, build=li_foil.build),
    "planar": GeometryFamily(params=planar.PlanarGeometry, build=planar.build),
    "core_shell": GeometryFamily(params=core_shell.CoreShellGeometry, build=core_shell.build,
                                 problem="particle"),
    "composite": GeometryFamily(params=composite.CompositeGeometry, build=composite.build,
                                problem="particle"),
    "inclusion": GeometryFamily(params=inclusion.InclusionGeometry, build=inclusion.build,
                                problem="particle"),
}


def family_of(params) -> GeometryFamily:
    """The family whose parameter dataclass `params` is an instance of."""
    for family in REGISTRY.values():
        if isinstance(params, family.params):
            return family
    raise TypeError(f"{type(params).__name__} is not a registered geometry parameter class")
