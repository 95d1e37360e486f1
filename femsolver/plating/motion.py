"""Moving the electrolyte mesh with the surface (docs/physics.md, "Plating", G1, G3, G4).

`MeshMotion.plan(dt)` turns the plating current of the present fields into node displacements
for a step of dt: the surface velocity (G1) lumped onto the interface nodes, held to the
blocking surface and to the side walls, the counter electrode receding evenly by what it
strips, both extended into the mesh (G3), the surface's part scaled by one factor so that the
Li plated in the step has exactly the volume of its charge (G4).
`move(step)` applies a plan to the parent mesh and the electrolyte submesh (which holds its
own copy of the coordinates), `undo()` restores the last state. Lengths in m, times in s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ufl
from dolfinx import fem, la
from dolfinx.fem.petsc import assemble_matrix
from mpi4py import MPI
from petsc4py import PETSc

from femsolver import tags
from femsolver.physics.constants import FARADAY
from femsolver.plating import ale
from femsolver.plating.surface import boundary, polyline
from femsolver.problems.regions import facet_dofs


def cell_nodes(mesh) -> np.ndarray:
    """(cells, vertices) geometry node indices of every local cell (affine simplices)."""
    return mesh.geometry.dofmaps[0].reshape(mesh.topology.index_map(mesh.topology.dim).size_local
                                        + mesh.topology.index_map(mesh.topology.dim).num_ghosts,
                                        -1)


def cell_volumes(x: np.ndarray, cells: np.ndarray, dim: int) -> np.ndarray:
    """Signed volumes (areas in 2D) of simplices with node coordinates x[cells], m^dim."""
    p = x[cells][:, :, :dim]
    edges = p[:, 1:] - p[:, :1]
    return np.linalg.det(edges) / (2.0 if dim == 2 else 6.0)


def body_volumes(x: np.ndarray, cells: np.ndarray, dim: int, axisymmetric: bool) -> np.ndarray:
    """Volumes of the cells' bodies, m^3 (m^dim in plane): in axisymmetry the ring a triangle
    sweeps about the axis, 2 pi r_centroid |K| (Pappus)."""
    volume = cell_volumes(x, cells, dim)
    if axisymmetric:
        volume = volume * 2 * np.pi * x[cells][:, :, 0].mean(axis=1)
    return volume


def cell_quality(x: np.ndarray, cells: np.ndarray, dim: int, orientation: np.ndarray):
    """Shape quality of each simplex: 1 equilateral, 0 flat, negative if inverted (against its
    sign in `orientation`). 2D: 4 sqrt(3) A / sum l^2; 3D: 12 (3 V)^(2/3) / sum l^2."""
    volume = cell_volumes(x, cells, dim) * orientation
    p = x[cells][:, :, :dim]
    pairs = [(a, b) for a in range(dim + 1) for b in range(a + 1, dim + 1)]
    squares = sum(np.sum((p[:, a] - p[:, b]) ** 2, axis=1) for a, b in pairs)
    if dim == 2:
        return 4 * np.sqrt(3) * volume / squares
    return 12 * np.sign(volume) * np.abs(3 * volume) ** (2 / 3) / squares


def shortest_edges(x: np.ndarray, cells: np.ndarray, dofs: np.ndarray, size: int) -> np.ndarray:
    """Per P1 dof (`dofs` is the (cells, vertices) dof array), its shortest adjacent edge, m."""
    p = x[cells]
    h = np.full(size, np.inf)
    for a in range(cells.shape[1]):
        for b in range(a + 1, cells.shape[1]):
            length = np.linalg.norm(p[:, a] - p[:, b], axis=1)
            np.minimum.at(h, dofs[:, a], length)
            np.minimum.at(h, dofs[:, b], length)
    return h


# Directions in which the facets around a node turn by less than ~13 degrees count as one
# direction (eigenvalues of the mean n n^T below this fraction of the largest).
FLAT = 0.05


def _corner_velocity(normals: np.ndarray, velocities: np.ndarray) -> np.ndarray:
    """Least-squares node velocities V with sum_f w_f n_f (n_f . V) = sum_f w_f v_f n_f, from
    the per-node sums `normals` (of w n n^T, (k, dim, dim)) and `velocities` (of w v n); in
    directions where the facets hardly turn, the minimum-norm solution (pseudo-inverse)."""
    values, vectors = np.linalg.eigh(normals)
    keep = values > FLAT * values[:, -1:]
    inverse = np.where(keep, 1.0 / np.where(keep, values, 1.0), 0.0)
    along = np.einsum("kij,ki->kj", vectors, velocities) * inverse
    return np.einsum("kij,kj->ki", vectors, along)


@dataclass
class Step:
    """A planned move: node displacements (dof-ordered, (n, dim)), the plated current (A per
    m^(3-d), over the working interface) it stands for, and the scaling of G4 that was applied
    to the working surface's part."""

    dt: float
    displacement: np.ndarray
    current: float
    scale: float


