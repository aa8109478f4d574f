"""A queue-aware simulator of limit and marketable buy orders on market events (model ck).

The rules, each pinned by a test (docs/ck.md, "Queue simulator rules"):

- Books. A venue's book is the one of its last row that :func:`sor.data.events.complete_books`
  marks (``F_LAST`` set, not a trade or fill row); rows inside an event and trade rows,
  which carry the book before the trade, never replace it.
- Joining. A limit buy joins the back of its venue's best bid as the book stands when it
  arrives: the level's displayed size is ahead of it.
- Trades (``trade_fill``). A sell trade (side ``A``, or side ``N`` at or below the row's
  best bid) at the order's price advances the queue by the displayed drop it causes, which
  the venue's next complete book shows: the queue ahead first, then the order; a trade
  against hidden liquidity leaves the level, and so the queue, alone. A sell trade below
  the order's price fills ``min(remainder, its size)`` and leaves nothing ahead
  (``DISPLAYED``, the default). A sell trade above the row's displayed bid met hidden
  buyers inside the spread; at or below the order's price it met the order first (price
  priority; display priority at its own price, once nothing displayed is ahead) and fills
  it for its size. ``WHOLE`` is hftbacktest's rule: a trade at the order's price advances
  it by the trade's size, one below fills the whole remainder.
- Level changes. The order's level is tracked on every level the data shows (MBP-10: ten),
  not only while it is the best bid. When it shrinks for other reasons than trades (a
  cancellation, a size cut on an ``M`` row) the queue model moves the order:
  ``CONSERVATIVE`` only so far that no more is ahead than the level shows;
  ``PROBABILISTIC`` also by the share ``ahead / level`` of the decrease. A level gone from a
  visible range (the bid fell below the order's price) leaves nothing ahead; a level beyond
  the visible ones is left as it was.
- Crossing asks (``crossing_fill``). When the venue's asks come down to or through the
  order's price, a seller meets it there: the order fills ``min(remainder, ask size at or
  below its price)`` at its price; more is filled only as that size grows (``DISPLAYED``,
  the default). ``WHOLE`` fills the whole remainder at once instead, as hftbacktest's
  exchange models do.
- Fractions. The queue position is a real number: what a trade leaves after the queue
  ahead carries over to the next trade instead of being dropped.
- ``FIFO`` (venues rebuilt from their orders, :data:`sor.data.events.ORDER_LEVEL`): the
  exact price-time queue. The order joins behind every order resting at its price; cancels
  and fills of orders ahead of it (by priority stamp) advance it; a modify that raises an
  order's size or moves its price sends that order behind it; fills of orders behind it at
  its price, fills at worse prices, hidden executions at or below its price (LOBSTER's:
  price priority, then display priority at its price, the queue ahead first), and asks
  added at or below its price fill it, each for at most its own size; the queue ahead is
  never more than the level shows (orders ahead may leave unseen where the data shows a
  few levels only). Other venues use the
  ``fallback`` model.
- Marketable orders sweep displayed asks across venues and levels (MBP-10 depth where the
  data has it), cheapest first, consuming liquidity as in docs/semantics.md: what we took
  at a venue is gone until that venue's next complete book.
Passive fills earn the venue's rebate; marketable fills pay its fee. Orders reach the book
after the order-entry latency and act on the book as it then stands.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from sor.core.types import FillRule, QueueModel
from sor.data.events import (
    CUT_FILL,
    CUT_HIDDEN,
    CUT_REQUEUE,
    F_LAST,
    ORDER_LEVEL,
    ORDER_LEVEL_PART,
)
from sor.static.replay import sweep_orders

# plain integers where the compiled simulator compares them (numba folds them in)
CONSERVATIVE = int(QueueModel.CONSERVATIVE)
PROBABILISTIC = int(QueueModel.PROBABILISTIC)
FIFO = int(QueueModel.FIFO)
QUEUE_MODELS = {model.text: int(model) for model in QueueModel}
L2_QUEUE_MODELS = {name: code for name, code in QUEUE_MODELS.items() if code != FIFO}
"""The models that need no order ids: a ``FIFO`` run's venues without them use one."""

