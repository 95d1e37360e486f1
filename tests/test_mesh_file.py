"""Meshes from other tools through meshio: Gmsh .msh 2 and 4 give the same domain, regions and
facet sets mapped by the case, length units, clear errors; `femsolver run` and `effective` on
an imported mesh, serial and on 2 ranks."""

import json

import gmsh
import meshio
import numpy as np
import pytest
from mpi4py import MPI

from femsolver import tags
from femsolver.case import MeshParams
from femsolver.cli import main
from femsolver.errors import CaseError, GeometryError
from femsolver.mesh import build_domain
from geometries.mesh_file import MeshFileGeometry

COMM = MPI.COMM_WORLD
REGIONS = {"liquid": "electrolyte", "lithium": "electrode"}
BOUNDARIES = {"top": "counter", "surface": "working_active", "bottom": "current_collector"}


def _cell_msh(path, version: float, size: float = 0.1) -> str:
    """A planar Li | electrolyte cell in micrometres (rank 0 writes it with gmsh)."""
    if COMM.rank == 0:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
        gmsh.option.setNumber("General.Terminal", 0)
        occ = gmsh.model.occ
        lithium, liquid = occ.addRectangle(0, 0, 0, 1, 0.2), occ.addRectangle(0, 0.2, 0, 1, 1)
        occ.fragment([(2, lithium)], [(2, liquid)])
        occ.synchronize()
        height = {t: occ.getCenterOfMass(d, t)[1] for d, t in gmsh.model.getEntities(1)}
        gmsh.model.addPhysicalGroup(2, [liquid], 1, name="liquid")
        gmsh.model.addPhysicalGroup(2, [lithium], 2, name="lithium")
        for tag, (name, y) in enumerate((("top", 1.2), ("surface", 0.2), ("bottom", 0.0)), 3):
            gmsh.model.addPhysicalGroup(1, [t for t, h in height.items() if abs(h - y) < 1e-9],
                                        tag, name=name)
        gmsh.option.setNumber("Mesh.MeshSizeMax", size)
        gmsh.model.mesh.generate(2)
        gmsh.option.setNumber("Mesh.MshFileVersion", version)
        gmsh.write(str(path))
        gmsh.finalize()
    COMM.barrier()
    return str(path)


def _count(domain, tagset, tag):
    owned = tagset.indices < domain.mesh.topology.index_map(tagset.dim).size_local
    return COMM.allreduce(int(np.count_nonzero(tagset.values[owned] == tag)))


def test_msh_versions_give_the_same_domain(shared_dir):
    counts = []
    for version in (2.2, 4.1):
        path = _cell_msh(shared_dir / f"cell{version}.msh", version)
        geometry = MeshFileGeometry(path=path, length_unit=1e-6, regions=REGIONS,
                                    boundaries=BOUNDARIES)
        domain = build_domain(geometry, MeshParams(), COMM)
        x = domain.mesh.geometry.x
        top = COMM.allreduce(float(x[:, 1].max()), op=MPI.MAX)
        assert top == pytest.approx(1.2e-6)  # micrometres -> metres
        counts.append([_count(domain, domain.cell_tags, t) for t in (tags.ELECTROLYTE,
                                                                       tags.ELECTRODE)]
                      + [_count(domain, domain.facet_tags, t) for t in (
                          tags.COUNTER, tags.WORKING_ACTIVE, tags.CURRENT_COLLECTOR)])
        assert geometry.projected_area == pytest.approx(1e-6)
    assert counts[0] == counts[1] and min(counts[0]) > 0
    # every facet of the surface line is tagged: as many as the top line's (same spacing)
    assert counts[0][3] == counts[0][2] == counts[0][4]


