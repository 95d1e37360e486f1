"""femsolver against LLNL's EchemFEM on the same cell and the same mesh, side by side (issue 16).

    FEMSOLVER_PEER_PYTHON=/path/to/firedrake-venv/python \\
        .venv/bin/python benchmarks/peer_echemfem.py --h 4.5e-7 2.2e-7 1e-7 6.6e-8 --ranks 1 2
    .venv/bin/python benchmarks/peer_echemfem.py --smoke      # femsolver only, seconds (CI)

The cell (`CASE`): the 2D bare Li surface scaled to 500 x 500 um with two 20 um active sites,
dilute salt c0 = 1000 mol/m3, D+ 4e-10, D- 6e-10, Butler-Volmer (i0 = 10 A/m2, alpha = 0.5) on
the sites and on the counter electrode, c = c0 at the counter electrode, potentiostatic -0.2 V,
steady, P1, MUMPS. For each interface element size h, femsolver's li_foil builder meshes it
once and its electrolyte part is written as a .msh file for Firedrake (the electrode is
equipotential: femsolver solves on the electrolyte only, so both codes have the same unknowns);
femsolver builds the same mesh again from the same parameters. Both codes then run alternately
`repeat` times on each rank count (after one unmeasured run each: form compilation), the peer
under the `mpirun` on PATH (its own MPI; PEER_MPIRUN overrides). The script checks that the
working-electrode currents agree and prints the minimum times and their ratios.

femsolver's figures are from its summary.json ("solver": Newton solve time, iterations,
factorisations); EchemFEM's from benchmarks/echemfem_case.py: `solve` is its Newton solve,
`setup` its initial potential solve at constant concentration (EchemFEM's default start).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import _common as common
import gmsh

from femsolver import tags
from femsolver.api import load
from geometries import family_of

PEER_SCRIPT = Path(__file__).with_name("echemfem_case.py")
PEER_ENV = ("FEMSOLVER_PEER_PYTHON", "PEER_PYTHON")
BULK = 10  # bulk element size over interface size: the mesh refines everywhere with h
CASE = {
    "name": "peer_bare",
    "geometry": {"kind": "li_foil", "surface": "bare", "dimension": 2, "width": 500e-6,
                 "electrolyte_height": 500e-6, "electrode_thickness": 100e-6,
                 "active_fraction": 0.08, "site_width": 20e-6},
    "mesh": {},  # h_interface = h, h_bulk = BULK x h (case_file)
    "electrolyte": {"c0": 1000.0, "D_cation": 4e-10, "D_anion": 6e-10,
                    "reservoir_at_counter": True},
    "kinetics": {"i0": 10.0},
    "control": {"mode": "potentiostatic", "voltage": -0.2},
    "time": {"mode": "steady"},
    "output": {"pictures": False, "xdmf": False, "vtx": False, "checkpoint": False},
}


def case_file(h: float, directory: Path) -> Path:
    """The case with interface element size h (m) as a TOML file for `femsolver run`."""
    lines = [f'name = "{CASE["name"]}"']
    for section, keys in CASE.items():
        if section != "name":
            values = {"h_interface": h, "h_bulk": BULK * h} if section == "mesh" else keys
            lines += [f"[{section}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    path = directory / f"case_{h:g}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write_msh(case_path: Path, msh: Path) -> None:
    """The case's gmsh mesh, electrolyte cells and their boundary lines only, in metres, as a
    version 2.2 .msh file (what Firedrake reads)."""
    from femsolver.mesh import _generate

    case = load(case_path)
    gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("peer")
        _generate(family_of(case.geometry).build, case.geometry, case.mesh, 2)
        electrode_only = [(2, tags.ELECTRODE), (1, tags.CURRENT_COLLECTOR),
                          (1, tags.ELECTRODE_SIDES)]
        present = [g for g in electrode_only if g in gmsh.model.getPhysicalGroups()]
        if present:  # (an empty list would remove every group)
            gmsh.model.removePhysicalGroups(present)
        gmsh.option.setNumber("Mesh.SaveAll", 0)
        gmsh.option.setNumber("Mesh.MshFileVersion", 2.2)
        gmsh.option.setNumber("Mesh.ScalingFactor", 1e-9)  # the builders work in nm
        gmsh.write(str(msh))
    finally:
        gmsh.finalize()


def run_femsolver(case_path: Path, ranks: int, directory: Path) -> dict:
    command = [str(Path(common.mpirun()).with_name("femsolver")), "run", str(case_path), "-q",
               "-o", str(directory)]
    if ranks > 1:
        command = [common.mpirun(), "-n", str(ranks), *command]
    subprocess.run(command, check=True)
    s = json.loads((directory / "summary.json").read_text())
    active_length = s["active_area_per_projected_area"] * CASE["geometry"]["width"]
    return {"unknowns": s["dofs"] - 1,  # without the electrode potential (a Real dof)
            "working_current_A_m": -s["interface_current_density_mean_A_m2"] * active_length,
            "newton_iterations": s["solver"]["newton_iterations"],
            "factorisations": s["solver"]["preconditioner_builds"],
            "solve_s": s["solver"]["solve_time_s"],
            "residual_s": s["solver"]["residual_time_s"] / s["solver"]["residual_evaluations"],
            "jacobian_s": s["solver"]["jacobian_time_s"] / s["solver"]["jacobian_evaluations"],
            "setup_s": s["stage_times_s"]["setup"] + s["stage_times_s"]["solver"]}


def run_peer(python: str, msh: Path, ranks: int, out: Path, line_search: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    env = {k: v for k, v in env.items() if not k.startswith(("PMI_", "PMIX_"))}
    command = [python, str(PEER_SCRIPT), str(msh), str(out), "--line-search", line_search]
    if ranks > 1:
        mpirun = os.environ.get("PEER_MPIRUN") or shutil.which("mpirun") or "mpirun"
        command = [mpirun, "-n", str(ranks), *command]
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    result = json.loads(out.read_text())
    for name in ("residual", "jacobian"):
        result[f"{name}_s"] = result[f"{name}_time_s"] / result[f"{name}_evaluations"]
    return result


def best(runs: list[dict], key: str) -> float:
    return min(r[key] for r in runs)


def measure(h: float, ranks: int, repeat: int, peer: str | None, line_search: str,
            work: Path) -> dict:
    case_path = case_file(h, work)
    msh = work / f"mesh_{h:g}.msh"
    if peer and not msh.exists():
        write_msh(case_path, msh)
    ours, theirs = [], []
    for k in range(repeat + 1):  # run 0 of each: compilation, not measured
        run = run_femsolver(case_path, ranks, work / f"fs_{h:g}_{ranks}")
        if k:
            ours.append(run)
        if peer:
            run = run_peer(peer, msh, ranks, work / f"peer_{h:g}_{ranks}.json", line_search)
            if k:
                theirs.append(run)
    result = {"h": h, "ranks": ranks, "femsolver": ours, "echemfem": theirs}
    if theirs:
        a, b = ours[-1]["working_current_A_m"], theirs[-1]["working_current_A_m"]
        result["current_relative_difference"] = abs(a - b) / abs(b)
        if ours[-1]["unknowns"] != theirs[-1]["unknowns"]:
            raise SystemExit(f"h = {h:g}: femsolver has {ours[-1]['unknowns']} unknowns, "
                             f"EchemFEM {theirs[-1]['unknowns']}: not the same discrete problem")
    return result


def report(results: list[dict]) -> None:
    rows = []
    for r in results:
        ours = r["femsolver"]
        row = [ours[0]["unknowns"], r["ranks"],
               f"{best(ours, 'solve_s'):.3g} ({ours[0]['newton_iterations']}, "
               f"{ours[0]['factorisations']} LU)"]
        if r["echemfem"]:
            theirs = r["echemfem"]
            per_ours = best(ours, "solve_s") / ours[0]["newton_iterations"]
            per_theirs = best(theirs, "solve_s") / theirs[0]["newton_iterations"]
            row += [f"{best(theirs, 'solve_s'):.3g} ({theirs[0]['newton_iterations']})",
                    f"{best(theirs, 'setup_s'):.3g}",
                    f"{best(theirs, 'solve_s') / best(ours, 'solve_s'):.2f}",
                    f"{per_ours / per_theirs:.2f}",
                    f"{best(ours, 'residual_s') / best(theirs, 'residual_s'):.2f}",
                    f"{best(ours, 'jacobian_s') / best(theirs, 'jacobian_s'):.2f}",
                    f"{r['current_relative_difference']:.1e}"]
        rows.append(row)
    header = ["unknowns", "ranks", "femsolver solve s (Newton its, LU)"]
    if results and results[0]["echemfem"]:
        header += ["EchemFEM solve s (its)", "EchemFEM initial solve s",
                   "EchemFEM / femsolver", "per Newton it femsolver / EchemFEM",
                   "residual femsolver / EchemFEM", "Jacobian femsolver / EchemFEM",
                   "current difference"]
    common.say(common.table(header, rows))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--h", type=float, nargs="+", default=[4.5e-7],
                        help="interface element sizes, m (4.5e-7: ~30k unknowns; 1e-7: ~500k)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1])
    parser.add_argument("--repeat", type=int, default=2, help="measured runs of each code")
    parser.add_argument("--line-search", default="basic", help="the peer's (basic: its best)")
    parser.add_argument("--smoke", action="store_true",
                        help="femsolver only, the smallest size, one run (what CI runs)")
    parser.add_argument("--json", help="write every run's figures here")
    args = parser.parse_args(argv)
    peer = None if args.smoke else next((os.environ[k] for k in PEER_ENV if os.environ.get(k)),
                                         None)
    common.say(f"# peer_echemfem: {common.machine()}")
    if peer is None:
        common.say("# EchemFEM: skipped (set FEMSOLVER_PEER_PYTHON to its interpreter; "
                   "../shared/peers/echemfem-build.md builds one)")
    sizes, repeat = ([2e-6], 1) if args.smoke else (args.h, args.repeat)
    with tempfile.TemporaryDirectory(prefix="femsolver-peer-") as tmp:
        results = [measure(h, ranks, repeat, peer, args.line_search, Path(tmp))
                   for h in sizes for ranks in args.ranks]
    report(results)
    if args.json:
        common.write_json(args.json, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
