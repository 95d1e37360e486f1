#!/usr/bin/env bash
# Seed 003 core-shell study: one NMC811 particle (axisymmetric section) bare (LNO@NMC, contact
# spots) and with 3, 5 and 10 wt% Li6PS5Cl shells, discharged from the charged state at each
# C-rate of RATES to the cut-off; then a comparison table (Markdown + CSV) and picture:
# voltage-capacity curves, intercalation current along the core surface, its uniformity, and the
# ionic tortuosity of the seed's composites (cases/composite_*.toml) against the measured one.
#   bash cases/run_core_shell_study.sh               (2 MPI ranks, 1C; about a minute in all)
#   NP=4 RATES="0.5 1 2" OUT=results/cs bash cases/run_core_shell_study.sh
#   WITH_3D=1 bash cases/run_core_shell_study.sh     (adds the 3D case: minutes)
#   WITH_LFP=1 bash cases/run_core_shell_study.sh    (adds seed 000's LFP@C in a liquid: ~35 s)
set -euo pipefail
source "$(dirname "$0")/env.sh"
OUT="${OUT:-results/core_shell_study}"
RATES="${RATES:-1}"
PY="$BIN/python"
[ -x "$PY" ] || PY=python3
CASES=(core_shell_bare core_shell_lpscl_3wt core_shell_lpscl_5wt core_shell_lpscl_10wt)
[ "${WITH_3D:-0}" = 1 ] && CASES+=(core_shell_lpscl_5wt_3d)
[ "${WITH_LFP:-0}" = 1 ] && CASES+=(core_shell_lfp_carbon)
mkdir -p "$OUT/logs"

# run NAME LOG CMD...: run a command with its output in LOG; on failure show the end of LOG.
run() {
    local name="$1" log="$2"
    shift 2
    printf '%-32s' "$name"
    if "$@" >"$log" 2>&1; then
        tail -n 1 "$log"
    else
        echo "FAILED; end of $log:"
        tail -n 15 "$log"
        exit 1
    fi
}

runs=()
for rate in $RATES; do
    # The case files are set up for 1C (end 1.5 h, steps of 5 s growing to 60 s): scale with 1/C.
    scale() { awk -v x="$1" -v r="$rate" 'BEGIN { printf "%g", x / r }'; }
    for case in "${CASES[@]}"; do
        name="${case}_${rate}C"
        run "$name" "$OUT/logs/$name.log" "$BIN/mpirun" -n "$NP" "$BIN/femsolver" run \
            "cases/$case.toml" -o "$OUT/$name" --set "control.c_rate=$rate" \
            --set "time.end=$(scale 5400)" --set "time.dt=$(scale 5)" \
            --set "time.dt_max=$(scale 60)"
        runs+=("$OUT/$name")
    done
done

# Effective conductivity and tortuosity of the seed's four composites (dense model; seconds each).
effective=()
for name in composite_lno_nmc composite_lpscl_3wt composite_lpscl_5wt composite_lpscl_10wt; do
    run "$name" "$OUT/logs/$name.log" "$BIN/mpirun" -n "$NP" "$BIN/femsolver" effective \
        "cases/$name.toml" -o "$OUT/$name"
    effective+=("$OUT/$name")
done

"$PY" -m femsolver.problems.particle.study "${runs[@]}" -o "$OUT" --effective "${effective[@]}"
echo "maps: $OUT/<case>/*.png   table: $OUT/particle_comparison.md   picture: $OUT/particle_comparison.png"
