#!/usr/bin/env bash
# Idempotent set-up of femsolver's virtual environment.
#
#   bash scripts/setup.sh            # venv in <repo>/.venv
#   FEMSOLVER_VENV=/opt/femsolver bash scripts/setup.sh
#   FEMSOLVER_PYTHON=/path/to/python3.12 bash scripts/setup.sh
#
# Finds a Python >= 3.12, creates the venv, installs the package editable with
# its test extra (`pip install -e ".[test]"`), then checkpoint I/O
# (scripts/install_checkpoint_io.sh). A stamp file in the venv records
# what was installed (hash of pyproject.toml, interpreter, repo path); when
# nothing changed a second run only checks and says it is up to date.
# PETSc, petsc4py, SLEPc and slepc4py come inside the dolfinx-solver-real wheel:
# their PyPI distributions must never be installed beside it.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FEMSOLVER_VENV:-$REPO/.venv}"
STAMP_NAME=".femsolver-setup-stamp"
# Distributions that would put a second PETSc (or the other scalar variant) in the process.
FORBIDDEN="petsc petsc4py slepc slepc4py dolfinx-solver-complex"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

# One set-up at a time per checkout (make -j, or two terminals).
if command -v flock >/dev/null 2>&1; then
    exec 9<"${BASH_SOURCE[0]}"
    flock 9
fi

# probe PY: on success prints "<sys.executable> <version>"; otherwise prints why not.
probe() {
    local out rc=0
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "not found (neither an executable file nor a command on PATH)"
        return 1
    fi
    out="$("$1" - 2>&1 <<'EOF'
import sys, sysconfig
v = "%d.%d.%d" % sys.version_info[:3]
if sys.version_info < (3, 12):
    sys.exit(f"is Python {v}, need >= 3.12")
if sysconfig.get_config_var("Py_GIL_DISABLED"):
    sys.exit(f"is a free-threaded build of Python {v} (the wheels need the default build)")
try:
    import ensurepip, venv  # noqa: F401
except ImportError:
    sys.exit(f"Python {v} has no venv/ensurepip module (Debian: apt-get install python3-venv)")
print(sys.executable, v)
EOF
)" || rc=$?
    if [ "$rc" -ne 0 ]; then
        out="$(printf '%s\n' "$out" | head -n 1)"
        printf '%s\n' "${out:-exited with status $rc and printed nothing}"
        return 1
    fi
    printf '%s\n' "$out" | tail -n 1
}

# find_python: sets PY and PY_VERSION, or exits with an explanation.
find_python() {
    local cand res tried=() root
    if [ -n "${FEMSOLVER_PYTHON:-}" ]; then
        # An explicit choice is honoured or refused, never silently replaced.
        if res="$(probe "$FEMSOLVER_PYTHON")"; then
            PY="${res% *}"; PY_VERSION="${res##* }"; return 0
        fi
        die "FEMSOLVER_PYTHON=$FEMSOLVER_PYTHON is not usable: $res
        Point FEMSOLVER_PYTHON at a Python >= 3.12 interpreter, or unset it to search."
    fi
    local cands=()
    for cand in python3.13 python3.12 python3; do
        if command -v "$cand" >/dev/null 2>&1; then
            cands+=("$(command -v "$cand")")
        else
            tried+=("$cand: not on PATH")
        fi
    done
    root=""
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
    fi
    root="${root:-${PYENV_ROOT:-$HOME/.pyenv}}"
    local pyenv_found=0
    while IFS= read -r cand; do
        [ -n "$cand" ] && { cands+=("$cand"); pyenv_found=1; }
    done < <(ls -d "$root"/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -V -r)
    for cand in "${cands[@]}"; do
        if res="$(probe "$cand")"; then
            PY="${res% *}"; PY_VERSION="${res##* }"; return 0
        fi
        tried+=("$cand: $res")
    done
    [ "$pyenv_found" = 1 ] || tried+=("pyenv versions: none matching $root/versions/3.1[2-9]*/bin/python")
    {
        echo "[setup] ERROR: no Python >= 3.12 found. femsolver needs Python 3.12 or newer."
        echo "[setup] Looked for (in this order):"
        echo "[setup]   \$FEMSOLVER_PYTHON (not set)"
        local t
        for t in "${tried[@]}"; do echo "[setup]   $t"; done
        echo "[setup] Fix: install Python 3.12 (e.g. 'pyenv install 3.12', or your distribution's"
        echo "[setup]   python3.12 with its venv module), or set FEMSOLVER_PYTHON=/path/to/python3.12"
        echo "[setup]   and run this script again."
    } >&2
    exit 1
}

