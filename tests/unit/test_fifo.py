"""The exact price-time queue (``--queue-model fifo``): each rule pinned on hand-written
order sequences, rebuilt by the MBO reader as a file would be."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderlevel_helpers import mbo_events
from sor.ck.queue import AT_PRICE, CONSERVATIVE, CROSSED, FIFO, THROUGH, attach_venues
from sor.ck.router import CKSettings

T0 = 1_712_151_000_000_000_000  # 2024-04-03T13:30:00Z
FIFO_SETTINGS = CKSettings(queue_model=FIFO)


def _run(rows: list[tuple], join_after: int, qty: int = 200, until: int | None = None):
    """Rebuild ``rows`` (one venue), rest a ``qty`` buy at the best bid once the records up
    to time ``T0 + join_after`` are applied, run to ``until`` (else the last record), and
    return the book and the fills."""
    events, venues = attach_venues(mbo_events(*rows))
    book = FIFO_SETTINGS.book(events, venues)
    index, _ = FIFO_SETTINGS.advance(events, 0, T0 + join_after, book, 0)
    book.rest(0, qty)
    end = int(events["ts_event"][-1]) if until is None else T0 + until
    _, fills = FIFO_SETTINGS.advance(events, index, end, book, 10**9)
    return book, fills


def _book(*extra: tuple) -> list[tuple]:
    """Two bids at 10.00 (ids 1 and 2, 100 and 200 shares) and an ask at 10.05."""
    return [
        (T0, "A", "B", 10.00, 100, 1),
        (T0 + 1, "A", "B", 10.00, 200, 2),
        (T0 + 2, "A", "A", 10.05, 300, 3),
        *extra,
    ]


def test_the_order_joins_behind_every_order_resting_at_its_price() -> None:
    book, fills = _run(_book(), join_after=5)
    assert book.limit_px[0] == 10 * 10**9 and book.ahead[0] == 300
    assert len(fills.qty) == 0


def test_cancels_ahead_advance_the_order_and_cancels_behind_do_not() -> None:
    rows = _book(
        (T0 + 10, "A", "B", 10.00, 500, 4),  # behind us
        (T0 + 11, "C", "B", 10.00, 40, 1),  # 40 of order 1, ahead
        (T0 + 12, "C", "B", 10.00, 500, 4),  # all of order 4, behind: nothing for us
        (T0 + 13, "C", "B", 10.00, 200, 2),  # order 2, ahead
    )
    book, fills = _run(rows, join_after=5)
    assert book.ahead[0] == 60 and len(fills.qty) == 0


def test_fills_ahead_advance_the_order_and_fills_behind_fill_it() -> None:
    # Databento's fill: a trade, the fill of the resting order, the cut of that order
    rows = _book(
        (T0 + 10, "A", "B", 10.00, 500, 4),  # behind us
        (T0 + 20, "T", "A", 10.00, 300, 0),
        (T0 + 20, "F", "B", 10.00, 100, 1),
        (T0 + 20, "C", "B", 10.00, 100, 1),
        (T0 + 20, "F", "B", 10.00, 200, 2),
        (T0 + 20, "C", "B", 10.00, 200, 2),
        (T0 + 30, "T", "A", 10.00, 150, 0),
        (T0 + 30, "F", "B", 10.00, 150, 4),  # order 4, behind us: the seller meets us first
        (T0 + 30, "C", "B", 10.00, 150, 4),
    )
    book, fills = _run(rows, join_after=5)
    assert book.ahead[0] == 0
    assert fills.qty.tolist() == [150] and fills.kind.tolist() == [AT_PRICE]
    assert fills.ts.tolist() == [T0 + 30]  # at the cut, where the book shows the fill


def test_a_modify_that_raises_the_size_sends_the_order_behind_us() -> None:
    rows = _book(
        (T0 + 10, "M", "B", 10.00, 150, 1),  # order 1 grows: it goes to the back
        (T0 + 20, "M", "B", 10.00, 50, 2),  # order 2 shrinks: it keeps its place
        (T0 + 30, "T", "A", 10.00, 50, 0),
        (T0 + 30, "F", "B", 10.00, 50, 2),
        (T0 + 30, "C", "B", 10.00, 50, 2),
        (T0 + 40, "T", "A", 10.00, 120, 0),
        (T0 + 40, "F", "B", 10.00, 120, 1),  # order 1, now behind us
        (T0 + 40, "C", "B", 10.00, 120, 1),
    )
    book, fills = _run(rows, join_after=5)
    assert fills.qty.tolist() == [120]
    assert book.limit_qty[0] == 80 and book.ahead[0] == 0


def test_a_modify_that_moves_the_price_leaves_the_queue() -> None:
    rows = _book((T0 + 10, "M", "B", 9.99, 100, 1))
    book, _ = _run(rows, join_after=5)
    assert book.ahead[0] == 200


def test_fills_at_worse_prices_fill_the_order_for_their_size() -> None:
    rows = _book(
        (T0 + 3, "A", "B", 9.99, 400, 5),
        (T0 + 10, "C", "B", 10.00, 100, 1),
        (T0 + 11, "C", "B", 10.00, 200, 2),  # the bid falls to 9.99; we stay at 10.00
        (T0 + 20, "T", "A", 9.99, 70, 0),
        (T0 + 20, "F", "B", 9.99, 70, 5),
        (T0 + 20, "C", "B", 9.99, 70, 5),
    )
    book, fills = _run(rows, join_after=5)
    assert fills.qty.tolist() == [70] and fills.kind.tolist() == [THROUGH]
    assert book.limit_qty[0] == 130


def test_asks_added_at_or_below_the_orders_price_fill_it_for_their_size() -> None:
    rows = _book(
        (T0 + 10, "C", "B", 10.00, 100, 1),
        (T0 + 11, "C", "B", 10.00, 200, 2),
        (T0 + 20, "A", "A", 10.00, 60, 6),  # an ask at our price: it meets us
        (T0 + 21, "A", "A", 10.02, 500, 7),  # above it: nothing
        (T0 + 22, "M", "A", 9.99, 500, 7),  # moved down through our price: 500 offered
    )
    _, fills = _run(rows, join_after=5)
    assert fills.qty.tolist() == [60, 140] and fills.kind.tolist() == [CROSSED, CROSSED]


def test_a_trade_without_a_fill_changes_nothing() -> None:
    # a hidden order took the trade: no displayed order moved
    rows = _book((T0 + 20, "T", "A", 10.00, 500, 0))
    book, fills = _run(rows, join_after=5)
    assert book.ahead[0] == 300 and len(fills.qty) == 0


def test_an_order_that_arrives_later_is_behind_orders_added_at_the_same_time() -> None:
    rows = _book(
        (T0 + 5, "A", "B", 10.00, 100, 9),  # placed before we arrive
        (T0 + 10, "A", "B", 10.00, 100, 10),  # after
        (T0 + 20, "C", "B", 10.00, 100, 9),
        (T0 + 21, "C", "B", 10.00, 100, 10),
    )
    book, _ = _run(rows, join_after=5)
    assert book.ahead[0] == 300  # 400 ahead, order 9 cancelled, order 10 behind


def test_venues_without_order_ids_use_the_fallback_model() -> None:
    # venue 41 sends its top of book only (F_TOB): conservative there, exact at 39
    from sor.ck.queue import order_level_venues, queue_model_entries

    rows = [
        *_book(),
        (T0 + 3, "A", "B", 10.01, 500, 4348, 64, 41),
        (T0 + 3, "A", "A", 10.03, 200, 4348, 192, 41),
    ]
    events, venues = attach_venues(mbo_events(*rows))
    exact = order_level_venues(events, venues)
    assert exact.tolist() == [True, False]
    run = queue_model_entries(FIFO, CONSERVATIVE, venues, exact)
    assert run == {"queue_model": "fifo", "fallback_queue_model": "conservative",
                   "venue_queue_models": {"39": "fifo", "41": "conservative"}}  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_fifo_fills_never_exceed_the_order_and_come_in_time_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows: list[tuple] = [(T0, "A", "B", 10.00, 100, 1), (T0, "A", "A", 10.02, 100, 2)]
    live = {1: 100}
    next_id = 3
    for t in range(1, 400):
        if rng.random() < 0.5 or not live:
            live[next_id] = int(rng.integers(1, 5)) * 100
            rows.append((T0 + t, "A", "B", 10.00, live[next_id], next_id))
            next_id += 1
        else:
            oid = int(rng.choice(list(live)))
            cut = int(rng.integers(1, live[oid] + 1))
            if rng.random() < 0.5:
                rows += [(T0 + t, "T", "A", 10.00, cut, 0), (T0 + t, "F", "B", 10.00, cut, oid),
                         (T0 + t, "C", "B", 10.00, cut, oid)]  # fmt: skip
            else:
                rows.append((T0 + t, "C", "B", 10.00, cut, oid))
            live[oid] -= cut
            if not live[oid]:
                del live[oid]
    book, fills = _run(rows, join_after=50, qty=700)
    assert fills.qty.sum() <= 700 and (fills.qty > 0).all()
    assert (np.diff(fills.ts) >= 0).all()
    assert book.ahead[0] >= 0
