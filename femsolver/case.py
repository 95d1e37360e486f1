"""Case files: TOML in SI units -> frozen dataclasses.

Every key is documented with its unit in the dataclass field metadata; `femsolver.case.describe()`
prints them. Unknown keys, wrong types and unphysical values raise `CaseError` naming the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path

from femsolver.errors import CaseError
from femsolver.materials.active import active_material
from femsolver.materials.electrolytes import KEYS, concentrated_properties
from femsolver.materials.solid_electrolytes import ionic_conductivities
from femsolver.schema import check_value, rules
from femsolver.sections import (
    CELL_CONTROL_KEYS, PARTICLE_CONTROL_KEYS, PARTICLE_SECTIONS, SECTIONS, ActiveParams,
    CoatingParams, ControlParams, ElectrodeParams, ElectrolyteParams, KineticsParams,
    MeshParams, OutputParams, PlatingParams, SolidElectrolyteParams, SolverParams, TimeParams)


@dataclass(frozen=True)
class Case:
    name: str
    geometry: typing.Any  # the geometry family's own parameter dataclass
    mesh: MeshParams
    electrolyte: ElectrolyteParams
    electrode: ElectrodeParams
    kinetics: KineticsParams
    control: ControlParams
    time: TimeParams
    solver: SolverParams
    output: OutputParams
    active: ActiveParams = field(default_factory=ActiveParams)
    solid_electrolyte: SolidElectrolyteParams = field(default_factory=SolidElectrolyteParams)
    coating: CoatingParams = field(default_factory=CoatingParams)
    plating: PlatingParams = field(default_factory=PlatingParams)

    @property
    def output_directory(self) -> Path:
        return Path(self.output.directory or f"results/{self.name}")

    @property
    def problem(self) -> str:
        """"cell" (electrode | electrolyte) or "particle" (active core in an ion conductor)."""
        return problem_of(self.geometry)


def problem_of(geometry) -> str:
    """The kind of problem a geometry's family is solved with (`GeometryFamily.problem`)."""
    from geometries import family_of

    # an image's problem follows its label roles (geometries/image.py)
    return getattr(geometry, "problem", None) or getattr(family_of(geometry), "problem", "cell")


def _unknown(key: str, allowed) -> CaseError:
    close = difflib.get_close_matches(key.rsplit(".", 1)[-1], list(allowed), n=1, cutoff=0.5)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return CaseError(f"unknown key '{key}'{hint}; allowed: {', '.join(sorted(allowed))}")


_ACCEPTS = {
    "bool": lambda v: v if isinstance(v, bool) else None,
    "int": lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None,
    "float": lambda v: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None,
    "str": lambda v: v if isinstance(v, str) else None,
    "dict": lambda v: v if isinstance(v, dict) else None,
}


def _convert(value, annotation: str, key: str):
    """Check `value` against a dataclass annotation string; ints are accepted as floats."""
    kinds = [a.strip() for a in annotation.split("|")]
    if value is None:
        if "None" in kinds:
            return None
        raise CaseError(f"'{key}' needs a value")
    for kind in kinds:
        if kind in _ACCEPTS and (converted := _ACCEPTS[kind](value)) is not None:
            return converted
    expected = " or ".join(k for k in kinds if k != "None")
    raise CaseError(f"'{key}' must be a {expected}, got {value!r}")


def build_section(cls, table: dict, prefix: str):
    """Build dataclass `cls` from a TOML table, validating every key."""
    if not isinstance(table, dict):
        raise CaseError(f"'{prefix}' must be a table ([{prefix}])")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values = {}
    for key, value in table.items():
        if key not in fields:
            raise _unknown(f"{prefix}.{key}", fields)
        f = fields[key]
        name = f"{prefix}.{key}"
        value = _convert(value, str(f.type), name)
        try:
            check_value(name, value, f.metadata)
        except ValueError as err:
            raise CaseError(str(err)) from None
        values[key] = value
    missing = [k for k, f in fields.items()
               if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
               and k not in values]
    if missing:
        raise CaseError(f"missing key '{prefix}.{missing[0]}'")
    try:
        return cls(**values)
    except ValueError as err:  # cross-key checks in __post_init__
        raise CaseError(str(err)) from None