DISPLAYED = int(FillRule.DISPLAYED)
WHOLE = int(FillRule.WHOLE)
CROSSING_FILLS = {rule.text: int(rule) for rule in FillRule}
"""What a resting buy gets when the asks cross its price: at most the ask size displayed at
or below it (``DISPLAYED``), or its whole remainder (``WHOLE``, hftbacktest's rule)."""
TRADE_FILLS = CROSSING_FILLS
"""What sell trades do to a resting buy: at its price, advance it by the level's displayed
drop, below it, fill at most the trade's size (``DISPLAYED``); or advance it by the
trade's size and fill its whole remainder (``WHOLE``, hftbacktest's rules)."""


def fill_rule_entries(crossing_fill: int, trade_fill: int = DISPLAYED) -> dict[str, str]:
    """Return the report's record of the fill rules: only those that are not the default
    (``DISPLAYED``), so that default reports stay as they were, by name."""
    out = {}
    if crossing_fill != DISPLAYED:
        out["crossing_fill"] = FillRule(crossing_fill).text
    if trade_fill != DISPLAYED:
        out["trade_fill"] = FillRule(trade_fill).text
    return out


def queue_model_entries(
    queue_model: int, fallback: int, venues: np.ndarray, order_level: np.ndarray
) -> dict[str, object]:
    """Return the report's record of the queue model: its name and, for ``FIFO``, the
    fallback's and which venue (publisher id) used which."""
    out: dict[str, object] = {"queue_model": QueueModel(queue_model).text}
    if queue_model == FIFO:
        out["fallback_queue_model"] = QueueModel(fallback).text
        out["venue_queue_models"] = {
            str(int(p)): "fifo" if exact else QueueModel(fallback).text
            for p, exact in zip(venues, order_level, strict=True)
        }
    return out


AT_PRICE, THROUGH, CROSSED, MARKET = 0, 1, 2, 3
"""How a fill came: a sell at the order's price, one below it, asks come down to the
order's price, or a marketable order (:func:`sweep`)."""

_F_TOB = 64  # Databento's top-of-book flag
_TRADE = ord("T")
_FILL = ord("F")
_ADD = ord("A")
_MODIFY = ord("M")
_BID = ord("B")
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
    traded: np.ndarray  # float: sell trades at our price not yet seen in the level's drop
    crossed: np.ndarray  # shares taken from asks at or below our price while they cross it
    through: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.int64))
    """(venues, 2): sell trades below our price not yet seen in the book, and the lowest."""
    exact: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    """Per venue: 0 no order ids, :data:`FULL_VIEW` or :data:`PART_VIEW` (``FIFO``)."""
    stamp: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # our priority
    last_seq: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def empty(cls, venues: np.ndarray, levels: int, exact: np.ndarray | None = None) -> Book:
        """Return a book with no quotes and no orders; ``exact`` marks the venues whose
        queue is known order by order (:func:`order_level_venues`), for ``FIFO``: any
        non-zero value, :data:`PART_VIEW` where the data shows a few levels only."""
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
            through=np.zeros((n, 2), np.int64),
            exact=np.zeros(n, np.int8) if exact is None else np.asarray(exact, np.int8),
            stamp=np.zeros(n, np.int64),
            last_seq=np.full(n, -1, np.int64),
        )

    def rest(self, venue: int, quantity: int) -> None:
        """Rest a limit buy of ``quantity`` at the back of ``venue``'s best bid as it stands."""
        _rest(venue, quantity, self.bid_px, self.bid_sz, self.limit_px, self.limit_qty,
              self.ahead, self.level, self.traded, self.crossed, self.through, self.stamp,
              self.last_seq)  # fmt: skip

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The state arrays, in the order the compiled passes take them."""
        return (self.bid_px, self.bid_sz, self.ask_px, self.ask_sz, self.consumed,
                self.limit_px, self.limit_qty, self.ahead, self.level, self.traded,
                self.crossed, self.through, self.exact, self.stamp, self.last_seq)  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _rest(venue, quantity, bid_px, bid_sz, limit_px, limit_qty, ahead, level, traded, crossed,
          through, stamp, last_seq):  # fmt: skip
    """Rest a limit buy at the back of ``venue``'s best bid (see :meth:`Book.rest`)."""
    if quantity > 0 and bid_px[venue, 0] > 0:
        limit_px[venue] = bid_px[venue, 0]
        limit_qty[venue] = quantity
        ahead[venue] = float(bid_sz[venue, 0])
        level[venue] = float(bid_sz[venue, 0])
        traded[venue] = 0.0
        crossed[venue] = 0
        through[venue, 0] = 0
        # every order resting now has a stamp at most the venue's last one
        stamp[venue] = last_seq[venue]


