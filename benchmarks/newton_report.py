"""The tables and the log-log plot of benchmarks/newton_vs_poisson.py, from its results (also
from the --json files of earlier runs: --from)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import _common as common
from _common import fmt, table


def report(results: dict) -> str:
    ranks = results["ranks"]
    out = [f"# newton_vs_poisson: {ranks} rank(s); {results['machine']}",
           f"# case {Path(results['case']).name} {' '.join(results['overrides'])}"]
    if "usage" in results:
        out.append(common.Usage.line(results["usage"]))
    rows = []
    for r in results["sizes"]:
        p = r["poisson"]
        rows.append([r["refine"], r["cells"], r["electrolyte_cells"],
                     fmt(r.get("electrolyte_imbalance")), p["dofs"], fmt(p["assemble"]),
                     fmt(p["setup"]),
                     fmt(p["solve"]), fmt(p["total"]), p["iterations"],
                     f"{p['dofs'] / p['total']:.3g}"])
    out.append(table(["refine", "cells", "electrolyte", "max/mean", "DOFs", "assemble s",
                      "setup s", "solve s", "total s", "CG its", "DOF/s"], rows,
                     "\nP1 Poisson on the electrolyte submesh, CG + GAMG rtol 1e-8 (cells: whole "
                     "mesh and electrolyte; max/mean: electrolyte cells of the fullest rank)"))
    rows = []
    for r in results["sizes"]:
        n, p = r["newton"], r["poisson"]
        for kind in (k for k in ("direct", "iterative") if k in n):
            m = n[kind]
            rows.append([r["refine"], n["dofs"], kind, "/".join(map(str, m["iterations_per_step"]))
                         + ("" if m["converged"] else " (failed)"),
                         fmt(m["per_iteration"]), fmt(m["assemble"]), fmt(m["solve"]),
                         m["factorisations"], fmt(m["per_iteration"] / p["total"]),
                         fmt(m["per_iteration"] / n["dofs"] / (p["total"] / p["dofs"])),
                         fmt(m["ksp_per_iteration"])])
        for kind in n.get("skipped", []):
            rows.append([r["refine"], n["dofs"], kind, "skipped"] + ["-"] * 7)
    out.append(table(["refine", "DOFs", "linear", "its/step", "s/iteration", "assembly",
                      "solve", "PC set-ups", "x Poisson", "x Poisson/DOF", "KSP its/it"], rows,
                     "\nNewton iteration (steps 2.. after a direct step 1; s per iteration; "
                     "x Poisson = s/iteration over the Poisson total; /DOF: per DOF of each)"))
    rows = [[r["refine"], r["newton"]["dofs"], r["newton"]["first_step"]["iterations"],
             fmt(r["newton"]["first_step"]["seconds"]),
             f"{r['peak_rss_max_rank_bytes'] / 2**20:.0f}"] for r in results["sizes"]]
    out.append(table(["refine", "DOFs", "step-1 its (direct)", "step-1 s", "peak RSS MiB/rank"],
                     rows, "\nStep 1 (switch-on, direct, symbolic factorisation) and memory"))
    if results["seed"]:
        rows = [[s["case"], s["dofs"], s["linear"], s["steps"], s["iterations"][0],
                 f"{np.mean(s['iterations']):.2f}", max(s["iterations"]), fmt(s["wall_s"])]
                for s in results["seed"]]
        out.append(table(["case", "DOFs", "linear", "steps", "step-1 its", "mean its",
                          "max its", "run s"], rows,
                         "\nSeed cases as shipped: Newton iterations per time step"))
    return "\n".join(out)


def scaling_report(one: dict, two: dict) -> str:
    rows = []
    twos = {r["newton"]["dofs"]: r for r in two["sizes"]}
    for a in one["sizes"]:
        b = twos.get(a["newton"]["dofs"])
        if b is None:
            continue
        row = [a["refine"], a["newton"]["dofs"],
               fmt(a["poisson"]["total"] / b["poisson"]["total"])]
        for kind in ("direct", "iterative"):
            if kind in a["newton"] and kind in b["newton"]:
                x, y = a["newton"][kind], b["newton"][kind]
                row += [fmt(x["assemble"] / y["assemble"]), fmt(x["solve"] / y["solve"]),
                        fmt(x["per_iteration"] / y["per_iteration"])]
            else:
                row += ["-", "-", "-"]
        rows.append(row)
    return table(["refine", "DOFs", "Poisson", "direct asm", "direct solve", "direct it",
                  "iter asm", "iter solve", "iter it"], rows,
                 "\nStrong scaling 1 -> 2 ranks: speed-up t(1 rank) / t(2 ranks)")


def plot(runs: list[dict], path: Path) -> None:
    """Time against DOFs, log-log: one panel per case, 1 rank solid, 2 ranks dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = list(dict.fromkeys(Path(res["case"]).stem for res in runs))
    fig, axes = plt.subplots(1, len(cases), figsize=(6.4 * len(cases), 4.6), squeeze=False)
    styles = {1: "-", 2: "--"}
    for ax, case in zip(axes[0], cases):
        for res in (r for r in runs if Path(r["case"]).stem == case):
            ls = styles.get(res["ranks"], ":")
            sizes = res["sizes"]
            ax.loglog([r["poisson"]["dofs"] for r in sizes],
                      [r["poisson"]["total"] for r in sizes],
                      "k" + ls + "o", label=f"Poisson CG+GAMG, {res['ranks']} rank(s)")
            for kind, colour in (("direct", "C0"), ("iterative", "C3")):
                pts = [(r["newton"]["dofs"], r["newton"][kind]["per_iteration"]) for r in sizes
                       if kind in r["newton"]]
                if pts:
                    x, y = zip(*pts)
                    ax.loglog(x, y, ls + "s", color=colour,
                              label=f"Newton iteration, {kind}, {res['ranks']} rank(s)")
        ax.set_xlabel("DOFs (Poisson: one field; Newton: all unknowns)")
        ax.set_ylabel("wall time / s (Poisson: whole solve; Newton: one iteration)")
        ax.set_title(f"{case}: time vs DOFs")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def merge_runs(paths) -> list[dict]:
    """Runs (one per case and rank count) from --json files; sizes sorted by DOFs, seed rows
    kept."""
    by_ranks = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        for res in data.get("runs", [data]):
            key = (Path(res["case"]).name, res["ranks"])
            merged = by_ranks.setdefault(key, {**res, "sizes": {}, "seed": []})
            for size in res["sizes"]:
                # The same size from several files: the first Poisson, every solver measured
                known = merged["sizes"].setdefault(size["newton"]["dofs"], size)
                for kind in ("direct", "iterative"):
                    if kind in size["newton"] and kind not in known["newton"]:
                        known["newton"][kind] = size["newton"][kind]
                        skipped = known["newton"].get("skipped", [])
                        known["newton"]["skipped"] = [k for k in skipped if k != kind]
            merged["seed"] += res["seed"]
    for res in by_ranks.values():
        res["sizes"] = [res["sizes"][dofs] for dofs in sorted(res["sizes"])]
    return [by_ranks[key] for key in sorted(by_ranks)]
