"""The boundary of the moving electrolyte mesh as segments, the working interface as a
polyline (2D) or point set (3D), and what is measured on it: height map, roughness, the
distance to the counter electrode and between deposits. Lengths in m.

`boundary(domain)` is collective and returns the same `Boundary` on every rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from dolfinx.mesh import entities_to_geometry

from femsolver import tags

INTERFACE = (tags.WORKING_ACTIVE, tags.WORKING_BLOCKING)
GRID = 2001  # points of the height map across the width


@dataclass(frozen=True)
class Boundary:
    """Tagged boundary facets: `nodes` (n, dim) global node ids, `points` (n, dim, dim)
    coordinates of their vertices, `tags` (n,)."""

    nodes: np.ndarray
    points: np.ndarray
    tags: np.ndarray

    def interface(self) -> Boundary:
        keep = np.isin(self.tags, INTERFACE)
        return Boundary(self.nodes[keep], self.points[keep], self.tags[keep])


def boundary(domain) -> Boundary:
    """Every tagged boundary facet of the mesh, gathered on every rank (collective)."""
    mesh = domain.mesh
    tdim, dim = mesh.topology.dim, mesh.geometry.dim
    owned = mesh.topology.index_map(tdim - 1).size_local
    facets = domain.facet_tags.indices
    keep = facets < owned
    facets, values = facets[keep], domain.facet_tags.values[keep]
    nodes = entities_to_geometry(mesh, tdim - 1, facets).reshape(len(facets), -1)
    global_nodes = mesh.geometry.index_map().local_to_global(
        nodes.reshape(-1).astype(np.int32)).reshape(nodes.shape)
    points = mesh.geometry.x[nodes][:, :, :dim]
    parts = mesh.comm.allgather((global_nodes, points, values))
    return Boundary(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                    np.concatenate([p[2] for p in parts]))


def walk(segments: np.ndarray, start: int | None = None):
    """(order, flipped): the segments along one path through their shared nodes, from the
    node `start` (default: a node used once, else the first node)."""
    uses = {}
    for k, (a, b) in enumerate(segments):
        uses.setdefault(a, []).append(k)
        uses.setdefault(b, []).append(k)
    if start is None:
        ends = [n for n, ks in uses.items() if len(ks) == 1]
        start = min(ends) if ends else segments[0, 0]
    order, flipped, node, seen = [], [], start, set()
    while True:
        nxt = [k for k in uses[node] if k not in seen]
        if not nxt:
            break
        k = nxt[0]
        seen.add(k)
        flip = segments[k, 1] == node
        order.append(k)
        flipped.append(flip)
        node = segments[k, 0] if flip else segments[k, 1]
    return np.array(order, dtype=int), np.array(flipped, dtype=bool)


def polyline(interface: Boundary, nodes: bool = False):
    """2D: (points (m + 1, 2) along the interface from the left wall, active (m,) per
    segment); with `nodes`, points is (global node ids (m + 1,), points)."""
    ends = interface.points[:, :, 0]
    left = interface.nodes.reshape(-1)[np.argmin(ends.reshape(-1))]
    order, flipped = walk(interface.nodes, left)
    p, n = interface.points[order], interface.nodes[order]
    p[flipped], n[flipped] = p[flipped][:, ::-1], n[flipped][:, ::-1]
    points = np.vstack([p[:, 0], p[-1:, 1]])
    active = interface.tags[order] == tags.WORKING_ACTIVE
    if nodes:
        return (np.concatenate([n[:, 0], n[-1:, 1]]), points), active
    return points, active


def height_map(points: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """(x, h(x)): the top of a 2D polyline over a grid across the width (where it overhangs,
    the highest part), m."""
    x = np.linspace(0.0, width, GRID)
    a, b = points[:-1], points[1:]
    lo, hi = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
    span = np.where(hi > lo, hi - lo, 1.0)
    t = (x[None, :] - a[:, 0, None]) / np.where(b[:, 0] != a[:, 0], b[:, 0] - a[:, 0], 1.0)[:, None]
    y = a[:, 1, None] + t * (b[:, 1] - a[:, 1])[:, None]
    inside = (x[None, :] >= lo[:, None] - 1e-12 * width) & (x[None, :] <= hi[:, None] + 1e-12 * width)
    y = np.where(inside & (span[:, None] > 0), y, -np.inf)
    vertical = np.max(np.where(np.abs(x[None, :] - a[:, 0, None]) <= 0.5 * width / GRID,
                               np.maximum(a[:, 1], b[:, 1])[:, None], -np.inf), axis=0)
    return x, np.maximum(y.max(axis=0), vertical)


def statistics(interface: Boundary, dim: int, width: float, axisymmetric: bool = False) -> dict:
    """Height statistics of the interface, m: the top (max_height), the mean and rms deviation
    of the height map (2D; in axisymmetry over the disc, weighted by r) or of the node heights
    (3D, no overhangs assumed)."""
    weights = None
    if dim == 2:
        points, _ = polyline(interface)
        r, h = height_map(points, width)
        weights = r if axisymmetric else None
    else:
        h = interface.points[:, :, dim - 1].reshape(-1)
    mean = float(np.average(h, weights=weights))
    return {"max_height_m": float(h.max()), "mean_height_m": mean,
            "rms_roughness_m": float(np.sqrt(np.average((h - mean) ** 2, weights=weights)))}


def wall_gap(points: np.ndarray, active: np.ndarray) -> float:
    """2D: the shortest stretch of blocking surface left between a side wall and a deposit
    (the first active segment from either end), m; inf where the surface reaches the wall
    active or has no active part. The walls are symmetry planes: a deposit that reaches one
    meets its mirror image, the next deposit of a periodic surface."""
    lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    gaps = []
    for order in (slice(None), slice(None, None, -1)):
        blocking = ~active[order]
        if blocking[0] and not blocking.all():
            run = np.argmin(blocking)  # blocking segments before the first active one
            gaps.append(float(lengths[order][:run].sum()))
    return min(gaps, default=np.inf)


def contact_distance(points: np.ndarray, apart: float) -> float:
    """2D: the smallest distance between interface nodes that lie more than `apart` from each
    other along the interface (two deposits about to touch), m."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    closest = np.inf
    for start in range(0, len(points), 256):  # in blocks: n^2 distances would not fit
        rows = slice(start, start + 256)
        distance = np.linalg.norm(points[rows, None, :] - points[None, :, :], axis=2)
        far = np.abs(arc[rows, None] - arc[None, :]) > apart
        if np.any(far):
            closest = min(closest, float(distance[far].min()))
    return closest


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hausdorff distance between two 2D polylines (points in order), m: the farthest any
    point of one lies from the other."""

    def farthest(points, line):
        p, q = line[:-1], line[1:]
        d = q - p
        length2 = np.maximum(np.sum(d * d, axis=1), 1e-300)
        t = np.clip(np.einsum("ijk,jk->ij", points[:, None, :] - p[None], d) / length2, 0, 1)
        nearest = p[None] + t[:, :, None] * d[None]
        return float(np.min(np.linalg.norm(points[:, None, :] - nearest, axis=2), axis=1).max())

    return max(farthest(a, b), farthest(b, a))
