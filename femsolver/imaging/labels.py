"""Label -> role table of a segmented image, and the tags that roles and their contacts give.

Roles: the regions of `femsolver.tags` (electrolyte, electrode, active, shell, matrix, coating),
`blocking` (electrode material whose surface towards the electrolyte does not react, e.g. a
particle fused to the Li: its cells are `electrode`) and `void` (not meshed: pores of an
insulating phase, a hole). Facets are tagged from the roles of the two voxels that share them:
a Li voxel next to an electrolyte voxel is `working_active`, a blocking voxel next to the
electrolyte `working_blocking`, an active core next to shell, matrix or coating
`particle_active`, next to a void `particle_blocking`. Outer faces: the top plane (last plane of
the first array axis) is the counter electrode where the electrolyte (or an ion conductor)
meets it, the bottom plane the current collector where the electrode (or an active core)
meets it, all other outer faces and faces towards voids are insulating sides.
"""

from __future__ import annotations

import numpy as np

from femsolver import tags

VOID = 0  # cell tag of unmeshed voxels
ROLE_TAGS = {"electrolyte": tags.ELECTROLYTE, "electrode": tags.ELECTRODE,
             "blocking": tags.ELECTRODE, "active": tags.ACTIVE, "shell": tags.SHELL,
             "matrix": tags.MATRIX, "coating": tags.COATING, "void": VOID}
ROLES = tuple(ROLE_TAGS)
CELL_ROLES = ("electrolyte", "electrode", "blocking")  # an electrode | electrolyte cell
PARTICLE_ROLES = ("active", "shell", "matrix", "coating")
CONDUCTORS = ("shell", "matrix", "coating", "electrolyte")  # ion conductors

# Role codes: small integers the facet rules are tabulated on (0 = void, outside the image)
CODES = {role: code for code, role in enumerate(("void", *ROLES[:-1]))}
_N = len(CODES)


def role_table(labels: dict) -> dict[int, str]:
    """{label: role} from the case table {"label": "role"}; ValueError naming the key."""
    table = {}
    for key, role in labels.items():
        try:
            label = int(key)
        except ValueError:
            raise ValueError(f"'geometry.labels': keys are the image's integer labels, got "
                             f"{key!r}") from None
        if role not in ROLE_TAGS:
            raise ValueError(f"'geometry.labels.{key}' must be one of {', '.join(ROLES)}, "
                             f"got {role!r}")
        table[label] = role
    if not table:
        raise ValueError("'geometry.labels' is empty: map each label of the image to a role")
    roles = set(table.values()) - {"void"}
    if roles & set(CELL_ROLES) and roles & set(PARTICLE_ROLES):
        raise ValueError("'geometry.labels' mixes cell roles (electrolyte, electrode, blocking) "
                         "with particle roles (active, shell, matrix, coating)")
    return table


def code_image(labels: np.ndarray, table: dict[int, str], path: str) -> np.ndarray:
    """Role codes (uint8) of a label array; ValueError naming any label missing from the table."""
    lookup_keys = np.array(sorted(table), dtype=np.int64)
    found = np.unique(labels)
    missing = np.setdiff1d(found, lookup_keys)
    if len(missing):
        raise ValueError(f"'geometry.labels' has no role for label(s) "
                         f"{', '.join(str(m) for m in missing[:8])} found in {path}")
    codes = np.array([CODES[table[k]] for k in lookup_keys], dtype=np.uint8)
    return codes[np.searchsorted(lookup_keys, labels)]


def cell_tags(codes: np.ndarray) -> np.ndarray:
    """Cell tag of each role code (VOID for voids)."""
    by_code = np.zeros(_N, dtype=np.int32)
    for role, code in CODES.items():
        by_code[code] = ROLE_TAGS[role]
    return by_code[codes]


def _pair_table() -> np.ndarray:
    """FACET[a, b]: tag of a facet between a voxel of role code a and one of code b (0: none).
    Code 0 on one side is a void or the outside: the other side's wall tag."""
    table = np.zeros((_N, _N), dtype=np.int32)

    def both(a, b, tag):
        table[CODES[a], CODES[b]] = table[CODES[b], CODES[a]] = tag

    both("electrolyte", "electrode", tags.WORKING_ACTIVE)
    both("electrolyte", "blocking", tags.WORKING_BLOCKING)
    for conductor in ("shell", "matrix", "coating"):
        both("active", conductor, tags.PARTICLE_ACTIVE)
    both("active", "void", tags.PARTICLE_BLOCKING)
    both("electrolyte", "void", tags.ELECTROLYTE_SIDES)
    for role in ("electrode", "blocking"):
        both(role, "void", tags.ELECTRODE_SIDES)
    for role in ("shell", "matrix", "coating"):
        both(role, "void", tags.ELECTROLYTE_SIDES)
    return table


FACET = _pair_table()


def outer_tags(codes: np.ndarray, face: str) -> np.ndarray:
    """Tag of the outer faces of voxels of the given codes on the 'top', 'bottom' or 'side'."""
    wall = FACET[:, CODES["void"]].copy()
    wall[CODES["active"]] = 0  # a core cut by a side of the box: a symmetry wall
    if face == "top":
        for role in ("electrolyte", "shell", "matrix", "coating"):
            wall[CODES[role]] = tags.COUNTER
    elif face == "bottom":
        for role in ("electrode", "blocking", "active"):
            wall[CODES[role]] = tags.CURRENT_COLLECTOR
    return wall[codes]
