#!/usr/bin/env bash
# Installs N-to-M checkpoint/restart I/O into femsolver's venv (issue 15):
#   * ADIOS2's Python bindings WITH MPI, compiled from the PyPI `adios2` sdist and linked to the
#     ADIOS2 libraries that the dolfinx-solver-real wheel already ships (dolfinx_solver/lib),
#     installed as a local wheel `adios2==<ver>+dolfinxsolver` (pip list / pip uninstall see it);
#   * io4dolfinx (checkpointing library, ADIOS2 backend) and fenicsx-compat, with --no-deps
#     (both declare `fenics-dolfinx`, which the wheel provides under another name).
#
#   bash scripts/install_checkpoint_io.sh                 # venv: $FEMSOLVER_VENV or <repo>/.venv
#   bash scripts/install_checkpoint_io.sh /opt/femsolver  # venv given explicitly
#
# Run scripts/setup.sh first (it makes the venv with dolfinx-solver-real). Needs: a C++17
# compiler (`c++`/`g++`, or $CXX) and the interpreter's Python.h; no cmake. Downloads only from
# PyPI. Why not PyPI's `adios2`/`h5py` wheels: they are built without MPI (io4dolfinx then stops
# with "ADIOS2 must be built with MPI support"). Why not a whole ADIOS2 build: the process already
# holds the wheel's libadios2_core.so.2.X (dolfinx links it), so the bindings must match that
# copy; only ADIOS2's bindings/Python sources and headers are compiled (~1-3 min on 2 cores).
#
# Idempotent: the built wheel is cached (keyed by the wheel's ADIOS2 library, the Python ABI and
# the build recipe), a second run only re-checks. Ends with a self-check: import with immediate
# symbol binding, then a 2-rank write and a 1- and 2-rank read-back compared bitwise.
# Environment: CXX (compiler), FEMSOLVER_CACHE (cache dir, default ~/.cache/femsolver),
# FEMSOLVER_BUILD_JOBS (parallel compile jobs, default 2), SKIP_SELFCHECK=1.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${1:-${FEMSOLVER_VENV:-$REPO/.venv}}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
IO4DOLFINX_VERSION="1.5.0"
FENICSX_COMPAT_VERSION="0.4.0"
JOBS="${FEMSOLVER_BUILD_JOBS:-2}"
CACHE="${FEMSOLVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/femsolver}/checkpoint-io"
PY="$VENV/bin/python"

say() { printf '[checkpoint-io] %s\n' "$*"; }
die() { printf '[checkpoint-io] ERROR: %s\n' "$*" >&2; exit 1; }
# pip, without the harmless "Location 'file:///...' is ignored" lines of a machine-wide pip.conf.
vpip() {
    "$PY" -m pip "$@" 2>&1 |
        { grep -v -E "^WARNING: Location 'file://[^']*' is ignored: it is neither a file nor a directory\.$" || true; }
    return "${PIPESTATUS[0]}"
}

if command -v flock >/dev/null 2>&1; then
    exec 9<"${BASH_SOURCE[0]}"
    flock 9
fi
T0=$SECONDS
say "virtual environment: $VENV"

# ---------------------------------------------------------------------------------------------
# 1. What is there: the venv, the wheel's ADIOS2, a compiler, Python.h, mpi.h, mpi4py headers.
# ---------------------------------------------------------------------------------------------
[ -x "$PY" ] || die "no Python at $PY. Make the venv first: bash scripts/setup.sh (or FEMSOLVER_VENV=$VENV bash scripts/setup.sh)"
INFO="$("$PY" - <<'EOF' 2>&1
import re, sys, sysconfig, pathlib
try:
    import dolfinx_solver  # noqa: F401  (first: loads libmpi for the wheel's libraries)
except Exception as e:
    sys.exit(f"cannot import dolfinx_solver ({e}); the venv needs dolfinx-solver-real: bash scripts/setup.sh")
import mpi4py
lib = pathlib.Path(dolfinx_solver.__file__).parent / "lib"
cores = sorted(lib.glob("libadios2_core.so.*"))
if not cores:
    sys.exit(f"no libadios2_core.so.* in {lib}: this dolfinx wheel ships no ADIOS2")
