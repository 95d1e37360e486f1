"""Physical-group names and numbers shared by the Gmsh builders and the solver.

Every cell belongs to exactly one region; the facets named here are the only
ones the solver integrates over. Numbers are the gmsh physical-group tags and
hence the dolfinx meshtag values.
"""

# Regions (cells)
ELECTROLYTE = 1
ELECTRODE = 2  # working electrode: Li slab plus any particles fused to it

# Boundaries (facets)
WORKING_ACTIVE = 11  # electrolyte | working electrode, electrochemically active
WORKING_BLOCKING = 12  # electrolyte | working electrode, blocking (no current)
COUNTER = 13  # top of the electrolyte: flat Li counter electrode, grounded
CURRENT_COLLECTOR = 14  # bottom of the working-electrode slab
ELECTROLYTE_SIDES = 15  # lateral walls of the electrolyte (insulating, symmetry)
ELECTRODE_SIDES = 16  # lateral walls of the electrode slab (insulating)

REGIONS = {"electrolyte": ELECTROLYTE, "electrode": ELECTRODE}
BOUNDARIES = {
    "working_active": WORKING_ACTIVE,
    "working_blocking": WORKING_BLOCKING,
    "counter": COUNTER,
    "current_collector": CURRENT_COLLECTOR,
    "electrolyte_sides": ELECTROLYTE_SIDES,
    "electrode_sides": ELECTRODE_SIDES,
}
NAMES = {**{v: k for k, v in REGIONS.items()}, **{v: k for k, v in BOUNDARIES.items()}}
