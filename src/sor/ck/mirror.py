"""The sell side of model ck as the buy side of a reflected market (docs/semantics.md
section 10).

Reflecting every price about a constant ``c`` above all of them (``p -> 2c - p``), swapping
bids and asks and swapping every side (an order's book side and a trade's aggressor) turns
selling into buying: the best bid becomes the best ask, a limit sell resting at the ask
becomes a limit buy resting at the bid, and buy trades at the ask become sell trades at the
bid. The buy machinery then runs unchanged, and its fills map back exactly in integers: a
share bought at ``p'`` was sold at ``2c - p'``, so ``Q`` shares that cost ``cash'`` yield
``2c * Q - cash'``, fees and rebates included.
"""

from __future__ import annotations

import numpy as np

from sor.core.domain import NANOS_PER_DOLLAR

_SWAP_SIDE = {b"A": b"B", b"B": b"A"}


def mirror_constant(events: np.ndarray) -> int:
    """Return ``2c`` in nano-dollars: ``c`` is the first whole dollar above every price."""
    highest = 0
    for name in ("price", "bid_px", "ask_px", "cut_px"):
        if len(events):
            highest = max(highest, int(events[name].max()))
    return 2 * (highest // NANOS_PER_DOLLAR + 1) * NANOS_PER_DOLLAR


def reflect_price(prices: np.ndarray, two_c: int) -> np.ndarray:
    """Return ``2c - p`` where a price is given (``p > 0``), and 0 where it is absent."""
    return np.where(prices > 0, two_c - prices, 0)


def reflect_events(events: np.ndarray, two_c: int, *, in_place: bool = False) -> np.ndarray:
    """Return the events of the reflected market (same dtype): every book level of one side
    becomes the same level of the other, so a marketable sell sweeps the bids across venues
    and levels as a buy sweeps the asks. With ``in_place``, ``events`` themselves become the
    reflected market (a copy the caller owns: one copy of every row the less)."""
    out = events if in_place else events.copy()
    # the bids and sides as they were, before any is written over
    bid_px, bid_sz = reflect_price(events["bid_px"], two_c), events["bid_sz"].copy()
    side = events["side"].copy()
    out["price"] = reflect_price(events["price"], two_c)
    out["bid_px"] = reflect_price(events["ask_px"], two_c)
    out["bid_sz"] = events["ask_sz"]
    out["ask_px"] = bid_px
    out["ask_sz"] = bid_sz
    out["cut_px"] = reflect_price(events["cut_px"], two_c)
    out["side"] = side
    for old, new in _SWAP_SIDE.items():
        out["side"][side == old] = new
    return out


def proceeds(two_c: int, quantity: int, reflected_cash: int) -> int:
    """Return what ``quantity`` shares sold for, from their cost in the reflected market."""
    return two_c * quantity - reflected_cash