core = cores[0]
mm = ".".join(core.name.split(".so.")[1].split(".")[:2])          # soname: major.minor
ver = None
notices = lib.parent / "THIRD-PARTY-NOTICES"
if notices.exists():
    m = re.search(r"ADIOS2/releases/tag/v(\d+\.\d+\.\d+)", notices.read_text(errors="replace"))
    ver = m.group(1) if m else None
data = core.read_bytes()
if ver is None:  # fall back to the version string inside the library
    found = re.findall(rb"(?<![\d.])(" + re.escape(mm.encode()) + rb"\.\d+)(?![\d.])", data)
    ver = max(set(found), key=found.count).decode() if found else None
if ver is None or not ver.startswith(mm + "."):
    sys.exit(f"cannot tell the ADIOS2 version of {core}")
import hashlib
h = hashlib.sha256(data)
for n in ("libadios2_core_mpi", "libadios2_cxx", "libadios2_cxx_mpi"):
    for p in sorted(lib.glob(n + ".so.*")):
        h.update(p.read_bytes())
# Layout-changing build options of the wheel's ADIOS2 that these bindings must agree with.
gpu = any(k in data for k in (b"Kokkos", b"CUDA", b"GPU_SUPPORT"))
derived = b"VariableDerived" in data
inc = sysconfig.get_paths()["include"]
print("LIB", lib)
print("ADIOS2_VERSION", ver)
print("LIBHASH", h.hexdigest()[:16])
print("GPU", int(gpu))
print("DERIVED", int(derived))
print("PYINC", inc)
print("PYH", int((pathlib.Path(inc) / "Python.h").exists()))
print("EXT_SUFFIX", sysconfig.get_config_var("EXT_SUFFIX"))
print("PYTAG", f"cp{sys.version_info[0]}{sys.version_info[1]}")
print("PYVER", "%d.%d" % sys.version_info[:2])
print("MPI4PY_INC", mpi4py.get_include())
print("PREFIX", sys.prefix)
EOF
)" || die "$INFO"
get() { printf '%s\n' "$INFO" | sed -n "s/^$1 //p"; }
WLIB="$(get LIB)"; AVER="$(get ADIOS2_VERSION)"; LIBHASH="$(get LIBHASH)"
EXT_SUFFIX="$(get EXT_SUFFIX)"; PYTAG="$(get PYTAG)"; PYVER="$(get PYVER)"
PYINC="$(get PYINC)"; MPI4PY_INC="$(get MPI4PY_INC)"; PREFIX="$(get PREFIX)"
say "dolfinx wheel ships ADIOS2 $AVER (libraries in $WLIB)"
[ "$(get GPU)" = 0 ] || die "the wheel's ADIOS2 was built with GPU/Kokkos support; this script builds bindings without it (class layouts would differ). Extend the script."
DERIVED="$(get DERIVED)"

# Bump when the way the bindings are built changes: cached wheels of older recipes are rebuilt.
RECIPE=1
LOCAL_TAG="dolfinxsolver.${LIBHASH:0:8}"   # PEP 440 local version label

# ---------------------------------------------------------------------------------------------
# self-check (also decides whether anything needs doing)
# ---------------------------------------------------------------------------------------------
import_check() {
    # LD_BIND_NOW: resolve every symbol now, so a mismatch with the wheel's ADIOS2 shows here.
    LD_BIND_NOW=1 "$PY" - "$IO4DOLFINX_VERSION" <<'EOF'
import sys
import dolfinx_solver  # noqa: F401
import adios2, io4dolfinx, fenicsx_compat  # noqa: F401
assert adios2.is_built_with_mpi, "adios2 without MPI"
assert io4dolfinx.__version__ == sys.argv[1], f"io4dolfinx {io4dolfinx.__version__} != {sys.argv[1]}"
print(f"adios2 {adios2.__version__} (MPI) from {adios2.__file__}, io4dolfinx {io4dolfinx.__version__}")
EOF
}

