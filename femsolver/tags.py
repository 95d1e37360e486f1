"""Physical-group names and numbers shared by the Gmsh builders and the solver.

Every cell belongs to exactly one region; the facets named here are the only
ones the solver integrates over. Numbers are the gmsh physical-group tags and
hence the dolfinx meshtag values.
"""

# Regions (cells)
ELECTROLYTE = 1
ELECTRODE = 2  # working electrode: Li slab plus any particles fused to it
ACTIVE = 21  # active-material core of a particle (e.g. NMC811)
SHELL = 22  # ion-conducting shell around the core (e.g. Li6PS5Cl)
MATRIX = 23  # ion-conducting matrix around the particles (solid or liquid electrolyte)
COATING = 24  # thin coating between core and shell (e.g. LiNbO3), when it is meshed

# Boundaries (facets)
WORKING_ACTIVE = 11  # electrolyte | working electrode, electrochemically active
WORKING_BLOCKING = 12  # electrolyte | working electrode, blocking (no current)
COUNTER = 13  # top of the electrolyte: flat Li counter electrode, grounded
CURRENT_COLLECTOR = 14  # bottom of the working-electrode slab
ELECTROLYTE_SIDES = 15  # lateral walls of the electrolyte (insulating, symmetry)
ELECTRODE_SIDES = 16  # lateral walls of the electrode slab (insulating)
PARTICLE_ACTIVE = 31  # core surface where Li crosses (to the coating, shell or matrix)
PARTICLE_BLOCKING = 32  # core surface facing voids (no current)

REGIONS = {"electrolyte": ELECTROLYTE, "electrode": ELECTRODE, "active": ACTIVE,
           "shell": SHELL, "matrix": MATRIX, "coating": COATING}
BOUNDARIES = {
    "working_active": WORKING_ACTIVE,
    "working_blocking": WORKING_BLOCKING,
    "counter": COUNTER,
    "current_collector": CURRENT_COLLECTOR,
    "electrolyte_sides": ELECTROLYTE_SIDES,
    "electrode_sides": ELECTRODE_SIDES,
    "particle_active": PARTICLE_ACTIVE,
    "particle_blocking": PARTICLE_BLOCKING,
}
NAMES = {**{v: k for k, v in REGIONS.items()}, **{v: k for k, v in BOUNDARIES.items()}}
