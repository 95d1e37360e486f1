"""Physics as pure functions: fields and parameters in, ufl expressions or forms out.

Every function here works in the nondimensional variables of `docs/physics.md`:
lengths in units of L0, concentrations as u = c/c0 - 1, potentials in RT/F, current
densities in units of F c0 D0 / L0. Nothing here does I/O.
"""
