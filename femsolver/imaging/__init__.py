"""Segmented images as femsolver domains.

`read`: the image file (TIFF stack, .npy, raw, PNG) read one slab of planes at a time;
`labels`: the label -> role table and the tags a role and a pair of roles give;
`voxels`: each rank meshes its own slab (one hexahedron, or six tetrahedra, per voxel);
`components`: connected components, labelled slab by slab; `build`: image -> mesh and the
image's summary; `transport`: effective conductivity and tortuosity in each direction.

Array axes: a 3D image is indexed (z, y, x), a TIFF page is one z plane; a 2D image (y, x).
"""
