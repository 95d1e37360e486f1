#!/usr/bin/env bash
# The seed does not give the exchange current density i0: how do the three surfaces respond to it?
# One sweep per surface over i0 = 1 ... 1e6 A/m2 (resumable; sweep.csv and sweep_kinetics_i0.png
# per surface) and one comparison table per surface.
#   NP=2 JOBS=1 bash cases/run_i0_sensitivity.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${OUT:-results/i0_sensitivity}"
for surface in bare prs ers; do
    "$BIN/femsolver" sweep "cases/li_foil_$surface.toml" -q -o "$OUT/$surface" \
        --ranks "$NP" --jobs "${JOBS:-1}" --vary kinetics.i0=1,10,100,1e3,1e4,1e5,1e6 \
        --set output.xdmf=false --set output.vtx=false
    echo "## $surface"
    "$BIN/femsolver" compare "$OUT/$surface"/p0* -o "$OUT/$surface"
done