def test_errors(shared_dir):
    path = _cell_msh(shared_dir / "c.msh", 4.1)
    with pytest.raises(CaseError, match="geometry.regions.gas"):
        build_domain(MeshFileGeometry(path=path, regions={**REGIONS, "gas": "electrolyte"}),
                     MeshParams(), COMM)
    with pytest.raises(CaseError, match=r"region\(s\) lithium of"):
        build_domain(MeshFileGeometry(path=path, regions={"liquid": "electrolyte"}),
                     MeshParams(), COMM)
    with pytest.raises(ValueError, match="geometry.boundaries.top"):
        MeshFileGeometry(path=path, regions=REGIONS, boundaries={"top": "anode"})
    with pytest.raises(CaseError, match="no mesh file"):
        MeshFileGeometry(path=str(shared_dir / "none.msh"), regions=REGIONS)
    # second-order triangles and a degenerate (flat) triangle
    points = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0], [0.5, 0.5], [0, 0.5], [2, 0]], float)
    if COMM.rank == 0:
        meshio.write(shared_dir / "p2.vtu", meshio.Mesh(points, [("triangle6", [[0, 1, 2, 3, 4,
                                                                                  5]])],
                                                        cell_data={"cell_tags": [[1]]}))
        meshio.write(shared_dir / "flat.vtu", meshio.Mesh(points, [("triangle", [[0, 1, 2],
                                                                                 [0, 3, 6]])],
                                                          cell_data={"cell_tags": [[1, 1]]}))
    COMM.barrier()
    with pytest.raises(GeometryError, match="unsupported cells triangle6"):
        MeshFileGeometry(path=str(shared_dir / "p2.vtu"), regions={"1": "matrix"})
    with pytest.raises(GeometryError, match="1 degenerate triangle"):
        MeshFileGeometry(path=str(shared_dir / "flat.vtu"), regions={"1": "matrix"})


def test_inverted_hexahedron_is_refused(shared_dir):
    cube = np.array(list(np.ndindex(2, 2, 2)), float)[:, ::-1]  # lexicographic, x fastest
    vtk = [0, 1, 3, 2, 4, 5, 7, 6]
    twisted = [vtk[i] for i in (1, 0, 2, 3, 4, 5, 6, 7)]
    if COMM.rank == 0:
        for name, order in (("good", vtk), ("twisted", twisted)):
            meshio.write(shared_dir / f"{name}.vtu", meshio.Mesh(
                cube, [("hexahedron", [order])], cell_data={"cell_tags": [[1]]}))
    COMM.barrier()
    MeshFileGeometry(path=str(shared_dir / "good.vtu"), regions={"1": "matrix"})
    with pytest.raises(GeometryError, match="inverted or twisted hexahedron"):
        MeshFileGeometry(path=str(shared_dir / "twisted.vtu"), regions={"1": "matrix"})


def test_cli_run_and_effective_on_an_imported_mesh(shared_dir):
    path = _cell_msh(shared_dir / "cell.msh", 4.1, size=0.2)
    case = shared_dir / "mf.toml"
    if COMM.rank == 0:
        case.write_text(f'name = "mf"\n[geometry]\nkind = "mesh_file"\npath = "{path}"\n'
                        'length_unit = 1e-6\nregions = {liquid = "electrolyte", lithium = '
                        '"electrode"}\nboundaries = {top = "counter", surface = "working_active", '
                        'bottom = "current_collector"}\n[time]\nmode = "steady"\n'
                        '[output]\nxdmf = false\nvtx = false\n')
    COMM.barrier()
    assert main(["effective", str(case), "-q", "-o", str(shared_dir / "e")]) == 0
    assert main(["run", str(case), "-q", "-o", str(shared_dir / "r")]) == 0
    COMM.barrier()
    x, y = json.loads((shared_dir / "e" / "effective.json").read_text())["directions"]
    # a straight electrolyte slab over 1/1.2 of the height: tau = 1 along x, blocked along y
    assert x["tortuosity_factor"] == pytest.approx(1.0, rel=1e-8)
    assert x["conducting_fraction"] == pytest.approx(1 / 1.2, rel=1e-9)
    assert not y["percolates"]
    run = json.loads((shared_dir / "r" / "summary.json").read_text())
    assert run["status"] == "complete"
    assert run["active_area_per_projected_area"] == pytest.approx(1.0, rel=1e-9)
    assert run["interface_current_density_mean_A_m2"] == pytest.approx(25.0, rel=1e-6)
