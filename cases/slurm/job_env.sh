# Sourced by the job scripts in cases/slurm/ (sbatch copies a job script away, so they find this
# file through the submit directory: submit from the repository root, or set FEMSOLVER_REPO).
# Sets the working directory, the launcher, the rank count and the femsolver to run, and
# femsolver_ranks, which runs femsolver on the ranks and passes a TERM on to them.
#
#   FEMSOLVER_REPO      the repository (default: the submit directory)
#   FEMSOLVER_VENV      venv with femsolver and mpirun (default <repository>/.venv; else PATH)
#   FEMSOLVER_LAUNCHER  mpirun (default: the venv's MPICH hydra, which starts its proxies with
#                       srun inside a job) | srun (`srun --mpi=pmi2`: Slurm starts the ranks)
#   NP                  MPI ranks = SLURM_NTASKS (1 outside Slurm)
#   FEMSOLVER_CMD       (array) what each rank runs; default ("$BIN/femsolver")
#
# Signals: `--signal=B:TERM@N` sends TERM to the batch shell alone, N seconds (up to 60 s more,
# Slurm checks every 30 s) before the time limit. A job script that `exec`s mpirun hands it over
# directly (hydra passes it to the ranks). Everything else goes through femsolver_ranks: srun must
# not get the TERM itself (it then kills its step at once, SIGKILL), so the ranks get it from
# `scancel --signal=TERM JOB.STEP` (the tasks, not srun); mpirun gets it with kill.
# femsolver stops after the current time step, writes fields and summary.json (status
# "interrupted") and exits 143 (128 + SIGTERM; femsolver before its signal guard: 130).

cd "${SLURM_SUBMIT_DIR:-.}" || exit 2
REPO="${FEMSOLVER_REPO:-$PWD}"
LAUNCHER="${FEMSOLVER_LAUNCHER:-mpirun}"
NP="${SLURM_NTASKS:-1}"
# femsolver runs no threads of its own; keep the BLAS under MUMPS from oversubscribing the CPUs
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
case "$LAUNCHER" in
    mpirun|srun) ;;
    *) echo "FEMSOLVER_LAUNCHER must be mpirun or srun, got '$LAUNCHER'" >&2; exit 2 ;;
esac
FEMSOLVER_TERM=0
trap 'FEMSOLVER_TERM=1; echo "job ${SLURM_JOB_ID:-?}: TERM received"' TERM

# find_femsolver: BIN = the directory with femsolver and mpirun; FEMSOLVER_CMD defaults to it.
find_femsolver() {
    BIN="${FEMSOLVER_VENV:-$REPO/.venv}/bin"
    if [ ! -x "$BIN/femsolver" ]; then
        BIN="$(dirname "$(command -v femsolver 2>/dev/null || echo /nonexistent/femsolver)")"
    fi
    if [ ! -x "$BIN/femsolver" ]; then
        echo "femsolver not found in ${FEMSOLVER_VENV:-$REPO/.venv} or on PATH: set FEMSOLVER_VENV" >&2
        exit 2
    fi
    if [ -z "${FEMSOLVER_CMD+x}" ]; then FEMSOLVER_CMD=("$BIN/femsolver"); fi
}

# _pass_term: the TERM handler while ranks run.
_pass_term() {
    FEMSOLVER_TERM=1
    echo "job ${SLURM_JOB_ID:-?}: TERM received, passing it to the ranks"
    if [ "$LAUNCHER" = srun ]; then
        local steps   # JOB.STEP, or ARRAYJOB_TASK.STEP in an array task (not .batch, .extern)
        steps="$(squeue -h -s -j "$SLURM_JOB_ID" -o %i 2>/dev/null | grep -E '\.[0-9]+$' || true)"
        # shellcheck disable=SC2086
        [ -z "$steps" ] || scancel --signal=TERM $steps
    else
        kill -TERM "$_femsolver_pid" 2>/dev/null || true
    fi
}

# femsolver_ranks ARGS...: `femsolver ARGS` on NP ranks; returns its exit code.
femsolver_ranks() {
    local rc
    if [ "$FEMSOLVER_TERM" = 1 ]; then return 143; fi   # the TERM came before: do not start
    if [ "$LAUNCHER" = srun ]; then
        srun --mpi=pmi2 --ntasks="$NP" "${FEMSOLVER_CMD[@]}" "$@" &
    else
        "$BIN/mpirun" -n "$NP" "${FEMSOLVER_CMD[@]}" "$@" &
    fi
    _femsolver_pid=$!
    trap _pass_term TERM
    while :; do
        wait "$_femsolver_pid" && rc=0 || rc=$?
        kill -0 "$_femsolver_pid" 2>/dev/null || break   # wait also returns when the trap ran
    done
    trap 'FEMSOLVER_TERM=1; echo "job ${SLURM_JOB_ID:-?}: TERM received"' TERM
    return "$rc"
}
