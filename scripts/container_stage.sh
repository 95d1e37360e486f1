#!/usr/bin/env bash
# CI stage: the Docker image builds and runs MPI, as root and as a non-root user, and its numbers
# agree with the same run outside the container.
#
#   bash scripts/container_stage.sh            (from the repository root, as root)
#
# 1. apt: docker.io, debootstrap, iptables (only what is missing);
# 2. a private dockerd (overlay2; its own socket, data-root under the cache, exec-root and pid file
#    in a scratch folder; no bridge, no iptables), always stopped at exit;
# 3. a local Debian base (debootstrap trixie minbase + python3, venv, dev headers, CA certs) from
#    the mirror in the machine's apt sources, imported as localbase:trixie: no registry is needed;
# 4. docker build --network host --build-arg BASE=localbase:trixie -t femsolver:latest;
# 5. the README's `mpirun -n 2 femsolver run cases/li_foil_prs.toml -o results/prs` on the host
#    (the repository's venv) and in the image: as root with a mounted results folder, as
#    --user 1000:1000 with a mounted folder it owns, as --user 1000:1000 without a mount (works:
#    the image's results/ is world-writable), and as --user 1000:1000 with a mounted folder it
#    cannot write (must fail with the entrypoint's message);
# 6. every summary.json says status "complete" and its numbers equal the host run's to a relative
#    FEMSOLVER_CONTAINER_RTOL (default 1e-9); cells, dofs, ranks exactly.
#
# Where no Docker daemon can run (not root, no apt, apt fails, dockerd does not answer in time)
# it prints "[container] skipped: <reason>" and exits 0. Any other failure exits non-zero.
#
# Cache (FEMSOLVER_CONTAINER_CACHE, default /var/tmp/femsolver-container): the base tarball and
# the daemon's data-root (images and build layers), so a second run rebuilds only what changed.
# Delete the folder to start from scratch. Logs of the long steps: $CACHE/logs/.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

CACHE="${FEMSOLVER_CONTAINER_CACHE:-/var/tmp/femsolver-container}"
VENV="${FEMSOLVER_VENV:-$REPO/.venv}"
RTOL="${FEMSOLVER_CONTAINER_RTOL:-1e-9}"
SUITE=trixie
BASE_IMAGE="localbase:$SUITE"
IMAGE="femsolver:latest"
NP=2
CASE=cases/li_foil_prs.toml
DOCKERD_WAIT=60           # seconds for dockerd to answer `docker info`
RUN_TIMEOUT=900           # seconds for one femsolver run (host or container)
USER_ID=1000:1000

T_START=$SECONDS
TIMINGS=()
STEP=""
SCRATCH=""
DOCKERD_PID=""
SKIPPED=""

say() { printf '[container] %s\n' "$*"; }
step() { STEP="$1"; T_STEP=$SECONDS; printf '\n[container] ==== %s ====\n' "$1"; }
step_done() {
    TIMINGS+=("$(printf '%-50s %5d s%s' "$STEP" $((SECONDS - T_STEP)) "${1:+ ($1)}")")
    STEP=""
}
fail() { printf '[container] FAILED: %s\n' "$*" >&2; exit 1; }
skip() { SKIPPED="$*"; printf '[container] skipped: %s\n' "$*"; exit 0; }
# in_child CMD...: run CMD as a child and wait for it, so that a TERM/INT reaches our trap at once
# (bash runs traps only after a foreground child ends) and dockerd is stopped without delay.
BG_PID=""
in_child() {
    local rc=0
    "$@" &
    BG_PID=$!
    wait "$BG_PID" || rc=$?
    BG_PID=""
    return "$rc"
}
log_tail() { [ -f "$1" ] && { say "last lines of $1:"; tail -n "${2:-30}" "$1" | sed 's/^/    /'; } || true; }

stop_dockerd() {
    [ -n "$DOCKERD_PID" ] || return 0
    local pid="$DOCKERD_PID"
    DOCKERD_PID=""
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$pid" 2>/dev/null; then
        say "dockerd ($pid) did not stop in 20 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 1
    fi
    # What dockerd started (its containerd, shims) lives under our exec-root; a dockerd that had
    # to be killed may leave them: end those, by pid.
    local left
    [ -n "$SCRATCH" ] || return 0
    left="$(pgrep -f -- "$SCRATCH/exec" 2>/dev/null || true)"
    if [ -n "$left" ]; then
        say "ending what dockerd left running: $(echo $left)"
        kill -TERM $left 2>/dev/null || true
        sleep 2
        kill -KILL $left 2>/dev/null || true
    fi
}

