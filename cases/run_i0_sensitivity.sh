#!/usr/bin/env bash
# The seed does not give the exchange current density i0: how do the three surfaces respond to it?
# Runs bare / PRS / ERS at i0 = 1 ... 1e6 A/m2 and writes one comparison table per surface.
#   NP=2 bash cases/run_i0_sensitivity.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${OUT:-results/i0_sensitivity}"
for surface in bare prs ers; do
    runs=()
    for i0 in 1 10 100 1e3 1e4 1e5 1e6; do
        run="$OUT/$surface/i0_$i0"
        "$BIN/mpirun" -n "$NP" "$BIN/femsolver" run "cases/li_foil_$surface.toml" -q -o "$run" \
            --set "kinetics.i0=$i0" --set "name=\"${surface}_i0_$i0\"" \
            --set output.xdmf=false --set output.vtx=false
        runs+=("$run")
    done
    echo "## $surface"
    "$BIN/femsolver" compare "${runs[@]}" -o "$OUT/$surface"
done
