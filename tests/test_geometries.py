"""Geometry families: parameter defaults and validation, feature layouts, physical groups.

Pure Python and gmsh only (no dolfinx mesh): each MPI rank runs these on its own.
"""

import numpy as np
import pytest

from femsolver import tags
from femsolver.case import MeshParams, case_from_dict
from femsolver.errors import CaseError, GeometryError
from geometries import REGISTRY, family_of
from geometries.foil_layout import MIN_GAP, layout
from geometries.li_foil import LiFoilGeometry
from geometries.planar import PlanarGeometry

NM = 1e9


def test_registry_maps_kinds_to_families():
    assert set(REGISTRY) == {"li_foil", "planar", "core_shell", "composite", "inclusion",
                             "image", "mesh_file"}
    assert family_of(LiFoilGeometry()) is REGISTRY["li_foil"]
    assert family_of(PlanarGeometry()) is REGISTRY["planar"]
    with pytest.raises(TypeError):
        family_of(MeshParams())


def test_paper_defaults():
    """Fig. S6: 8 % of bare Li and 56 % of PRS@Li active, 20 nm sites on a 500 nm area."""
    bare, prs, ers = (LiFoilGeometry(surface=s) for s in ("bare", "prs", "ers"))
    assert (bare.site_count, bare.resolved_particle_count) == (2, 0)
    assert (prs.site_count, prs.resolved_particle_count) == (14, 14)
    assert (ers.site_count, ers.resolved_active_fraction) == (0, 1.0)
    assert ers.resolved_particle_count == round(500 / 40)
    ers_3d = LiFoilGeometry(surface="ers", dimension=3)
    assert ers_3d.resolved_particle_count == round(500**2 / 40**2)
    assert bare.reference_length == 500e-9 and bare.projected_area == 500e-9
    slab_3d = LiFoilGeometry(dimension=3, depth=200e-9)
    assert slab_3d.projected_area == pytest.approx(500e-9 * 200e-9)


def test_planar_defaults():
    planar = PlanarGeometry()
    assert planar.reference_length == 100e-6
    assert planar.resolved_width == pytest.approx(5e-6)
    assert planar.resolved_electrode_thickness == pytest.approx(10e-6)
    assert PlanarGeometry(dimension=3).projected_area == pytest.approx(25e-12)


@pytest.mark.parametrize("keys, key", [
    ({"active_fraction": 1.5}, "geometry.active_fraction"),
    ({"active_fraction": 0.0}, "geometry.active_fraction"),
    ({"surface": "rough"}, "geometry.surface"),
    ({"dimension": 1}, "geometry.dimension"),
    ({"width": -1e-9}, "geometry.width"),
    ({"surface": "ers", "active_fraction": 0.5}, "geometry.active_fraction"),
    ({"surface": "prs", "particle_count": 3}, "geometry.particle_count"),
    ({"surface": "bare", "particle_count": 2}, "geometry.particle_count"),
    ({"particle_embedding": 1.0}, "geometry.particle_embedding"),
    ({"depth": 100e-9}, "geometry.depth"),
])
def test_bad_keys_raise_value_error_naming_the_key(keys, key):
    with pytest.raises(ValueError, match=key):
        LiFoilGeometry(**keys)


def test_case_loader_turns_geometry_errors_into_case_errors():
    case = case_from_dict({"name": "c", "geometry": {"kind": "li_foil", "surface": "prs"}})
    # An equipotential electrode (the default) is not meshed
    assert case.geometry == LiFoilGeometry(surface="prs", mesh_electrode=False)
    with pytest.raises(CaseError, match="geometry.active_fraction"):
        case_from_dict({"name": "c", "geometry": {"kind": "li_foil", "active_fraction": 2}})
    with pytest.raises(CaseError, match="geometry.particle_count"):
        case_from_dict({"name": "c", "geometry": {"kind": "li_foil", "surface": "prs",
                                                  "particle_count": 1}})


def test_regular_sites_have_equal_gaps():
    params = LiFoilGeometry(active_fraction=0.2)
    centres = layout(params).sites[:, 0]
    starts, ends = centres - 10, centres + 10  # 20 nm sites
    gaps = starts[1:] - ends[:-1]
    assert len(centres) == 5
    assert np.allclose(gaps, gaps[0])
    assert np.isclose(starts[0], gaps[0] / 2) and np.isclose(500 - ends[-1], gaps[0] / 2)


