"""The peer half of benchmarks/peer_echemfem.py: the same cell solved by LLNL's EchemFEM.

Runs under the peer's own interpreter (Firedrake + EchemFEM; ../shared/peers/echemfem-build.md
builds one), never under femsolver's:

    mpirun -n 2 PEER_PYTHON benchmarks/echemfem_case.py MESH.msh RESULT.json [--line-search l2]

The problem is femsolver's `peer_bare` case of benchmarks/peer_echemfem.py written in EchemFEM's
terms: a dilute binary salt (Li+ and its anion, electroneutral Nernst-Planck), Butler-Volmer
kinetics (i0 = 10 A/m2 at c0, alpha = 0.5, the anodic form of femsolver's K1) on the active
sites (gmsh tag 11) at -0.2 V and on the counter electrode (tag 13) at 0 V, c = c0 at the
counter electrode, P1 (CG), steady; MUMPS LU in a Newton solve. The constants are femsolver's
(femsolver/physics/constants.py), copied here because this interpreter cannot import femsolver.
Writes the working-electrode current (A/m, 2D), the Newton iterations and the times to JSON.
"""

import argparse
import json
import time

from firedrake import COMM_WORLD, Constant, Mesh, assemble, ds, exp
from firedrake.petsc import PETSc
from mpi4py import MPI

from echemfem import EchemSolver

FARADAY, GAS_CONSTANT, TEMPERATURE = 96485.33212, 8.314462618, 298.15
C0, D_CATION, D_ANION, I0, ALPHA = 1000.0, 4e-10, 6e-10, 10.0, 0.5
WORKING_ACTIVE, COUNTER = 11, 13
V_WORKING, V_COUNTER = -0.2, 0.0


def newton(line_search: str) -> dict:
    """Newton to round-off with MUMPS LU: EchemFEM's own settings with a chosen line search."""
    return {"snes_type": "newtonls", "snes_linesearch_type": line_search,
            "snes_rtol": 1e-16, "snes_atol": 1e-16, "snes_max_it": 50,
            "mat_type": "aij", "ksp_type": "preonly", "pc_type": "lu",
            "pc_factor_mat_solver_type": "mumps"}


class Cell(EchemSolver):
    def __init__(self, mesh_file: str):
        conc_params = [{"name": "Li", "diffusion coefficient": D_CATION, "z": 1.0, "bulk": C0},
                       {"name": "X", "diffusion coefficient": D_ANION, "z": -1.0, "bulk": C0}]
        physical_params = {"flow": ["diffusion", "migration", "electroneutrality"],
                           "F": FARADAY, "R": GAS_CONSTANT, "T": TEMPERATURE}
        f = FARADAY / (GAS_CONSTANT * TEMPERATURE)

        def reaction(u, V):
            eta = V - u[1]
            return I0 * (exp(ALPHA * f * eta) - u[0] / C0 * exp(-ALPHA * f * eta))

        echem_params = [
            {"reaction": lambda u: reaction(u, Constant(V_WORKING)), "electrons": 1,
             "stoichiometry": {"Li": 1}, "boundary": "working"},
            {"reaction": lambda u: reaction(u, Constant(V_COUNTER)), "electrons": 1,
             "stoichiometry": {"Li": 1}, "boundary": "counter"}]
        self.reaction = reaction
        super().__init__(conc_params, physical_params, Mesh(mesh_file),
                         echem_params=echem_params, family="CG")

    def set_boundary_markers(self):
        self.boundary_markers = {"working": (WORKING_ACTIVE,), "counter": (COUNTER,),
                                 "bulk dirichlet": (COUNTER,)}


def evaluations() -> dict:
    """{residual, jacobian: (count, seconds)} of the SNES evaluations so far."""
    info = {name: PETSc.Log.Event(event).getPerfInfo()
            for name, event in (("residual", "SNESFunctionEval"), ("jacobian", "SNESJacobianEval"))}
    return {name: (i["count"], i["time"]) for name, i in info.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mesh")
    parser.add_argument("json")
    parser.add_argument("--line-search", default="basic", choices=("basic", "l2", "bt"))
    args = parser.parse_args()
    PETSc.Log.begin()
    start = time.perf_counter()
    cell = Cell(args.mesh)
    cell.save_solutions = False
    cell.init_solver_parameters(custom_solver=newton(args.line_search),
                                custom_potential_solver=newton(args.line_search))
    t0 = time.perf_counter()
    cell.setup_solver()  # includes EchemFEM's initial potential solve at constant c
    t1 = time.perf_counter()
    before = evaluations()
    cell.solve()
    t2 = time.perf_counter()
    snes = cell.echem_solver.snes
    u = cell.u.subfunctions
    current = assemble(cell.reaction(u, Constant(V_WORKING)) * ds(WORKING_ACTIVE))
    events = {}
    for key, (count, seconds) in evaluations().items():  # the solve's, not the initial solve's
        events[f"{key}_evaluations"] = count - before[key][0]
        events[f"{key}_time_s"] = COMM_WORLD.allreduce(seconds - before[key][1], op=MPI.MAX)
    if COMM_WORLD.rank == 0:
        with open(args.json, "w") as f:
            json.dump({"unknowns": cell.u.function_space().dim(),
                       "working_current_A_m": float(current),
                       "newton_iterations": snes.getIterationNumber(),
                       "converged_reason": snes.getConvergedReason(),
                       "setup_s": t1 - t0, "solve_s": t2 - t1, "total_s": t2 - start,
                       "ranks": COMM_WORLD.size, "line_search": args.line_search,
                       "petsc": PETSc.Sys.getVersion(), **events}, f)


if __name__ == "__main__":
    main()
