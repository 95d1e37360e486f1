#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (localhost), for tests/test_slurm.py and for trying the
# job scripts in cases/slurm/ without a real cluster. Needs root (the daemons run as root).
#
#   bash scripts/slurm_cluster.sh start DIR    # install if missing, configure in DIR, start, wait
#   bash scripts/slurm_cluster.sh status DIR   # daemons, controller, node state; exit 0 when up
#   bash scripts/slurm_cluster.sh stop DIR     # cancel jobs, stop what `start DIR` started
#   export SLURM_CONF=DIR/slurm.conf           # then sbatch, srun, squeue, sinfo, scontrol use it
#
# start: installs `slurm-wlm munge` with apt (--no-install-recommends) when a daemon or client is
# missing; writes DIR/slurm.conf (one node = this host, its CPUs and memory; proctrack/pgid,
# task/none, no cgroups, no accounting, KillWait=10 s); starts munged as the munge user (unless a
# munged already answers), slurmctld, and slurmd only once munge answers (without munge slurmd
# hangs and ignores SIGTERM); waits until `sinfo` shows the node idle. Nothing in /etc/slurm is
# read or written: every daemon and client gets SLURM_CONF=DIR/slurm.conf. munge uses the system's
# /etc/munge/munge.key (created by apt; created here if missing).
# Every wait has a timeout. When the cluster cannot be brought up (not root, apt fails, a daemon
# does not come up, a port is taken) start prints `[slurm] skipped: REASON` and exits 3, after
# stopping whatever it had started.
# Only one such cluster runs at a time: start first stops any cluster this script started earlier
# (in DIR or in another directory, up or half-up). The daemons it starts carry the environment
# variable FEMSOLVER_SLURM_CLUSTER=DIR; that marker, checked in /proc, is how stop and start find
# them (besides the pid files in DIR). Processes of its jobs left behind by a dead controller are
# found by SLURM_JOB_ID and SLURM_CONF=DIR/slurm.conf in their environment. Nothing else on the
# machine is signalled.
#
# Environment: FEMSOLVER_SLURM_PORT (slurmctld port, default 16817; slurmd uses the next one:
# not the standard 6817/6818, so a real Slurm on the machine is not disturbed),
# FEMSOLVER_SLURM_KILLWAIT (seconds between a job's TERM and KILL, default 10),
# FEMSOLVER_SLURM_CPUS (CPUs the node offers, default nproc; more than the machine has lets
# small jobs run side by side, oversubscribed).
# Exit codes: 0 ok, 1 usage or error (status: cluster not up), 3 skipped.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

PORT="${FEMSOLVER_SLURM_PORT:-16817}"
KILLWAIT="${FEMSOLVER_SLURM_KILLWAIT:-10}"
CPUS="${FEMSOLVER_SLURM_CPUS:-$(nproc)}"
MARK=FEMSOLVER_SLURM_CLUSTER
NODE="$(hostname -s)"

say() { printf '[slurm] %s\n' "$*"; }
usage() { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 1; }

# wait_for SECONDS COMMAND...: run COMMAND every 0.5 s until it succeeds; 1 after SECONDS.
wait_for() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

# marked_pids [DIR]: pids of processes whose environment has MARK=DIR (any DIR when omitted).
marked_pids() {
    local want="${1:-}" p
    for p in /proc/[0-9]*; do
        p="${p#/proc/}"
        [ "$p" != $$ ] || continue
        if [ -n "$want" ]; then
            grep -zqxF "$MARK=$want" "/proc/$p/environ" 2>/dev/null || continue
        else
            grep -zq "^$MARK=" "/proc/$p/environ" 2>/dev/null || continue
        fi
        echo "$p"
    done
}

# job_pids DIR: processes of jobs of the cluster in DIR (environment SLURM_JOB_ID=... and
# SLURM_CONF=DIR/slurm.conf), except this script and its callers.
job_pids() {
    local conf="$1/slurm.conf" p q mine=" "
    q=$$
    while [ -n "$q" ] && [ "$q" -gt 1 ]; do
        mine="$mine$q "
        q="$(awk '{ print $4 }' "/proc/$q/stat" 2>/dev/null || true)"
    done
    for p in /proc/[0-9]*; do
        p="${p#/proc/}"
        case "$mine" in *" $p "*) continue ;; esac
        grep -zqxF "SLURM_CONF=$conf" "/proc/$p/environ" 2>/dev/null || continue
        grep -zq '^SLURM_JOB_ID=' "/proc/$p/environ" 2>/dev/null || continue
        echo "$p"
    done
}

# marked_dirs: the DIRs of all running marked processes (clusters started by this script).
marked_dirs() {
    local p
    for p in $(marked_pids); do
        grep -z "^$MARK=" "/proc/$p/environ" 2>/dev/null | tr '\0' '\n' | sed "s/^$MARK=//"
    done | sort -u
}

alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# terminate PID...: SIGTERM, up to 10 s to exit, then SIGKILL.
terminate() {
    local p left
    [ $# -gt 0 ] || return 0
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 20); do
        left=""
        for p in "$@"; do alive "$p" && left="$left $p"; done
        [ -n "$left" ] || return 0
        sleep 0.5
    done
    # shellcheck disable=SC2086
    kill -KILL $left 2>/dev/null || true
    sleep 0.5
}

munge_answers() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
ctld_up() { SLURM_CONF="$1/slurm.conf" timeout 10 scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_state() { SLURM_CONF="$1/slurm.conf" timeout 10 sinfo -h -N -n "$NODE" -o '%T' 2>/dev/null | head -n 1; }
node_idle() { [ "$(node_state "$1")" = idle ]; }
port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# stop_dir DIR: cancel the cluster's jobs (waiting up to KillWait + 20 s for them to end), end the
# processes of jobs left over, then stop its daemons (pid files and marked processes: slurmctld,
# slurmd, the slurmstepds, munged).
stop_dir() {
    local dir="$1" conf="$1/slurm.conf" pids="" f p
    if [ -f "$conf" ] && ctld_up "$dir"; then
        local jobs
        jobs="$(SLURM_CONF="$conf" timeout 10 squeue -h -o %i 2>/dev/null || true)"
        if [ -n "$jobs" ]; then
            say "cancelling the jobs still in $dir: $(echo "$jobs" | tr '\n' ' ')"
            # shellcheck disable=SC2086
            SLURM_CONF="$conf" timeout 10 scancel $jobs 2>/dev/null || true
            wait_for $((KILLWAIT + 20)) bash -c \
                "[ -z \"\$(SLURM_CONF='$conf' timeout 10 squeue -h -o %i 2>/dev/null)\" ]" ||
                say "jobs still listed after $((KILLWAIT + 20)) s; stopping the daemons anyway"
        fi
    fi
    # what is left of jobs that could not be cancelled (controller down): their processes
    # shellcheck disable=SC2046
    terminate $(job_pids "$dir")
    for f in slurmd slurmctld munged; do
        p="$(cat "$dir/$f.pid" 2>/dev/null || true)"
        # a pid file is trusted only while its process still carries this cluster's marker
        if alive "$p" && grep -zqxF "$MARK=$dir" "/proc/$p/environ" 2>/dev/null; then
            pids="$pids $p"
        fi
    done
    # shellcheck disable=SC2086
    terminate $pids
    # shellcheck disable=SC2046
    terminate $(marked_pids "$dir")   # slurmstepds and anything else left
    rm -f "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munged.pid"
}

# skip REASON: stop what this start started, print the reason, exit 3.
skip() {
    [ -z "${DIR:-}" ] || stop_dir "$DIR" >/dev/null 2>&1 || true
    say "skipped: $*"
    exit 3
}

log_tail() { if [ -f "$1" ]; then tail -n 5 "$1" | sed 's/^/    /' >&2; fi; }

install_packages() {
    local log="$DIR/apt.log" missing="" c
    for c in munged munge slurmctld slurmd sbatch srun; do
        command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
    done
    [ -n "$missing" ] || return 0
    command -v apt-get >/dev/null 2>&1 || skip "no$missing and no apt-get to install slurm-wlm munge"
    say "installing slurm-wlm munge with apt (missing:$missing)"
    # at most ~12 min in all: the dpkg lock may be held by another apt for a while
    local apt=(env DEBIAN_FRONTEND=noninteractive timeout 300 apt-get -o DPkg::Lock::Timeout=120
               install -y -qq --no-install-recommends slurm-wlm munge)
    if ! "${apt[@]}" >"$log" 2>&1; then
        timeout 120 apt-get -o DPkg::Lock::Timeout=60 update -qq >>"$log" 2>&1 || true
        "${apt[@]}" >>"$log" 2>&1 || { log_tail "$log"; skip "apt-get install slurm-wlm munge failed (log: $log)"; }
    fi
    for c in munged slurmctld slurmd sbatch; do
        command -v "$c" >/dev/null 2>&1 || skip "$c still missing after apt-get install"
    done
}

start_munge() {
    if munge_answers; then say "munge: a munged is already answering, using it"; return; fi
    local key=/etc/munge/munge.key
    if [ ! -s "$key" ]; then
        say "munge: creating $key"
        mkdir -p /etc/munge
        dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
        chown munge:munge "$key"; chmod 0400 "$key"
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 0755 /run/munge
    # as the munge user: run as root munged complains about its log's owner and Slurm then
    # cannot use its socket. It daemonizes and writes /run/munge/munged.pid.
    timeout 20 runuser -u munge -- env "$MARK=$DIR" munged >"$DIR/log/munged.start" 2>&1 ||
        { log_tail "$DIR/log/munged.start"; log_tail /var/log/munge/munged.log
          skip "munged did not start"; }
    wait_for 15 munge_answers || { log_tail /var/log/munge/munged.log; skip "munged does not answer after 15 s"; }
    cp /run/munge/munged.pid "$DIR/munged.pid" 2>/dev/null || true
}

write_conf() {
    local mem
    # Job ids that differ from one start to the next (one a second): with srun --mpi=pmi2 MPICH
    # names its shared-memory segment (/dev/shm/mpich_shm_<hash of job.step>_0) after the job
    # id, and a segment left by a killed run of an earlier cluster's job with the same id made
    # MPI_Init fail ("Out of memory" in MPIDI_POSIX_comm_bootstrap).
    FIRST_JOB_ID=$(( $(date +%s) % 50000000 + 1000 ))
    # RealMemory (MB): 90 % of MemTotal, so the node is never drained for having less
    mem="$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"
    cat >"$DIR/slurm.conf" <<EOF
# One-node test cluster written by scripts/slurm_cluster.sh (femsolver); use with
# SLURM_CONF=$DIR/slurm.conf
ClusterName=femsolver
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/pgid
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=$KILLWAIT
FirstJobId=$FIRST_JOB_ID
MinJobAge=600
InactiveLimit=0
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    printf 'export SLURM_CONF=%s/slurm.conf\n' "$DIR" >"$DIR/env.sh"
}

start() {
    local t0=$SECONDS d
    [ "$(id -u)" = 0 ] || { DIR=""; skip "not root (the Slurm daemons must run as root)"; }
    mkdir -p "$DIR" || { DIR=""; skip "cannot create $DIR"; }
    install_packages
    # an earlier cluster of this script, up or half-up, in this DIR or another one
    for d in $(marked_dirs) "$DIR"; do
        if [ -n "$(marked_pids "$d")" ] || [ -f "$d/slurmctld.pid" ] || [ -f "$d/slurmd.pid" ]; then
            say "stopping an earlier cluster ($d)"
            stop_dir "$d"
        fi
    done
    for p in "$PORT" $((PORT + 1)); do
        port_taken "$p" && { DIR=""; skip "port $p on 127.0.0.1 is in use (set FEMSOLVER_SLURM_PORT)"; }
    done
    rm -rf "$DIR/state" "$DIR/spool" "$DIR/log"
    mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log"
    write_conf
    export SLURM_CONF="$DIR/slurm.conf"

    start_munge
    # -c: no state from an earlier controller (no ghost jobs)
    env "$MARK=$DIR" timeout 30 slurmctld -c -f "$SLURM_CONF" >"$DIR/log/slurmctld.start" 2>&1 ||
        { log_tail "$DIR/log/slurmctld.start"; log_tail "$DIR/log/slurmctld.log"; skip "slurmctld did not start"; }
    wait_for 30 ctld_up "$DIR" ||
        { log_tail "$DIR/log/slurmctld.log"; skip "slurmctld does not answer after 30 s"; }
    env "$MARK=$DIR" timeout 30 slurmd -c -f "$SLURM_CONF" -N "$NODE" >"$DIR/log/slurmd.start" 2>&1 ||
        { log_tail "$DIR/log/slurmd.start"; log_tail "$DIR/log/slurmd.log"; skip "slurmd did not start"; }
    wait_for 60 node_idle "$DIR" ||
        { log_tail "$DIR/log/slurmd.log"; skip "node $NODE not idle after 60 s (state: $(node_state "$DIR" || true))"; }
    say "up in $((SECONDS - t0)) s: node $NODE, $CPUS CPUs, partition debug; ports $PORT, $((PORT + 1))"
    say "use it with: export SLURM_CONF=$DIR/slurm.conf   (or: source $DIR/env.sh)"
}

status() {
    local f p ok=0
    [ -f "$DIR/slurm.conf" ] || { say "no cluster in $DIR (no slurm.conf)"; return 1; }
    for f in munged slurmctld slurmd; do
        p="$(cat "$DIR/$f.pid" 2>/dev/null || true)"
        if alive "$p"; then say "$f: running (pid $p)"
        elif [ "$f" = munged ] && munge_answers; then say "munged: not ours, but munge answers"
        else say "$f: not running"; ok=1; fi
    done
    if ctld_up "$DIR"; then say "slurmctld: answers"; else say "slurmctld: no answer"; ok=1; fi
    local state; state="$(node_state "$DIR" || true)"
    say "node $NODE: ${state:-unknown}"
    case "$state" in idle|allocated|mixed|completing) ;; *) ok=1 ;; esac
    SLURM_CONF="$DIR/slurm.conf" timeout 10 squeue 2>/dev/null | sed 's/^/[slurm]   /' || true
    return $ok
}

[ $# = 2 ] || usage
DIR="$(realpath -m "$2")"
case "$1" in
    start) start ;;
    stop) stop_dir "$DIR"; say "stopped ($DIR)" ;;
    status) status ;;
    *) usage ;;
esac
