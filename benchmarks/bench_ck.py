"""Time one Cont-Kukanov placement: six venues by stochastic approximation, one by closed form.

Problems: the paper's section 5.1 parameters (h = 0.02, f = 0.003, theta = 0.0005,
lambda_u = lambda_o = 0.05 $/share, Q_k = 2000 shares, r_k = 0.002 $/share) for a 1,000-share
order, with 1,000 Poisson-factor outflow samples. Figures, warm (compiled code loaded, best of
several repeats, milliseconds per placement): ``solve_sa`` over six venues (the whole call:
validation, warm start, compiled loop; goal well under 5 ms), the same from the uninformed
start (little more than the compiled loop) and with ten passes over the samples, the closed
form of Proposition 3 for one venue, and ``place`` for six venues (solve, round, and cost the
answer and the three simple strategies), and ``solve`` (the product's answer: stochastic
approximation, rounding and the exact polish; goal under 5 ms).

Precision, in the same run: on 12 random problems (2 to 8 venues, orders of 100 to 10,000
shares, Poisson factor, lognormal and Pareto outflows, both sides of ``lambda_o = h + r``),
the largest excess of ``solve``'s cost over the least sample-average cost of the whole-share
points of ``C`` found by an independent mixed-integer program (``tests/placement_optimum.py``,
HiGHS), beside that of the unpolished stochastic approximation. Goal: at most 0.01 cents per
share. Run: ``python benchmarks/bench_ck.py``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sor.ck.model import CKParams, closed_form_one_venue, poisson_factor_outflows
from sor.ck.paper import paper_problem
from sor.ck.place import place
from sor.ck.sa import solve_sa
from sor.ck.solver import solve

ORDER = 1000
SAMPLES = 1000
VENUES = 6


def _params(venues: int) -> CKParams:
    return CKParams(ORDER, 0.02, 0.003, 0.0005, 0.05, 0.05, (2000,) * venues, (0.002,) * venues)


def _best_ms(call: Callable[[], object], repeats: int = 200) -> float:
    call()  # compile or load the cached kernel
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - began)
    return best * 1e3


def main() -> dict[str, float]:
    """Print and return the timings, milliseconds per placement."""
    rng = np.random.default_rng(7)
    six = _params(VENUES)
    xi6 = poisson_factor_outflows(rng, SAMPLES, VENUES, 2200.0, 0.6)
    one = _params(1)
    xi1 = poisson_factor_outflows(rng, SAMPLES, 1, 2200.0, 0.6)
    problem = paper_problem(ORDER, VENUES, samples=SAMPLES, seed=7)

    figures = {
        "sa_6_venues_ms": _best_ms(lambda: solve_sa(six, xi6)),
        "sa_6_venues_loop_ms": _best_ms(lambda: solve_sa(six, xi6, x0="equal")),
        "sa_6_venues_10_passes_ms": _best_ms(lambda: solve_sa(six, xi6, passes=10)),
        "closed_form_1_venue_ms": _best_ms(lambda: closed_form_one_venue(one, xi1)),
        "place_6_venues_ms": _best_ms(lambda: place(problem), repeats=50),
        "solve_6_venues_ms": _best_ms(lambda: solve(six, xi6), repeats=100),
    }
    rows = [
        (f"stochastic approximation, {VENUES} venues", "sa_6_venues_ms", "  (goal: < 5)"),
        ("  from the uninformed start (~the loop)", "sa_6_venues_loop_ms", ""),
        ("  ten passes over the samples", "sa_6_venues_10_passes_ms", ""),
        ("closed form (Proposition 3), 1 venue", "closed_form_1_venue_ms", ""),
        ("solve(): SA, round, exact polish", "solve_6_venues_ms", "  (goal: < 5)"),
        ("place(): solve, cost 4 ways, breakdown", "place_6_venues_ms", ""),
    ]
    print(
        f"ck placement: {ORDER:,}-share order, {SAMPLES:,} outflow samples, warm, best of repeats"
    )
    for label, key, note in rows:
        print(f"  {label:<40} {figures[key]:8.3f} ms{note}")
    figures.update(_precision())
    return figures


def _precision() -> dict[str, float]:
    """Print and return the largest excess over the MILP optimum, cents per share."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    import placement_optimum as reference

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "property"))
    from test_ck_optimum import _problem

    worst_solve = worst_sa = 0.0
    for seed in (1, 2, 3, 4, 5, 7):
        for tight in (True, False):
            problem = _problem(seed, tight)
            params = CKParams(
                problem["S"], problem["h"], problem["f"], problem["theta"], problem["lam_u"],
                problem["lam_o"], tuple(int(q) for q in problem["queues"]),
                tuple(float(r) for r in problem["rebates"]),
            )  # fmt: skip
            solution = solve(params, problem["xi"])
            _, best = reference.milp_optimum(**problem, time_limit=120)
            to_cents = 100.0 / params.order_size
            worst_solve = max(worst_solve, (solution.cost - best) * to_cents)
            worst_sa = max(worst_sa, (solution.method_cost - best) * to_cents)
    print(
        "  precision on 12 random problems, largest excess over the MILP optimum: "
        f"solve {worst_solve:.6f} c/share (goal <= 0.01), "
        f"stochastic approximation alone {worst_sa:.4f}"
    )
    return {"precision_solve_cents": worst_solve, "precision_sa_cents": worst_sa}


if __name__ == "__main__":
    main()
