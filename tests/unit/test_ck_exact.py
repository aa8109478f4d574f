"""The exact expected cost under the Poisson factor model, against enumeration and sampling."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from sor.ck.exact import exact_cents_per_share, exact_cost, poisson_support
from sor.ck.model import CKParams, expected_cost, poisson_factor_outflows
from sor.core.errors import ConfigError


def _params(size: int, queues: tuple[int, ...], rebates: tuple[float, ...]) -> CKParams:
    return CKParams(
        order_size=size,
        half_spread=0.02,
        fee=0.003,
        theta=0.0005,
        lambda_under=0.05,
        lambda_over=0.03,
        queues=queues,
        rebates=rebates,
    )


def _enumerated_cost(x: tuple[int, ...], params: CKParams, mean: float, weight: float) -> float:
    """V(X) by summing v over every (xi_0, eps_1, ..., eps_K) up to far into the tails."""
    top = int(mean + 14 * math.sqrt(mean) + 20)
    values = np.arange(top + 1)
    pmf = np.exp(values * math.log(mean) - mean - np.array([math.lgamma(k + 1) for k in values]))
    market, limits = x[0], x[1:]
    total = 0.0
    for combo in itertools.product(range(top + 1), repeat=len(limits) + 1):
        p = pmf[combo[0]] * math.prod(pmf[e] for e in combo[1:])
        if p < 1e-18:
            continue
        fills = [
            min(max(round(weight * combo[0] + (1 - weight) * e) - q, 0), lim)
            for e, q, lim in zip(combo[1:], params.queues, limits, strict=True)
        ]
        bought = market + sum(fills)
        short = max(params.order_size - bought, 0)
        over = max(bought - params.order_size, 0)
        h = params.half_spread
        cost = (
            (h + params.fee) * market
            - sum((h + r) * f for r, f in zip(params.rebates, fills, strict=True))
            + params.theta * (market + sum(limits) + short)
            + params.lambda_under * short
            + params.lambda_over * over
        )
        total += p * cost
    return total


@pytest.mark.parametrize(
    ("x", "queues", "rebates", "weight"),
    [
        ((1, 3, 2), (4, 6), (0.002, -0.001), 0.5),
        ((0, 5, 5), (3, 3), (0.003, 0.003), 0.6),
        ((6, 0, 4), (7, 2), (0.001, 0.002), 0.25),
        ((2, 4, 4), (5, 5), (0.002, 0.001), 1.0),
        ((0, 9), (5,), (0.002,), 0.0),
    ],
)
def test_exact_cost_equals_enumeration(
    x: tuple[int, ...], queues: tuple[int, ...], rebates: tuple[float, ...], weight: float
) -> None:
    params = _params(8, queues, rebates)
    exact = exact_cost(np.asarray(x), params, 6.0, weight)
    # rint and round both send halves to even, as the sampler does
    assert exact == pytest.approx(_enumerated_cost(x, params, 6.0, weight), abs=1e-12)


def test_exact_cost_agrees_with_a_large_sample() -> None:
    params = _params(900, (1900, 2100, 2000), (0.002, 0.003, -0.001))
    x = np.array([300, 250, 250, 300])
    rng = np.random.default_rng(11)
    xi = poisson_factor_outflows(rng, 400_000, 3, 2200.0, 0.6)
    per_sample = expected_cost(x, params, xi)
    exact = exact_cost(x, params, 2200.0, 0.6)
    # the sample mean's standard error here is about 0.03 dollars
    assert exact == pytest.approx(per_sample, abs=0.15)
    assert exact_cents_per_share(x, params, 2200.0, 0.6) == pytest.approx(100 * exact / 900)


def test_market_order_costs_exactly_h_plus_f_plus_theta() -> None:
    params = _params(500, (2000, 2000), (0.002, 0.002))
    cents = exact_cents_per_share(np.array([500, 0, 0]), params, 2200.0, 0.6)
    assert cents == pytest.approx(2.35, abs=1e-12)


def test_poisson_support_holds_the_mass_around_the_mean() -> None:
    ks, pmf = poisson_support(2200.0)
    assert pmf.sum() == pytest.approx(1.0)
    assert float(ks @ pmf) == pytest.approx(2200.0, abs=1e-6)
    assert float(((ks - 2200.0) ** 2) @ pmf) == pytest.approx(2200.0, rel=1e-6)


@pytest.mark.parametrize(
    ("x", "weight"), [((1, 2), 0.5), ((-1, 2, 3), 0.5), ((1.5, 2, 3), 0.5), ((1, 2, 3), 1.5)]
)
def test_exact_cost_rejects_bad_input(x: tuple[float, ...], weight: float) -> None:
    with pytest.raises(ConfigError):
        exact_cost(np.asarray(x), _params(5, (3, 3), (0.0, 0.0)), 6.0, weight)