def _parse_override(text: str) -> tuple[list[str], object]:
    if "=" not in text:
        raise CaseError(f"--set expects section.key=value, got '{text}'")
    path, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare words are strings: --set geometry.surface=ers
    return path.strip().split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `section.key=value` overrides to the raw TOML dictionary."""
    for text in overrides:
        keys, value = _parse_override(text)
        table = data
        for k in keys[:-1]:
            table = table.setdefault(k, {})
            if not isinstance(table, dict):
                raise CaseError(f"--set {text}: '{k}' is not a section")
        table[keys[-1]] = value
    return data


def case_from_dict(data: dict) -> Case:
    """Validate a raw case dictionary (as read from TOML) into a `Case`."""
    from geometries import REGISTRY

    data = dict(data)
    allowed = {"name", "geometry", *SECTIONS}
    for key in data:
        if key not in allowed:
            raise _unknown(key, allowed)
    name = data.pop("name", None)
    if not isinstance(name, str) or not name:
        raise CaseError("missing key 'name' (a string naming the case)")
    if not NAME.fullmatch(name):
        raise CaseError(f"'name' must be letters, digits and _ . + - (it names the directory "
                        f"results/<name>), got {name!r}")
    geometry = dict(data.pop("geometry", None) or {})
    kind = geometry.pop("kind", None)
    if kind is None:
        raise CaseError(f"missing key 'geometry.kind' (one of {', '.join(REGISTRY)})")
    if kind not in REGISTRY:
        raise CaseError(f"'geometry.kind' must be one of {', '.join(REGISTRY)}, got {kind!r}")
    sections = {s: build_section(cls, data.get(s, {}), s) for s, cls in SECTIONS.items()}
    case = Case(name=name, geometry=build_section(REGISTRY[kind].params, geometry, "geometry"),
                **sections)
    _check_sections_apply(case, data, kind)
    case = _electrode_mesh(case)
    _check_case(case)
    return case


def _electrode_mesh(case: Case) -> Case:
    """Resolve geometry.mesh_electrode: mesh the electrode only when it is resolved (an
    equipotential electrode is one unknown; its cells would be meshed for nothing)."""
    if not hasattr(case.geometry, "mesh_electrode"):
        return case
    meshed, resolved = case.geometry.mesh_electrode, not case.electrode.equipotential
    if meshed is None:
        return dataclasses.replace(
            case, geometry=dataclasses.replace(case.geometry, mesh_electrode=resolved))
    if resolved and meshed is False:
        raise CaseError("'geometry.mesh_electrode' = false leaves no cells for a resolved "
                        "electrode (electrode.equipotential = false): omit it or set true")
    return case


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}")
# PETSc option names and word values; a viewer is TYPE[:FILE[:FORMAT]] with FILE a bare name.
OPTION = re.compile(r"[a-z0-9_]{1,80}")
WORD = re.compile(r"[A-Za-z0-9_.+-]{0,80}")
VIEWERS = ("", "ascii", "binary", "draw", "hdf5", "vtk", "matlab")


def _check_petsc_options(options: dict) -> None:
    """solver.petsc_options: names and values only; a viewer may write one file, by a bare
    name (the solver puts it in the output directory)."""
    for key, value in options.items():
        name = f"solver.petsc_options.{key}"
        if not OPTION.fullmatch(key):
            raise CaseError(f"'{name}': not a PETSc option name (lower-case letters, digits, _)")
        if isinstance(value, (bool, int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise CaseError(f"'{name}' must be finite, got {value}")
            continue
        if not isinstance(value, str):
            raise CaseError(f"'{name}' must be a number, a boolean or a word, got {value!r}")
        if WORD.fullmatch(value):
            continue
        kind, _, rest = value.partition(":")
        file, _, fmt = rest.partition(":")
        if kind not in VIEWERS or not WORD.fullmatch(fmt) or not WORD.fullmatch(file) \
                or file.startswith("."):
            raise CaseError(f"'{name}' = {value!r}: a viewer must be TYPE[:FILE[:FORMAT]] with "
                            f"TYPE one of {', '.join(v for v in VIEWERS if v)} and FILE a bare "
                            "file name (it is written in the output directory)")


def _check_sections_apply(case: Case, data: dict, kind: str) -> None:
    """Refuse keys the case's problem would ignore (named as written in the case file)."""
    control = data.get("control", {})
    if case.problem == "particle":
        wrong = [f"control.{k}" for k in CELL_CONTROL_KEYS if k in control]
        if wrong:
            raise CaseError(f"'{wrong[0]}' does not apply to particle geometries (geometry.kind = "
                            f"'{kind}'); set the current with control.c_rate")
        counter = data.get("kinetics", {}).get("counter", "ideal")
        if counter != "ideal":
            raise CaseError(f"'kinetics.counter' = {counter!r} does not apply to particle "
                            f"geometries (geometry.kind = '{kind}'): their counter electrode is "
                            "an ideal Li electrode at potential 0; omit the key or set 'ideal'")
        return
    wrong = [s for s in PARTICLE_SECTIONS if s in data]
    wrong += [f"control.{k}" for k in PARTICLE_CONTROL_KEYS if k in control]
    if wrong:
        raise CaseError(f"'{wrong[0]}' applies to particle geometries only (geometry.kind = "
                        f"core_shell or composite), not to geometry.kind = '{kind}'")