FULL_VIEW, PART_VIEW = 1, 2
"""A venue ``FIFO`` sees order by order at every price, or at the levels its file shows."""


def order_level_venues(events: np.ndarray, venues: np.ndarray) -> np.ndarray:
    """Return, per venue of ``venues``, how ``FIFO`` sees it: :data:`FULL_VIEW` where every
    row of it in ``events`` (with a ``venue`` column) comes from its orders with their ids
    (:data:`sor.data.events.ORDER_LEVEL`), :data:`PART_VIEW` where they do at the levels
    the file shows (:data:`sor.data.events.ORDER_LEVEL_PART`), else 0."""
    out = np.zeros(len(venues), np.int8)
    if not len(events):
        return out
    seen = np.bincount(events["venue"], minlength=len(venues))
    for source, view in ((ORDER_LEVEL, FULL_VIEW), (ORDER_LEVEL_PART, PART_VIEW)):
        rows = np.bincount(events["venue"], weights=events["source"] == source,
                           minlength=len(venues))  # fmt: skip
        out[(seen > 0) & (rows == seen)] = view
    return out


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
def _bids_between(lo, hi, prices, sizes):
    """Return the displayed bid size at prices ``lo <= p < hi``."""
    total = 0
    for k in range(len(prices)):
        if lo <= prices[k] < hi:
            total += sizes[k]
    return total


@numba.njit(cache=True, nogil=True)
def _ask_at(px, prices, sizes):
    """Return the displayed ask size at exactly ``px``."""
    for k in range(len(prices)):
        if prices[k] == px:
            return sizes[k]
    return 0


@numba.njit(cache=True, nogil=True)
def _fifo_fill(i, px, stamp, ahead, action, side, price, size, cut, cut_px, cut_prio, cut_size):
    """Return (shares ahead that left, shares offered to us, how) for row ``i`` of an
    order-level venue, our buy resting at ``px`` with priority ``stamp`` behind ``ahead``.

    A resting order without a known place (``cut_prio < 0``: one the file never
    announced) is ahead of ours while any share is: a fill takes the front of the queue
    first, and such orders rested before the file said anything."""
    if cut[i] == CUT_HIDDEN:
        # a seller met hidden liquidity at or below our price: a displayed buy there comes
        # first (price, then display, priority), so it met ours; what is ahead goes first
        if side[i] == _SELL and 0 < cut_px[i] < px:
            return 0.0, cut_size[i], THROUGH
        if side[i] == _SELL and cut_px[i] == px:
            gone = min(float(cut_size[i]), ahead)
            return gone, cut_size[i] - int(gone), AT_PRICE
        return 0.0, 0, AT_PRICE
    if cut[i] != 0 and side[i] == _BID:
        if cut_px[i] == px and cut_prio[i] < 0:
            gone = min(float(cut_size[i]), ahead)
            behind = cut_size[i] - int(gone) if cut[i] == CUT_FILL else 0
            return gone, behind, AT_PRICE
        if cut_px[i] == px and cut_prio[i] <= stamp:
            return float(cut_size[i]), 0, AT_PRICE
        if cut[i] == CUT_FILL and cut_px[i] == px:
            return 0.0, cut_size[i], AT_PRICE  # an order behind us filled: we come first
        if cut[i] == CUT_FILL and 0 < cut_px[i] < px:
            return 0.0, cut_size[i], THROUGH  # a seller went below our price
        return 0.0, 0, AT_PRICE
    if side[i] == _SELL and 0 < price[i] <= px:
        if action[i] == _ADD:
            return 0.0, size[i], CROSSED
        if action[i] == _MODIFY and cut[i] == CUT_REQUEUE:
            offered = size[i] - cut_size[i] if cut_px[i] == price[i] else size[i]
            return 0.0, max(offered, 0), CROSSED
    return 0.0, 0, AT_PRICE


