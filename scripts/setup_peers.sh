#!/usr/bin/env bash
# Test-only peers of the image workflow: TauFactor and PoreSpy (with OpenPNM and PyAMG for
# PoreSpy's finite-difference tortuosity) in their own Python 3.11 venv, .venv-peers.
#
#   bash scripts/setup_peers.sh        # ~3 min and ~3.4 GB the first time; a no-op after
#
# Why a venv of its own: TauFactor needs PyTorch, and PyPI's Linux torch wheels are CUDA builds
# of several GB; the CPU build torch==2.13.0 that pip takes on these machines is for Python 3.11,
# while femsolver's venv is Python >= 3.12. tests/test_images.py and benchmarks/images.py call
# this venv's python as a subprocess (scripts/peers.py) and skip, saying why, when it is absent.
# Environment: FEMSOLVER_PEERS_VENV (default <repo>/.venv-peers), FEMSOLVER_PEERS_PYTHON.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FEMSOLVER_PEERS_VENV:-$REPO/.venv-peers}"
PINS="torch==2.13.0 taufactor==1.2.1 porespy==3.2.0 openpnm==3.6.4 pyamg==5.4.1"
STAMP="$VENV/.femsolver-peers-stamp"
say() { printf '[peers] %s\n' "$*"; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PINS" ]; then
    say "up to date: $VENV ($PINS)"
    exit 0
fi
PY="${FEMSOLVER_PEERS_PYTHON:-$(command -v python3.11 || true)}"
[ -n "$PY" ] || { say "ERROR: no python3.11 (the CPU torch wheel is for Python 3.11)" >&2; exit 1; }
T0=$SECONDS
say "creating $VENV with $("$PY" --version 2>&1)"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q $PINS 2>&1 | grep -v "is ignored" || true
"$VENV/bin/python" -c "import torch, taufactor, porespy, openpnm, pyamg; print('[peers] torch', torch.__version__)"
echo "$PINS" >"$STAMP"
say "done in $((SECONDS - T0)) s ($(du -sh "$VENV" | cut -f1))"
