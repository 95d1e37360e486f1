#!/usr/bin/env bash
# Deposition morphology of the seed's three surfaces (issue 13; seed 001, section 5): the bare
# Li foil, PRS@Li and ERS@Li plated at 2.5 mA/cm2 with a growing surface (cases/plating_*.toml,
# plated to control.plated_charge_C_m2 unless a deposit shorts the cell or meets its neighbour
# first: PRS@Li's deposits merge at ~47 C/m2, status contact), then a table (Markdown + CSV,
# also at the charge every run reached) and a picture: rms roughness and highest point against
# plated charge, and the final surfaces. Each run also writes surface.csv, surface.png,
# plating.gif and the ParaView series plating.pvd.
#   bash cases/run_plating_study.sh                 (2 MPI ranks per surface)
#   NP=4 OUT=results/plating bash cases/run_plating_study.sh
#   bash cases/run_plating_study.sh --set control.plated_charge_C_m2=100   (any --set, all runs)
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${OUT:-results/plating_study}"
PY="$BIN/python"
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT/logs"
runs=()
for surface in bare prs ers; do
    printf '%-8s' "$surface"
    log="$OUT/logs/$surface.log"
    if FEMSOLVER_PROGRESS=steps "$BIN/mpirun" -n "$NP" "$BIN/femsolver" run \
            "cases/plating_$surface.toml" -o "$OUT/$surface" "$@" >"$log" 2>&1; then
        tail -n 1 "$log"
    else
        echo "FAILED; end of $log:"
        tail -n 15 "$log"
        exit 1
    fi
    runs+=("$OUT/$surface")
done
"$PY" -m femsolver.plating.study "${runs[@]}" -o "$OUT"
echo "table: $OUT/plating_comparison.md   picture: $OUT/plating_comparison.png"
echo "per surface: $OUT/<surface>/{surface.png,plating.gif,plating.pvd,timeseries.csv}"
