"""Effective ionic conductivity of a particle domain (composite cathode, single particle).

The ion conductors (SHELL, MATRIX and a meshed COATING) carry the current; the ACTIVE cores
are insulating. Steady conduction between the bottom and the top face of the box:

    -div(sigma grad p) = 0 in the conducting cells,  p = dV at z = 0,  p = 0 at z = H,
    no flux on the side walls and on the core surfaces.

The measured current is the energy identity I = (1/dV) integral of sigma |grad p|^2 over the
conducting cells: it is the variationally consistent boundary flux (the weak residual tested
with the lifting p/dV), converging at twice the rate of the energy norm (O(h^2) for P1), while
the pointwise flux sigma grad p . n on a face converges only like the gradient (O(h)).
sigma_eff = I H / (dV A), A the box cross-section (`Domain.projected_area`). All integrals use
`femsolver.measures.measure`, so axisymmetric sections give the 3D body's values.

The problem is assembled on the whole mesh with the dofs that touch no conducting cell fixed
to 0: they are decoupled from the rest, so this is the submesh problem of the conducting cells
without having to carry the facet tags over to a submesh.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import ufl
from dolfinx import fem, la, mesh as dmesh
from dolfinx.fem.petsc import LinearProblem
from mpi4py import MPI
from petsc4py import PETSc

from femsolver import tags
from femsolver.measures import measure
from femsolver.petsc_options import ScopedOptions

CONDUCTORS = (tags.SHELL, tags.MATRIX, tags.COATING)
DIRECT = {"ksp_type": "preonly", "pc_type": "lu", "pc_factor_mat_solver_type": "mumps"}
# Image-sized 3D problems do not fit a direct solver (docs/images.md)
ITERATIVE = {"ksp_type": "cg", "pc_type": "gamg", "ksp_rtol": 1e-10,
             "ksp_norm_type": "unpreconditioned"}
# Mass term (relative to sigma / length^2) that pins conducting clusters touching neither end
# face to p = 0 instead of leaving them floating (a singular block); changes sigma_eff by ~1e-12
FLOATING_MASS = 1e-12


@dataclass(frozen=True)
class Effective:
    """Effective conductivity and the comparison figures (SI; ratios to the matrix's sigma)."""

    dimension: int  # 2 (plane section) or 3 (3D, or axisymmetric section of a 3D body)
    current: float  # A (per metre of depth in 2D)
    sigma_eff: float  # S/m
    sigma_matrix: float  # S/m
    ratio: float  # sigma_eff / sigma_matrix
    conducting_fraction: float  # eps
    tortuosity_factor: float  # tau^2 = eps sigma_matrix / sigma_eff
    maxwell: float  # Maxwell / Hashin-Shtrikman upper bound, as a ratio
    bruggeman: float  # Bruggeman, as a ratio
    height: float  # m
    area: float  # m (2D) or m2

    def as_dict(self) -> dict:
        return asdict(self)


def maxwell(phi: float, dimension: int) -> float:
    """sigma_eff/sigma of insulating inclusions at fraction phi: Maxwell's dilute formula, which
    is also the Hashin-Shtrikman upper bound (Hashin & Shtrikman 1962; Torquato 2002, eq. 21.23).
    3D: 2(1 - phi)/(2 + phi); 2D (cylinders): (1 - phi)/(1 + phi)."""
    return 2 * (1 - phi) / (2 + phi) if dimension == 3 else (1 - phi) / (1 + phi)


def bruggeman(phi: float, dimension: int) -> float:
    """Bruggeman's relation for insulating spheres (1 - phi)^1.5, disks (1 - phi)^2
    (Bruggeman 1935; Tjaden et al., Curr. Opin. Chem. Eng. 12, 44 (2016))."""
    return (1 - phi) ** (1.5 if dimension == 3 else 2.0)


def _total(form, comm) -> float:
    return comm.allreduce(fem.assemble_scalar(fem.form(form)), op=MPI.SUM)


def _free_dofs_fixed(V, cells) -> np.ndarray:
    """Local dofs that belong to no conducting cell on any rank."""
    marker = fem.Function(V)
    marker.x.array[fem.locate_dofs_topological(V, V.mesh.topology.dim, cells)] = 1.0
    marker.x.scatter_reverse(la.InsertMode.add)
    marker.x.scatter_forward()
    return np.flatnonzero(marker.x.array == 0).astype(np.int32)


def _plane_dofs(V, level: float, axis: int, tol: float) -> np.ndarray:
    msh = V.mesh
    facets = dmesh.locate_entities_boundary(msh, msh.topology.dim - 1,
                                            lambda x: np.abs(x[axis] - level) <= tol)
    return fem.locate_dofs_topological(V, msh.topology.dim - 1, facets)


def _top(msh, axis: int) -> float:
    x = msh.geometry.x[:, axis]
    return msh.comm.allreduce(float(x.max()) if len(x) else -np.inf, op=MPI.MAX)


def _bottom(msh, axis: int) -> float:
    x = msh.geometry.x[:, axis]
    return msh.comm.allreduce(float(x.min()) if len(x) else np.inf, op=MPI.MIN)


def cross_section(domain, axis: int) -> float:
    """Area normal to `axis` (m2; m in 2D): the domain's projected area along its own normal
    axis, the bounding box's face for the other axes."""
    msh = domain.mesh
    if axis == msh.topology.dim - 1:
        return domain.projected_area
    sides = [_top(msh, a) - _bottom(msh, a) for a in range(msh.topology.dim) if a != axis]
    return float(np.prod(sides))


def _stiffness_scale(domain, sigma: float) -> float:
    """Typical diagonal entry of the conduction matrix, sigma |cell| / h^2 (|cell| weighted by
    the measure, 2 pi r if axisymmetric). The form divided by it has rows of the Dirichlet rows'
    unit scale whatever the length unit and voxel size: unscaled, the right-hand side was all
    Dirichlet rows, and a relative tolerance of 1e-7 stopped CG with tau 3 % off at 1 um."""
    msh = domain.mesh
    cells = msh.topology.index_map(msh.topology.dim).size_global
    h2 = (_total(1.0 * ufl.dx(domain=msh), msh.comm) / cells) ** (2 / msh.topology.dim)
    return sigma * _total(1.0 * measure("dx", domain), msh.comm) / cells / h2


@dataclass(frozen=True)
class Conduction:
    """The solved potential and what the figures are integrated from."""

    potential: fem.Function  # V
    conductivities: dict  # {conducting tag present: S/m}
    dx: object  # cell measure (2 pi r-weighted if axisymmetric) with the cell tags
    height: float  # m: the top face's z (y in 2D)
    voltage: float  # V: p at the bottom face
    axis: int | None = None  # direction of the current (None: z, y in 2D)
    bottom: float = 0.0  # m: the bottom face's coordinate along the axis


def conducting_tags(present: set[int], conductivities: dict[int, float]) -> list[int]:
    """The conducting region tags among those `present`; ValueError for an ion conductor
    without a conductivity."""
    conducting = [t for t in CONDUCTORS if t in present]
    # other regions conduct when given a conductivity (an image's electrolyte, a conducting core)
    conducting += [t for t in sorted(conductivities) if t not in CONDUCTORS and t in present]
    missing = [tags.NAMES[t] for t in conducting if t not in conductivities]
    if missing:
        raise ValueError(f"no conductivity given for region(s) {', '.join(missing)}")
    return conducting


def solve_potential(domain, conductivities: dict[int, float], voltage: float = 1.0,
                    degree: int = 1, axis: int | None = None, petsc_options: dict | None = None,
                    floating: bool = False) -> Conduction:
    """p with p = voltage at the bottom face, 0 at the top, in the conducting cells of `domain`.

    `conductivities` maps the conducting region tags (SHELL, MATRIX, COATING, and any other
    region given one) to S/m; cells of other regions (ACTIVE) are insulating. `axis`: direction of the current (default z, y in
    2D), between the domain's lowest and highest planes normal to it. `petsc_options`: the
    linear solver (default DIRECT). `floating`: the domain may hold conducting clusters that
    touch neither face (FLOATING_MASS pins them).
    """
    msh, comm = domain.mesh, domain.mesh.comm
    axis = msh.topology.dim - 1 if axis is None else axis
    present = comm.allreduce({int(t) for t in np.unique(domain.cell_tags.values)}, op=MPI.BOR)
    conducting = conducting_tags(present, conductivities)

    V = fem.functionspace(msh, ("Lagrange", degree))
    dx = measure("dx", domain, subdomain_data=domain.cell_tags)
    p, q = ufl.TrialFunction(V), ufl.TestFunction(V)
    a = sum(conductivities[t] * ufl.inner(ufl.grad(p), ufl.grad(q)) * dx(t) for t in conducting)
    # A zero term on the other cells puts their dofs in the sparsity pattern, so that the
    # Dirichlet rows fixing them get their unit diagonal.
    others = [t for t in present if t not in conducting]
    if others:
        a += sum(fem.Constant(msh, 0.0) * p * q * dx(t) for t in others)
    L = fem.Constant(msh, 0.0) * q * dx(conducting[0])

    cells = np.concatenate([domain.cell_tags.find(t) for t in conducting]).astype(np.int32)
    height, bottom = _top(msh, axis), _bottom(msh, axis)
    if floating:
        weight = FLOATING_MASS / (height - bottom) ** 2
        a += sum(weight * conductivities[t] * p * q * dx(t) for t in conducting)
    a = (1.0 / _stiffness_scale(domain, max(conductivities[t] for t in conducting))) * a
    tol = 1e-9 * (height - bottom)
    bcs = [fem.dirichletbc(value, dofs, V) for value, dofs in (
        (voltage, _plane_dofs(V, bottom, axis, tol)), (0.0, _plane_dofs(V, height, axis, tol)),
        (0.0, _free_dofs_fixed(V, cells)))]
    petsc_options = petsc_options or DIRECT
    with ScopedOptions("effective", petsc_options) as options:
        problem = LinearProblem(a, L, bcs=bcs, petsc_options_prefix=options.prefix)
        try:
            problem.solver.setFromOptions()
        except PETSc.Error as err:
            raise ValueError(f"PETSc rejected the solver options {petsc_options}: error code "
                             f"{err.ierr}") from None
        solution = problem.solve()
        reason = problem.solver.getConvergedReason()
        del problem  # frees its PETSc matrix, vectors and solver
    if reason < 0:
        raise RuntimeError(f"the conduction solve failed (PETSc reason {reason})")
    return Conduction(solution, {t: conductivities[t] for t in conducting}, dx, height, voltage,
                      axis, bottom)


def effective_conductivity(domain, conductivities: dict[int, float], voltage: float = 1.0,
                           degree: int = 1) -> Effective:
    """sigma_eff of `domain` (a `femsolver.mesh.Domain`) between its bottom and top faces.

    `conductivities` maps the conducting region tags (SHELL, MATRIX, COATING) to S/m; the
    matrix's value is the reference sigma_0. Cells of other regions (ACTIVE) are insulating.
    """
    if tags.MATRIX not in conductivities:
        raise ValueError("the matrix conductivity (the reference sigma_0) is needed")
    run = solve_potential(domain, conductivities, voltage, degree)
    return figures(domain, run, conductivities[tags.MATRIX])


def figures(domain, run: Conduction, sigma0: float) -> Effective:
    """The effective figures of a solved conduction problem, relative to sigma0 (S/m)."""
    comm = domain.mesh.comm
    p, dx = run.potential, run.dx
    energy = sum(s * ufl.inner(ufl.grad(p), ufl.grad(p)) * dx(t)
                 for t, s in run.conductivities.items())
    current = _total(energy, comm) / run.voltage
    conducting_volume = _total(sum(1.0 * dx(t) for t in run.conductivities), comm)
    volume = _total(1.0 * measure("dx", domain), comm)
    eps = conducting_volume / volume
    dimension = 3 if domain.mesh.topology.dim == 3 or domain.axisymmetric else 2
    axis = domain.mesh.topology.dim - 1 if run.axis is None else run.axis
    area, length = cross_section(domain, axis), run.height - run.bottom
    sigma_eff = current * length / (run.voltage * area)
    return Effective(
        dimension=dimension, current=current, sigma_eff=sigma_eff, sigma_matrix=sigma0,
        ratio=sigma_eff / sigma0, conducting_fraction=eps,
        tortuosity_factor=eps * sigma0 / sigma_eff if sigma_eff > 0 else float("inf"),
        maxwell=maxwell(1 - eps, dimension), bruggeman=bruggeman(1 - eps, dimension),
        height=length, area=area)


def table(result: Effective) -> str:
    """Markdown table of the figures."""
    rows = [
        ("sigma_eff (S/m)", f"{result.sigma_eff:.5g}"),
        ("sigma_matrix (S/m)", f"{result.sigma_matrix:.5g}"),
        ("sigma_eff / sigma_matrix", f"{result.ratio:.4f}"),
        ("conducting volume fraction eps", f"{result.conducting_fraction:.4f}"),
        ("tortuosity factor tau^2 = eps sigma_0 / sigma_eff", f"{result.tortuosity_factor:.4f}"),
        (f"Maxwell / Hashin-Shtrikman upper bound ({result.dimension}D)", f"{result.maxwell:.4f}"),
        (f"Bruggeman ({result.dimension}D)", f"{result.bruggeman:.4f}"),
    ]
    return "\n".join(["| quantity | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])
