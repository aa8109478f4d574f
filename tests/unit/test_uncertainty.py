"""The Wilson interval and the clustered standard error behind the studies' uncertainty."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sor.core.uncertainty import (
    MIN_UNITS,
    Z_95,
    clustered_standard_error,
    paired_difference_interval,
    paired_mean_difference_interval,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # by hand: 0/10 runs to z^2 / (n + z^2) = 3.8415 / 13.8415; 5/10 is 0.5 -/+ 0.2634
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        # Newcombe (1998), Statistics in Medicine 17, 857-872, table I: 81/263 and 15/148
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
    ],
)
def test_wilson_interval_matches_values_worked_by_hand_and_newcombe(
    successes: int, trials: int, low: float, high: float
) -> None:
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=5e-5)


@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_holds_the_share_inside_zero_to_one(pair: tuple[int, int]) -> None:
    successes, trials = pair
    low, high = wilson_interval(successes, trials)
    assert 0 <= low <= successes / trials <= high <= 1


def test_wilson_interval_refuses_an_impossible_count() -> None:
    with pytest.raises(ValueError, match="successes <= trials"):
        wilson_interval(3, 2)


def test_one_value_per_cluster_gives_the_standard_deviation_over_root_n() -> None:
    values = np.arange(40, dtype=np.float64)
    got = clustered_standard_error(values, np.ones(40), np.arange(40))
    assert got.mean == pytest.approx(19.5) and got.clusters == 40 and got.why is None
    assert got.standard_error == pytest.approx(np.std(values, ddof=1) / math.sqrt(40))


def test_a_cluster_counts_once_and_weights_make_the_mean() -> None:
    # each cluster's two values share it, weighted 1 and 3: the mean is share-weighted, and
    # a cluster's values add up before they are squared
    values = np.repeat(np.arange(MIN_UNITS, dtype=np.float64), 2) + np.tile([0.0, 4.0], MIN_UNITS)
    weights = np.tile([1.0, 3.0], MIN_UNITS)
    clusters = np.repeat(np.arange(MIN_UNITS), 2)
    got = clustered_standard_error(values, weights, clusters)
    per_cluster = np.arange(MIN_UNITS) + 3.0  # (1 x v + 3 x (v + 4)) / 4
    assert got.mean == pytest.approx(per_cluster.mean())
    assert got.standard_error == pytest.approx(np.std(per_cluster, ddof=1) / math.sqrt(MIN_UNITS))


def test_too_few_clusters_give_no_error_and_say_why() -> None:
    got = clustered_standard_error(np.array([1.0, np.nan, 2.0]), np.ones(3), np.arange(3),
                                   cluster="filled order")  # fmt: skip
    assert got.mean == 1.5 and got.standard_error is None and got.clusters == 2
    assert got.why == f"2 filled orders, fewer than the {MIN_UNITS} a standard error needs"
    assert clustered_standard_error(np.array([]), np.array([]), np.array([])).mean is None


@pytest.mark.parametrize(
    ("counts", "low", "high"),
    [
        # Fagerland, Lydersen & Laake (2017), Statistical Analysis of Contingency Tables,
        # chapter 8: complete response before and after consolidation therapy (Cavo et al.,
        # 2012), 59 / 6 / 16 / 80 pairs; Newcombe's square-and-add interval -0.1186 to -0.0046
        ((59, 6, 16, 80), -0.1186, -0.0046),
        # by hand, phi 0 (an empty margin): p1 = 5/30 with Wilson 0.073362 to 0.335642, p2 =
        # 0/30 with 0 to 3.8415/33.8415 = 0.113514; low = 1/6 - sqrt(0.093305^2 +
        # 0.113514^2) = 0.019727, high = 1/6 + (0.335642 - 1/6) = 0.335642
        ((0, 5, 0, 25), 0.019727, 0.335642),
    ],
)
def test_the_paired_interval_matches_a_textbook_example_and_one_worked_by_hand(
    counts: tuple[int, int, int, int], low: float, high: float
) -> None:
    assert paired_difference_interval(*counts) == pytest.approx((low, high), abs=5e-5)


def test_the_paired_interval_is_near_a_bootstrap_of_the_pairs() -> None:
    # 400 paired units, p1 = 0.40, p2 = 0.35, strongly correlated: the percentile bootstrap
    # of the pairs (20,000 draws) lands within 0.01 of each end
    counts = np.array([120, 40, 20, 220])
    n = int(counts.sum())
    rng = np.random.default_rng(11)
    draws = rng.multinomial(n, counts / n, size=20_000)
    differences = (draws[:, 1] - draws[:, 2]) / n
    boot = np.quantile(differences, [0.025, 0.975])
    low, high = paired_difference_interval(*counts.tolist())
    assert low < 20 / n < high
    assert (low, high) == pytest.approx(tuple(boot), abs=0.01)
    # the pairs' correlation matters: taken as independent samples the interval is wider
    assert high - low < 2 * Z_95 * math.sqrt(0.40 * 0.60 / n + 0.35 * 0.65 / n) * 0.8


def test_the_paired_interval_keeps_a_width_when_no_unit_differs() -> None:
    low, high = paired_difference_interval(10, 0, 0, 20)
    assert low < 0 < high and high - low > 0.05
    assert paired_difference_interval(30, 0, 0, 0)[0] < 0  # all yes: not a point either
    with pytest.raises(ValueError, match="at least one unit"):
        paired_difference_interval(0, 0, 0, 0)


def test_the_paired_mean_interval_is_the_normal_one_and_says_why_where_there_is_none() -> None:
    values = np.array([0.0, 0.5, 1.0] * 10)  # sd by hand: sqrt(10 x 0.5 / 29) = 0.415227
    low, high = paired_mean_difference_interval(values)  # type: ignore[misc]
    half = 1.959964 * 0.415227 / math.sqrt(30)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), abs=1e-6)
    assert paired_mean_difference_interval(values[:29]) == (
        "29 units, fewer than the 30 an interval needs"
    )
    assert "no spread" in str(paired_mean_difference_interval(np.zeros(40)))
