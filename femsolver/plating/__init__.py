"""Deposition morphology: the working surface grows with its plating current (issue 13).

A plating run (`plating.enabled = true`) solves the same cell problem (CellProblem) on an
electrolyte mesh that follows the surface (arbitrary Lagrangian-Eulerian, docs/physics.md,
"Plating"):
- `ale`: the equations of the moving surface and mesh (G1-G4) as ufl forms;
- `motion`: interface velocity, mesh extension, exact Li volume per step, cell quality;
- `surface`: the interface as a polyline (2D) or point set (3D), its statistics and stop tests;
- `remesh`: a new gmsh mesh of the electrolyte from its current boundary, fields carried over;
- `stepping`: the time loop (explicit surface, implicit fields, steps limited by surface speed);
- `outputs`: surface.csv, the ParaView series plating.pvd, surface.png, plating.gif;
- `run`: the run's stages, called by femsolver.simulation.
"""