parallel_check() {
    local tmp rc=0
    tmp="$(mktemp -d)"
    cat >"$tmp/check.py" <<'EOF'
import dolfinx_solver  # noqa: F401
import sys
from pathlib import Path
from mpi4py import MPI
import numpy as np
import dolfinx
import io4dolfinx as io4

comm = MPI.COMM_WORLD
fn = Path(sys.argv[2]) / "check.bp"


def owned(u):
    """{dof coordinate: value} of all ranks: compares values independent of the partition."""
    n = u.function_space.dofmap.index_map.size_local
    x = np.round(u.function_space.tabulate_dof_coordinates()[:n], 12)
    d = {tuple(k): v for k, v in zip(x.tolist(), u.x.array[:n].tolist())}
    return {k: v for part in comm.allgather(d) for k, v in part.items()}


if sys.argv[1] == "write":
    mesh = dolfinx.mesh.create_unit_square(comm, 8, 8)
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1)), name="u")
    u.interpolate(lambda x: 1.0 + np.sin(3.0 * x[0]) * x[1])
    io4.write_mesh(fn, mesh, mode=io4.FileMode.write)
    io4.write_function(fn, u, time=0.5)
    io4.write_attributes(fn, comm, "run", {"t": np.array([0.5])})
    ref = owned(u)
    if comm.rank == 0:
        np.save(fn.with_suffix(".npy"), np.array([ref], dtype=object), allow_pickle=True)
else:
    mesh = io4.read_mesh(fn, comm)
    u = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1)), name="u")
    io4.read_function(fn, u, time=0.5)
    ref = np.load(fn.with_suffix(".npy"), allow_pickle=True)[0]
    t = io4.read_attributes(fn, comm, "run")["t"]
    ok = owned(u) == ref and len(ref) == 81 and t[0] == 0.5  # exact float equality
    if comm.rank == 0:
        print(f"wrote on 2 ranks, read on {comm.size}: 81 values bitwise equal: {ok}")
    sys.exit(0 if ok else 1)
EOF
    (
        cd "$tmp"
        # MPICH's CMA shared-memory copy (process_vm_readv) is forbidden in Docker's default
        # seccomp profile, also during `docker build`; turning it off costs nothing here.
        export MPIR_CVAR_CH4_CMA_ENABLE=0
        "$VENV/bin/mpirun" -n 2 "$PY" check.py write "$tmp" &&
            "$VENV/bin/mpirun" -n 1 "$PY" check.py read "$tmp" &&
            "$VENV/bin/mpirun" -n 2 "$PY" check.py read "$tmp"
    ) || rc=$?
    rm -rf "$tmp"
    return "$rc"
}

installed_version() {  # prints the installed version of a distribution, or nothing
    "$PY" -c "from importlib.metadata import version as v
try: print(v('$1'))
except Exception: pass"
}

WANT_ADIOS2="$AVER+$LOCAL_TAG"
have_adios2="$(installed_version adios2)"
have_io4="$(installed_version io4dolfinx)"
have_compat="$(installed_version fenicsx-compat)"
if [ "$have_adios2" = "$WANT_ADIOS2" ] && [ "$have_io4" = "$IO4DOLFINX_VERSION" ] &&
   [ "$have_compat" = "$FENICSX_COMPAT_VERSION" ] && import_check >/dev/null 2>&1; then
    say "already installed: adios2 $have_adios2 (MPI, on the wheel's ADIOS2), io4dolfinx $have_io4"
