"""Runs TauFactor and PoreSpy for femsolver's tests and benchmark, in the peers' venv
(scripts/setup_peers.sh; Python 3.11, no femsolver import). One JSON request on argv, one
JSON answer on stdout:

  {"generate": "blobs" | "overlapping_spheres", "shape": [n, n, n], "porosity": p,
   "seed": s, "blobiness": b, "radius": r, "path": "out.npy"}  -> {"porosity": ...}
  {"tortuosity": "in.npy", "axis": 0, "peers": ["taufactor", "porespy"], "upsample": 1,
   "conv_crit": 1e-2, "threads": 2}
      -> {"taufactor": {"tau": ..., "D_rel": ..., "VF": ..., "seconds": ...},
          "porespy": {"tau": ..., "formation_factor": ..., "effective_porosity": ..., ...}}

A JSON list of requests gets the list of answers (one start-up: importing PoreSpy takes ~10 s).
Images: voxels with 1 (True) conduct, 0 do not; axis 0 is the direction of the current.
"""

import json
import logging
import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
logging.disable(logging.WARNING)


def generate(request):
    import porespy as ps

    shape = request["shape"]
    if request["generate"] == "blobs":
        image = ps.generators.blobs(shape=shape, porosity=request["porosity"],
                                    blobiness=request.get("blobiness", 1), seed=request["seed"])
    else:
        image = ps.generators.overlapping_spheres(shape=shape, r=request["radius"],
                                                  porosity=request["porosity"],
                                                  seed=request["seed"])
    image = np.asarray(image, dtype=np.uint8)
    np.save(request["path"], image)
    return {"porosity": float(image.mean())}


def tortuosity(request):
    image = np.load(request["tortuosity"]).astype(np.uint8)
    for axis in range(image.ndim):
        image = np.repeat(image, request.get("upsample", 1), axis=axis)
    image = np.moveaxis(image, request.get("axis", 0), 0)
    answer = {}
    if "taufactor" in request["peers"]:
        import taufactor
        import torch

        torch.set_num_threads(request.get("threads", 2))
        start = time.perf_counter()
        solver = taufactor.Solver(image, device="cpu")
        tau = solver.solve(verbose=False, conv_crit=request.get("conv_crit", 1e-2))
        answer["taufactor"] = {"tau": float(np.ravel(tau)[0]),
                               "D_rel": float(np.ravel(solver.D_rel)[0]),
                               "VF": float(np.ravel(solver.VF)[0]),
                               "iterations": int(solver.iter),
                               "seconds": time.perf_counter() - start}
    if "porespy" in request["peers"]:
        import porespy

        start = time.perf_counter()
        result = porespy.simulations.tortuosity_fd(image.astype(bool), axis=0)
        answer["porespy"] = {"tau": float(result.tortuosity),
                             "formation_factor": float(result.formation_factor),
                             "effective_porosity": float(result.effective_porosity),
                             "original_porosity": float(result.original_porosity),
                             "seconds": time.perf_counter() - start}
    return answer


def answer(request):
    return generate(request) if "generate" in request else tortuosity(request)


if __name__ == "__main__":
    request = json.loads(sys.argv[1])
    print(json.dumps([answer(r) for r in request] if isinstance(request, list) else
                     answer(request)))
