"""Open a plating run's ParaView series (plating.pvd) and report what ParaView sees at each
time: the height of the mesh's top (the counter electrode recedes as Li is plated), its area,
the number of cells (remeshing) and the range of the concentration; save a screenshot of the
last time.

Run with ParaView's own Python under an X server:
    xvfb-run -a pvpython tests/paraview_series.py OUT_DIR /abs/path/plating.pvd
Prints one JSON object on the last line: {"times", "top", "area", "cells", "c_range", "png"}.
"""

import json
import os
import sys

from paraview import simple


def main(out_dir, path):
    reader = simple.PVDReader(FileName=os.path.abspath(path))
    times = list(reader.TimestepValues)
    report = {"times": times, "top": [], "area": [], "cells": [], "c_range": []}
    integral = simple.IntegrateVariables(Input=reader)
    for t in times:
        reader.UpdatePipeline(t)
        integral.UpdatePipeline(t)
        report["area"].append(integral.CellData["Area"].GetRange()[0])
        info = reader.GetDataInformation()
        report["top"].append(info.GetBounds()[3])
        report["cells"].append(info.GetNumberOfCells())
        report["c_range"].append(list(reader.PointData["c"].GetRange()))
    view = simple.CreateRenderView()
    view.ViewSize = [800, 500]
    view.ViewTime = times[-1]
    display = simple.Show(reader, view)
    display.Ambient, display.Diffuse = 1.0, 0.0
    simple.ColorBy(display, ("POINTS", "c"))
    simple.GetColorTransferFunction("c").ApplyPreset("Viridis (matplotlib)", True)
    display.RescaleTransferFunctionToDataRange(True, False)
    view.InteractionMode = "2D"
    simple.ResetCamera(view)
    report["png"] = os.path.join(out_dir, "plating.png")
    simple.SaveScreenshot(report["png"], view, ImageResolution=[800, 500])
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
