#!/bin/sh
# Entrypoint of the femsolver image: checks where runs can write, then runs the command as given
# (`docker run IMAGE mpirun -n 2 femsolver run ...`; default: femsolver --help).
#
# - A user without a writable home (docker run --user UID:GID gives HOME=/) gets HOME=/tmp.
# - The image's /work/results is world-writable, so without a mount a run works as any user
#   (its output stays in the container). A folder mounted there that this user cannot write
#   (a host folder owned by root, say) makes every `-o results/...` fail: say so up front,
#   with the fix, instead of leaving it to a PermissionError traceback from every rank.
if [ -z "${HOME:-}" ] || [ ! -w "${HOME}" ]; then
    export HOME=/tmp
fi
if [ "$(pwd)" = /work ] && [ -d results ] && [ ! -w results ]; then
    uid="$(id -u)"
    gid="$(id -g)"
    cat >&2 <<EOF
femsolver container: /work/results is not writable by uid $uid (gid $gid): runs that write
  under results/ will fail. It is a mounted folder this user cannot write. On the host, give it
  to this user (chown $uid:$gid results), or run as the folder's owner:
    docker run --user "\$(id -u):\$(id -g)" -v "\$PWD/results:/work/results" ...
  or write elsewhere (-o /tmp/run), or leave out the mount (the image's own results/ is writable).
EOF
fi
exec "$@"
