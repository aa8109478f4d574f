"""Passive orders run one by one through the queue simulator: the fill study's engine.

An order rests a limit buy of ``qty`` shares at its venue's best bid at ``place_ns`` (as the
venue's complete book then stands) and is cancelled at ``cancel_ns``. Orders never see each
other: each is simulated as if alone, so overlapping orders at one venue run in separate
passes over the events (``slots``), and orders of different venues share a pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sor.ck.queue import Book, advance

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
    events: np.ndarray, venues: np.ndarray, orders: Orders, queue_model: int
) -> OrderFills:
    """Run every order through the queue simulator (``events`` with a ``venue`` column, see
    :func:`sor.ck.queue.attach_venues`)."""
    n = len(orders)
    price = np.zeros(n, np.int64)
    ahead = np.zeros(n, np.float64)
    placed = np.zeros(n, bool)
    filled = np.zeros(n, np.int64)
    rows: list[tuple[int, int, int, int]] = []
    levels = events["ask_px"].shape[1]
    pass_of = slots(orders)
    for slot in range(int(pass_of.max()) + 1 if n else 0):
        mine = np.flatnonzero(pass_of == slot)
        # cancellations before placements at one moment, so that a venue's slot is free
        times = np.concatenate((orders.cancel_ns[mine], orders.place_ns[mine]))
        is_place = np.concatenate((np.zeros(len(mine), bool), np.ones(len(mine), bool)))
        which = np.concatenate((mine, mine))
        book = Book.empty(venues, levels)
        current = np.full(len(venues), -1, np.int64)
        index = 0
        for k in np.lexsort((is_place, times)):
            index, got = advance(events, index, int(times[k]), book, queue_model, _NO_ROOM_LIMIT)
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
