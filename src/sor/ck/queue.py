"""A queue-aware simulator of limit and marketable buy orders on MBP events (model ck).

Rules (docs/ck.md, what the simulator must model):
- A limit buy joins the back of its venue's best-bid queue when it arrives: the displayed
  bid size is ahead of it.
- A sell trade at the order's price consumes the queue ahead first, then fills the order;
  a sell trade below its price trades through it and fills it.
- Size that leaves the order's level without a trade (a cancellation) advances the order
  according to the queue model: ``CONSERVATIVE`` puts every cancellation behind us (only
  the level shrinking below our place moves us up); ``PROBABILISTIC`` takes the share of a
  cancellation that is ahead of us as ``ahead / level size`` (the expectation of a uniform
  position of the cancelled order, applied deterministically).
- When the bid falls below the order's price without a trade, the order is alone at the
  top: nothing is ahead of it.
- Marketable orders sweep displayed asks across venues and levels (MBP-10 depth where the
  data has it), cheapest first, consuming liquidity as in docs/semantics.md: what we took at a
  venue is gone until that venue's next row.
Passive fills earn the venue's rebate; marketable fills pay its fee. Orders reach the book
after the order-entry latency and act on the book as it then stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sor.static.replay import sweep_orders

CONSERVATIVE = 0
PROBABILISTIC = 1
QUEUE_MODELS = {"conservative": CONSERVATIVE, "probabilistic": PROBABILISTIC}

_TRADE = ord("T")
_CANCEL = ord("C")
_SELL = ord("A")
_BID = ord("B")


@dataclass
class Book:
    """The latest top of book per venue (index = position in ``venues``) and our state."""

    venues: np.ndarray
    bid_px: np.ndarray
    bid_sz: np.ndarray
    ask_px: np.ndarray  # (venues, levels)
    ask_sz: np.ndarray
    consumed: np.ndarray  # (venues, levels): what our marketable orders took since the row
    limit_px: np.ndarray  # our resting limit buy per venue (0: none)
    limit_qty: np.ndarray
    ahead: np.ndarray  # float: shares ahead of our order in the queue

    @classmethod
    def empty(cls, venues: np.ndarray, levels: int) -> Book:
        """Return a book with no quotes and no orders."""
        n = len(venues)
        return cls(
            venues=venues,
            bid_px=np.zeros(n, np.int64),
            bid_sz=np.zeros(n, np.int64),
            ask_px=np.zeros((n, levels), np.int64),
            ask_sz=np.zeros((n, levels), np.int64),
            consumed=np.zeros((n, levels), np.int64),
            limit_px=np.zeros(n, np.int64),
            limit_qty=np.zeros(n, np.int64),
            ahead=np.zeros(n, np.float64),
        )


@numba.njit(cache=True, nogil=True)
def _advance(
    ts, venue, action, side, price, size, bid_px_ev, bid_sz_ev, ask_px_ev, ask_sz_ev,
    start, until_ns, bid_px, bid_sz, ask_px, ask_sz, consumed, limit_px, limit_qty, ahead,
    queue_model, room, out_ts, out_venue, out_qty, out_px,
):  # fmt: skip
    """Apply events from index ``start`` while ``ts <= until_ns``; fill resting orders.

    ``room`` caps the shares the resting orders may still buy in total (the order's
    remainder); once it is used up every resting order is cancelled. Returns the next
    event index and the number of fills written.
    """
    n = len(ts)
    i = start
    fills = 0
    while i < n and ts[i] <= until_ns:
        v = venue[i]
        if limit_qty[v] > 0 and room > 0:
            px = limit_px[v]
            got = 0
            if action[i] == _TRADE and side[i] == _SELL:
                if price[i] == px:
                    used = min(float(size[i]), ahead[v])
                    ahead[v] -= used
                    got = min(int(size[i] - used), limit_qty[v])
                elif 0 < price[i] < px:
                    got = limit_qty[v]
            elif (
                action[i] == _CANCEL
                and side[i] == _BID
                and price[i] == px
                and queue_model == PROBABILISTIC
                and bid_px[v] == px
                and bid_sz[v] > 0
            ):
                # the level before this row: ``bid_sz`` still holds it; a cancelled order is
                # ahead of us with probability ahead / level
                ahead[v] = max(0.0, ahead[v] - size[i] * ahead[v] / max(float(bid_sz[v]), ahead[v]))
            got = min(got, room)
            if got > 0:
                limit_qty[v] -= got
                room -= got
                out_ts[fills] = ts[i]
                out_venue[fills] = v
                out_qty[fills] = got
                out_px[fills] = px
                fills += 1
        bid_px[v] = bid_px_ev[i]
        bid_sz[v] = bid_sz_ev[i]
        for k in range(ask_px.shape[1]):
            ask_px[v, k] = ask_px_ev[i, k]
            ask_sz[v, k] = ask_sz_ev[i, k]
            consumed[v, k] = 0
        if limit_qty[v] > 0:
            if bid_px[v] < limit_px[v]:
                ahead[v] = 0.0  # the level emptied: our order is alone at the top
            elif bid_px[v] == limit_px[v]:
                ahead[v] = min(ahead[v], float(bid_sz[v]))  # cannot be more than shown
        if room <= 0:
            for u in range(len(limit_qty)):
                limit_qty[u] = 0
        i += 1
    return i, fills


@dataclass(frozen=True)
class Fills:
    """Fills as parallel arrays: time (ns), venue index, shares, price (nano-dollars)."""

    ts: np.ndarray
    venue: np.ndarray
    qty: np.ndarray
    px: np.ndarray


def advance(
    events: np.ndarray, start: int, until_ns: int, book: Book, queue_model: int, room: int
) -> tuple[int, Fills]:
    """Apply events up to ``until_ns`` to ``book``; return the next index and passive fills."""
    # at most one fill per event, and each fill buys at least one share
    capacity = max(1, min(len(events) - start, int(book.limit_qty.sum())))
    out = [np.empty(capacity, np.int64) for _ in range(4)]
    nxt, count = _advance(
        events["ts_event"], events["venue"], events["action"].view(np.uint8), events["side"].view(np.uint8),
        events["price"], events["size"], events["bid_px"], events["bid_sz"], events["ask_px"],
        events["ask_sz"], start, until_ns, book.bid_px, book.bid_sz, book.ask_px, book.ask_sz,
        book.consumed, book.limit_px, book.limit_qty, book.ahead, queue_model, room, *out,
    )  # fmt: skip
    return int(nxt), Fills(*(a[:count] for a in out))


def attach_venues(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the events with a ``venue`` index column, and the venues (ascending ids)."""
    venues = np.unique(events["publisher_id"])
    dtype = np.dtype([*(events.dtype.descr), ("venue", np.int64)])
    out = np.empty(len(events), dtype=dtype)
    for name in events.dtype.names or ():
        out[name] = events[name]
    out["venue"] = np.searchsorted(venues, events["publisher_id"])
    return out, venues.astype(np.int64)


def sweep(book: Book, quantity: int) -> Fills:
    """Buy ``quantity`` with marketable orders across venues and levels, cheapest first.

    Ties in price go to the lower publisher id, then the nearer level. What is taken is
    consumed until the venue's next row. Fills are at each level's price (the fee is
    charged by the caller); less than ``quantity`` is bought when the book runs dry.
    """
    # the (venue, level) quotes flattened row by row: position order is (venue, level)
    px, size = book.ask_px.ravel(), book.ask_sz.ravel()
    consumed = book.consumed.reshape(-1)  # a view: what is taken stays taken in the book
    slots = np.empty(len(px), np.int64)
    out_where, out_qty = np.empty(len(px), np.int64), np.empty(len(px), np.int64)
    n = sweep_orders(quantity, px, size, consumed, slots, out_where, out_qty, False)
    where, qty = out_where[:n], out_qty[:n].copy()
    np.add.at(consumed, where, qty)
    levels = book.ask_px.shape[1]
    return Fills(np.zeros(n, np.int64), where // levels, qty, px[where].copy())