# venv_health: prints nothing and succeeds when $VENV has a working Python >= 3.12 with pip.
venv_health() {
    [ -x "$VENV/bin/python" ] || { echo "no $VENV/bin/python"; return 1; }
    local res
    res="$(probe "$VENV/bin/python")" || { echo "its python $res"; return 1; }
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || { echo "its pip does not run"; return 1; }
}

# forbidden_installed: prints the forbidden distributions present in the venv.
forbidden_installed() {
    "$VENV/bin/python" - $FORBIDDEN <<'EOF'
import sys
from importlib import metadata
for name in sys.argv[1:]:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue
    print(name)
EOF
}

# venv_pip: run pip in the venv, dropping only the "Location 'file:///...' is ignored: it is neither a
# file nor a directory" warnings that a machine-wide pip.conf pointing at absent local indexes
# produces for every package (harmless); everything else pip says is shown.
venv_pip() {
    "$VENV/bin/python" -m pip "$@" 2>&1 |
        { grep -v -E "^WARNING: Location 'file://[^']*' is ignored: it is neither a file nor a directory\.$" || true; }
}

remove_venv() {
    # Only delete what is recognisably a virtual environment (or an empty directory).
    if [ -f "$VENV/pyvenv.cfg" ] || [ -z "$(ls -A "$VENV" 2>/dev/null)" ]; then
        rm -rf "$VENV"
    else
        die "$VENV exists but is not a virtual environment (no pyvenv.cfg); refusing to delete it.
        Remove it yourself or set FEMSOLVER_VENV to another directory."
    fi
}

stamp_content() {
    # $1 = base interpreter of the venv
    printf 'pyproject-sha256 %s\ncheckpoint-io-sha256 %s\ninterpreter %s\nrepo %s\n' \
        "$(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)" \
        "$(sha256sum "$REPO/scripts/install_checkpoint_io.sh" | cut -d' ' -f1)" "$1" "$REPO"
}

venv_base_python() {
    # The interpreter the venv was made from (pyvenv.cfg 'executable', Python >= 3.11 writes it).
    sed -n 's/^executable *= *//p' "$VENV/pyvenv.cfg" 2>/dev/null | head -n 1
}

T0=$SECONDS
[ -f "$REPO/pyproject.toml" ] || die "no pyproject.toml in $REPO"
say "repository: $REPO"
say "virtual environment: $VENV"

# 1. Keep a healthy venv; recreate a broken one, one older than 3.12, one made from another
#    interpreter than an explicit FEMSOLVER_PYTHON, or one holding a foreign PETSc.
RECREATE=""
if [ -e "$VENV" ]; then
    if ! why="$(venv_health)"; then
        RECREATE="the existing venv is unusable ($why)"
    else
        bad="$(forbidden_installed | tr '\n' ' ')"
        if [ -n "$bad" ]; then
            RECREATE="it contains PyPI ${bad% } (a second PETSc beside dolfinx-solver-real's)"
        elif [ -n "${FEMSOLVER_PYTHON:-}" ]; then
            find_python
            base="$(venv_base_python)"
            if [ -n "$base" ] && [ "$(readlink -f "$base")" != "$(readlink -f "$PY")" ]; then
                RECREATE="it was made from $base, FEMSOLVER_PYTHON asks for $PY"
            fi
        fi
    fi
    if [ -n "$RECREATE" ]; then
        say "recreating $VENV: $RECREATE"
        remove_venv
    fi
fi

if [ ! -e "$VENV" ]; then
    find_python
    say "creating venv with $PY (Python $PY_VERSION)"
    "$PY" -m venv "$VENV"
