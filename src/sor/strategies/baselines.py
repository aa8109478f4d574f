"""Cumulative purchase targets of the baselines (SEMANTICS.md section 5).

Every baseline sweeps best asks up to a target; they differ only in the target each
timestamp allows, which is computed here as an array aligned with the distinct timestamps.
"""

from __future__ import annotations

import numpy as np

from sor.domain import NANOS_PER_SECOND

BUCKET_NS = 60 * NANOS_PER_SECOND


def bucket_count(window_start_ns: int, window_end_ns: int) -> int:
    """Return ``n = max(1, ceil(duration / 60 s))`` for the window."""
    duration = max(0, window_end_ns - window_start_ns)
    return max(1, -(-duration // BUCKET_NS))


def bucket_index(group_ts: np.ndarray, window_start_ns: int, window_end_ns: int) -> np.ndarray:
    """Map each timestamp to its 60-second bucket; the window's very end is in the last one."""
    n = bucket_count(window_start_ns, window_end_ns)
    index = (np.asarray(group_ts, dtype=np.int64) - window_start_ns) // BUCKET_NS
    return np.clip(index, 0, n - 1)


def best_ask_targets(n_timestamps: int, order_size: int) -> np.ndarray:
    """Return the whole order as the target at every timestamp."""
    return np.full(n_timestamps, order_size, dtype=np.int64)


def twap_targets(
    group_ts: np.ndarray, order_size: int, window_start_ns: int, window_end_ns: int
) -> np.ndarray:
    """Return ``floor(S * (i + 1) / n)`` for the bucket ``i`` of each timestamp."""
    n = bucket_count(window_start_ns, window_end_ns)
    buckets = bucket_index(group_ts, window_start_ns, window_end_ns)
    return (order_size * (buckets + 1)) // n


def vwap_targets(
    group_ts: np.ndarray,
    displayed: np.ndarray,
    order_size: int,
    window_start_ns: int,
    window_end_ns: int,
) -> np.ndarray:
    """Return ``floor(S * W_i / W)`` for the bucket ``i`` of each timestamp.

    ``displayed`` is the displayed ask size summed over the venues of the state at each
    timestamp; ``W_i`` sums it over buckets ``0..i`` and ``W`` over the window. This uses
    hindsight (the whole window's volume profile). With no displayed size at all, nothing
    can be bought and the target is the whole order.
    """
    n = bucket_count(window_start_ns, window_end_ns)
    buckets = bucket_index(group_ts, window_start_ns, window_end_ns)
    per_bucket = np.zeros(n, dtype=np.int64)
    np.add.at(per_bucket, buckets, np.asarray(displayed, dtype=np.int64))
    cumulative = np.cumsum(per_bucket)
    total = int(cumulative[-1])
    if total == 0:
        return np.full(len(group_ts), order_size, dtype=np.int64)
    # Exact integer floor; Python ints avoid any overflow of S * W_i.
    by_bucket = np.array([order_size * int(w) // total for w in cumulative], dtype=np.int64)
    return by_bucket[buckets]