def test_prs_particles_sit_on_the_sites_with_their_embedding():
    params = LiFoilGeometry(surface="prs", particle_embedding=0.3)
    features = layout(params)
    d = params.particle_diameter * NM
    assert np.allclose(features.particles[:, 0], features.sites[:, 0])
    assert np.allclose(features.particles[:, 1], d / 2 - 0.3 * d)


def test_regular_3d_grid_keeps_the_exact_site_count():
    params = LiFoilGeometry(surface="prs", dimension=3, width=200e-9, depth=150e-9)
    features = layout(params)
    assert len(features.sites) == params.site_count == round(0.56 * 200 * 150 / 400)
    _assert_apart(features.particles[:, :2], params.particle_diameter * NM * (1 + MIN_GAP))


def _assert_apart(centres, distance):
    offsets = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(offsets, np.inf)
    assert offsets.min() >= distance * (1 - 1e-9)


@pytest.mark.parametrize("surface, dimension", [("bare", 2), ("prs", 2), ("ers", 3)])
def test_random_layout_is_reproducible_and_fits(surface, dimension):
    params = LiFoilGeometry(surface=surface, dimension=dimension, site_layout="random",
                            width=200e-9, seed=7)
    first, again = layout(params), layout(params)
    other = layout(LiFoilGeometry(surface=surface, dimension=dimension, site_layout="random",
                                  width=200e-9, seed=8))
    centres = first.particles[:, :dimension - 1] if surface != "bare" else first.sites
    assert np.array_equal(first.particles, again.particles)
    assert np.array_equal(first.sites, again.sites)
    assert not np.array_equal(centres, other.particles[:, :dimension - 1] if surface != "bare"
                              else other.sites)
    d, site = params.particle_diameter * NM, params.site_width * NM
    if surface == "bare":
        assert np.all(np.diff(np.sort(centres[:, 0])) >= site)
        assert np.all((centres >= site / 2) & (centres <= 200 - site / 2))
    else:
        _assert_apart(centres, d * (1 + MIN_GAP))
        assert np.all((centres >= d / 2) & (centres <= 200 - d / 2))


@pytest.mark.parametrize("keys, message", [
    ({"site_width": 21e-9, "active_fraction": 1.0}, "do not fit"),
    ({"surface": "prs", "active_fraction": 1.0}, "do not fit"),
    ({"surface": "ers", "particle_count": 30}, "do not fit"),
    ({"active_fraction": 0.01}, "no active site"),
    ({"surface": "prs", "particle_embedding": 0.1, "electrolyte_height": 18e-9}, "counter"),
    ({"surface": "prs", "particle_embedding": 0.9, "electrode_thickness": 15e-9}, "collector"),
    ({"surface": "prs", "active_fraction": 0.95, "site_layout": "random"}, "at random"),
])
def test_layouts_that_cannot_be_built_raise_geometry_error(keys, message):
    with pytest.raises(GeometryError, match=message):
        layout(LiFoilGeometry(**keys))


def _groups(model) -> dict[int, str]:
    return {tag: model.getPhysicalName(dim, tag) for dim, tag in model.getPhysicalGroups()}


# The tags of a planar cell (the particle families use the others of femsolver.tags).
CELL_TAGS = {t: n for t, n in tags.NAMES.items() if t < tags.ACTIVE}


@pytest.mark.parametrize("surface, blocking", [("bare", True), ("prs", True), ("ers", False)])
def test_li_foil_physical_groups_use_the_tag_table(model, surface, blocking):
    REGISTRY["li_foil"].build(model, LiFoilGeometry(surface=surface, width=200e-9), MeshParams())
    expected = {t: n for t, n in CELL_TAGS.items() if blocking or t != tags.WORKING_BLOCKING}
    assert _groups(model) == expected


def test_planar_physical_groups_have_no_blocking_part(model):
    REGISTRY["planar"].build(model, PlanarGeometry(dimension=3), MeshParams())
    assert _groups(model) == {t: n for t, n in CELL_TAGS.items() if t != tags.WORKING_BLOCKING}