fi

BASE="$(venv_base_python)"
BASE="${BASE:-$(readlink -f "$VENV/bin/python")}"
WANT="$(stamp_content "$BASE")"
STAMP="$VENV/$STAMP_NAME"

# 2. Install unless the stamp says this exact pyproject.toml is already installed.
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/femsolver" ]; then
    say "up to date ($("$VENV/bin/python" -c 'import platform; print("Python", platform.python_version())'), pyproject.toml unchanged); nothing to do [$((SECONDS - T0)) s]"
    exit 0
fi

rm -f "$STAMP"
T1=$SECONDS
say "upgrading pip"
venv_pip install --quiet --upgrade pip
say "installing femsolver (editable) with its test extra: pip install -e \".[test]\""
# --quiet keeps the log to warnings and errors; the summary below says what got installed.
(cd "$REPO" && venv_pip install --quiet --progress-bar off -e ".[test]")
say "pip install done [$((SECONDS - T1)) s]"

bad="$(forbidden_installed | tr '\n' ' ')"
[ -z "$bad" ] || die "PyPI ${bad% } got installed beside dolfinx-solver-real, which carries its own PETSc/SLEPc.
        Remove whatever asked for it from the dependencies, then: rm -rf $VENV && bash scripts/setup.sh"

# 3. Check that the stack imports and say what is there.
if ! "$VENV/bin/python" - <<'EOF' | sed 's/^/[setup]   /'; then
import dolfinx_solver  # noqa: F401  (must come first)
import dolfinx, gmsh, mpi4py, numpy, petsc4py, platform
from petsc4py import PETSc
from importlib import metadata
print(f"Python {platform.python_version()}, dolfinx {dolfinx.__version__} "
      f"(dolfinx-solver-real {metadata.version('dolfinx-solver-real')}), "
      f"PETSc {'.'.join(map(str, PETSc.Sys.getVersion()))} ({PETSc.ScalarType.__name__})")
print(f"gmsh {gmsh.__version__}, mpi4py {mpi4py.__version__}, mpich {metadata.version('mpich')}, "
      f"numpy {numpy.__version__}, pytest {metadata.version('pytest')}")
EOF
    die "the installed packages do not import (traceback above). On a minimal system gmsh needs
        libGLU, libGL and X11 client libraries, and dolfinx needs gcc: see docs/install.md,
        Troubleshooting. Run this script again once fixed."
fi
for exe in femsolver mpirun; do
    [ -x "$VENV/bin/$exe" ] || die "$VENV/bin/$exe is missing after the install"
done
say "  commands: $VENV/bin/femsolver, $VENV/bin/mpirun"
# dolfinx compiles forms to C at run time (ffcx + cffi) with the interpreter's C compiler.
CC_NAME="$("$VENV/bin/python" -c 'import sysconfig; print((sysconfig.get_config_var("CC") or "cc").split()[0])')"
command -v "$CC_NAME" >/dev/null 2>&1 ||
    say "WARNING: no C compiler '$CC_NAME' on PATH: dolfinx needs one to compile forms at run time (Debian: apt-get install gcc libc6-dev)"

# 4. Checkpoint/restart I/O (io4dolfinx on ADIOS2 bindings built with MPI against the wheel's
#    ADIOS2; docs/clusters.md). Without it femsolver runs but writes no checkpoints: say why.
if ! bash "$REPO/scripts/install_checkpoint_io.sh" "$VENV"; then
    say "WARNING: checkpoint I/O could not be installed (see above): runs work, but write no"
    say "         checkpoints and --restart is refused. Fix what it names, then run this again."
    [ "${FEMSOLVER_REQUIRE_CHECKPOINT:-0}" != 1 ] || die "FEMSOLVER_REQUIRE_CHECKPOINT=1: checkpoint I/O is required"
    exit 0  # no stamp: the next run tries again
fi

printf '%s\n' "$WANT" > "$STAMP"
say "done [$((SECONDS - T0)) s]; activate with: source ${VENV/#$REPO\//}/bin/activate"
