#!/usr/bin/env bash
# Runs the test suite twice: serial, then on 2 MPI ranks (tests marked `paraview` excluded there).
#
#   bash scripts/test.sh                    # the whole suite (tests/)
#   bash scripts/test.sh tests/test_case.py -k override   # any pytest arguments instead of tests/
#
# Environment: FEMSOLVER_VENV (default <repo>/.venv, made by scripts/setup.sh),
# FEMSOLVER_TEST_NP (MPI ranks, default 2), FEMSOLVER_TEST_TIMEOUT (seconds per run, default 1800).
# Under MPI only rank 0 prints (live); the other ranks write logs, and their failing lines are
# printed afterwards. Exits non-zero if either run fails, on any rank; pytest's exit code 5
# (no tests collected) counts as a failure.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FEMSOLVER_VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
MPIRUN="$VENV/bin/mpirun"
NP="${FEMSOLVER_TEST_NP:-2}"
TIMEOUT="${FEMSOLVER_TEST_TIMEOUT:-1800}"

say() { printf '[test] %s\n' "$*"; }
[ -x "$PY" ] || { say "ERROR: no $PY; run 'make setup' (bash scripts/setup.sh) first" >&2; exit 1; }
[ -x "$MPIRUN" ] || { say "ERROR: no $MPIRUN; run 'make setup' (bash scripts/setup.sh) first" >&2; exit 1; }

cd "$REPO"
if [ $# -gt 0 ]; then TARGETS=("$@"); else TARGETS=(tests); fi
LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/femsolver-test.XXXXXX")"
# Logs are removed after a clean pass and kept (path printed) when something failed.
trap 'rc=$?; if [ "$rc" = 0 ]; then rm -rf "$LOGDIR"; else say "logs kept in $LOGDIR"; fi' EXIT

# summary LOG: pytest's closing line in LOG ("3 passed, 1 skipped in 2.0s"), without the ='s.
summary() {
    grep -E '^(=+ )?([0-9]+ [a-z]+.*|no tests ran) in [0-9.]+s( \([0-9:]+\))?( =+)?$' "$1" 2>/dev/null |
        tail -n 1 | sed -E 's/^=+ //; s/ =+$//' || true
}
# count WORD LINE: the number before WORD in a summary line (0 if absent).
count() { local n; n="$(printf '%s\n' "$2" | grep -oE "[0-9]+ $1\b" | head -n 1 | cut -d' ' -f1)"; echo "${n:-0}"; }
# failures LINE: failed + errors in a summary line.
failures() { echo $(( $(count failed "$1") + $(count error "$1") + $(count errors "$1") )); }
# verdict RC: words for a pytest exit code.
verdict() {
    case "$1" in
        0) echo "ok" ;;
        1) echo "tests failed" ;;
        5) echo "no tests collected (pytest exit 5), counted as a failure" ;;
        124|137) echo "timed out after ${TIMEOUT} s" ;;
        *) echo "pytest exit $1 (interrupted or internal error)" ;;
    esac
}

# ---- serial -------------------------------------------------------------------------------------
say "serial: python -m pytest -q ${TARGETS[*]}"
T0=$SECONDS
set +e
timeout -k 30 "$TIMEOUT" "$PY" -m pytest -q "${TARGETS[@]}" 2>&1 | tee "$LOGDIR/serial.log"
SERIAL_RC=${PIPESTATUS[0]}
set -e
SERIAL_T=$((SECONDS - T0))

