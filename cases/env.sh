# Sourced by the case scripts: the repo root as working directory and BIN = the directory with
# femsolver and mpirun (the project venv from `make setup`, else whatever is on the PATH).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN="${FEMSOLVER_VENV:-.venv}/bin"
[ -x "$BIN/femsolver" ] || BIN="$(dirname "$(command -v femsolver)")"
NP="${NP:-2}"