unmount_under() {
    # Lazily unmount whatever is still mounted below $1 (deepest first).
    local m
    [ -n "$1" ] || return 0
    awk -v p="$1" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
}

finish() {
    local rc=$?
    set +e
    exec 1>&3 2>&4   # a trap can run inside a redirected command (in_child ... > log): print here
    # A step still running (we were stopped by a signal): end it (timeout passes TERM on).
    [ -z "$BG_PID" ] || { kill -TERM "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; }
    if [ -n "$STEP" ]; then
        if [ -n "$SKIPPED" ]; then
            TIMINGS+=("$(printf '%-50s %5d s (skipped)' "$STEP" $((SECONDS - T_STEP)))")
        else
            TIMINGS+=("$(printf '%-50s %5d s (stopped, exit %d)' "$STEP" $((SECONDS - T_STEP)) "$rc")")
        fi
    fi
    if [ -n "$DOCKERD_PID" ]; then
        local t=$SECONDS
        stop_dockerd
        TIMINGS+=("$(printf '%-50s %5d s' "stop dockerd" $((SECONDS - t)))")
    fi
    if [ -n "$SCRATCH" ]; then
        unmount_under "$SCRATCH"
        unmount_under "$CACHE/docker"
        rm -rf "$SCRATCH"
    fi
    printf '\n[container] timings:\n'
    local t
    for t in "${TIMINGS[@]}"; do printf '[container]   %s\n' "$t"; done
    if [ -n "$SKIPPED" ]; then
        printf '[container]   %-50s %5d s (skipped)\n' "total" $((SECONDS - T_START))
    else
        printf '[container]   %-50s %5d s (exit %d)\n' "total" $((SECONDS - T_START)) "$rc"
    fi
    exit "$rc"
}
exec 3>&1 4>&2
trap finish EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# --------------------------------------------------------------------------------------------
step "system packages"
[ "$(id -u)" = 0 ] || skip "not root (starting dockerd, debootstrap and apt need root)"
command -v apt-get >/dev/null || skip "no apt-get on this machine (Debian/Ubuntu only)"
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v iptables >/dev/null || need+=(iptables)
command -v flock >/dev/null || need+=(util-linux)
mkdir -p "$CACHE/logs"
if [ "${#need[@]}" -gt 0 ]; then
    say "apt-get install ${need[*]}"
    if ! { timeout 300 apt-get update -qq &&
           DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
               "${need[@]}"; } > "$CACHE/logs/apt.log" 2>&1; then
        log_tail "$CACHE/logs/apt.log" 15
        skip "apt-get install ${need[*]} failed"
    fi
fi
command -v docker >/dev/null || skip "no docker client after installing docker.io"
DOCKER_BIN="$(command -v docker)"
# Every short docker command gets a time limit (the long ones have their own, via timeout).
docker() { timeout 120 "$DOCKER_BIN" "$@"; }
say "$(dockerd --version), client: $(docker --version)"
step_done

# One run at a time per cache (the daemon's data-root must have a single daemon).
exec 8>"$CACHE/lock"
if ! flock -n 8; then
    say "another container stage holds $CACHE/lock: waiting (at most 20 min)"
    flock -w 1200 8 || fail "$CACHE/lock still held after 20 min"
fi
SCRATCH="$(mktemp -d /tmp/fsct.XXXXXX)"   # short: dockerd's exec-root holds unix sockets
export DOCKER_HOST="unix://$SCRATCH/docker.sock"
export DOCKER_BUILDKIT=0

# --------------------------------------------------------------------------------------------
start_dockerd() {
    mkdir -p "$CACHE/docker" "$SCRATCH/exec"
    dockerd --storage-driver=overlay2 --iptables=false --ip6tables=false --bridge=none \
        --data-root="$CACHE/docker" --exec-root="$SCRATCH/exec" -p "$SCRATCH/dockerd.pid" \
        -H "$DOCKER_HOST" > "$CACHE/logs/dockerd.log" 2>&1 3>&- 4>&- 8>&- &
    DOCKERD_PID=$!
    local t0=$SECONDS
    DOCKERD_WHY="dockerd (overlay2) did not answer within $DOCKERD_WAIT s"
    while [ $((SECONDS - t0)) -lt "$DOCKERD_WAIT" ]; do
        if timeout 10 docker info >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            DOCKERD_WHY="dockerd (overlay2) exited at start-up (log: $CACHE/logs/dockerd.log)"
            break
        fi
        sleep 1
    done
    return 1
}

step "start dockerd"
if ! start_dockerd; then
    log_tail "$CACHE/logs/dockerd.log" 15
    stop_dockerd
    if [ -n "$(ls -A "$CACHE/docker" 2>/dev/null)" ]; then
        say "dockerd did not come up with the cached data-root: starting again with an empty one"
        unmount_under "$CACHE/docker"
        rm -rf "$CACHE/docker"
        if ! start_dockerd; then
            log_tail "$CACHE/logs/dockerd.log" 15
            stop_dockerd
            skip "$DOCKERD_WHY"
        fi
    else
        skip "$DOCKERD_WHY"
    fi
fi
say "dockerd $DOCKERD_PID up: $(docker info --format '{{.ServerVersion}}, {{.Driver}}, data-root {{.DockerRootDir}}')"
step_done

# --------------------------------------------------------------------------------------------
# The Debian mirror this machine's apt uses (deb822 .sources or one-line .list files).
apt_mirror() {
    local m
    m="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^[[:space:]]*URIs:[[:space:]]*//p' |
         tr ' ' '\n' | grep -E '/debian/?$' | head -n 1 || true)"
    [ -n "$m" ] || m="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
         sed -n 's/^[[:space:]]*deb[[:space:]]\+\(\[[^]]*\][[:space:]]*\)\?\([^[:space:]]\+\).*/\2/p' |
         grep -E '/debian/?$' | head -n 1 || true)"
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