# ---- MPI ----------------------------------------------------------------------------------------
# Each rank runs the same pytest; rank 0 streams to stdout (and a log), the others only to logs.
# Every rank writes its own exit code; a missing one means the rank was killed (MPI abort, crash).
say "mpi: mpirun -n $NP python -m pytest -q -p no:cacheprovider -m \"not paraview\" ${TARGETS[*]}"
T0=$SECONDS
set +e
FEMSOLVER_TEST_LOGDIR="$LOGDIR" timeout -k 30 "$TIMEOUT" "$MPIRUN" -n "$NP" bash -c '
    log="$FEMSOLVER_TEST_LOGDIR/mpi.rank$PMI_RANK.log"
    if [ "$PMI_RANK" = 0 ]; then
        "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
    else
        COLUMNS=200 "$@" >"$log" 2>&1; rc=$?   # wide: whole "FAILED ... - reason" lines
    fi
    echo "$rc" >"$FEMSOLVER_TEST_LOGDIR/mpi.rank$PMI_RANK.rc"
    exit "$rc"' rank \
    "$PY" -m pytest -q -p no:cacheprovider -m "not paraview" "${TARGETS[@]}"
MPIRUN_RC=$?
set -e
MPI_T=$((SECONDS - T0))

# mpi_why RC: words for mpirun's exit code when a rank left no exit code of its own.
mpi_why() {
    case "$1" in
        124|137) echo "timed out after ${TIMEOUT} s" ;;
        *) echo "mpirun exit $1: a rank called MPI_Abort, crashed or was killed" ;;
    esac
}
MPI_RC=0
MPI_WHY="ok"
WORST_SUM="$(summary "$LOGDIR/mpi.rank0.log")"   # closing line of the rank with the most failures
WORST_FAILED=-1
for ((r = 0; r < NP; r++)); do
    log="$LOGDIR/mpi.rank$r.log"
    rc="$(cat "$LOGDIR/mpi.rank$r.rc" 2>/dev/null || echo killed)"
    sum="$(summary "$log")"
    nfail="$(failures "$sum")"
    if [ -n "$sum" ] && [ "$nfail" -gt "$WORST_FAILED" ]; then WORST_FAILED=$nfail; WORST_SUM="$sum"; fi
    [ "$rc" = 0 ] && continue
    MPI_RC=1
    if [ "$rc" = killed ]; then
        MPI_WHY="rank $r did not finish ($(mpi_why "$MPIRUN_RC"))"
        say "mpi: $MPI_WHY"
        if [ "$r" != 0 ]; then
            say "mpi: end of rank $r's output:"
            { tail -n 30 "$log" 2>/dev/null | grep . || echo "(no output)"; } | sed "s/^/[rank $r] /"
        fi
    else
        [ "$MPI_WHY" != ok ] || MPI_WHY="rank $r: $(verdict "$rc")"
        [ "$r" = 0 ] && continue   # rank 0's output is already on screen
        say "mpi: rank $r: $(verdict "$rc"); its failing lines:"
        # pytest's "E   ..." lines with the file:line that raised, then the short summary.
        { grep -E '^E  |^[^ ].*:[0-9]+: [A-Za-z_.]*(Error|Exception|Failed)|^(FAILED|ERROR) ' "$log" |
            head -n 60 || true; } | sed "s/^/[rank $r] /"
        if [ -n "$sum" ]; then
            printf '[rank %s] %s\n' "$r" "$sum"
        else
            { tail -n 30 "$log" | grep . || echo "(no output)"; } | sed "s/^/[rank $r] /"
        fi
    fi
done
if [ "$MPI_RC" = 0 ] && [ "$MPIRUN_RC" != 0 ]; then MPI_RC=1; MPI_WHY="$(mpi_why "$MPIRUN_RC")"; fi

# ---- verdict ------------------------------------------------------------------------------------
S_SUM="$(summary "$LOGDIR/serial.log")"
say "serial:        $(verdict "$SERIAL_RC") -- ${S_SUM:-no summary} [${SERIAL_T} s]"
say "mpi, $NP ranks: $MPI_WHY -- ${WORST_SUM:-no summary} [${MPI_T} s]"
echo "total: $(( $(count passed "$S_SUM") + $(count passed "$WORST_SUM") )) passed," \
    "$(( $(failures "$S_SUM") + $(failures "$WORST_SUM") )) failed," \
    "$(( $(count skipped "$S_SUM") + $(count skipped "$WORST_SUM") )) skipped"
[ "$SERIAL_RC" = 0 ] && [ "$MPI_RC" = 0 ]
