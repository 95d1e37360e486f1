"""Run outputs: field files for ParaView, PNG maps and profiles, CSV/JSON tables.

- `femsolver.outputs.fields`: `XDMFExport`, `VTXExport`, `ExportGroup`, `write_meshtags_xdmf`
- `femsolver.outputs.pictures`: `plot_map`, `plot_profile`, gathering and sampling helpers
- `femsolver.outputs.tables`: `write_json`, `write_csv`, `TimeSeries`

Every export has `write(t)` and `close()` and is a context manager, so the time loop
calls one `write(t)` and knows no output types. The files are described in docs/outputs.md.
Submodules are not imported here: importing this package stays cheap.
"""
