"""Open femsolver XDMF files in ParaView, colour each by its field and save a screenshot.

Run with ParaView's own Python (system Python 3.11 on Debian; no femsolver, no numpy
needed), under an X server:

    xvfb-run -a pvpython tests/paraview_screenshot.py OUT_DIR /abs/path/c.xdmf /abs/path/i.xdmf

The array shown is the file's stem (femsolver writes one field per file, named like the
file). Prints one JSON object on the last line of stdout:
{stem: {"times", "time", "association", "components", "range", "png"}}, where "range" is
the array range at the last time step (the magnitude for vectors).
"""

import json
import os
import sys

from paraview import simple


def show(path, out_dir):
    stem = os.path.splitext(os.path.basename(path))[0]
    # Absolute path: with a bare name the reader looked for "<name>.xdmf<name>.h5".
    reader = simple.Xdmf3ReaderS(FileName=[os.path.abspath(path)])
    times = list(reader.TimestepValues) if reader.TimestepValues else []
    time = times[-1] if times else 0.0
    # An explicit time: a plain UpdatePipeline() gave an empty data set.
    reader.UpdatePipeline(time)
    if stem in reader.PointData.keys():
        association, array = "POINTS", reader.PointData[stem]
    elif stem in reader.CellData.keys():
        association, array = "CELLS", reader.CellData[stem]
    else:
        raise SystemExit(f"{path}: no array named {stem!r}")
    components = array.GetNumberOfComponents()
    value_range = array.GetRange(-1 if components > 1 else 0)

    view = simple.CreateRenderView()
    view.ViewSize = [800, 500]
    view.ViewTime = time
    view.OrientationAxesVisibility = 0
    display = simple.Show(reader, view)
    # Unlit: a flat 2D map shows the colour map's own colours.
    display.Ambient, display.Diffuse = 1.0, 0.0
    if components > 1:
        simple.ColorBy(display, (association, stem, "Magnitude"))
    else:
        simple.ColorBy(display, (association, stem))
    lut = simple.GetColorTransferFunction(stem)
    lut.ApplyPreset("Viridis (matplotlib)", True)
    lut.RescaleTransferFunction(*value_range)
    display.SetScalarBarVisibility(view, True)
    view.InteractionMode = "2D"
    simple.ResetCamera(view)
    png = os.path.join(out_dir, f"{stem}.png")
    simple.SaveScreenshot(png, view, ImageResolution=[800, 500])
    simple.Delete(view)
    simple.Delete(reader)
    return {
        "times": times,
        "time": time,
        "association": association,
        "components": components,
        "range": list(value_range),
        "png": png,
    }


def main(argv):
    out_dir, paths = argv[1], argv[2:]
    report = {os.path.splitext(os.path.basename(p))[0]: show(p, out_dir) for p in paths}
    print(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv)
