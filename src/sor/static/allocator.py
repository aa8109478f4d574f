"""The static Cont-Kukanov allocator of docs/semantics.md section 5, exact and fast.

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

Arithmetic is in integer nano-dollars, which makes the tolerance test exact. Costs are kept
relative to the cheapest venue (every candidate holds the same shares), so an order whose
notional passes int64 nano-dollars is still split exactly; ``check_notional`` states the bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numba
import numpy as np

from sor.core.domain import (
    MAX_ORDER_SIZE,
    NANOS_PER_DOLLAR,
    STEP,
    VenueQuote,
    dollars_to_nanos,
    nanos_to_dollars,
)
from sor.core.errors import ConfigError, SorError

_NOTIONAL_LIMIT = 2**62
"""Bound on ``shares * whole dollars per share``: what the exact arithmetic holds."""


@dataclass(frozen=True)
class Allocation:
    """The chosen split (shares per venue, in the given venue order) and its cost in dollars.

    ``split`` is empty and ``cost`` is None when no candidate split exists.
    """

    split: tuple[int, ...]
    cost: float | None


NO_SPLIT = -1
"""``static_split`` status: no split sums to the order."""
TOO_LARGE = -2
"""``static_split`` status: the venues' cost spread times the order does not fit int64."""
_RELATIVE_LIMIT = 4_000_000_000_000_000_000
"""Bound on relative costs (nano-dollars), leaving room for the tie tolerance's sum."""