def _check_particle_case(case: Case) -> None:
    control = case.control
    if control.mode != "galvanostatic":
        raise CaseError("'control.mode' must be 'galvanostatic' for particle geometries")
    if case.time.mode == "steady":
        raise CaseError("'time.mode' must be 'transient' for particle geometries (a core under "
                        "a constant current has no steady state)")
    if control.voltage_min >= control.voltage_max:
        raise CaseError(f"'control.voltage_min' ({control.voltage_min}) must be below "
                        f"'control.voltage_max' ({control.voltage_max})")
    meshed = getattr(case.geometry, "coating_meshed", False)
    if case.coating.conductivity is not None and not meshed:
        raise CaseError("'coating.conductivity' needs geometry.coating_meshed = true (otherwise "
                        "the coating is an interface film: set coating.film_resistance)")
    if meshed and case.coating.conductivity is None:
        raise CaseError("missing key 'coating.conductivity' (needed with "
                        "geometry.coating_meshed = true)")
    try:
        active_material(case.active)
        ionic_conductivities(case)
    except ValueError as err:
        raise CaseError(str(err)) from None


def _check_case(case: Case) -> None:
    """Checks that involve more than one key."""
    if case.problem == "particle":
        _check_particle_case(case)
    el = case.electrolyte
    if el.model == "concentrated":
        try:
            concentrated_properties(el)
        except ValueError as err:
            raise CaseError(str(err)) from None
        if el.diffusion_activation_energy:
            raise CaseError("'electrolyte.diffusion_activation_energy' is for the dilute model; "
                            "write the temperature dependence into electrolyte.diffusivity")
    else:
        for key in ("material", *KEYS):
            if getattr(el, key) is not None:
                raise CaseError(f"'electrolyte.{key}' is used only with electrolyte.model = "
                                "'concentrated'")
    if case.control.mode == "potentiostatic" and case.control.voltage is None:
        raise CaseError("missing key 'control.voltage' (needed when control.mode = 'potentiostatic')")
    if case.control.rest_after is not None and case.control.mode != "galvanostatic":
        raise CaseError("'control.rest_after' needs control.mode = 'galvanostatic'")
    if case.solver.linear == "iterative" and case.time.mode == "steady":
        raise CaseError("'solver.linear' = 'iterative' needs time.mode = 'transient' (the steady "
                        "salt-inventory multiplier has no diagonal block to precondition)")
    if case.time.mode == "transient" and case.time.dt > case.time.end:
        raise CaseError(f"'time.dt' ({case.time.dt}) is larger than 'time.end' ({case.time.end})")
    _check_plating(case)
    _check_petsc_options(case.solver.petsc_options)
    _check_mesh_size(case)


