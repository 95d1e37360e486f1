"""A segmented image (TIFF stack, .npy, raw, PNG) as a geometry: one cell per voxel.

The image's first array axis is z (y in 2D): its first plane is the bottom (the current
collector side), its last the top (the counter electrode). Each label is given a role
(`femsolver.imaging.labels`), e.g. `labels = {"0" = "electrolyte", "1" = "electrode"}`; the
facets between roles are tagged from the labels' adjacency. Meshing:
`femsolver.imaging.build.image_mesh`, each rank its own slab of planes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from femsolver.schema import check_keys, param
from geometries.common import MeshExtent

# Cells per voxel: one hexahedron / quadrilateral, or the Kuhn split's simplices
CELLS_PER_VOXEL = {(False, 2): 1, (False, 3): 1, (True, 2): 2, (True, 3): 6}
# predict_cells's element measure per unit h^dim (geometries.common): an extent of volume
# cells x ELEMENT x h^dim predicts exactly `cells`
ELEMENT = {2: math.sqrt(3) / 4, 3: 1.5 / (6 * math.sqrt(2))}


@functools.lru_cache(maxsize=8)
def _header(path: str, fmt: str, raw_shape: str | None, raw_dtype: str):
    from femsolver.imaging.read import open_image

    return open_image(path, fmt, raw_shape, raw_dtype)


@dataclass(frozen=True)
class ImageGeometry:
    """Parameters of the image family, SI units."""

    path: str | None = param(None, "segmented image file: .tif/.tiff (one page per z plane), "
                             ".npy, .raw (with raw_shape, raw_dtype), .png (2D); relative to the "
                             "working directory")
    format: str = param("auto", "image format (auto: from the file suffix)",
                        choices=("auto", "npy", "png", "raw", "tiff"))
    raw_shape: str | None = param(None, "raw images: shape 'NZxNYxNX' (or 'NYxNX'), C order")
    raw_dtype: str = param("uint8", "raw images: label type (uint8, uint16, int32, ...)")
    voxel_size: float | None = param(None, "voxel edge length (in-plane pixel size), m",
                                     positive=True)
    voxel_size_z: float | None = param(None, "3D: spacing of the image planes, m (default: "
                                       "voxel_size; FIB-SEM slice thickness)", positive=True)
    labels: dict = param({}, "label -> role table, e.g. {\"0\" = \"electrolyte\", \"1\" = "
                         "\"electrode\"}; roles: electrolyte, electrode, blocking, active, shell, "
                         "matrix, coating, void (not meshed)")
    cells: str = param("auto", "voxels: one hexahedron (quadrilateral) per voxel; simplices: "
                       "6 tetrahedra (2 triangles) per voxel; smoothed: those simplices with "
                       "the label interfaces' nodes moved onto smooth surfaces; auto: simplices "
                       "for electrolyte | electrode images (femsolver run's maps sample "
                       "simplices), else voxels",
                       choices=("auto", "voxels", "simplices", "smoothed"))
    isolated: str = param("keep", "components that carry no current (ion conductor not "
                          "reaching the top, electrode not reaching the bottom): keep, or remove "
                          "(made void)", choices=("keep", "remove"))
    effective_method: str = param("fe", "femsolver effective on an image of voxels: fe (Q1 finite "
                                  "elements on the voxel corners) or fv (cell-centred finite "
                                  "volumes: TauFactor's discretisation)", choices=("fe", "fv"))
    coarsen: int = param(1, "block edge, voxels: blocks of coarsen^3 voxels far from every "
                         "label interface meshed as larger tetrahedra (1: off; a power of 2; 3D "
                         "simplices images)", at_least=1)
    coarsen_margin: int = param(1, "voxels kept fine (their 6 tetrahedra) on each side of a "
                                "label interface when coarsen > 1, voxels", at_least=1)

    def __post_init__(self):
        from femsolver.imaging.labels import role_table

        check_keys(self, "geometry")
        for key in ("path", "voxel_size"):
            if getattr(self, key) is None:
                raise ValueError(f"missing key 'geometry.{key}'")
        role_table(self.labels)
        if self.coarsen & (self.coarsen - 1):
            raise ValueError(f"'geometry.coarsen' must be a power of 2, got {self.coarsen}")
        self.image  # noqa: B018 - reads the header now: a missing file is bad input
        if self.effective_method == "fv" and self.simplices:
            raise ValueError("'geometry.effective_method' = 'fv' needs cells = 'voxels'")
        if self.coarsen > 1 and not (self.simplices and self.dimension == 3
                                     and self.cells != "smoothed"):
            raise ValueError("'geometry.coarsen' applies to 3D images meshed as simplices "
                             "(cells = simplices, or auto for electrolyte | electrode images; "
                             "not smoothed)")

    @property
    def image(self):
        """The image file's header (`femsolver.imaging.read.ImageFile`)."""
        return _header(self.path, self.format, self.raw_shape, self.raw_dtype)

    @property
    def dimension(self) -> int:
        return self.image.dim

    @property
    def spacing(self) -> tuple[float, ...]:
        """Voxel size along the array axes ((z,) y, x), m."""
        first = self.voxel_size_z if self.voxel_size_z is not None else self.voxel_size
        return (first, *(self.voxel_size,) * (self.dimension - 1))

    @property
    def extent(self) -> tuple[float, ...]:
        """Box size along the array axes, m."""
        return tuple(n * h for n, h in zip(self.image.shape, self.spacing))

    @property
    def reference_length(self) -> float:
        return self.extent[-1]  # the width along x

    @property
    def projected_area(self) -> float:
        return math.prod(self.extent[1:])

    @property
    def simplices(self) -> bool:
        """Whether voxels are split into simplices (`cells`; smoothed ones too)."""
        return (self.cells in ("simplices", "smoothed")
                or (self.cells == "auto" and self.problem == "cell"))

    @property
    def problem(self) -> str:
        """cell (electrolyte | electrode roles) or particle (active core in ion conductors)."""
        from femsolver.imaging.labels import CELL_ROLES

        return "cell" if set(self.labels.values()) & set(CELL_ROLES) else "particle"

    def mesh_extent(self, mesh) -> MeshExtent:
        """Exact for images without voids (an upper bound otherwise): cells per voxel x voxels.
        Coarsened: the least it can be (6 per block of coarsen^3 voxels); the coarsened count is
        checked against mesh.max_cells once known (`femsolver.imaging.coarse`)."""
        dim = self.dimension
        cells = (math.prod(self.image.shape) * CELLS_PER_VOXEL[self.simplices, dim]
                 / self.coarsen ** dim)
        h = self.voxel_size
        return MeshExtent(dim, cells * ELEMENT[dim] * h ** dim, 0.0, 0.0, h, h)


def load(params: ImageGeometry, mesh_params, comm):
    """(mesh, cell tags, facet tags), each rank meshing its slab; mesh.refine splits each voxel
    into 2^dim."""
    from femsolver.imaging.build import image_mesh

    return image_mesh(params, mesh_params, comm)