else
    # -----------------------------------------------------------------------------------------
    # 2. adios2 bindings: from the cache, or built now.
    # -----------------------------------------------------------------------------------------
    WHEEL_DIR="$CACHE/wheels"
    WHEEL="$WHEEL_DIR/adios2-${WANT_ADIOS2}-${PYTAG}-${PYTAG}-linux_$(uname -m).whl"
    STAMP="$WHEEL.recipe-$RECIPE"
    if [ -f "$WHEEL" ] && [ -f "$STAMP" ]; then
        say "using cached build $WHEEL"
    else
        # 2a. tools
        CXX="${CXX:-}"
        if [ -n "$CXX" ]; then
            command -v "${CXX%% *}" >/dev/null 2>&1 ||
                die "CXX=$CXX is not a command. Unset CXX or point it at a C++17 compiler (Debian: apt-get install g++)"
        else
            for c in c++ g++ clang++; do command -v "$c" >/dev/null 2>&1 && { CXX="$c"; break; }; done
            [ -n "$CXX" ] ||
                die "no C++ compiler on PATH (looked for c++, g++, clang++; or set CXX). Debian/Ubuntu: apt-get install g++"
        fi
        echo 'int main(){return 0;}' | $CXX -std=c++17 -x c++ - -o /dev/null 2>/dev/null ||
            die "the C++ compiler '$CXX' cannot build a C++17 program (Debian: apt-get install g++)"
        [ "$(get PYH)" = 1 ] ||
            die "no Python.h in $PYINC: the interpreter's development headers are missing (Debian system Python: apt-get install python$PYVER-dev; pyenv and the python:3.x Docker images include them)"
        [ -f "$PREFIX/include/mpi.h" ] ||
            die "no mpi.h in $PREFIX/include (the PyPI mpich wheel puts it there); reinstall dolfinx-solver-real: bash scripts/setup.sh"
        [ -f "$MPI4PY_INC/mpi4py/mpi4py.h" ] || die "no mpi4py headers in $MPI4PY_INC"

        # 2b. source: ADIOS2's PyPI sdist of the same release (the full ADIOS2 source tree)
        SRC_DIR="$CACHE/src"
        mkdir -p "$SRC_DIR"
        SDIST="$(ls -1 "$SRC_DIR"/adios2-"$AVER".*.tar.gz "$SRC_DIR"/adios2-"$AVER".tar.gz 2>/dev/null | sort -V | tail -n 1 || true)"
        if [ -z "$SDIST" ]; then
            say "downloading ADIOS2 $AVER source (PyPI sdist of adios2==$AVER.*, ~9 MB)"
            T1=$SECONDS
            vpip download --quiet --no-deps --no-binary adios2 --dest "$SRC_DIR" "adios2==$AVER.*" ||
                die "could not download the PyPI sdist of adios2==$AVER.* (the ADIOS2 release in the dolfinx wheel). Is PyPI reachable, and does PyPI have a source release of adios2 $AVER?"
            SDIST="$(ls -1 "$SRC_DIR"/adios2-"$AVER"*.tar.gz | sort -V | tail -n 1)"
            say "  $(basename "$SDIST") [$((SECONDS - T1)) s]"
        else
            say "ADIOS2 source: $SDIST (cached)"
        fi
        SDIST_VER="$(basename "$SDIST" .tar.gz)"; SDIST_VER="${SDIST_VER#adios2-}"

        BUILD="$(mktemp -d "${TMPDIR:-/tmp}/adios2-bindings.XXXXXX")"
        trap 'rm -rf "$BUILD"' EXIT
        tar -xzf "$SDIST" -C "$BUILD"
        S="$BUILD/adios2-$SDIST_VER"
        [ -f "$S/bindings/Python/nbGlue.cpp" ] && [ -d "$S/thirdparty/nanobind/nanobind" ] ||
            die "$SDIST does not hold ADIOS2's bindings/Python and thirdparty/nanobind sources (layout changed?)"

        # 2c. ADIOSConfig.h: the one generated header the bindings include. Options that change
        #     class layouts follow the wheel's library (GPU/Kokkos: off, checked above).
        mkdir -p "$BUILD/gen/adios2/common"
        "$PY" - "$S" "$BUILD/gen/adios2/common/ADIOSConfig.h" "$AVER" "$DERIVED" "$CXX" <<'EOF'
import sys
src, out, ver, derived, cxx = sys.argv[1:]
major, minor, patch = ver.split(".")[:3]
have = ["MPI", "PYTHON", "HDF5", "PROFILING", "SYSVSHMEM", "O_DIRECT"]
if derived == "1":
    have.append("DERIVED_VARIABLE")
defines = "\n".join(f"#define ADIOS2_HAVE_{h}" for h in have)
t = open(f"{src}/source/adios2/common/ADIOSConfig.h.in").read()
for k, v in {
    "@ADIOS2_VERSION@": ver, "@ADIOS2_VERSION_MAJOR@": major, "@ADIOS2_VERSION_MINOR@": minor,
    "@ADIOS2_VERSION_PATCH@": patch, "@ADIOS2_CONFIG_DEFINES@": defines,
    "@ADIOS2_CONFIG_FEATURE_LIST@": ",".join(f'"{h}"' for h in have) + ",nullptr",
}.items():
    t = t.replace(k, v)
