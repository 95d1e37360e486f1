#!/usr/bin/env bash
# Reproduce the seed's finite-element study (001, section 5, Figs. S7-S9): bare Li foil, PRS@Li
# and ERS@Li under 2.5 mA/cm2, then a comparison table and a side-by-side picture.
#   NP=4 bash cases/run_li_foil_study.sh        (NP: MPI ranks, default 2)
#   OUT=results/study bash cases/run_li_foil_study.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${OUT:-results/li_foil_study}"
for surface in bare prs ers; do
    "$BIN/mpirun" -n "$NP" "$BIN/femsolver" run "cases/li_foil_$surface.toml" -o "$OUT/$surface"
done
"$BIN/femsolver" compare "$OUT/bare" "$OUT/prs" "$OUT/ers" -o "$OUT"
echo "maps: $OUT/{bare,prs,ers}/*.png   table: $OUT/comparison.md   picture: $OUT/comparison.png"
