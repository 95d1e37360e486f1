"""The verification benchmarks (femsolver/verification) at their coarsest level.

Every check must be within its tolerance (the tolerances live with the benchmarks, each row
states its reference); observed values at level 0 are in the comments. Under mpirun the same
tests run on 2 ranks, and `test_two_ranks_reproduce_one_rank` compares them with each rank's
own serial run.
"""

import numpy as np
import pytest
from mpi4py import MPI

from femsolver.verification import (
    conservation, mms, planar_steady, planar_transient, primary, sand)

BENCHMARKS = [planar_steady, planar_transient, sand, primary, mms, conservation]


def check(rows) -> None:
    failed = [f"{r.benchmark}: {r.quantity}: error {r.error:.3g} > tolerance {r.tolerance:.3g}"
              for r in rows if not r.passed]
    assert not failed, "\n".join(failed)


def find(rows, benchmark, quantity):
    """The one row whose benchmark and quantity start with the given texts."""
    found = [r for r in rows
             if r.benchmark.startswith(benchmark) and r.quantity.startswith(quantity)]
    assert len(found) == 1, (benchmark, quantity, [r.quantity for r in found])
    return found[0]


def test_steady_planar_cell_matches_analytic_profile_voltage_and_limiting_current():
    rows = planar_steady.run(0)
    check(rows)
    for cell in ("closed", "open"):
        name = f"{planar_steady.TITLE} ({cell})"
        # The linear profile is nodally exact for P1 (observed 6e-16 c0, both cells).
        assert find(rows, name, "max |c - c_exact|").error < 1e-9
        # The voltage error (the potential is logarithmic) falls as h^2: observed 3.8e-7 V
        # (closed) and 8.0e-8 V (open) at ny = 100, ratio 4.00 from ny = 50.
        voltage = find(rows, name, "cell voltage (V), i = 0.5")
        (_, V1), (_, V2) = voltage.series
        assert V2 < 2e-6 and V1 / V2 == pytest.approx(4, rel=0.05)
        # At 0.99 i_lim: c(0) = 0.01 c0 to round-off; voltage within 0.29 % (closed), 0.10 %
        # (open) on the uniform mesh (the log layer at the electrode needs finer meshes).
        assert find(rows, name, "c at the working electrode").error < 1e-9


def test_transient_after_a_current_step_follows_the_fourier_series():
    rows = planar_transient.run(0)
    check(rows)
    # dt = tau/32, tau/64: BDF2 errors 1.7e-4, 4.3e-5 c0 (order 1.95), BDF1 2.8e-3, 1.4e-3
    # (order 0.997).
    title = planar_transient.TITLE
    assert find(rows, title, "order of the BDF2").computed == pytest.approx(2, abs=0.1)
    assert find(rows, title, "order of the BDF1").computed == pytest.approx(1, abs=0.05)
    for s in planar_transient.SAMPLES:
        assert find(rows, title, f"c at the working electrode (mol/m3), t = {s:g} tau").error < 1e-4


def test_depletion_stops_the_run_at_sands_time():
    """The run's reported depletion time (status "depleted") is Sand's t_s (1 - 1e-3)^2."""
    rows = sand.run(0)
    check(rows)
    # Observed: 2.5e-4 relative (h = 10 nm, dt = t_s/24), 4.3e-4 for c0/2 at t_s/4. The old
    # test (D+ = D-, h = 10 nm, dt = t_s/50, 1 um bulk cells) saw 0.2 %.
    depletion = find(rows, sand.TITLE, "depletion time")
    assert np.isfinite(depletion.computed)  # NaN: the run did not report "depleted"
    assert depletion.error < 0.01


def test_primary_current_distribution_at_periodic_strips():
    rows = primary.run(0)
    check(rows)
    # h = 1, 0.5 nm: R kappa/p within 3.3 %, 1.7 % of ln(1/sin(pi f/2))/pi (order 0.92);
    # i/i_app for |x| < 0.8 a within 12 %, 3.9 %. Kinetics and concentration change R by
    # 4e-5 and 6e-6.
    for quantity in ("access resistance", "i/i_app"):
        errors = [e for _, e in find(rows, primary.TITLE, quantity).series]
        assert all(b < a for a, b in zip(errors, errors[1:])), (quantity, errors)


@pytest.mark.parametrize("degree, equipotential, coarsest", mms.CONFIGURATIONS)
def test_manufactured_solution_rates(degree, equipotential, coarsest):
    """Sizes n = coarsest x (1, 2, 4): L2 order > k + 1 - 0.15, H1 > k - 0.1 (psi as L2), V >
    k + 1 - 0.5 (the allowed shortfalls in mms.NORMS). Observed P1: 1.99/1.00 (c), 2.00/1.00
    (phi), 1.96 (phi_s), V 1.97 / 1.93; P2: 2.98/1.98, 2.99/1.99, V 3.93."""
    rows = mms.rows_for(degree, equipotential, coarsest, 0)
    check(rows)
    assert len(rows) == (5 if equipotential else 6)
    for r in rows:
        assert r.computed > r.reference - mms.NORMS[_norm(r.quantity)][2]


def _norm(quantity: str) -> str:
    return next(k for k, (text, _, _) in mms.NORMS.items() if quantity.endswith(text))


def test_conservation_of_charge_and_salt_and_no_anion_flux():
    rows = conservation.run(0)
    check(rows)
    # Observed: currents within 8e-11 (Newton tolerance) of i_app; salt 1e-16 of the cell;
    # anion fluxes 1e-15 of the cation flux; the final spread 2.1 % (BDF1), 0.28 % (BDF2)
    # from the Fourier series.
    for scheme in ("BDF1", "BDF2"):
        name = f"{conservation.TITLE}: closed planar cell, {scheme}"
        assert find(rows, name, "working-electrode current").error < 1e-8
        assert find(rows, name, "counter-electrode current").error < 1e-8
        assert find(rows, name, "salt").error < 1e-13
        spread = find(rows, name, "c(L) - c(0) (mol/m3) at t = 2 s")  # the run reached t = 2 s
        assert spread.computed > 100  # the profile really developed (0.1 c0)
    steady = f"{conservation.TITLE}: closed planar cell, steady"
    assert find(rows, steady, "salt").error < 1e-12


@pytest.mark.skipif(MPI.COMM_WORLD.size == 1, reason="compares 2 ranks with 1")
@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda b: b.__name__.rsplit(".", 1)[-1])
def test_two_ranks_reproduce_one_rank(benchmark):
    """Each rank runs the benchmark alone (COMM_SELF), then all ranks together: the values
    agree to the solver tolerance (observed: computed values within 5e-10 relative, errors
    within 1e-6 of their tolerances; round-off-level values differ at round-off)."""
    serial = benchmark.run(0, MPI.COMM_SELF)
    parallel = benchmark.run(0, MPI.COMM_WORLD)
    assert [r.quantity for r in serial] == [r.quantity for r in parallel]
    for s, p in zip(serial, parallel):
        if s.computed is not None:
            assert p.computed == pytest.approx(s.computed, rel=1e-7, abs=1e-13), s.quantity
        assert p.error == pytest.approx(s.error, rel=1e-3, abs=1e-3 * s.tolerance), s.quantity
