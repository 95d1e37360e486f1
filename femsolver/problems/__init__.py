"""The two problem families and what each is solved and reported with.

- `cell`: an electrode | electrolyte cell (Li-foil surfaces, planar cells): `CellProblem` and
  `CellOutputs`, `study.compare_cells` for finished runs.
- `particle`: an active core in an ion conductor (core-shell, composite, inclusion):
  `ParticleProblem`, `ParticleOutputs`, `study.compare_particles`.
`regions` holds what both build on (region submeshes, interfaces, facet dofs). A geometry
family names its problem family (`geometries.GeometryFamily.problem`).
"""


def build_problem(case, domain):
    """(problem, outputs) for the case's problem family."""
    if case.problem == "particle":
        from femsolver.problems.particle.outputs import ParticleOutputs
        from femsolver.problems.particle.problem import ParticleProblem

        problem = ParticleProblem(case, domain)
        return problem, ParticleOutputs(problem)
    from femsolver.problems.cell.outputs import CellOutputs
    from femsolver.problems.cell.problem import CellProblem

    problem = CellProblem(case, domain)
    return problem, CellOutputs(problem)
