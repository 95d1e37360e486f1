"""Segmented image files, read one slab of planes at a time (each rank reads only its own).

Formats: multi-page TIFF (one page per z plane, `tifffile`), NumPy `.npy` (memory-mapped), raw
(`shape` and `dtype` from the case, C order), and for 2D quick looks PNG or a one-page TIFF.
A 3D image is indexed (z, y, x). A 2D image is a picture: its first row is the top, so it is
flipped to (y, x) with y upwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from femsolver.errors import CaseError, ResourceError

SUFFIXES = {".tif": "tiff", ".tiff": "tiff", ".npy": "npy", ".raw": "raw", ".bin": "raw",
            ".png": "png"}
FORMATS = ("auto", *sorted(set(SUFFIXES.values())))


def parse_shape(text: str) -> tuple[int, ...]:
    """'64x32x32' (z x y x x, or y x x) -> (64, 32, 32); ValueError naming the key."""
    try:
        shape = tuple(int(n) for n in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"'geometry.raw_shape' must be like '64x64x64' (z x y x x) or "
                         f"'480x640' (y x x), got {text!r}")
    return shape


@dataclass(frozen=True)
class ImageFile:
    """An image on disk: its format, shape (planes first) and label dtype."""

    path: Path
    format: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def dim(self) -> int:
        return len(self.shape)

    def planes(self, start: int, stop: int) -> np.ndarray:
        """Planes [start, stop) along the first axis (rows in 2D, after the flip), as integers."""
        try:
            data = _READERS[self.format](self, start, stop)
        except OSError as err:
            raise ResourceError(f"cannot read the image {self.path}: {err}") from None
        data = np.asarray(data)
        if not np.issubdtype(data.dtype, np.integer):
            if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
                raise CaseError(f"the image {self.path} holds non-integer values: a segmented "
                                "image has one integer label per voxel")
            data = data.astype(np.int64)
        return data


def open_image(path: str, fmt: str = "auto", raw_shape: str | None = None,
               raw_dtype: str = "uint8") -> ImageFile:
    """Read the header of an image file (not its voxels). CaseError naming the key if the file is
    missing or does not match the case, ResourceError if it cannot be read."""
    file = Path(path)
    if not file.is_file():
        raise CaseError(f"'geometry.path': no image file {file}")
    if fmt == "auto":
        fmt = SUFFIXES.get(file.suffix.lower())
        if fmt is None:
            raise CaseError(f"'geometry.format': cannot tell the format of {file.name} from its "
                            f"suffix; set one of {', '.join(FORMATS[1:])}")
    try:
        shape, dtype = _HEADERS[fmt](file, raw_shape, raw_dtype)
    except OSError as err:
        raise ResourceError(f"cannot read the image {file}: {err}") from None
    except ValueError as err:
        raise CaseError(f"'geometry.path': {file} is not a readable {fmt} image ({err})") \
            from None
    if len(shape) not in (2, 3):
        raise CaseError(f"'geometry.path': {file} has shape {shape}; a segmented image is 2D "
                        "(y, x) or 3D (z, y, x) with one label per voxel")
    return ImageFile(file, fmt, tuple(int(n) for n in shape), np.dtype(dtype))


# ---- headers: (shape, dtype) without reading the voxels ---------------------------------------
def _tiff_header(file, raw_shape, raw_dtype):
    import tifffile

    with tifffile.TiffFile(file) as tif:
        series = tif.series[0]
        return _squeeze(series.shape), series.dtype


def _npy_header(file, raw_shape, raw_dtype):
    data = np.load(file, mmap_mode="r", allow_pickle=False)
    return _squeeze(data.shape), data.dtype


def _raw_header(file, raw_shape, raw_dtype):
    if raw_shape is None:
        raise CaseError("missing key 'geometry.raw_shape' (needed with a raw image)")
    shape, dtype = parse_shape(raw_shape), np.dtype(raw_dtype)
    expected = int(np.prod(shape)) * dtype.itemsize
    size = file.stat().st_size
    if size != expected:
        raise CaseError(f"'geometry.raw_shape' / 'geometry.raw_dtype': {file.name} has {size} "
                        f"bytes, {raw_shape} of {dtype} needs {expected}")
    return shape, dtype


def _png_header(file, raw_shape, raw_dtype):
    from PIL import Image

    with Image.open(file) as picture:
        width, height = picture.size
    return (height, width), np.uint16  # colour pictures are checked (grey only) when read


def _squeeze(shape) -> tuple[int, ...]:
    """Drop axes of length 1 (a single-channel TIFF page, a (1, y, x) stack)."""
    return tuple(n for n in shape if n != 1) or (1,)


_HEADERS = {"tiff": _tiff_header, "npy": _npy_header, "raw": _raw_header, "png": _png_header}


# ---- voxels of planes [start, stop) -------------------------------------------------------------
def _flip_2d(image: ImageFile, read_rows) -> tuple[slice, slice]:
    """(rows, flip): picture[rows][flip] are rows [start, stop) counted from the bottom."""
    start, stop = read_rows
    rows = image.shape[0]
    return slice(rows - stop, rows - start), slice(None, None, -1)


def _read_tiff(image: ImageFile, start: int, stop: int):
    import tifffile

    with tifffile.TiffFile(image.path) as tif:
        series = tif.series[0]
        if image.dim == 2:
            rows, flip = _flip_2d(image, (start, stop))
            return series.asarray().reshape(image.shape)[rows][flip]
        if len(series.pages) == image.shape[0]:  # one page per plane: read only ours
            return np.asarray(tif.asarray(series=0, key=range(start, stop))).reshape(
                (stop - start, *image.shape[1:]))
        return series.asarray().reshape(image.shape)[start:stop]


def _read_npy(image: ImageFile, start: int, stop: int):
    data = np.load(image.path, mmap_mode="r", allow_pickle=False).reshape(image.shape)
    if image.dim == 2:
        rows, flip = _flip_2d(image, (start, stop))
        return np.array(data[rows][flip])
    return np.array(data[start:stop])


def _read_raw(image: ImageFile, start: int, stop: int):
    data = np.memmap(image.path, dtype=image.dtype, mode="r", shape=image.shape)
    if image.dim == 2:
        rows, flip = _flip_2d(image, (start, stop))
        return np.array(data[rows][flip])
    return np.array(data[start:stop])


def _read_png(image: ImageFile, start: int, stop: int):
    from PIL import Image

    with Image.open(image.path) as picture:
        data = np.asarray(picture)
    if data.ndim == 3:  # colour: a segmentation drawn in grey has equal channels
        colour = data[..., :3]
        if np.any(colour != colour[..., :1]):
            raise CaseError(f"'geometry.path': {image.path.name} is a colour picture; save the "
                            "segmentation with one grey level (label) per phase")
        data = colour[..., 0]
    rows, flip = _flip_2d(image, (start, stop))
    return data[rows][flip]


_READERS = {"tiff": _read_tiff, "npy": _read_npy, "raw": _read_raw, "png": _read_png}