class MeshMotion:
    """Interface velocity, mesh extension and the move of a moving CellProblem's mesh."""

    def __init__(self, problem, plating):
        p = self.problem = problem
        self.stiffening = plating.extension_stiffening
        self.comm = p.domain.mesh.comm
        self.mesh = p.mesh_e
        self.dim = dim = self.mesh.geometry.dim
        self.axisymmetric = p.domain.axisymmetric
        V, W = p.space, p.moving.velocity.function_space
        self.V, self.W = V, W
        self.molar_volume = plating.molar_mass / plating.density
        parent = p.domain.mesh
        n = ufl.FacetNormal(parent)
        test, scalar = ufl.TestFunction(W), ufl.TestFunction(V)
        self.T = fem.functionspace(self.mesh, ("Lagrange", 1, (dim, dim)))
        blocking = p.interface.dS(tags.WORKING_BLOCKING)
        forms = {"velocity": ale.plating_velocity(p.i_working, n, test, self.molar_volume, p.dA),
                 "active": scalar * p.dA, "blocking": ufl.inner(n, test) * blocking,
                 "normals": ufl.inner(ufl.outer(n, n), ufl.TestFunction(self.T)) * p.dA}
        self.forms = {k: fem.form(f, entity_maps=p.entity_maps) for k, f in forms.items()}
        self.current_form = fem.form(-p.i_working * p.dA, entity_maps=p.entity_maps)
        self.area_form = fem.form(1.0 * p.dA)

        self.cells = cell_nodes(self.mesh)
        self.dofs = V.dofmap.list.reshape(len(self.cells), -1)
        self.node_of_dof = np.empty(V.dofmap.index_map.size_local + V.dofmap.index_map.num_ghosts,
                                    dtype=np.int64)
        self.node_of_dof[self.dofs] = self.cells
        # Parent geometry nodes of the submesh's nodes, cell by cell (same vertex order)
        parent_cells = p.electrolyte.cell_map.sub_topology_to_topology(
            np.arange(len(self.cells), dtype=np.int32), inverse=False)
        self.parent_node = np.empty(len(self.mesh.geometry.x), dtype=np.int64)
        self.parent_node[self.cells] = parent.geometry.dofmaps[0][parent_cells]
        assert np.allclose(parent.geometry.x[self.parent_node], self.mesh.geometry.x)
        self.orientation = np.sign(cell_volumes(self.mesh.geometry.x, self.cells, dim))

        self.surface = facet_dofs(p.domain, V, p.electrolyte,
                                  [tags.WORKING_ACTIVE, tags.WORKING_BLOCKING])
        self.counter = facet_dofs(p.domain, V, p.electrolyte, [tags.COUNTER])
        self.walls = self._walls()
        self._extension_setup()
        self.saved = None
        self.tip_ratio = None

    def _walls(self) -> list[np.ndarray]:
        """Per lateral axis, the dofs on the side walls normal to it (the box's lateral ends)."""
        x = self.mesh.geometry.x[self.node_of_dof]
        walls = []
        for k in range(self.dim - 1):
            low = self.comm.allreduce(x[:, k].min(), op=MPI.MIN)
            high = self.comm.allreduce(x[:, k].max(), op=MPI.MAX)
            tolerance = 1e-9 * (high - low)
            walls.append(np.flatnonzero((np.abs(x[:, k] - low) < tolerance)
                                        | (np.abs(x[:, k] - high) < tolerance)).astype(np.int32))
        return walls

    def _extension_setup(self) -> None:
        self.stiffness = fem.Function(fem.functionspace(self.mesh, ("DG", 0)))
        d, e = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        self.extension_form = fem.form(ale.extension(d, e, self.stiffness, ufl.dx(self.mesh)))
        self.ksp = PETSc.KSP().create(self.comm)
        self.ksp.setType("preonly")
        self.ksp.getPC().setType("lu")
        self.ksp.getPC().setFactorSolverType("mumps")
        self.component = fem.Function(self.V)
        self.rhs = fem.Function(self.V)

    def close(self) -> None:
        self.ksp.destroy()

    # ---- the plan of a step --------------------------------------------------------------------
    def plating_current(self) -> float:
        """Total plating current of the working interface, A/m (2D) or A (3D)."""
        return self.comm.allreduce(fem.assemble_scalar(self.current_form), op=MPI.SUM)

    def velocity(self) -> np.ndarray:
        """(G1) Surface velocity at the interface dofs (m/s, (n, dim), zero elsewhere).

        Per node, the velocity whose normal components best match the facets' normal
        velocities (least squares over the adjacent active surface, weighted like a lumped
        projection): on a smooth surface v n, in a corner the meeting point of the facets'
        moves, so that a concave corner fills in instead of lagging behind into a notch.
        Where the surface bulges (2D), the lumped projection of v n, which rounds the corner.
        Nodes shared with the blocking surface slide along it (the deposit's foot covers it;
        the blocking surface itself does not move); nodes on a side wall slide along it.
        """
        b = self._assemble_vector("velocity").reshape(-1, self.dim)
        m = self._assemble_vector("active")
        nb = self._assemble_vector("blocking").reshape(-1, self.dim)
        normals = self._assemble_vector("normals").reshape(-1, self.dim, self.dim)
        active = m > 0
        lumped = np.where(active[:, None], b / np.where(active, m, 1.0)[:, None], 0.0)
        self._tip_ratio(lumped, m)
        v = np.zeros_like(b)
        v[active] = _corner_velocity(normals[active], b[active])
        convex = self._convex()
        v[convex] = lumped[convex]
        length = np.linalg.norm(nb, axis=1)
        foot = active & (length > 0)
        normal = nb[foot] / length[foot, None]
        v[foot] -= np.sum(v[foot] * normal, axis=1)[:, None] * normal
        for k, wall in enumerate(self.walls):
            v[wall, k] = 0.0
        return v

    def _convex(self) -> np.ndarray:
        """2D: the dofs where the working surface bulges into the electrolyte. There the
        lumped v n rounds a corner off as growth along the normals does (an expanding fan);
        the corner velocity would keep it sharp. (3D: none; the corner velocity everywhere.)"""
        convex = np.zeros(len(self.node_of_dof), dtype=bool)
        if self.dim != 2:
            return convex
        points, _ = polyline(boundary(self.problem.domain).interface(), nodes=True)
        ids, xy = points
        a, b = xy[1:-1] - xy[:-2], xy[2:] - xy[1:-1]
        bulging = set(ids[1:-1][a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0] < 0].tolist())
        parent = self.problem.domain.mesh.geometry.index_map().local_to_global(
            self.parent_node[self.node_of_dof].astype(np.int32))
        convex[:] = [g in bulging for g in parent]
        return convex

    def _tip_ratio(self, v: np.ndarray, m: np.ndarray) -> None:
        """Largest plating current density at a node (lumped, before the constraints) over
        the mean over the active interface: `tip_ratio`."""
        owned = self.V.dofmap.index_map.size_local
        fastest = np.linalg.norm(v[:owned], axis=1).max() if owned else 0.0
        fastest = self.comm.allreduce(float(fastest), op=MPI.MAX)
        area = self.comm.allreduce(float(m[:owned].sum()), op=MPI.SUM)
        mean = self.plating_current() / area * self.molar_volume / FARADAY
        self.tip_ratio = fastest / mean if mean > 0 else None

    def _assemble_vector(self, name) -> np.ndarray:
        space = {"active": self.V, "normals": self.T}.get(name, self.W)
        vector = fem.Function(space)
        fem.assemble_vector(vector.x.array, self.forms[name])
        vector.x.scatter_reverse(la.InsertMode.add)
        vector.x.scatter_forward()
        return vector.x.array.copy()

    def step_limit(self, velocity: np.ndarray, fraction: float) -> float:
        """Largest dt that moves no node by more than `fraction` of its shortest edge, s."""
        h = shortest_edges(self.mesh.geometry.x, self.cells, self.dofs, len(velocity))
        speed = np.linalg.norm(velocity, axis=1)
        moving = speed > 0
        local = np.min(h[moving] / speed[moving]) if np.any(moving) else np.inf
        return fraction * self.comm.allreduce(float(local), op=MPI.MIN)

    def recession(self, dt: float, current: float) -> float:
        """How far the flat counter electrode recedes in a step, m: it strips the working
        electrode's current, spread evenly over the projected area."""
        return dt * current / self.problem.domain.projected_area * self.molar_volume / FARADAY

    def plan(self, dt: float, velocity: np.ndarray, current: float) -> Step:
        """Displacements of a step of dt: the working surface moves with `velocity`, the
        counter electrode recedes evenly, the mesh follows (G3); the surface's part is scaled
        so that the Li plated is dt x current x M / (rho F) exactly (G4)."""
        self._set_stiffness(self.mesh.geometry.x)
        up = np.zeros(self.dim)
        up[-1] = self.recession(dt, current)
        surface = self._extended(dt * velocity[self.surface], np.zeros(self.dim))
        counter = self._extended(np.zeros((len(self.surface), self.dim)), up)
        plated = dt * current * self.molar_volume / FARADAY
        scale = self._volume_scale(counter, surface, plated)
        return Step(dt, counter + scale * surface, current, scale)

    def _extended(self, surface: np.ndarray, counter: np.ndarray) -> np.ndarray:
        """(G3) The displacement field with the given surface and counter displacements; the
        side walls hold their normal component at zero."""
        displacement = np.zeros((len(self.node_of_dof), self.dim))
        for k in range(self.dim):
            wall = [self.walls[k]] if k < self.dim - 1 else []
            fixed = [self.surface, self.counter] + wall
            values = [surface[:, k], np.full(len(self.counter), counter[k])] + [
                np.zeros(len(w)) for w in wall]
            displacement[:, k] = self._extend(fixed, values)
        return displacement

    def _set_stiffness(self, x) -> None:
        volumes = np.abs(cell_volumes(x, self.cells, self.dim))
        dofs = self.stiffness.function_space.dofmap.list.reshape(-1)
        self.stiffness.x.array[dofs] = volumes ** -self.stiffening

    def _extend(self, fixed: list[np.ndarray], values: list[np.ndarray]) -> np.ndarray:
        """Solve (G3) for one component with the given Dirichlet dofs and values."""
        self.component.x.array[:] = 0.0
        for set_dofs, set_values in zip(fixed, values):  # shared dofs agree (walls: 0)
            self.component.x.array[set_dofs] = set_values
        bc = fem.dirichletbc(self.component, np.unique(np.concatenate(fixed)).astype(np.int32))
        A = assemble_matrix(self.extension_form, bcs=[bc])
        A.assemble()
        self.rhs.x.array[:] = 0.0
        b = self.rhs.x.petsc_vec
        fem.petsc.apply_lifting(b, [self.extension_form], bcs=[[bc]])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        fem.petsc.set_bc(b, [bc])
        self.ksp.setOperators(A)
        solution = fem.Function(self.V)
        self.ksp.solve(b, solution.x.petsc_vec)
        solution.x.scatter_forward()
        A.destroy()
        return solution.x.array.copy()

    def top(self) -> float:
        """Height of the counter electrode (the mesh's highest point), m."""
        x = self.mesh.geometry.x[:, self.dim - 1]
        return self.comm.allreduce(float(x.max()) if len(x) else -np.inf, op=MPI.MAX)

    def volume(self, x: np.ndarray) -> float:
        """Electrolyte volume (area in plane 2D) with node coordinates x, m^dim (m^3 in
        axisymmetry)."""
        owned = self.mesh.topology.index_map(self.dim).size_local
        local = np.sum(np.abs(body_volumes(x, self.cells[:owned], self.dim, self.axisymmetric)))
        return self.comm.allreduce(float(local), op=MPI.SUM)

    def _moved(self, displacement: np.ndarray) -> np.ndarray:
        x = self.mesh.geometry.x.copy()
        x[self.node_of_dof, :self.dim] += displacement
        return x

    def _volume_scale(self, counter: np.ndarray, surface: np.ndarray, plated: float) -> float:
        """(G4) The factor s on the surface's displacements at which the electrolyte loses
        `plated` more than the counter's recession adds.

        The volume of affine cells is a polynomial of degree dim in s (dim + 1 in axisymmetry:
        the area times the centroid's radius): fit it exactly, then Newton from s = 1.
        """
        if plated == 0.0 or not np.any(surface):
            return 1.0
        before = self.volume(self.mesh.geometry.x)
        added = self.volume(self._moved(counter)) - before
        degree = self.dim + self.axisymmetric
        samples = np.linspace(0.0, 1.5, degree + 1)
        loss = [before + added - self.volume(self._moved(counter + s * surface))
                for s in samples]
        polynomial = np.polynomial.Polynomial.fit(samples, loss, degree).convert()
        s = 1.0
        for _ in range(20):
            s -= (polynomial(s) - plated) / polynomial.deriv()(s)
        return s

    # ---- applying a plan -----------------------------------------------------------------------
    def move(self, step: Step) -> None:
        """Move both meshes by the plan and set the mesh velocity and volume ratios of G2."""
        x = self.mesh.geometry.x
        self.saved = x.copy()
        old = cell_volumes(x, self.cells, self.dim)
        self._set_coordinates(self._moved(step.displacement))
        new = cell_volumes(self.mesh.geometry.x, self.cells, self.dim)
        moving = self.problem.moving
        ratio_dofs = moving.volume_ratio.function_space.dofmap.list.reshape(-1)
        moving.volume_ratio.x.array[ratio_dofs] = old / new
        moving.velocity.x.array[:] = (step.displacement / step.dt).reshape(-1)
        if moving.old_radius is not None:  # r^n at the nodes, for G2's carried integral
            moving.old_radius.x.array[:] = self.saved[self.node_of_dof, 0]

    def undo(self) -> None:
        """Back to the coordinates before the last move (a failed step)."""
        self._set_coordinates(self.saved)

    def _set_coordinates(self, x: np.ndarray) -> None:
        """Move both meshes; the galvanostatic constraint (C1) follows the active area."""
        p = self.problem
        self.mesh.geometry.x[:] = x
        p.domain.mesh.geometry.x[self.parent_node] = x
        p.active_area = self.comm.allreduce(fem.assemble_scalar(self.area_form), op=MPI.SUM)
        if hasattr(p, "mean_share"):
            p.mean_share.value = p.domain.projected_area / p.active_area

    def settle(self) -> None:
        """After an accepted step: no mesh velocity until the next move."""
        moving = self.problem.moving
        moving.velocity.x.array[:] = 0.0
        moving.volume_ratio.x.array[:] = 1.0
        if moving.old_radius is not None:
            moving.old_radius.x.array[:] = self.mesh.geometry.x[self.node_of_dof, 0]

    def worst_quality(self) -> float:
        """Smallest cell quality over the mesh (negative: a cell inverted)."""
        owned = self.mesh.topology.index_map(self.dim).size_local
        q = cell_quality(self.mesh.geometry.x, self.cells[:owned], self.dim,
                         self.orientation[:owned])
        return self.comm.allreduce(float(q.min()) if len(q) else 1.0, op=MPI.MIN)
