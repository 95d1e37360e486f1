"""Case files: defaults, overrides and clear messages that name the offending key."""

import pytest

from femsolver.case import apply_overrides, case_from_dict, describe, load_case
from femsolver.errors import CaseError

MINIMAL = {"name": "t", "geometry": {"kind": "planar"}}


def case_with(**sections):
    data = {**MINIMAL, **{k: dict(v) for k, v in sections.items()}}
    data["geometry"] = {**MINIMAL["geometry"], **sections.get("geometry", {})}
    return case_from_dict(data)


def test_defaults_are_the_documented_seed_values():
    case = case_with()
    assert case.electrolyte.c0 == 1000.0 and case.electrolyte.D_cation == 1e-9
    assert case.electrode.conductivity == 1.26e7
    assert case.kinetics.i0 == 10.0 and case.control.current_density == 25.0
    assert str(case.output_directory) == "results/t"


@pytest.mark.parametrize("sections, fragment", [
    ({"kinetics": {"io": 1.0}}, "unknown key 'kinetics.io' (did you mean 'i0'?)"),
    ({"electrode": {"conductivity": -1.0}}, "'electrode.conductivity' must be positive"),
    ({"electrolyte": {"c0": "lots"}}, "'electrolyte.c0' must be a float"),
    ({"control": {"mode": "galvanic"}}, "'control.mode' must be one of galvanostatic, potentiostatic"),
    ({"control": {"mode": "potentiostatic"}}, "missing key 'control.voltage'"),
    ({"time": {"dt": 1.0, "end": 0.1}}, "'time.dt' (1.0) is larger than 'time.end' (0.1)"),
    ({"solver": {"linear": "iterative"}, "time": {"mode": "steady"}},
     "'solver.linear' = 'iterative' needs time.mode = 'transient'"),
    ({"geometry": {"lenght": 1e-6}}, "unknown key 'geometry.lenght' (did you mean 'length'?)"),
    ({"geometry": {"kind": "sphere"}}, "'geometry.kind' must be one of"),
    ({"electrolyte": {"model": "concentrated", "material": "LiTFSI_DOL_DME_1M_BKCS2011",
                      "transference": 0.4}},
     "missing key 'electrolyte.diffusivity': the named electrolyte "
     "'LiTFSI_DOL_DME_1M_BKCS2011' has no sourced diffusivity"),
])
def test_bad_input_names_the_key(sections, fragment):
    with pytest.raises(CaseError) as err:
        case_with(**sections)
    assert fragment in str(err.value)


def test_missing_name_and_kind_and_unknown_section():
    with pytest.raises(CaseError, match="missing key 'name'"):
        case_from_dict({"geometry": {"kind": "planar"}})
    with pytest.raises(CaseError, match="missing key 'geometry.kind'"):
        case_from_dict({"name": "t", "geometry": {}})
    with pytest.raises(CaseError, match="unknown key 'kinetic'"):
        case_from_dict({**MINIMAL, "kinetic": {}})


def test_overrides_parse_toml_values_and_bare_words():
    data = apply_overrides({"kinetics": {"i0": 10.0}}, [
        "kinetics.i0=1.0", "control.current_density=100", "geometry.surface=ers",
        "electrode.equipotential=false"])
    assert data["kinetics"]["i0"] == 1.0
    assert data["control"]["current_density"] == 100
    assert data["geometry"]["surface"] == "ers"
    assert data["electrode"]["equipotential"] is False
    with pytest.raises(CaseError, match="section.key=value"):
        apply_overrides({}, ["kinetics.i0"])


def test_load_case_reports_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(CaseError, match="case file not found"):
        load_case(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(CaseError, match="not valid TOML"):
        load_case(bad)


def test_describe_lists_every_section():
    text = describe()
    for section in ("[geometry]", "[electrolyte]", "[kinetics]", "[control]", "[time]"):
        assert section in text
