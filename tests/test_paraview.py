"""Open femsolver's XDMF output in a real ParaView (pvpython under xvfb-run).

Skipped when `pvpython` or `xvfb-run` is missing, unless FEMSOLVER_REQUIRE_PARAVIEW=1
(then it fails). Serial only: it checks files, not parallel writing (test_outputs does).
Install on Debian/Ubuntu:
    apt-get install --no-install-recommends paraview python3-paraview xvfb xauth
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import femsolver  # noqa: F401  (imports dolfinx_solver before dolfinx)
import dolfinx.fem
import dolfinx.mesh
import matplotlib.image
import numpy as np
import pytest
from mpi4py import MPI

from femsolver.outputs.fields import XDMFExport, write_meshtags_xdmf

NM = 1e-9
SCRIPT = Path(__file__).with_name("paraview_screenshot.py")

pytestmark = pytest.mark.paraview


def require_paraview():
    missing = [tool for tool in ("pvpython", "xvfb-run") if shutil.which(tool) is None]
    if MPI.COMM_WORLD.size > 1:
        pytest.skip("ParaView check runs serially")
    if missing:
        message = f"{' and '.join(missing)} not found (apt-get install paraview python3-paraview xvfb xauth)"
        if os.environ.get("FEMSOLVER_REQUIRE_PARAVIEW") == "1":
            pytest.fail(message + "; FEMSOLVER_REQUIRE_PARAVIEW=1 requires it")
        pytest.skip(message)


def run_pvpython(script, *args) -> subprocess.CompletedProcess:
    """`pvpython script args` under a private X server. xvfb-run -a takes the first free display
    from :99 up, and two runs that start together (two checkouts' tests) race for it and abort;
    starting the search at a number of this process's own makes that unlikely."""
    return subprocess.run(["xvfb-run", "-a", "-n", str(100 + os.getpid() % 5000), "pvpython",
                           str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=300, check=False)


def distinct_colours(path):
    """Number of distinct RGB colours in a PNG."""
    rgb = np.round(matplotlib.image.imread(path)[..., :3] * 255).astype(np.uint32)
    return len(np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]))


def test_paraview_opens_and_draws_xdmf_fields(tmp_path):
    require_paraview()
    # A nanometre-scale box in metres, as the solver writes it.
    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_SELF, [[-100 * NM, 0.0], [100 * NM, 80 * NM]], [40, 16])
    c = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("Lagrange", 1)), name="c")
    c.interpolate(lambda x: 1000.0 + 200.0 * np.sin(x[0] / (30 * NM)) * x[1] / (80 * NM))
    i = dolfinx.fem.Function(dolfinx.fem.functionspace(mesh, ("DG", 0, (2,))), name="i")
    i.interpolate(lambda x: np.vstack([np.cos(x[0] / (30 * NM)), 2.0 + x[1] / (80 * NM)]))
    tdim = mesh.topology.dim
    cells = np.arange(mesh.topology.index_map(tdim).size_local, dtype=np.int32)
    regions = np.where(dolfinx.mesh.compute_midpoints(mesh, tdim, cells)[:, 1] < 40 * NM, 2, 1).astype(np.int32)
    write_meshtags_xdmf(tmp_path, "cell_tags", mesh, dolfinx.mesh.meshtags(mesh, tdim, cells, regions))

    with XDMFExport(tmp_path, c) as c_file, XDMFExport(tmp_path, i) as i_file:
        c_file.write(0.0)
        i_file.write(0.0)
        c.x.array[:] *= 1.5  # the last step is the one ParaView must show
        i.x.array[:] *= 3.0
        c_file.write(2e-3)
        i_file.write(2e-3)

    shots = tmp_path / "shots"
    shots.mkdir()
    files = [str(tmp_path / f"{name}.xdmf") for name in ("c", "i", "cell_tags")]
    run = run_pvpython(SCRIPT, shots, *files)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])

    magnitude = np.linalg.norm(i.x.array.reshape(-1, 2), axis=1)
    expected = {
        "c": ("POINTS", 1, [c.x.array.min(), c.x.array.max()]),
        "i": ("CELLS", 3, [magnitude.min(), magnitude.max()]),  # 2D vectors padded to 3 components
        "cell_tags": ("CELLS", 1, [1.0, 2.0]),
    }
    for name, (association, components, value_range) in expected.items():
        shown = report[name]
        assert (shown["association"], shown["components"]) == (association, components), name
        # XDMF DataItems from dolfinx carry no Precision attribute: ParaView reads 32-bit floats.
        np.testing.assert_allclose(shown["range"], value_range, rtol=1e-6, err_msg=name)
    assert report["c"]["times"] == report["i"]["times"] == [0.0, 2e-3]
    assert report["c"]["time"] == 2e-3
    # A real picture: smooth colour maps give hundreds of colours, a blank or grey one a few.
    assert distinct_colours(report["c"]["png"]) > 200
    assert distinct_colours(report["i"]["png"]) > 200
    # Two regions in the two end colours of the map; dolfinx's unfolded two-grid file
    # came out as one grey rectangle here.
    image = matplotlib.image.imread(report["cell_tags"]["png"])[..., :3]
    for end in (0.0, 1.0):
        colour = np.array(matplotlib.colormaps["viridis"](end)[:3])
        share = np.all(np.abs(image - colour) < 0.03, axis=-1).mean()
        assert share > 0.05, f"cell_tags picture: {share:.1%} of pixels in viridis({end})"
