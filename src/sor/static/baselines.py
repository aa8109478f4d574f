"""Cumulative purchase targets of the baselines (docs/semantics.md section 6).

Every baseline sweeps best asks up to a target; they differ only in the target each
timestamp allows, which is computed here as an array aligned with the distinct timestamps.
"""

from __future__ import annotations

import numpy as np

from sor.core.domain import NANOS_PER_SECOND

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
    occupied, which = _occupied(group_ts, window_start_ns, window_end_ns)
    # Python ints: S * (i + 1) may pass int64 for a large order over a long window
    return _per_timestamp([order_size * (int(i) + 1) // n for i in occupied], which)


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
    occupied, which = _occupied(group_ts, window_start_ns, window_end_ns)
    per_bucket = np.zeros(len(occupied), dtype=np.int64)
    np.add.at(per_bucket, which, np.asarray(displayed, dtype=np.int64))
    cumulative = np.cumsum(per_bucket)  # empty buckets add nothing: occupied ones suffice
    total = int(cumulative[-1]) if len(cumulative) else 0
    if total == 0:
        return np.full(len(group_ts), order_size, dtype=np.int64)
    # Exact integer floor; Python ints avoid any overflow of S * W_i.
    return _per_timestamp([order_size * int(w) // total for w in cumulative], which)


def _occupied(
    group_ts: np.ndarray, window_start_ns: int, window_end_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the buckets that hold a timestamp, ascending, and each timestamp's place in
    them. Work and memory follow the timestamps, not the window's length: a window of
    years has as many buckets as a minute's worth of rows. The timestamps ascend, so the
    buckets do: a change of bucket starts the next place."""
    buckets = bucket_index(group_ts, window_start_ns, window_end_ns)
    if not len(buckets):
        return buckets, buckets
    which = np.zeros(len(buckets), dtype=np.int64)
    np.cumsum(buckets[1:] != buckets[:-1], out=which[1:])
    occupied = buckets[np.flatnonzero(np.diff(which, prepend=-1))]
    return occupied, which


def _per_timestamp(targets: list[int], which: np.ndarray) -> np.ndarray:
    return np.array(targets, dtype=np.int64).reshape(-1)[which]
