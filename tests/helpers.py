"""Test utilities. The small dolfinx domains, cases from dictionaries and global integrals are
library code now (the verification benchmarks use them): femsolver.verification.domains."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from femsolver.verification.domains import (  # noqa: F401
    integrate, make_case, rectangle_domain)


def interrupt_first_step(args) -> tuple[int, str]:
    """Run `femsolver run ARGS` in a child process, send it Ctrl-C (SIGINT) after its first
    accepted time step; returns (exit code, output)."""
    process = subprocess.Popen(
        [Path(sys.executable).parent / "femsolver", "run", *map(str, args)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "FEMSOLVER_PROGRESS": "steps"})
    for line in process.stdout:
        if line.startswith("  t = "):  # the first accepted step
            process.send_signal(signal.SIGINT)
            break
    output = process.communicate(timeout=120)[0]
    return process.returncode, output


def save_image(directory, name: str, image) -> str:
    """Write a label image on rank 0 in the format of the name's suffix (.npy, .tif, .png: a
    picture, first row on top; else raw); every rank gets the path."""
    import numpy as np
    import tifffile
    from mpi4py import MPI
    from PIL import Image

    path = Path(directory) / name
    if MPI.COMM_WORLD.rank == 0:
        if path.suffix == ".npy":
            np.save(path, image)
        elif path.suffix == ".tif":
            tifffile.imwrite(path, image)
        elif path.suffix == ".png":
            Image.fromarray(image[::-1]).save(path)
        else:
            image.tofile(path)
    MPI.COMM_WORLD.barrier()
    return str(path)
