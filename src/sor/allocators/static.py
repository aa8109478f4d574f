"""The static Cont-Kukanov allocator of SEMANTICS.md section 4, exact and fast.

The rule enumerates splits in multiples of 100 shares, each venue capped by its available
size, keeps those summing exactly to the order and takes the least cost, ties going to the
lexicographically smallest split. Since no venue is ever sent more than it shows, every
candidate executes in full: underfill, overfill and the rebate term are always zero, so the
cost of a candidate is ``sum q_v (ask_v + fee_v)`` and the penalties never change the winner.

That makes the problem a bounded linear one over 100-share units:
- the least cost is a greedy fill of the cheapest units;
- the lexicographically smallest tied split is built venue by venue: venue ``i`` takes the
  smallest quantity whose best completion (the greedy fill of the later venues) keeps the
  total within the tie tolerance. The cost is convex in that quantity and changes linearly
  within each later venue's block of units, so one pass over the blocks finds it:
  O(n^2) per call for n venues, against the enumeration's exponential count.

Arithmetic is in integer nano-dollars, which makes the tolerance test exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from sor.domain import STEP, VenueQuote, dollars_to_nanos
from sor.errors import ConfigError

_INT64_SAFE = 9_000_000_000_000_000_000


@dataclass(frozen=True)
class Allocation:
    """The chosen split (shares per venue, in the given venue order) and its cost in dollars.

    ``split`` is empty and ``cost`` is None when no candidate split exists.
    """

    split: tuple[int, ...]
    cost: float | None


@numba.njit(cache=True, nogil=True)
def static_split(
    order_size: int,
    ask_nanos: np.ndarray,
    ask_sizes: np.ndarray,
    fee_nanos: np.ndarray,
    out_split: np.ndarray,
) -> int:
    """Write the rule's split of ``order_size`` into ``out_split``; return its cost.

    Venues are given in ascending publisher_id order. ``ask_nanos`` and ``fee_nanos`` are
    nano-dollars per share, ``ask_sizes`` shares available. The cost is in nano-dollars;
    -1 (with ``out_split`` zeroed) means no split sums to ``order_size``.
    """
    n = len(ask_nanos)
    units = order_size // STEP
    unit_cost = np.empty(n, dtype=np.int64)
    cap = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    total_cap = 0
    for i in range(n):
        out_split[i] = 0
        unit_cost[i] = (ask_nanos[i] + fee_nanos[i]) * STEP
        cap[i] = min(max(ask_sizes[i], 0) // STEP, units)
        total_cap += cap[i]
        # insertion sort by unit cost: n is a handful of venues
        j = i
        while j > 0 and unit_cost[order[j - 1]] > unit_cost[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    if total_cap < units:
        return -1
    least = 0
    left = units
    for k in range(n):
        take = min(left, cap[order[k]])
        least += take * unit_cost[order[k]]
        left -= take
    bound = least + max(1, abs(least) // 1_000_000_000)

    prefix = 0
    remaining = units
    later = np.empty(n, dtype=np.int64)
    for i in range(n):
        # later venues in ascending unit cost, and the greedy fill of what venue i leaves
        m = 0
        later_cap = 0
        for k in range(n):
            if order[k] > i:
                later[m] = order[k]
                later_cap += cap[order[k]]
                m += 1
        q = max(0, remaining - later_cap)
        q_hi = min(cap[i], remaining)
        fill = remaining - q
        completion = 0
        block = -1
        used = 0
        for k in range(m):
            if fill == 0:
                break
            take = min(fill, cap[later[k]])
            if take > 0:
                completion += take * unit_cost[later[k]]
                fill -= take
                block = k
                used = take
        cost = prefix + q * unit_cost[i] + completion
        # move units from the dearest used later block to venue i until within the bound
        while cost > bound and q < q_hi and block >= 0:
            saving = unit_cost[later[block]] - unit_cost[i]
            if saving <= 0:
                break
            movable = min(used, q_hi - q)
            need = (cost - bound + saving - 1) // saving
            step = min(need, movable)
            q += step
            cost -= step * saving
            used -= step
            if used == 0:
                block -= 1
                while block >= 0 and cap[later[block]] == 0:
                    block -= 1
                if block >= 0:
                    used = cap[later[block]]
        out_split[i] = q * STEP
        prefix += q * unit_cost[i]
        remaining -= q
    return prefix


def validate_order_size(order_size: int, step: int = STEP) -> None:
    """Raise ``ConfigError`` unless ``order_size`` is a positive multiple of ``step``."""
    if isinstance(order_size, bool) or not isinstance(order_size, int | np.integer):
        raise ConfigError(f"order size must be an integer number of shares, got {order_size!r}")
    if order_size <= 0 or order_size % step:
        raise ConfigError(
            f"order size must be a positive multiple of {step} shares, got {order_size}"
        )


def split_cost(
    split: Sequence[int],
    venues: Sequence[VenueQuote],
    order_size: int,
    lambda_over: float,
    lambda_under: float,
    theta_queue: float,
) -> float:
    """Return the rule's cost of ``split`` in dollars, summed in venue order as floats."""
    executed = 0
    cash = 0.0
    for sent, venue in zip(split, venues, strict=True):
        done = min(sent, venue.ask_size)
        executed += done
        cash += done * (venue.ask + venue.fee)
        cash -= max(sent - done, 0) * venue.rebate
    underfill = max(order_size - executed, 0)
    overfill = max(executed - order_size, 0)
    return (
        cash
        + theta_queue * (underfill + overfill)
        + lambda_under * underfill
        + lambda_over * overfill
    )


def allocate(
    order_size: int,
    venues: Sequence[VenueQuote],
    lambda_over: float = 0.0,
    lambda_under: float = 0.0,
    theta_queue: float = 0.0,
    step: int = STEP,
) -> Allocation:
    """Split ``order_size`` shares across ``venues`` (ascending publisher_id) by the rule.

    The penalties are accepted for the rule's signature; they cannot change the result
    (see the module's docstring). The returned cost is computed from the split exactly as
    the brute-force reference computes it.
    """
    if step != STEP:
        raise ConfigError(f"the allocator works in steps of {STEP} shares, got step={step}")
    validate_order_size(order_size, step)
    if not venues:
        return Allocation((), None)
    ask = np.array([dollars_to_nanos(v.ask) for v in venues], dtype=np.int64)
    fee = np.array([dollars_to_nanos(v.fee) for v in venues], dtype=np.int64)
    if order_size * int(np.max(np.abs(ask + fee))) >= _INT64_SAFE // STEP:
        raise ConfigError("order size times price is too large for exact arithmetic")
    size = np.array([v.ask_size for v in venues], dtype=np.int64)
    out = np.zeros(len(venues), dtype=np.int64)
    if static_split(order_size, ask, size, fee, out) < 0:
        return Allocation((), None)
    split = tuple(int(q) for q in out)
    cost = split_cost(split, venues, order_size, lambda_over, lambda_under, theta_queue)
    return Allocation(split, cost)
