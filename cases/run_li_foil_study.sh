#!/usr/bin/env bash
# Reproduce the seed's finite-element study (001, section 5, Figs. S7-S9): bare Li foil, PRS@Li
# and ERS@Li under 2.5 mA/cm2, as one sweep (the three surfaces side by side, resumable), then a
# comparison table and a side-by-side picture.
#   NP=4 bash cases/run_li_foil_study.sh        (NP: MPI ranks per surface, default 2)
#   OUT=results/study bash cases/run_li_foil_study.sh
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${OUT:-results/li_foil_study}"
"$BIN/femsolver" sweep cases/li_foil_prs.toml -o "$OUT" --ranks "$NP" --zip \
    --vary name=bare,prs,ers --vary geometry.surface=bare,prs,ers \
    --vary geometry.active_fraction=0.08,0.56,1.0 "$@"
"$BIN/femsolver" compare "$OUT/bare" "$OUT/prs" "$OUT/ers" -o "$OUT"
echo "maps: $OUT/{bare,prs,ers}/*.png   table: $OUT/comparison.md   picture: $OUT/comparison.png"