@numba.njit(cache=True, nogil=True)
def _tie_tolerance(shares: int, base_cost: int, relative_least: int) -> int:
    """Return ``max(1, floor(|least| / 1e9))`` in nano-dollars, where the least cost is
    ``shares * base_cost + relative_least``, without forming that product (it may pass
    int64). ``relative_least >= 0``; ``base_cost`` is negative on the sell side (the unit
    cost ``fee - bid``). The caller bounds ``shares * (|base_cost| // 1e9 + 1)`` and
    ``relative_least``."""
    giga = 1_000_000_000
    whole, part = base_cost // giga, base_cost % giga  # floor division: 0 <= part < 1e9
    high, low = shares // giga, shares % giga
    # shares * base_cost / 1e9 = shares * whole + high * part + low * part / 1e9
    exact = shares * whole + high * part
    rest = low * part + relative_least
    floor = exact + rest // giga
    if floor >= 0:
        return max(1, floor)
    # a negative least (money received): |least| / 1e9 rounds down to -ceil(least / 1e9)
    return max(1, -(exact - ((-rest) // giga)))


@numba.njit(cache=True, nogil=True)
def static_split(
    order_size: int,
    ask_nanos: np.ndarray,
    ask_sizes: np.ndarray,
    fee_nanos: np.ndarray,
    out_split: np.ndarray,
    sell: bool = False,
) -> int:
    """Write the rule's split of ``order_size`` into ``out_split``; return a status.

    Venues are given in ascending publisher_id order. ``ask_nanos`` and ``fee_nanos`` are
    nano-dollars per share (``ask + fee > 0``), ``ask_sizes`` shares available. With
    ``sell`` the prices are bids and the unit cost is ``fee - bid`` (docs/semantics.md
    section 10): least cost is most proceeds. Returns 0
    when a split was written; ``NO_SPLIT`` (with ``out_split`` zeroed) when no split sums to
    ``order_size``; ``TOO_LARGE`` when the spread of the venues' costs times the order
    passes what int64 holds exactly.

    Every candidate holds exactly ``order_size`` shares, so costs are kept relative to the
    cheapest venue's price: the order's notional may pass int64 nano-dollars (9.2e9 $)
    while the arithmetic stays exact. Only the tie tolerance needs the absolute least cost,
    and ``_tie_tolerance`` forms it in parts. The caller bounds
    ``order_size * (max(ask + fee) // 1e9 + 1)`` below 2**62.
    """
    n = len(ask_nanos)
    units = order_size // STEP
    unit_cost = np.empty(n, dtype=np.int64)
    cap = np.empty(n, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    sign = -1 if sell else 1
    base = sign * ask_nanos[0] + fee_nanos[0] if n else 0
    for i in range(n):
        base = min(base, sign * ask_nanos[i] + fee_nanos[i])
    total_cap = 0
    for i in range(n):
        out_split[i] = 0
        spread = sign * ask_nanos[i] + fee_nanos[i] - base
        if units > 0 and spread > _RELATIVE_LIMIT // (units * STEP):
            return TOO_LARGE
        unit_cost[i] = spread * STEP
        cap[i] = min(max(ask_sizes[i], 0) // STEP, units)
        total_cap += cap[i]
        # insertion sort by unit cost: n is a handful of venues
        j = i
        while j > 0 and unit_cost[order[j - 1]] > unit_cost[i]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
    if total_cap < units:
        return NO_SPLIT
    least = 0
    left = units
    for k in range(n):
        take = min(left, cap[order[k]])
        least += take * unit_cost[order[k]]
        left -= take
    bound = least + _tie_tolerance(units * STEP, base, least)

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
    return 0


def check_notional(order_size: int, max_unit_cost_nanos: int, min_unit_cost_nanos: int) -> None:
    """Raise ``SorError`` unless ``order_size`` shares at the dearest price plus fee can be
    summed exactly, and every price plus fee is positive.

    Both are checked once, before a replay. The bound, ``order_size * (max // 1e9 + 1)``
    below 2**62, allows for instance 10**12 shares at 4.6 million $ per share: money is
    exact far beyond 1e12 $ of notional, and past it the run stops instead of wrapping.
    """
    if min_unit_cost_nanos <= 0:
        raise SorError(
            f"an ask plus its taker fee is {nanos_to_dollars(min_unit_cost_nanos)} $ per share; "
            "the router needs every price plus fee to be positive"
        )
    if order_size * (max_unit_cost_nanos // NANOS_PER_DOLLAR + 1) >= _NOTIONAL_LIMIT:
        raise SorError(
            f"order size {order_size} times the dearest ask plus fee in the data "
            f"({nanos_to_dollars(max_unit_cost_nanos):.9g} $) is "
            f"{order_size * max_unit_cost_nanos / NANOS_PER_DOLLAR:.3g} $, beyond what the "
            f"backtest sums exactly ({_NOTIONAL_LIMIT:.3g} share-dollars); use a smaller "
            "order or check the prices"
        )


def too_large_message(order_size: int) -> str:
    """The message for ``TOO_LARGE``: the venues' price spread times the order."""
    return (
        f"the spread of the venues' asks plus fees times the order ({order_size} shares) "
        f"passes {_RELATIVE_LIMIT:.2g} nano-dollars, beyond exact arithmetic; use a smaller "
        "order or check the prices"
    )


def validate_order_size(order_size: int, step: int = STEP) -> None:
    """Raise ``ConfigError`` unless ``order_size`` is a positive multiple of ``step``."""
    if isinstance(order_size, bool) or not isinstance(order_size, int | np.integer):
        raise ConfigError(f"order size must be an integer number of shares, got {order_size!r}")
    if order_size <= 0 or order_size % step:
        raise ConfigError(
            f"order size must be a positive multiple of {step} shares, got {order_size}"
        )
    if order_size > MAX_ORDER_SIZE:
        raise ConfigError(f"order size must be at most {MAX_ORDER_SIZE:,} shares, got {order_size}")


def split_cost(
    split: Sequence[int],
    venues: Sequence[VenueQuote],
    order_size: int,
    lambda_over: float,
    lambda_under: float,
    theta_queue: float,
    sell: bool = False,
) -> float:
    """Return the rule's cost of ``split`` in dollars, summed in venue order as floats.

    With ``sell`` each venue's ``ask`` is its bid and a share costs ``fee - bid``."""
    executed = 0
    cash = 0.0
    for sent, venue in zip(split, venues, strict=True):
        done = min(sent, venue.ask_size)
        executed += done
        cash += done * ((venue.fee - venue.ask) if sell else (venue.ask + venue.fee))
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
    sell: bool = False,
) -> Allocation:
    """Split ``order_size`` shares across ``venues`` (ascending publisher_id) by the rule.

    With ``sell`` each venue's ``ask`` and ``ask_size`` are its bid and bid size, and a share
    costs ``fee - bid`` (docs/semantics.md section 10). The penalties are accepted for the
    rule's signature; they cannot change the result
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
    check_notional(order_size, int(np.max(ask + fee)), int(np.min(ask + fee)))
    size = np.array([v.ask_size for v in venues], dtype=np.int64)
    out = np.zeros(len(venues), dtype=np.int64)
    status = static_split(order_size, ask, size, fee, out, sell)
    if status == TOO_LARGE:
        raise SorError(too_large_message(order_size))
    if status == NO_SPLIT:
        return Allocation((), None)
    split = tuple(int(q) for q in out)
    cost = split_cost(split, venues, order_size, lambda_over, lambda_under, theta_queue, sell)
    return Allocation(split, cost)