step "local base image ($BASE_IMAGE)"
MIRROR="$(apt_mirror)"
INCLUDE="python3,python3-venv,python3-dev,ca-certificates"
CA_DIR=/usr/local/share/ca-certificates
CA_FILES=()
while IFS= read -r f; do CA_FILES+=("$f"); done < <(find "$CA_DIR" -name '*.crt' -type f 2>/dev/null | sort)
# The cache key: what goes into the base (suite, packages, mirror, extra CA certificates, recipe).
BASE_RECIPE_VERSION=1
KEY="$( { echo "$BASE_RECIPE_VERSION $SUITE $INCLUDE $MIRROR"; for f in "${CA_FILES[@]}"; do
          echo "$f"; cat "$f"; done; } | sha256sum | cut -c1-12)"
BASE_TAR="$CACHE/base-$SUITE-$KEY.tar"
if docker image inspect "$BASE_IMAGE-$KEY" >/dev/null 2>&1; then
    say "cached: image $BASE_IMAGE-$KEY"
    how="cached image"
else
    if [ -s "$BASE_TAR" ]; then
        say "cached: $BASE_TAR"
        how="cached tarball"
    else
        how="debootstrap"
        ROOT="$SCRATCH/root"
        say "debootstrap --variant=minbase --include=$INCLUDE $SUITE (mirror $MIRROR)"
        ok=""
        for attempt in 1 2; do
            rm -rf "$ROOT"
            if in_child timeout 900 debootstrap --variant=minbase --include="$INCLUDE" "$SUITE" "$ROOT" "$MIRROR" \
                    > "$CACHE/logs/debootstrap.log" 2>&1; then
                ok=1; break
            fi
            unmount_under "$ROOT"
            log_tail "$CACHE/logs/debootstrap.log" 15
            say "debootstrap attempt $attempt failed"
        done
        [ -n "$ok" ] || fail "debootstrap $SUITE from $MIRROR failed twice (log: $CACHE/logs/debootstrap.log)"
        if [ "${#CA_FILES[@]}" -gt 0 ]; then
            # This machine reaches PyPI through a TLS proxy whose CA is installed here: the base
            # (and so pip inside the build) must trust it too.
            say "adding this machine's extra CA certificates: ${CA_FILES[*]##*/}"
            cp "${CA_FILES[@]}" "$ROOT/usr/local/share/ca-certificates/"
            timeout 120 chroot "$ROOT" update-ca-certificates > "$CACHE/logs/ca.log" 2>&1 ||
                { log_tail "$CACHE/logs/ca.log"; fail "update-ca-certificates in the base failed"; }
        fi
        timeout 120 chroot "$ROOT" apt-get clean
        rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/log/*.log
        unmount_under "$ROOT"
        rm -f "$CACHE"/base-"$SUITE"-*.tar
        timeout 300 tar --numeric-owner -C "$ROOT" -cf "$BASE_TAR.part" . && mv "$BASE_TAR.part" "$BASE_TAR"
        rm -rf "$ROOT"
    fi
    say "docker import $BASE_TAR"
    timeout 300 docker import \
        -c 'ENV LANG=C.UTF-8' \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        -c 'CMD ["/bin/bash"]' \
        "$BASE_TAR" "$BASE_IMAGE-$KEY" >/dev/null || fail "docker import of $BASE_TAR failed"
fi
docker tag "$BASE_IMAGE-$KEY" "$BASE_IMAGE"
for old in $(docker images "${BASE_IMAGE%%:*}" --format '{{.Repository}}:{{.Tag}}'); do
    case "$old" in "$BASE_IMAGE"|"$BASE_IMAGE-$KEY") ;; *) docker rmi "$old" >/dev/null 2>&1 || true ;; esac
done
say "$BASE_IMAGE: $(docker run --rm --network none "$BASE_IMAGE" python3 --version)," \
    "$(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
step_done "$how"

# --------------------------------------------------------------------------------------------
step "docker build ($IMAGE)"
if ! in_child timeout 1800 docker build --network host --build-arg "BASE=$BASE_IMAGE" -t "$IMAGE" \
        -f docker/Dockerfile . > "$CACHE/logs/build.log" 2>&1; then
    log_tail "$CACHE/logs/build.log" 40
    fail "docker build failed (log: $CACHE/logs/build.log)"
fi
cached_steps="$(grep -c 'Using cache' "$CACHE/logs/build.log" || true)"
grep -E '^\[setup\]' "$CACHE/logs/build.log" | sed 's/^/    /' || true
docker image prune -f >/dev/null 2>&1 || true   # the previous build's image, now untagged
SIZE="$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.2f GB", $1/1e9}')"
say "$IMAGE: $SIZE ($cached_steps build steps from cache)"
step_done "$SIZE"

# --------------------------------------------------------------------------------------------
step "host run (reference)"
[ -x "$VENV/bin/femsolver" ] || fail "no $VENV/bin/femsolver: run 'make setup' (bash scripts/setup.sh) first"
OUT="$SCRATCH/out"
mkdir -p "$OUT"
if ! in_child timeout "$RUN_TIMEOUT" "$VENV/bin/mpirun" -n "$NP" "$VENV/bin/femsolver" run "$CASE" -o "$OUT/host" \
        > "$OUT/host.log" 2>&1; then
    log_tail "$OUT/host.log"
    fail "the host run failed"
fi
tail -n 1 "$OUT/host.log" | sed 's/^/    /'
step_done

# run_container NAME LOG DOCKER_RUN_ARGS... -- runs the README's command; the container is named
# so that a run over the time limit can be removed (killing the client does not stop it).
run_container() {
    local name="fsct-$1-$$" log="$2" rc=0
    shift 2
    in_child timeout "$RUN_TIMEOUT" docker run --name "$name" "$@" "$IMAGE" \
        mpirun -n "$NP" femsolver run "$CASE" -o results/prs > "$log" 2>&1 || rc=$?
    if [ "$rc" = 124 ]; then
        say "over $RUN_TIMEOUT s: stopped"
        docker rm -f "$name" >/dev/null 2>&1 || true
    fi
    return "$rc"
}

step "container run: root, results mounted"
mkdir -p "$OUT/root"
run_container root "$OUT/root.log" --rm -v "$OUT/root:/work/results" ||
    { log_tail "$OUT/root.log"; fail "the container run as root failed"; }
tail -n 1 "$OUT/root.log" | sed 's/^/    /'
step_done

step "container run: --user $USER_ID, results mounted"
mkdir -p "$OUT/user"
chown "$USER_ID" "$OUT/user"
run_container user "$OUT/user.log" --rm --user "$USER_ID" -v "$OUT/user:/work/results" ||
    { log_tail "$OUT/user.log"; fail "the container run as --user $USER_ID with a mounted results folder failed"; }
owner="$(stat -c %u:%g "$OUT/user/prs/summary.json")"
[ "$owner" = "$USER_ID" ] || fail "summary.json written through the mount belongs to $owner, not $USER_ID"
tail -n 1 "$OUT/user.log" | sed 's/^/    /'
step_done

step "container run: --user $USER_ID, no mount"
# Works: the image's results/ is world-writable. The output stays in the container: copy it out.
rc=0
run_container nomount "$OUT/nomount.log" --user "$USER_ID" || rc=$?
mkdir -p "$OUT/nomount"
docker cp "fsct-nomount-$$:/work/results/prs/summary.json" "$OUT/nomount/summary.json" >/dev/null 2>&1 || true
docker rm -f "fsct-nomount-$$" >/dev/null 2>&1 || true
[ "$rc" = 0 ] || { log_tail "$OUT/nomount.log"; fail "the container run as --user $USER_ID without a mount failed"; }
tail -n 1 "$OUT/nomount.log" | sed 's/^/    /'
step_done

step "container run: --user $USER_ID, unwritable mount"
# Must fail, and say why (docker/entrypoint.sh) before femsolver's own error.
mkdir -p "$OUT/rootowned"
chmod 755 "$OUT/rootowned"
rc=0
run_container rootowned "$OUT/rootowned.log" --rm --user "$USER_ID" -v "$OUT/rootowned:/work/results" || rc=$?
[ "$rc" != 0 ] || fail "a run as --user $USER_ID into a root-owned mounted results folder succeeded?"
[ "$rc" != 124 ] || fail "the run into a root-owned results folder hung instead of failing"
grep -q '/work/results is not writable by uid 1000' "$OUT/rootowned.log" ||
    { log_tail "$OUT/rootowned.log"; fail "no clear message for an unwritable results folder"; }
say "failed as it should (exit $rc), with:"
grep -A1 'not writable by uid' "$OUT/rootowned.log" | head -n 2 | sed 's/^/    /'
step_done

# --------------------------------------------------------------------------------------------
step "compare summaries"
"$VENV/bin/python" - "$RTOL" "$OUT/host/summary.json" \
    "root=$OUT/root/prs/summary.json" "user=$OUT/user/prs/summary.json" \
    "user-no-mount=$OUT/nomount/summary.json" <<'EOF'
import json, sys
rtol = float(sys.argv[1])
host = json.load(open(sys.argv[2]))
skip = {"wall_time_s"}                 # the only number that may differ
exact = {"ranks", "cells", "dofs"}
bad = []
runs = []
for arg in sys.argv[3:]:
    label, path = arg.split("=", 1)
    try:
        runs.append((label, json.load(open(path))))
    except OSError as e:
        bad.append(f"{label}: no summary.json ({e})")
for label, s in runs:
    if s.get("status") != "complete":
        bad.append(f"{label}: status {s.get('status')!r} (error: {s.get('error')!r})")
keys = [k for k, v in host.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in skip]
worst = {}
print(f"    {'quantity':44s} {'host':>24s}  " + "  ".join(f"{l + ' rel.diff':>18s}" for l, _ in runs))
for k in keys:
    h = host[k]
    cells = []
    for label, s in runs:
        c = s.get(k)
        if not isinstance(c, (int, float)):
            bad.append(f"{label}: {k} missing")
            cells.append(f"{'missing':>18s}")
            continue
        if k in exact:
            d = 0.0 if c == h else float("inf")
        else:
            d = abs(c - h) / max(abs(h), 1e-300)
        worst[label] = max(worst.get(label, 0.0), d)
        if d > rtol:
            bad.append(f"{label}: {k} = {c!r}, host {h!r} (rel. diff {d:.2e} > {rtol:g})")
        cells.append(f"{d:18.2e}")
    print(f"    {k:44s} {h!r:>24s}  " + "  ".join(cells))
for k in ("status", "converged"):
    print(f"    {k:44s} {host.get(k)!r:>24s}  " + "  ".join(f"{s.get(k)!r:>18s}" for _, s in runs))
for label, _ in runs:
    print(f"    {label}: largest relative difference {worst.get(label, 0.0):.2e} (tolerance {rtol:g})")
if host.get("status") != "complete":
    bad.append(f"host: status {host.get('status')!r}")
if bad:
    print("[container] mismatches:\n    " + "\n    ".join(bad))
    sys.exit(1)
EOF
step_done
say "ok: the image builds, runs MPI on $NP ranks as root and as --user $USER_ID, and agrees with the host run"