def _check_plating(case: Case) -> None:
    """A growing surface needs a cell geometry with an unmeshed (equipotential) electrode and
    a transient run; control.plated_charge_C_m2 needs a growing surface."""
    if not case.plating.enabled:
        if case.control.plated_charge_C_m2 is not None:
            raise CaseError("'control.plated_charge_C_m2' needs plating.enabled = true")
        return
    if case.problem != "cell" or not hasattr(case.geometry, "mesh_electrode"):
        raise CaseError("'plating.enabled' applies to the li_foil and planar geometries (whose "
                        "electrode can be left unmeshed and whose electrolyte can be remeshed)")
    if not case.electrode.equipotential or case.geometry.mesh_electrode:
        raise CaseError("'plating.enabled' needs an equipotential electrode that is not meshed "
                        "(electrode.equipotential = true, geometry.mesh_electrode unset or "
                        "false): the electrolyte is the only region that moves")
    if case.time.mode != "transient":
        raise CaseError("'plating.enabled' needs time.mode = 'transient'")


# Unknowns per cell of the cell problem's P1 fields (two fields on the vertices: about 1/2
# vertex per triangle, 1/5.5 per tetrahedron), for the memory figure of a refused mesh.
DOFS_PER_CELL = {2: 1.0, 3: 0.36}


def _check_mesh_size(case: Case) -> None:
    """Refuse a mesh predicted to exceed mesh.max_cells, before any meshing."""
    from femsolver.solver import direct_memory
    from geometries.common import predict_cells

    extent = case.geometry.mesh_extent(case.mesh)
    cells = predict_cells(extent, case.mesh.refine)
    if cells <= case.mesh.max_cells:
        return
    memory = direct_memory(int(min(cells, 1e15) * DOFS_PER_CELL[extent.dim]), extent.dim)
    raise CaseError(
        f"the mesh would have about {cells:.3g} cells (element size {extent.h_fine:.3g} m at the "
        f"interface, {extent.h_bulk:.3g} m in the bulk, mesh.refine = {case.mesh.refine}), more "
        f"than mesh.max_cells = {case.mesh.max_cells}; a direct solve would need about "
        f"{memory / 2**30:.3g} GiB. Choose larger mesh.h_interface / mesh.h_bulk or fewer "
        f"refinements, or raise mesh.max_cells")


def check_runnable(case: Case) -> None:
    """What `femsolver run` needs beyond a valid case (`femsolver effective` or `mesh` read the
    same case without a transient to drive)."""
    if case.problem == "particle" and case.control.c_rate is None:
        raise CaseError("missing key 'control.c_rate' (the applied current of a particle "
                        "geometry, 1/h)")


MAX_CASE_BYTES = 1 << 20


def load_case(path: str | Path, overrides: list[str] = (), output: str | None = None) -> Case:
    """Read a TOML case file, apply `--set` overrides and an output directory (`-o`, taken
    as it is) and validate."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_CASE_BYTES:
            raise CaseError(f"{path} is larger than {MAX_CASE_BYTES >> 20} MiB: not a case file")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CaseError(f"case file not found: {path}") from None
    except UnicodeDecodeError as err:
        raise CaseError(f"{path}: not a text (UTF-8) file: byte {err.start} cannot be read") \
            from None
    except OSError as err:
        raise CaseError(f"cannot read the case file {path}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise CaseError(f"{path}: not valid TOML: {err}") from None
    data = apply_overrides(data, list(overrides))
    if output is not None:
        data.setdefault("output", {})
        if not isinstance(data["output"], dict):
            raise CaseError("'output' must be a table ([output])")
        data["output"]["directory"] = str(output)
    return case_from_dict(data)


def describe() -> str:
    """All keys with defaults and units, for `femsolver keys` and the docs."""
    from geometries import REGISTRY

    lines = []
    groups = [(f"geometry (kind = {k})", fam.params) for k, fam in REGISTRY.items()]
    groups += [(f"{s} (particle geometries only)" if s in PARTICLE_SECTIONS else s, cls)
               for s, cls in SECTIONS.items()]
    for title, cls in groups:
        lines.append(f"[{title.split(' ')[0]}]" + (f"  # {title}" if " " in title else ""))
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else "{}"
            rule = rules(f.metadata)
            rule = f" ({rule})" if rule else ""
            lines.append(f"  {f.name} = {default!r}  # {f.metadata.get('doc', '')}{rule}")
    return "\n".join(lines)