@numba.njit(cache=True, nogil=True)
def _advance(
    ts, venue, action, side, flags, price, size, bid_px_ev, bid_sz_ev, ask_px_ev, ask_sz_ev,
    seq, cut, cut_px, cut_prio, cut_size, start, until_ns, bid_px, bid_sz, ask_px, ask_sz,
    consumed, limit_px, limit_qty, ahead, level, traded, crossed, through, exact, stamp,
    last_seq, queue_model, fallback, crossing_fill, trade_fill, room, out_ts, out_venue,
    out_qty, out_px, out_kind,
):  # fmt: skip
    """Apply events from index ``start`` while ``ts <= until_ns``; fill resting orders
    (``queue_model`` on every venue, or ``FIFO`` on the ``exact`` ones and ``fallback``
    elsewhere; ``crossing_fill`` and ``trade_fill``: see :data:`CROSSING_FILLS`,
    :data:`TRADE_FILLS`).

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
        fifo_here = queue_model == FIFO and exact[v] != 0
        complete = action[i] != _TRADE and action[i] != _FILL and (flags[i] & F_LAST) != 0
        got = 0
        kind = AT_PRICE
        if fifo_here:
            if resting:
                gone, got, kind = _fifo_fill(i, px, stamp[v], ahead[v], action, side, price,
                                             size, cut, cut_px, cut_prio, cut_size)  # fmt: skip
                ahead[v] = max(ahead[v] - gone, 0.0)
                if kind == CROSSED:
                    crossed[v] += got
                if exact[v] == PART_VIEW and complete and got == 0:
                    # sellers at or below our price that arrived beyond the levels the file
                    # shows were never announced: what the asks there newly show
                    if 0 < ask_px_ev[i, 0] <= px:
                        fresh = _crossing_size(px, ask_px_ev[i], ask_sz_ev[i]) - crossed[v]
                        if fresh > 0:
                            got = min(fresh, limit_qty[v])
                            crossed[v] += got
                            kind = CROSSED
                    else:
                        crossed[v] = 0
                if complete:
                    # never more ahead than the level shows: orders ahead may leave unseen
                    # where the data shows a few levels only (LOBSTER)
                    shown = _level_size(px, bid_px_ev[i], bid_sz_ev[i])
                    if shown >= 0:
                        ahead[v] = min(ahead[v], float(shown))
        elif (
            resting
            and action[i] == _TRADE
            and side[i] == _SELL
            and (bid_px_ev[i, 0] < price[i] <= px)
        ):
            # a sell above the displayed bid met hidden buyers inside the spread (LOBSTER's
            # hidden executions, midpoint orders): at or below our price, it passed our
            # displayed buy first (price priority; display priority at our own price, once
            # nothing displayed is ahead)
            if price[i] < px:
                ahead[v] = min(ahead[v], 0.0)
                got, kind = (limit_qty[v] if trade_fill == WHOLE else size[i]), THROUGH
            elif ahead[v] < 1.0:
                got = size[i]
        elif resting and action[i] == _TRADE:
            # a trade row's book is the one before the trade: it never replaces the venue's
            sell = side[i] == _SELL or (
                side[i] == _NONE and 0 < price[i] <= bid_px_ev[i, 0] and bid_px_ev[i, 0] > 0
            )
            if sell and price[i] == px:
                traded[v] += size[i]
                if trade_fill == WHOLE:
                    ahead[v] -= size[i]
                    if ahead[v] <= -1.0:
                        got = int(-ahead[v])
                        ahead[v] += min(got, limit_qty[v])
            elif sell and 0 < price[i] < px:
                ahead[v] = min(ahead[v], 0.0)
                kind = THROUGH
                if trade_fill == WHOLE:
                    got = limit_qty[v]
                else:
                    # for its size, once the book shows that it took displayed bids
                    if through[v, 0] == 0 or price[i] < through[v, 1]:
                        through[v, 1] = price[i]
                    through[v, 0] += size[i]
        elif resting and action[i] != _FILL:
            # a top-of-book venue's add restates its whole top level: it says nothing of
            # who arrived, so such rows fall to the displayed growth below
            offer = (
                crossing_fill != WHOLE
                and side[i] == _SELL
                and 0 < price[i] <= px
                and (action[i] == _ADD or action[i] == _MODIFY)
                and (flags[i] & _F_TOB) == 0
            )
            if offer:
                # a seller offering at or below our price meets us there, for what it shows
                if action[i] == _ADD:
                    fresh = size[i]
                else:
                    fresh = _ask_at(price[i], ask_px_ev[i], ask_sz_ev[i]) - _ask_at(
                        price[i], ask_px[v], ask_sz[v]
                    )
                if fresh > 0:
                    got = min(fresh, limit_qty[v])
                    crossed[v] += got
                    kind = CROSSED
            if complete:
                new = _level_size(px, bid_px_ev[i], bid_sz_ev[i])
                if new >= 0:
                    explained = traded[v]
                    if trade_fill != WHOLE:
                        # the trades advance us by the drop they caused: by nothing where
                        # they met hidden liquidity, which leaves the level as it was
                        explained = min(traded[v], max(level[v] - new, 0.0))
                        ahead[v] -= explained
                        if ahead[v] <= -1.0:
                            at_price = min(int(-ahead[v]), limit_qty[v] - got)
                            ahead[v] += at_price  # the rest of the trade stays owed to us
                            if got == 0:
                                kind = AT_PRICE
                            got += at_price
                    model = fallback if queue_model == FIFO else queue_model
                    ahead[v] = _queue_after_change(ahead[v], level[v], float(new), explained,
                                                   model)  # fmt: skip
                    level[v] = new
                    traded[v] = 0.0
                if through[v, 0] > 0:
                    # the sellers below our price took what the bids between their lowest
                    # price and ours lost: that much, at most their size, was ours to sell
                    lost = _bids_between(through[v, 1], px, bid_px[v], bid_sz[v]) - (
                        _bids_between(through[v, 1], px, bid_px_ev[i], bid_sz_ev[i])
                    )
                    gave = min(through[v, 0], max(lost, 0), limit_qty[v] - got)
                    if gave > 0:
                        if got == 0:
                            kind = THROUGH
                        got += gave
                    through[v, 0] = 0
                if 0 < ask_px_ev[i, 0] <= px:
                    if crossing_fill == WHOLE:
                        fresh = limit_qty[v] - got
                    elif offer:
                        fresh = 0  # this row's offer is counted above
                    else:
                        fresh = _crossing_size(px, ask_px_ev[i], ask_sz_ev[i]) - crossed[v]
                    fresh = min(fresh, limit_qty[v] - got)
                    if fresh > 0:
                        crossed[v] += fresh
                        if got == 0:
                            kind = CROSSED
                        got += fresh
                else:
                    crossed[v] = 0
        if complete:
            for k in range(ask_px.shape[1]):
                bid_px[v, k] = bid_px_ev[i, k]
                bid_sz[v, k] = bid_sz_ev[i, k]
                ask_px[v, k] = ask_px_ev[i, k]
                ask_sz[v, k] = ask_sz_ev[i, k]
                consumed[v, k] = 0
        last_seq[v] = seq[i]
        got = min(got, limit_qty[v], room)
        if got > 0:
            limit_qty[v] -= got
            room -= got
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


def _columns(events: np.ndarray) -> tuple[np.ndarray, ...]:
    """The event columns the compiled passes take, in their order."""
    return (
        events["ts_event"], events["venue"], events["action"].view(np.uint8),
        events["side"].view(np.uint8), events["flags"], events["price"], events["size"],
        events["bid_px"], events["bid_sz"], events["ask_px"], events["ask_sz"],
        events["seq"], events["cut"], events["cut_px"], events["cut_prio"], events["cut_size"],
    )  # fmt: skip


def advance(
    events: np.ndarray,
    start: int,
    until_ns: int,
    book: Book,
    queue_model: int,
    room: int,
    crossing_fill: int = DISPLAYED,
    trade_fill: int = DISPLAYED,
    fallback: int = CONSERVATIVE,
) -> tuple[int, Fills]:
    """Apply events up to ``until_ns`` to ``book``; return the next index and passive fills
    (``queue_model`` one of :data:`QUEUE_MODELS`, with ``fallback`` one of
    :data:`L2_QUEUE_MODELS` for the venues a ``FIFO`` run cannot see order by order;
    ``crossing_fill`` of :data:`CROSSING_FILLS`, ``trade_fill`` of :data:`TRADE_FILLS`)."""
    if start >= len(events) or events["ts_event"][start] > until_ns:
        # no event to apply: the compiled pass would change nothing and fill nothing (the
        # router asks this after every order it sends, most often at one moment)
        return start, Fills(*(np.empty(0, np.int64) for _ in range(5)))
    # at most one fill per event, and each fill buys at least one share
    capacity = max(1, min(len(events) - start, int(book.limit_qty.sum())))
    out = [np.empty(capacity, np.int64) for _ in range(5)]
    # (mypy cannot count the unpacked tuples against the kernel's parameters)
    nxt, count = _advance(  # type: ignore[call-arg]
        *_columns(events), start, until_ns, *book.arrays(), queue_model, fallback,
        crossing_fill, trade_fill, room, *out,
    )  # fmt: skip
    return int(nxt), Fills(*(a[:count] for a in out))


@numba.njit(cache=True, nogil=True)
def _schedule(
    ts, venue, action, side, flags, price, size, bid_px_ev, bid_sz_ev, ask_px_ev, ask_sz_ev,
    seq, cut, cut_px, cut_prio, cut_size, bid_px, bid_sz, ask_px, ask_sz, consumed,
    limit_px, limit_qty, ahead, level, traded, crossed, through, exact, stamp, last_seq,
    queue_model, fallback, crossing_fill, trade_fill, times, is_place, order, order_venue,
    order_qty,
    price_out, ahead_out, placed_out, filled_out, fill_order, fill_ts, fill_qty, fill_px,
    fill_kind,
):  # fmt: skip
    """Run one pass of orders that never overlap at a venue: at each of ``times`` (sorted;
    a cancellation before a placement at one moment) apply the events up to it, then rest
    or cancel ``order``. Writes each order's price, queue ahead when it rested, whether it
    rested and its shares filled, and every fill; returns the number of fills."""
    current = np.full(len(limit_qty), -1, np.int64)
    index = 0
    fills = 0
    for k in range(len(times)):
        index, got = _advance(
            ts, venue, action, side, flags, price, size, bid_px_ev, bid_sz_ev, ask_px_ev,
            ask_sz_ev, seq, cut, cut_px, cut_prio, cut_size, index, times[k], bid_px, bid_sz,
            ask_px, ask_sz, consumed, limit_px, limit_qty, ahead, level, traded, crossed,
            through, exact, stamp, last_seq, queue_model, fallback, crossing_fill, trade_fill,
            2**62, fill_ts[fills:], fill_order[fills:], fill_qty[fills:], fill_px[fills:],
            fill_kind[fills:],
        )  # fmt: skip
        for f in range(fills, fills + got):
            o = current[fill_order[f]]  # the venue index, written by the pass: its order
            fill_order[f] = o
            filled_out[o] += fill_qty[f]
        fills += got
        o = order[k]
        v = order_venue[o]
        if is_place[k]:
            _rest(v, order_qty[o], bid_px, bid_sz, limit_px, limit_qty, ahead, level, traded,
                  crossed, through, stamp, last_seq)  # fmt: skip
            current[v] = o
            placed_out[o] = limit_qty[v] > 0
            if placed_out[o]:
                price_out[o] = limit_px[v]
                ahead_out[o] = ahead[v]
        else:
            limit_qty[v] = 0
            current[v] = -1
    return fills


def run_schedule(
    events: np.ndarray,
    book: Book,
    settings: tuple[int, int, int, int],
    schedule: tuple[np.ndarray, np.ndarray, np.ndarray],
    orders: tuple[np.ndarray, np.ndarray],
    out: tuple[np.ndarray, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run one pass of a fill study (:func:`_schedule`): ``settings`` is (queue model,
    fallback, crossing fill, trade fill), ``schedule`` (times, is_place, order), ``orders``
    (venue index, shares) of every order, ``out`` the per-order outputs (price, ahead,
    placed, filled). Returns the pass's fills: order, time, shares, how."""
    # at most one fill per event, each of at least one share
    shares = int(orders[1][np.unique(schedule[2])].sum())
    capacity = max(1, min(len(events), shares))
    order, ts, qty, px, kind = (np.empty(capacity, np.int64) for _ in range(5))
    # (unpacked tuples, as in advance)
    count = _schedule(  # type: ignore[call-arg]
        *_columns(events), *book.arrays(), *settings, *schedule, *orders, *out, order, ts, qty,
        px, kind,
    )  # fmt: skip
    return order[:count], ts[:count], qty[:count], kind[:count]


def _offsets(dtype: np.dtype) -> dict[str, int]:
    """Return each field's offset in a record of ``dtype``, bytes."""
    return {name: int(spec[1]) for name, spec in (dtype.fields or {}).items()}


def attach_venues(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the events with a ``venue`` index column, and the venues (ascending ids)."""
    venues = np.unique(events["publisher_id"])
    dtype = np.dtype([*(events.dtype.descr), ("venue", np.int64)])
    out = np.empty(len(events), dtype=dtype)
    offsets = _offsets(dtype)
    kept = all(offsets[name] == at for name, at in _offsets(events.dtype).items())
    if events.flags.c_contiguous and kept:
        # every field where it was and the venue after them: one copy of each row's bytes
        # rather than one strided copy per field
        rows, width = len(events), events.dtype.itemsize
        target = out.view(np.uint8).reshape(rows, dtype.itemsize)
        target[:, :width] = events.view(np.uint8).reshape(rows, width)
    else:
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
