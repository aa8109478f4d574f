"""Passive orders run one by one through the queue simulator: the fill study's engine.

An order rests a limit buy of ``qty`` shares at its venue's best bid at ``place_ns`` (as the
venue's complete book then stands) and is cancelled at ``cancel_ns``. Orders never see each
other: each is simulated as if alone, so overlapping orders at one venue run in separate
passes over the events (``slots``), and orders of different venues share a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sor.ck.latency import OrderLatency
from sor.ck.mirror import mirror_constant, reflect_events
from sor.ck.queue import CONSERVATIVE, DISPLAYED
from sor.ck.router import CKSettings
from sor.report.markouts import MARKOUT_HORIZONS_S, TopOfBook, mark_out, share_weighted

_NO_ROOM_LIMIT = 2**62


@dataclass(frozen=True)
class Orders:
    """Passive orders as parallel arrays: venue index, placement and cancellation times (ns),
    shares."""

    venue: np.ndarray
    place_ns: np.ndarray
    cancel_ns: np.ndarray
    qty: np.ndarray

    def __len__(self) -> int:
        return len(self.venue)


@dataclass(frozen=True)
class OrderFills:
    """What each order got.

    ``price`` (nano-dollars) and ``ahead`` (shares in front at placement) are 0 for an order
    not placed (its venue showed no bid); ``filled`` its shares bought. ``fills`` lists
    every fill as rows of ``fill_order`` (order index), ``fill_ns``, ``fill_qty`` and
    ``fill_kind`` (``sor.ck.queue.AT_PRICE``, ``THROUGH`` or ``CROSSED``), in time
    order within each order.
    """

    price: np.ndarray
    ahead: np.ndarray
    placed: np.ndarray
    filled: np.ndarray
    fill_order: np.ndarray
    fill_ns: np.ndarray
    fill_qty: np.ndarray
    fill_kind: np.ndarray


def every(
    venues: int, first_ns: int, last_ns: int, every_ns: int, horizon_ns: int, qty: int
) -> Orders:
    """Return one order per venue every ``every_ns`` from ``first_ns`` while the order's
    cancellation is no later than ``last_ns``, each cancelled ``horizon_ns`` after it rests."""
    times = np.arange(first_ns, last_ns - horizon_ns + 1, max(1, every_ns), dtype=np.int64)
    venue = np.tile(np.arange(venues, dtype=np.int64), len(times))
    place = np.repeat(times, venues)
    return Orders(venue, place, place + horizon_ns, np.full(len(venue), qty, np.int64))


def slots(orders: Orders) -> np.ndarray:
    """Return a pass number per order so that no two orders of one venue overlap in a pass
    (an order may rest where another was cancelled at the same moment)."""
    out = np.zeros(len(orders), np.int64)
    ends: dict[int, list[int]] = {}
    for i in np.lexsort((orders.place_ns, orders.venue)):
        taken = ends.setdefault(int(orders.venue[i]), [])
        slot = next((s for s, end in enumerate(taken) if end <= orders.place_ns[i]), len(taken))
        if slot == len(taken):
            taken.append(0)
        taken[slot] = int(orders.cancel_ns[i])
        out[i] = slot
    return out


def simulate(
    events: np.ndarray, venues: np.ndarray, orders: Orders, settings: CKSettings
) -> OrderFills:
    """Run every order through the queue simulator (``events`` with a ``venue`` column, see
    :func:`sor.ck.queue.attach_venues`) under the queue model and fill rules of
    ``settings`` (its latency is the caller's: orders rest at their ``place_ns``)."""
    n = len(orders)
    price = np.zeros(n, np.int64)
    ahead = np.zeros(n, np.float64)
    placed = np.zeros(n, bool)
    filled = np.zeros(n, np.int64)
    rows: list[tuple[int, int, int, int]] = []
    pass_of = slots(orders)
    for slot in range(int(pass_of.max()) + 1 if n else 0):
        mine = np.flatnonzero(pass_of == slot)
        # cancellations before placements at one moment, so that a venue's slot is free
        times = np.concatenate((orders.cancel_ns[mine], orders.place_ns[mine]))
        is_place = np.concatenate((np.zeros(len(mine), bool), np.ones(len(mine), bool)))
        which = np.concatenate((mine, mine))
        book = settings.book(events, venues)
        current = np.full(len(venues), -1, np.int64)
        index = 0
        for k in np.lexsort((is_place, times)):
            index, got = settings.advance(events, index, int(times[k]), book, _NO_ROOM_LIMIT)
            for t, v, q, kind in zip(got.ts, got.venue, got.qty, got.kind, strict=True):
                o = int(current[v])
                filled[o] += int(q)
                rows.append((o, int(t), int(q), int(kind)))
            o, v = int(which[k]), int(orders.venue[which[k]])
            if is_place[k]:
                book.rest(v, int(orders.qty[o]))
                current[v] = o
                placed[o] = book.limit_qty[v] > 0
                if placed[o]:
                    price[o], ahead[o] = book.limit_px[v], book.ahead[v]
            else:
                book.limit_qty[v] = 0
                current[v] = -1
    table = np.array(sorted(rows), dtype=np.int64).reshape(-1, 4)
    return OrderFills(price, ahead, placed, filled, *(table[:, j] for j in range(4)))


@dataclass(frozen=True)
class OrderRow:
    """One placed order of the study: horizon (s), venue (publisher id), placement time
    (ns), price (nano-dollars), shares ahead at placement, shares filled, and each fill's
    time (ns) and shares."""

    horizon_s: float
    venue: int
    placed_ns: int
    price_nanos: int
    queue_ahead: float
    filled: int
    fill_ns: tuple[int, ...]
    fill_qty: tuple[int, ...]


@dataclass(frozen=True)
class StudyOptions:
    """What ``sor fills`` studies: one ``size``-share order per venue every ``every_s``
    seconds, at the best bid (``side`` buy) or ask (sell), cancelled after each horizon;
    the queue model and fill rules as in :func:`sor.ck.queue.advance`."""

    every_s: float = 5.0
    size: int = 200
    horizons_s: tuple[float, ...] = (0.5, 2.0, 10.0)
    queue_model: int = CONSERVATIVE
    latency_ns: int = 0
    crossing_fill: int = DISPLAYED
    side: str = "buy"
    trade_fill: int = DISPLAYED
    fallback_queue_model: int = CONSERVATIVE

    @property
    def settings(self) -> CKSettings:
        """The simulator's settings of the study."""
        return CKSettings(OrderLatency(self.latency_ns), self.queue_model, self.crossing_fill,
                          self.trade_fill, self.fallback_queue_model)  # fmt: skip


def study(
    events: np.ndarray, venues: np.ndarray, options: StudyOptions
) -> tuple[dict[str, dict[str, dict[str, object]]], list[OrderRow]]:
    """Run the fill study on ``events`` (with a ``venue`` column).

    Orders start once every venue has shown a complete book and stop where their
    cancellation would pass the last event; each is decided at its time and reaches the
    book ``latency_ns`` later, where it rests at the best price as the book then stands.
    Returns the statistics per venue (publisher id) and horizon (``f"{h:g}"``), and one row
    per placed order (horizon, venue, time, price, queue ahead, shares filled, fills).
    """
    from sor.data.events import complete_books

    sign = 1 if options.side == "buy" else -1
    top = mirror_constant(events) if sign < 0 else 0
    book = reflect_events(events, top) if sign < 0 else events
    nbbo = TopOfBook.of_events(events)
    complete = events[complete_books(events)]
    firsts = [complete["ts_event"][complete["venue"] == v][:1] for v in range(len(venues))]
    if not len(events) or any(len(f) == 0 for f in firsts):
        return {}, []
    first, last = max(int(f[0]) for f in firsts), int(events["ts_event"].max())
    stats: dict[str, dict[str, dict[str, object]]] = {str(int(p)): {} for p in venues}
    rows: list[OrderRow] = []
    for horizon_s in options.horizons_s:
        planned = every(len(venues), first, last - options.latency_ns,
                        int(options.every_s * 1e9), int(horizon_s * 1e9), options.size)  # fmt: skip
        orders = Orders(planned.venue, planned.place_ns + options.latency_ns,
                        planned.cancel_ns + options.latency_ns, planned.qty)  # fmt: skip
        got = simulate(book, venues, orders, options.settings)
        price = np.where(got.placed, np.abs(top - got.price), 0)
        marks = mark_out(got.fill_ns, sign, nbbo, MARKOUT_HORIZONS_S)[1]
        for v, publisher in enumerate(venues):
            mine = np.flatnonzero((orders.venue == v) & got.placed)
            fills = np.isin(got.fill_order, mine)
            stats[str(int(publisher))][f"{horizon_s:g}"] = _venue_stats(
                orders, got, mine, fills, {a: m[fills] for a, m in marks.items()}
            )
        for o in np.flatnonzero(got.placed):
            mine = got.fill_order == o
            rows.append(OrderRow(
                horizon_s, int(venues[orders.venue[o]]), int(orders.place_ns[o]), int(price[o]),
                float(got.ahead[o]), int(got.filled[o]), tuple(got.fill_ns[mine].tolist()),
                tuple(got.fill_qty[mine].tolist()),
            ))  # fmt: skip
    return stats, rows


def _venue_stats(
    orders: Orders,
    got: OrderFills,
    mine: np.ndarray,
    fills: np.ndarray,
    marks: dict[float, np.ndarray],
) -> dict[str, object]:
    """The statistics of one venue's orders ``mine`` at one horizon (fills: mask of theirs)."""
    if not len(mine):
        return {"orders": 0, "p_any_fill": None, "p_full_fill": None,
                "mean_filled_fraction": None, "median_time_to_first_fill_s": None,
                "markout_bps": {str(a): None for a in marks}}  # fmt: skip
    filled = got.filled[mine]
    first_ns = np.full(len(orders), -1, np.int64)
    order_of_fill = got.fill_order[fills]
    # fills are in time order within each order: the first of each is its first fill
    first_ns[order_of_fill[::-1]] = got.fill_ns[fills][::-1]
    waited = (first_ns[mine] - orders.place_ns[mine])[first_ns[mine] >= 0] / 1e9
    qty = got.fill_qty[fills]

    def mean_markout(values: np.ndarray) -> float | None:
        mean = share_weighted(values, qty)
        return None if mean is None else round(mean, 6)

    return {
        "orders": len(mine),
        "p_any_fill": round(float(np.mean(filled > 0)), 6),
        "p_full_fill": round(float(np.mean(filled >= orders.qty[mine])), 6),
        "mean_filled_fraction": round(float(np.mean(filled / orders.qty[mine])), 6),
        "median_time_to_first_fill_s": round(float(np.median(waited)), 6) if len(waited) else None,
        "markout_bps": {str(a): mean_markout(m) for a, m in marks.items()},
    }
