"""The voxel-block summation of `femsolver.imaging.structured`, compiled (cffi, as dolfinx
compiles its forms): numpy's take/put passes over the ~34M entries of a 128^3 image's slab took
1.5-2 CPU s per rank, most of the voxel path's time; this loop takes a tenth of that.

Compiled once per machine into dolfinx's JIT cache directory (`<cache>/femsolver`), by the
first process that needs it; the library is moved into place whole, so processes that compile it
side by side (the ranks of a first run) each load a complete one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np
from petsc4py import PETSc

from femsolver.errors import ResourceError

_SOURCE = """
#include <stdint.h>
void add_voxel_blocks(int64_t voxels, int n, int width, const int64_t *rows, const INT *ids,
                      const int64_t *masks, const double *weight, const double *element,
                      const int64_t *slot, const int64_t *second, const int64_t *axis,
                      const uint8_t *second_copy, double *values, INT *columns)
{
  const int64_t positions = (int64_t)1 << n;
  for (int64_t v = 0; v < voxels; ++v)
  {
    const int64_t *row = rows + v * n, *mask = masks + v * n;
    const INT *id = ids + v * n;
    for (int i = 0; i < n; ++i)
    {
      double *value = values + row[i] * width;
      INT *column = columns + row[i] * width;
      for (int j = 0; j < n; ++j)
      {
        const int k = i * n + j;
        int64_t s = slot[k];
        if (axis[k] >= 0 && second_copy[(axis[k] * positions + mask[j]) * n + n - 1 - j])
          s = second[k];
        value[s] += weight[v] * element[k];
        column[s] = id[j];
      }
    }
  }
}

int64_t compact_rows(int64_t rows, int width, const double *values, const INT *columns,
                     INT *indptr, INT *out_columns, double *out_values)
{
  int64_t nnz = 0;
  indptr[0] = 0;
  for (int64_t r = 0; r < rows; ++r)
  {
    const int64_t first = nnz;
    for (int s = 0; s < width; ++s)
    {
      const INT c = columns[r * width + s];
      if (c < 0)
        continue;
      int64_t k = nnz++;  /* insertion sort: the slots are nearly in column order */
      for (; k > first && out_columns[k - 1] > c; --k)
      {
        out_columns[k] = out_columns[k - 1];
        out_values[k] = out_values[k - 1];
      }
      out_columns[k] = c;
      out_values[k] = values[r * width + s];
    }
    indptr[r + 1] = (INT)nnz;
  }
  return nnz;
}
"""
_INT = {4: "int32_t", 8: "int64_t"}[np.dtype(PETSc.IntType).itemsize]
_SIGNATURE = ("void add_voxel_blocks(int64_t, int, int, const int64_t *, const INT *, "
              "const int64_t *, const double *, const double *, const int64_t *, "
              "const int64_t *, const int64_t *, const uint8_t *, double *, INT *);"
              "int64_t compact_rows(int64_t, int, const double *, const INT *, INT *, INT *, "
              "double *);")
_module = None


def _cache() -> Path:
    import dolfinx.jit

    return Path(dolfinx.jit.get_options()["cache_dir"]).expanduser() / "femsolver"


def _load():
    """The compiled module (compiled here first if no process has done it yet)."""
    global _module
    if _module is not None:
        return _module
    source = _SOURCE.replace("INT", _INT)
    name = "_voxel_blocks_" + hashlib.sha1(source.encode()).hexdigest()[:16]
    cache = _cache()
    found = sorted(cache.glob(f"{name}.*.so")) if cache.is_dir() else []
    if not found:
        from cffi import FFI

        ffi = FFI()
        ffi.cdef(_SIGNATURE.replace("INT", _INT))
        ffi.set_source(name, source, extra_compile_args=["-O2"])
        try:
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache) as scratch:
                built = Path(ffi.compile(tmpdir=scratch))
                target = cache / built.name
                os.replace(built, target)  # whole or not at all, for a process beside us
        except Exception as err:  # a compiler error, a full or read-only cache directory
            raise ResourceError(f"could not compile the voxel assembly in {cache}: "
                                     f"{err}") from None
        found = [target]
    spec = importlib.util.spec_from_file_location(name, found[0])
    _module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_module)
    return _module


def add_voxel_blocks(rows, ids, masks, weight, element, slot, second, axis, second_copy,
                     values, columns) -> None:
    """values[rows[v, i], s] += weight[v] element[i, j] and columns[rows[v, i], s] = ids[v, j]
    for every voxel v and corner pair (i, j), s = slot[i, j], or second[i, j] where the edge
    along axis[i, j] reaches the far node's second split copy (second_copy[axis, masks[v, j],
    n - 1 - j]; structured._second_copy)."""
    module = _load()
    ffi, n = module.ffi, element.shape[0]

    def pointer(array, dtype, kind):
        array = np.ascontiguousarray(array, dtype=dtype)
        keep.append(array)
        return ffi.cast(kind + " *", ffi.from_buffer(array))

    keep: list[np.ndarray] = []
    assert values.flags.c_contiguous and columns.flags.c_contiguous
    module.lib.add_voxel_blocks(
        len(weight), n, values.shape[1], pointer(rows, np.int64, "int64_t"),
        pointer(ids, PETSc.IntType, _INT), pointer(masks, np.int64, "int64_t"),
        pointer(weight, np.float64, "double"), pointer(element, np.float64, "double"),
        pointer(slot, np.int64, "int64_t"), pointer(second, np.int64, "int64_t"),
        pointer(axis, np.int64, "int64_t"), pointer(second_copy, np.uint8, "uint8_t"),
        ffi.cast("double *", ffi.from_buffer(values)),
        ffi.cast(_INT + " *", ffi.from_buffer(columns)))


def compact_rows(values: np.ndarray, columns: np.ndarray):
    """(indptr, columns, values) of the CSR rows of a slot table: the slots with a column (>= 0),
    in column order."""
    module = _load()
    ffi = module.ffi
    count = int(np.count_nonzero(columns >= 0))
    indptr = np.empty(len(values) + 1, dtype=PETSc.IntType)
    out_columns = np.empty(count, dtype=PETSc.IntType)
    out_values = np.empty(count)
    assert values.flags.c_contiguous and columns.flags.c_contiguous
    module.lib.compact_rows(len(values), values.shape[1],
                            ffi.cast("double *", ffi.from_buffer(values)),
                            ffi.cast(_INT + " *", ffi.from_buffer(columns)),
                            ffi.cast(_INT + " *", ffi.from_buffer(indptr)),
                            ffi.cast(_INT + " *", ffi.from_buffer(out_columns)),
                            ffi.cast("double *", ffi.from_buffer(out_values)))
    return indptr, out_columns, out_values