t = t.replace("#cmakedefine ADIOS2_VERSION_TWEAK @ADIOS2_VERSION_TWEAK@", "/* #undef ADIOS2_VERSION_TWEAK */")
import re
t = re.sub(r"@[A-Za-z_]+@", cxx, t)  # compiler names in a comment block
open(out, "w").write(t)
EOF

        # 2d. compile (flags as ADIOS2's CMake/nanobind_add_module(NB_STATIC) use them)
        NB="$S/thirdparty/nanobind/nanobind"
        COMMON=(-std=c++17 -DNDEBUG -fPIC -fvisibility=hidden -ffunction-sections -fdata-sections
                -I"$PYINC" -I"$NB/include" -isystem "$NB/ext/robin_map/include")
        SOURCES=(nbADIOS nbIO nbVariable nbVariableDerived nbAttribute nbEngine nbOperator nbQuery
                 nbGlue nbADIOSMPI nbIOMPI)
        mkdir -p "$BUILD/obj"
        {
            printf '%s\0' "$CXX ${COMMON[*]} -O3 -fno-strict-aliasing -DNB_COMPACT_ASSERTIONS -c $NB/src/nb_combined.cpp -o $BUILD/obj/nanobind.o"
            for s in "${SOURCES[@]}"; do
                printf '%s\0' "$CXX ${COMMON[*]} -Os -fno-stack-protector -DADIOS2_PYTHON_MODULE_NAME=adios2_bindings -DADIOS2_USE_MPI -DMPICH_SKIP_MPICXX -DOMPI_SKIP_MPICXX -I$S/bindings/CXX -I$BUILD/gen -I$S/source -isystem $MPI4PY_INC -isystem $PREFIX/include -c $S/bindings/Python/$s.cpp -o $BUILD/obj/$s.o"
            done
        } > "$BUILD/commands"
        say "compiling ADIOS2 $AVER Python bindings + nanobind (12 files, $JOBS jobs, $CXX)"
        T1=$SECONDS
        if ! xargs -0 -P "$JOBS" -n 1 sh -c '$0 2>>'"$BUILD/compile.log"' || { echo "failed: $0" >>'"$BUILD/compile.log"'; exit 255; }' \
                < "$BUILD/commands"; then
            tail -n 40 "$BUILD/compile.log" >&2
            die "compiling the ADIOS2 bindings failed (log above)"
        fi
        say "  compiled [$((SECONDS - T1)) s]"
        PKG="$BUILD/pkg"
        mkdir -p "$PKG/adios2/bindings"
        # RUNPATH: the wheel's ADIOS2, two directories up from adios2/bindings/. libmpi.so.12 is
        # found because dolfinx_solver (imported first, see bindings/__init__.py) has loaded it.
        $CXX -shared -Wl,-s -Wl,--gc-sections -o "$PKG/adios2/bindings/adios2_bindings$EXT_SUFFIX" \
            "$BUILD"/obj/*.o \
            "$WLIB"/libadios2_cxx_mpi.so."$(echo "$AVER" | cut -d. -f1-2)" \
            "$WLIB"/libadios2_cxx.so."$(echo "$AVER" | cut -d. -f1-2)" \
            "$WLIB"/libadios2_core_mpi.so."$(echo "$AVER" | cut -d. -f1-2)" \
            "$WLIB"/libadios2_core.so."$(echo "$AVER" | cut -d. -f1-2)" \
            -Wl,-rpath,'$ORIGIN/../../dolfinx_solver/lib' 2>>"$BUILD/compile.log" ||
            { tail -n 20 "$BUILD/compile.log" >&2; die "linking the ADIOS2 bindings failed"; }
        cp "$S"/python/adios2/*.py "$PKG/adios2/"
        cat >"$PKG/adios2/bindings/__init__.py" <<EOF
# ADIOS2 $AVER Python bindings with MPI, built by femsolver's scripts/install_checkpoint_io.sh
# against the ADIOS2 libraries of the dolfinx-solver-real wheel (dolfinx_solver/lib).
# dolfinx_solver first: it loads mpi4py.MPI and so the libmpi.so.12 those libraries need.
import dolfinx_solver  # noqa: F401

from .adios2_bindings import *  # noqa: F401,F403

__version__ = "$AVER"
EOF
        # 2e. a wheel, so that pip knows the distribution (and never pulls PyPI's serial adios2)
        mkdir -p "$WHEEL_DIR"
        "$PY" - "$PKG" "$WHEEL" "$WANT_ADIOS2" "$PYTAG" <<'EOF'
import base64, hashlib, os, sys, zipfile
pkg, wheel, version, tag = sys.argv[1:]
name = os.path.basename(wheel)
di = f"adios2-{version}.dist-info"
meta = {
    f"{di}/METADATA": (
        "Metadata-Version: 2.1\nName: adios2\n"
        f"Version: {version}\n"
        "Summary: ADIOS2 Python bindings with MPI, linked to the ADIOS2 of dolfinx-solver-real\n"
        "License: Apache-2.0\nRequires-Dist: numpy\n"),
    f"{di}/WHEEL": (
        "Wheel-Version: 1.0\nGenerator: femsolver install_checkpoint_io.sh\n"
        f"Root-Is-Purelib: false\nTag: {tag}-{tag}-{name.rsplit('-', 1)[1][:-4]}\n"),
}
records = []
tmp = wheel + ".part"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    def add(arc, data):
        z.writestr(arc, data)
        d = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        records.append(f"{arc},sha256={d},{len(data)}")
    for root, _, files in os.walk(pkg):
        for f in sorted(files):
            p = os.path.join(root, f)
            info_data = open(p, "rb").read()
            arc = os.path.relpath(p, pkg)
            zi = zipfile.ZipInfo(arc)
            zi.external_attr = (0o755 if f.endswith(".so") else 0o644) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, info_data)
            d = base64.urlsafe_b64encode(hashlib.sha256(info_data).digest()).rstrip(b"=").decode()
            records.append(f"{arc},sha256={d},{len(info_data)}")
    for arc, text in meta.items():
        add(arc, text.encode())
    z.writestr(f"{di}/RECORD", "\n".join(records + [f"{di}/RECORD,,"]) + "\n")
os.replace(tmp, wheel)
EOF
        rm -f "$WHEEL".recipe-*
        : >"$STAMP"
        rm -rf "$BUILD"; trap - EXIT
        say "  built $WHEEL"
    fi

    # -----------------------------------------------------------------------------------------
    # 3. install: the adios2 wheel, then io4dolfinx + fenicsx-compat without their dependencies
    # -----------------------------------------------------------------------------------------
    if [ -n "$have_adios2" ] && [ "$have_adios2" != "$WANT_ADIOS2" ]; then
        say "replacing installed adios2 $have_adios2 (PyPI's adios2 wheels have no MPI)"
    fi
    say "pip install $(basename "$WHEEL")"
    vpip install --quiet --no-deps --force-reinstall "$WHEEL" || die "pip could not install $WHEEL"
    say "pip install --no-deps io4dolfinx==$IO4DOLFINX_VERSION fenicsx-compat==$FENICSX_COMPAT_VERSION packaging"
    vpip install --quiet --no-deps "io4dolfinx==$IO4DOLFINX_VERSION" \
        "fenicsx-compat==$FENICSX_COMPAT_VERSION" packaging ||
        die "pip could not install io4dolfinx==$IO4DOLFINX_VERSION / fenicsx-compat==$FENICSX_COMPAT_VERSION from PyPI"
fi

# ---------------------------------------------------------------------------------------------
# 4. self-check
# ---------------------------------------------------------------------------------------------
say "self-check: import (all symbols bound now)"
out="$(import_check 2>&1)" || { printf '%s\n' "$out" >&2; die "import check failed (above): the adios2 bindings do not match the wheel's ADIOS2. Delete $CACHE and run again."; }
say "  $(printf '%s\n' "$out" | tail -n 1)"
if [ "${SKIP_SELFCHECK:-0}" != 1 ]; then
    say "self-check: write on 2 ranks, read back on 1 and 2 ranks ($VENV/bin/mpirun)"
    T1=$SECONDS
    out="$(parallel_check 2>&1)" || { printf '%s\n' "$out" >&2; die "parallel write/read check failed (above)"; }
    printf '%s\n' "$out" | grep "bitwise equal" | sed 's/^/[checkpoint-io]   /'
    say "  [$((SECONDS - T1)) s]"
fi
say "done [$((SECONDS - T0)) s]"
