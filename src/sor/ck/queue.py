"""A queue-aware simulator of limit and marketable buy orders on MBP events (model ck).

The rules, each pinned by a test and compared order by order with hftbacktest's
``RiskAdverseQueueModel`` (docs/ck.md, "Queue simulator rules"):

- Books. A venue's book is the one of its last row that :func:`sor.data.events.complete_books`
  marks (``F_LAST`` set, not a trade row); rows inside an event and trade rows, which carry
  the book before the trade, never replace it.
- Joining. A limit buy joins the back of its venue's best bid as the book stands when it
  arrives: the level's displayed size is ahead of it.
- Trades. A sell trade (side ``A``, or side ``N`` at or below the row's best bid) at the
  order's price takes the queue ahead first and then fills the order; one below its price
  fills it whole. A trade's drop of the level, shown by the venue's next complete book, is
  not counted again (the probabilistic model subtracts the traded size from the drop).
- Level changes. The order's level is tracked on every level the data shows (MBP-10: ten),
  not only while it is the best bid. When it shrinks (a cancellation, or a size cut on an
  ``M`` row) the queue model moves the order: ``CONSERVATIVE`` only so far that no more is
  ahead than the level shows; ``PROBABILISTIC`` also by the share ``ahead / level`` of the
  decrease not explained by trades. A level gone from a visible range (the bid fell below
  the order's price) leaves nothing ahead; a level beyond the visible ones is left as it was.
- Crossing asks. When the venue's asks come down to or through the order's price, a
  seller meets it there: the order fills ``min(remainder, ask size at or below its price)``
  at its price; more is filled only as that size grows (``crossing_fill`` ``DISPLAYED``,
  the default). ``WHOLE`` fills the whole remainder at once instead, as hftbacktest's
  exchange models do.
- Fractions. The queue position is a real number: what a trade leaves after the queue
  ahead carries over to the next trade instead of being dropped.
- Marketable orders sweep displayed asks across venues and levels (MBP-10 depth where the
  data has it), cheapest first, consuming liquidity as in docs/semantics.md: what we took
  at a venue is gone until that venue's next complete book.
Passive fills earn the venue's rebate; marketable fills pay its fee. Orders reach the book
after the order-entry latency and act on the book as it then stands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from sor.data.events import F_LAST
from sor.static.replay import sweep_orders

CONSERVATIVE = 0
PROBABILISTIC = 1
QUEUE_MODELS = {"conservative": CONSERVATIVE, "probabilistic": PROBABILISTIC}

DISPLAYED = 0
WHOLE = 1
CROSSING_FILLS = {"displayed": DISPLAYED, "whole": WHOLE}
"""What a resting buy gets when the asks cross its price: at most the ask size displayed at
or below it (``DISPLAYED``), or its whole remainder (``WHOLE``, hftbacktest's rule)."""


def crossing_fill_entry(crossing_fill: int) -> dict[str, str]:
    """Return the report's record of ``crossing_fill``: nothing for the default
    (``DISPLAYED``), so that default reports stay as they were, else its name."""
    if crossing_fill == DISPLAYED:
        return {}
    return {"crossing_fill": {v: k for k, v in CROSSING_FILLS.items()}[crossing_fill]}


AT_PRICE, THROUGH, CROSSED, MARKET = 0, 1, 2, 3
"""How a fill came: a sell trade at the order's price, one below it, asks come down to the
order's price, or a marketable order (:func:`sweep`)."""

_TRADE = ord("T")
_FILL = ord("F")
_SELL = ord("A")
_NONE = ord("N")


@dataclass
class Book:
    """The latest complete book per venue (index = position in ``venues``) and our state."""

    venues: np.ndarray
    bid_px: np.ndarray  # (venues, levels), 0 where the level is absent
    bid_sz: np.ndarray
    ask_px: np.ndarray
    ask_sz: np.ndarray
    consumed: np.ndarray  # (venues, levels): what our marketable orders took since the row
    limit_px: np.ndarray  # our resting limit buy per venue (0: none)
    limit_qty: np.ndarray
    ahead: np.ndarray  # float: shares ahead of our order in the queue (< 0: owed to us)
    level: np.ndarray  # float: our level's size as last seen
    traded: np.ndarray  # float: traded at our price since our level was last seen
    crossed: np.ndarray  # shares taken from asks at or below our price while they cross it

    @classmethod
    def empty(cls, venues: np.ndarray, levels: int) -> Book:
        """Return a book with no quotes and no orders."""
        n = len(venues)
        return cls(
            venues=venues,
            bid_px=np.zeros((n, levels), np.int64),
            bid_sz=np.zeros((n, levels), np.int64),
            ask_px=np.zeros((n, levels), np.int64),
            ask_sz=np.zeros((n, levels), np.int64),
            consumed=np.zeros((n, levels), np.int64),
            limit_px=np.zeros(n, np.int64),
            limit_qty=np.zeros(n, np.int64),
            ahead=np.zeros(n, np.float64),
            level=np.zeros(n, np.float64),
            traded=np.zeros(n, np.float64),
            crossed=np.zeros(n, np.int64),
        )

    def rest(self, venue: int, quantity: int) -> None:
        """Rest a limit buy of ``quantity`` at the back of ``venue``'s best bid as it stands."""
        if quantity > 0 and self.bid_px[venue, 0] > 0:
            self.limit_px[venue] = self.bid_px[venue, 0]
            self.limit_qty[venue] = quantity
            self.ahead[venue] = self.level[venue] = float(self.bid_sz[venue, 0])
            self.traded[venue] = 0.0
            self.crossed[venue] = 0


@numba.njit(cache=True, nogil=True)
def _level_size(px, prices, sizes):
    """Return the size at ``px`` among bid levels ``prices``, 0 where the visible range shows
    no such level, -1 where ``px`` lies beyond the visible levels."""
    deepest = 0
    for k in range(len(prices)):
        if prices[k] <= 0:
            break
        if prices[k] == px:
            return sizes[k]
        deepest = prices[k]
    if deepest > 0 and px < deepest:
        return -1
    return 0


@numba.njit(cache=True, nogil=True)
def _queue_after_change(ahead, prev, new, traded, queue_model):
    """Return the queue ahead after our level went from ``prev`` to ``new`` shares, of which
    ``traded`` is explained by trades already applied (hftbacktest's model, n = 1)."""
    change = prev - new - traded
    if queue_model == PROBABILISTIC and change > 0 and prev > 0:
        front = ahead
        back = prev - front
        # the share of the decrease behind us: back / (front + back)
        behind = back / (front + back) if front + back > 0 else 1.0
        ahead = front - (1.0 - behind) * change + min(back - behind * change, 0.0)
    return min(ahead, new)


@numba.njit(cache=True, nogil=True)
def _crossing_size(px, prices, sizes):
    """Return the displayed ask size at or below ``px``."""
    total = 0
    for k in range(len(prices)):
        if 0 < prices[k] <= px:
            total += sizes[k]
    return total


@numba.njit(cache=True, nogil=True)
def _advance(
    ts, venue, action, side, flags, price, size, bid_px_ev, bid_sz_ev, ask_px_ev, ask_sz_ev,
    start, until_ns, bid_px, bid_sz, ask_px, ask_sz, consumed, limit_px, limit_qty, ahead,
    level, traded, crossed, queue_model, crossing_fill, room, out_ts, out_venue, out_qty, out_px,
    out_kind,
):  # fmt: skip
    """Apply events from index ``start`` while ``ts <= until_ns``; fill resting orders
    (``crossing_fill``: what asks crossing an order's price fill, see :data:`CROSSING_FILLS`).

    ``room`` caps the shares the resting orders may still buy in total (the order's
    remainder); once it is used up every resting order is cancelled. Returns the next
    event index and the number of fills written.
    """
    n = len(ts)
    i = start
    fills = 0
    while i < n and ts[i] <= until_ns:
        v = venue[i]
        px = limit_px[v]
        resting = limit_qty[v] > 0 and room > 0
        got = 0
        kind = AT_PRICE
        if action[i] == _TRADE or action[i] == _FILL:
            # the row's book is the one before the trade: it never replaces the venue's book
            sell = side[i] == _SELL or (
                side[i] == _NONE and 0 < price[i] <= bid_px_ev[i, 0] and bid_px_ev[i, 0] > 0
            )
            if resting and action[i] == _TRADE and sell:
                if price[i] == px:
                    ahead[v] -= size[i]
                    traded[v] += size[i]
                    if ahead[v] <= -1.0:
                        got = min(int(-ahead[v]), limit_qty[v])
                elif 0 < price[i] < px:
                    got = limit_qty[v]
                    kind = THROUGH
        elif flags[i] & F_LAST:
            if resting:
                new = _level_size(px, bid_px_ev[i], bid_sz_ev[i])
                if new >= 0:
                    ahead[v] = _queue_after_change(ahead[v], level[v], float(new), traded[v],
                                                   queue_model)  # fmt: skip
                    level[v] = new
                    traded[v] = 0.0
                if 0 < ask_px_ev[i, 0] <= px:
                    if crossing_fill == WHOLE:
                        fresh = limit_qty[v]
                    else:
                        fresh = _crossing_size(px, ask_px_ev[i], ask_sz_ev[i]) - crossed[v]
                    if fresh > 0:
                        got = min(fresh, limit_qty[v])
                        crossed[v] += got
                        kind = CROSSED
                else:
                    crossed[v] = 0
            for k in range(ask_px.shape[1]):
                bid_px[v, k] = bid_px_ev[i, k]
                bid_sz[v, k] = bid_sz_ev[i, k]
                ask_px[v, k] = ask_px_ev[i, k]
                ask_sz[v, k] = ask_sz_ev[i, k]
                consumed[v, k] = 0
        got = min(got, room)
        if got > 0:
            limit_qty[v] -= got
            room -= got
            if kind == AT_PRICE:
                ahead[v] += got  # what the trade left beyond our fill stays owed to us
            out_ts[fills] = ts[i]
            out_venue[fills] = v
            out_qty[fills] = got
            out_px[fills] = px
            out_kind[fills] = kind
            fills += 1
        if room <= 0:
            for u in range(len(limit_qty)):
                limit_qty[u] = 0
        i += 1
    return i, fills


@dataclass(frozen=True)
class Fills:
    """Fills as parallel arrays: time (ns), venue index, shares, price (nano-dollars), and how
    each came (``AT_PRICE``, ``THROUGH``, ``CROSSED``, ``MARKET``)."""

    ts: np.ndarray
    venue: np.ndarray
    qty: np.ndarray
    px: np.ndarray
    kind: np.ndarray


def advance(
    events: np.ndarray,
    start: int,
    until_ns: int,
    book: Book,
    queue_model: int,
    room: int,
    crossing_fill: int = DISPLAYED,
) -> tuple[int, Fills]:
    """Apply events up to ``until_ns`` to ``book``; return the next index and passive fills
    (``queue_model`` one of :data:`QUEUE_MODELS`, ``crossing_fill`` of :data:`CROSSING_FILLS`)."""
    # at most one fill per event, and each fill buys at least one share
    capacity = max(1, min(len(events) - start, int(book.limit_qty.sum())))
    out = [np.empty(capacity, np.int64) for _ in range(5)]
    nxt, count = _advance(
        events["ts_event"], events["venue"], events["action"].view(np.uint8),
        events["side"].view(np.uint8), events["flags"], events["price"], events["size"],
        events["bid_px"], events["bid_sz"], events["ask_px"], events["ask_sz"], start,
        until_ns, book.bid_px, book.bid_sz, book.ask_px, book.ask_sz, book.consumed,
        book.limit_px, book.limit_qty, book.ahead, book.level, book.traded, book.crossed,
        queue_model, crossing_fill, room, *out,
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
    return Fills(
        np.zeros(n, np.int64), where // levels, qty, px[where].copy(),
        np.full(n, MARKET, np.int64),
    )  # fmt: skip
