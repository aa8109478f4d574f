"""TWAP and VWAP targets: bucket edges and exact integer floors."""

from __future__ import annotations

import numpy as np

from sor.static.baselines import bucket_count, bucket_index, twap_targets, vwap_targets

S = 1_000_000_000  # one second in ns


def test_bucket_count_rounds_up_and_is_at_least_one() -> None:
    assert bucket_count(0, 0) == 1
    assert bucket_count(0, 60 * S) == 1
    assert bucket_count(0, 60 * S + 1) == 2
    assert bucket_count(0, 540 * S) == 9


def test_the_window_end_belongs_to_the_last_bucket() -> None:
    ts = np.array([0, 59 * S, 60 * S, 119 * S, 120 * S])
    assert bucket_index(ts, 0, 120 * S).tolist() == [0, 0, 1, 1, 1]


def test_twap_targets_are_floors_of_equal_shares() -> None:
    ts = np.array([0, 61 * S, 130 * S])
    assert twap_targets(ts, 5000, 0, 130 * S).tolist() == [1666, 3333, 5000]


def test_vwap_targets_follow_displayed_size() -> None:
    ts = np.array([0, 10 * S, 70 * S, 130 * S])
    displayed = np.array([100, 200, 600, 100])
    # Buckets: {0, 10s} -> 300, {70s} -> 600, {130s} -> 100; total 1000.
    assert vwap_targets(ts, displayed, 5000, 0, 130 * S).tolist() == [1500, 1500, 4500, 5000]
    # No displayed size at all: the whole order is the target.
    assert vwap_targets(ts, np.zeros(4), 5000, 0, 130 * S).tolist() == [5000] * 4


def test_targets_follow_the_timestamps_not_the_window_length() -> None:
    # a window of 200 years has 105 million buckets; three timestamps use three of them,
    # and a large order times a late bucket passes int64
    year = 365 * 86_400 * S
    ts = np.array([0, 61 * S, 200 * year])
    n = bucket_count(0, 200 * year)
    size = 10**12
    assert n > 10**8
    assert twap_targets(ts, size, 0, 200 * year).tolist() == [
        size * 1 // n,
        size * 2 // n,
        size,
    ]
    displayed = np.array([300, 100, 600])
    assert vwap_targets(ts, displayed, size, 0, 200 * year).tolist() == [
        size * 300 // 1000,
        size * 400 // 1000,
        size,
    ]
