"""The queue-aware simulator's rules, each pinned on a hand-written event sequence."""

from __future__ import annotations

import numpy as np
import pytest

from sor.ck.latency import OrderLatency
from sor.ck.queue import (
    AT_PRICE,
    CONSERVATIVE,
    CROSSED,
    DISPLAYED,
    PROBABILISTIC,
    THROUGH,
    WHOLE,
    Book,
    advance,
    attach_venues,
    sweep,
)
from sor.ck.router import CKResult, CKSettings, run_ck
from sor.core.domain import RiskParameters
from sor.core.errors import ConfigError
from sor.data.events import EVENT_DTYPE, F_LAST

D = 1_000_000_000  # one dollar in nano-dollars


def _events(*rows: tuple) -> np.ndarray:
    """Rows of (ts, publisher, action, side, price $, size, bid $, bid size, ask $, ask size
    [, flags]): a trade row carries the book before the trade, and flags default to F_LAST
    (each row ends its event). The bid shows a second level one cent below, of 1000."""
    out = np.zeros(len(rows), dtype=EVENT_DTYPE)
    for i, (ts, pub, action, side, price, size, bid, bid_sz, ask, ask_sz, *flags) in enumerate(
        rows
    ):
        out[i]["ts_event"], out[i]["publisher_id"] = ts, pub
        out[i]["action"], out[i]["side"] = action.encode(), side.encode()
        out[i]["flags"] = flags[0] if flags else F_LAST
        out[i]["price"], out[i]["size"] = round(price * D), size
        out[i]["bid_px"][0], out[i]["bid_sz"][0] = round(bid * D), bid_sz
        out[i]["bid_px"][1], out[i]["bid_sz"][1] = round((bid - 0.01) * D), 1000
        out[i]["ask_px"][0], out[i]["ask_sz"][0] = round(ask * D), ask_sz
        out[i]["ask_px"][1], out[i]["ask_sz"][1] = round((ask + 0.01) * D), 1000
    return attach_venues(out)[0]


def _resting(events: np.ndarray, qty: int, model: int = CONSERVATIVE) -> tuple[Book, int]:
    """Apply the first row, then rest a limit buy of ``qty`` at the venue's best bid."""
    book = Book.empty(np.unique(events["publisher_id"]), 10)
    index, _ = advance(events, 0, int(events["ts_event"][0]), book, model, 0)
    book.rest(0, qty)
    return book, index


def test_a_trade_at_our_price_eats_the_queue_ahead_first() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),  # 300 ahead of us
        (2, 2, "T", "A", 10.00, 250, 10.00, 300, 10.01, 500, 0),  # 250 of the 300 ahead
        (2, 2, "C", "A", 10.02, 10, 10.00, 50, 10.01, 500),  # ends the event: 50 left
        (3, 2, "A", "B", 10.00, 200, 10.00, 250, 10.01, 500),  # 200 join behind us
        (4, 2, "T", "A", 10.00, 150, 10.00, 250, 10.01, 500, 0),  # 50 ahead, then 100 to us
        (4, 2, "C", "A", 10.02, 10, 10.00, 100, 10.01, 500),  # the level shows the drop
    )
    book, index = _resting(events, 200)
    index, fills = advance(events, index, 2, book, CONSERVATIVE, 10_000)
    assert len(fills.qty) == 0 and book.ahead[0] == 50
    _, fills = advance(events, index, 4, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == [100] and fills.px.tolist() == [10 * D]
    assert fills.kind.tolist() == [AT_PRICE] and fills.ts.tolist() == [4]
    assert book.limit_qty[0] == 100 and book.ahead[0] == 0


def test_a_trade_moves_the_queue_only_once_the_book_shows_its_drop() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 0, 10.01, 500),  # nothing ahead of us
        (2, 2, "T", "A", 10.00, 70, 10.00, 0, 10.01, 500, 0),  # no complete book follows
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 2, book, CONSERVATIVE, 10_000)
    assert len(fills.qty) == 0 and book.traded[0] == 70  # pending until the level shows it


@pytest.mark.parametrize("model", [CONSERVATIVE, PROBABILISTIC])
def test_a_trade_against_hidden_liquidity_leaves_the_queue_alone(model: int) -> None:
    # a sell of 250 at our price that the level never shows (hidden buyers took it): the
    # displayed queue ahead is still 300, and we get nothing; then a visible one of 400
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "T", "A", 10.00, 250, 10.00, 300, 10.01, 500, 0),
        (2, 2, "A", "A", 10.02, 10, 10.00, 300, 10.01, 500),
        (3, 2, "T", "A", 10.00, 400, 10.00, 300, 10.01, 500, 0),
        (3, 2, "A", "A", 10.03, 10, 9.99, 1000, 10.01, 500),  # 300 taken, then 100 of ours
    )
    book, index = _resting(events, 200, model)
    index, fills = advance(events, index, 2, book, model, 10_000)
    assert len(fills.qty) == 0 and book.ahead[0] == 300
    _, fills = advance(events, index, 3, book, model, 10_000)
    # the level is gone: the trade took all 300 ahead, and what it took beyond them is
    # unknown, so only the level's drop counts: 300, nothing for us; the bid falls away
    assert len(fills.qty) == 0 and book.ahead[0] == 0


def test_a_trade_through_our_price_fills_at_most_its_size() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.99, 200, 10.01, 500),  # the bid falls to 9.99
        (3, 2, "T", "A", 9.99, 10, 9.99, 200, 10.01, 500, 0),
        (3, 2, "A", "A", 10.05, 1, 9.99, 190, 10.01, 500),  # the book shows 10 taken
        (4, 2, "T", "A", 9.99, 500, 9.99, 190, 10.01, 500, 0),
        (4, 2, "A", "A", 10.05, 1, 9.98, 1000, 10.01, 500),  # 190 taken, 310 hidden
    )
    book, index = _resting(events, 200)
    index, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000)
    # a seller of 10 below our price would have sold us 10, no more; nothing is ahead now
    assert fills.qty.tolist() == [10] and fills.kind.tolist() == [THROUGH]
    assert book.limit_qty[0] == 190 and book.ahead[0] == 0
    _, fills = advance(events, index, 4, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == [190] and book.limit_qty[0] == 0


@pytest.mark.parametrize(
    ("bid", "sold_at", "filled"),
    [(9.99, 9.99, []),  # at the displayed bid, taking none of it: nothing the rows can tell
     (9.97, 9.98, [70])],  # above the displayed bid: hidden buyers inside the spread
)  # fmt: skip
def test_a_sell_below_our_price_that_took_no_displayed_bid(
    bid: float, sold_at: float, filled: list[int]
) -> None:
    # alone at 10.00, the displayed bid fell below; a sell prints below our price without
    # taking a displayed share. Inside the spread it met hidden buyers, and a seller reaching
    # them passed our 10.00 first (price priority); one above us (10.01) does not concern us
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.02, 500),
        (2, 2, "C", "B", 10.00, 300, bid, 800, 10.02, 500),
        (3, 2, "T", "A", 10.01, 50, bid, 800, 10.02, 500, 0),
        (3, 2, "T", "A", sold_at, 70, bid, 800, 10.02, 500, 0),
        (3, 2, "A", "A", 10.05, 1, bid, 800, 10.02, 500),  # no displayed bid lost
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == filled
    assert fills.kind.tolist() == [THROUGH] * len(filled)


def test_hftbacktests_trade_rules_stay_reachable() -> None:
    # trade_fill WHOLE: a trade at our price advances us by its size at once, hidden or
    # not; one below our price fills the whole remainder
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "T", "A", 10.00, 350, 10.00, 300, 10.01, 500, 0),  # 300 ahead, 50 to us
        (3, 2, "T", "A", 9.99, 10, 9.99, 200, 10.01, 500, 0),
    )
    book, index = _resting(events, 200)
    index, fills = advance(events, index, 2, book, CONSERVATIVE, 10_000, DISPLAYED, WHOLE)
    assert fills.qty.tolist() == [50] and fills.kind.tolist() == [AT_PRICE]
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000, DISPLAYED, WHOLE)
    assert fills.qty.tolist() == [150] and fills.kind.tolist() == [THROUGH]


@pytest.mark.parametrize(("model", "ahead"), [(CONSERVATIVE, 300.0), (PROBABILISTIC, 200.0)])
def test_cancellations_follow_the_queue_model(model: int, ahead: float) -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        # 150 cancelled of a 450-share level (300 ahead of us): probabilistic takes 2/3
        (2, 2, "A", "B", 10.00, 150, 10.00, 450, 10.01, 500),
        (3, 2, "C", "B", 10.00, 150, 10.00, 300, 10.01, 500),
    )
    book, index = _resting(events, 200, model)
    advance(events, index, 3, book, model, 10_000)
    assert book.ahead[0] == pytest.approx(ahead)


def test_the_level_shrinking_below_our_place_moves_us_up() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 250, 10.00, 50, 10.01, 500),
    )
    book, index = _resting(events, 200)
    advance(events, index, 2, book, CONSERVATIVE, 10_000)
    assert book.ahead[0] == 50  # never more ahead than the level shows


def test_when_the_bid_falls_away_we_are_alone_at_the_top() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.99, 800, 10.01, 500),
        (3, 2, "T", "A", 9.99, 120, 9.99, 800, 10.01, 500, 0),
        (3, 2, "A", "A", 10.05, 1, 9.99, 680, 10.01, 500),
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000)
    assert book.ahead[0] == 0  # nothing displayed at our price any more
    # a seller going down to 9.99 passed our 10.00 first: 120 for us
    assert fills.qty.tolist() == [120] and fills.kind.tolist() == [THROUGH]


def test_a_trade_at_our_price_where_nothing_is_displayed_met_us_first() -> None:
    # alone at 10.00 (the displayed bid fell to 9.99), a sell prints at 10.00, above the
    # displayed bid: it met hidden buyers at 10.00, who come after every displayed order
    # at that price (display priority), ours first
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.99, 800, 10.01, 500),
        (3, 2, "T", "A", 10.00, 120, 9.99, 800, 10.01, 500, 0),
        (3, 2, "A", "A", 10.05, 1, 9.99, 800, 10.01, 500),
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == [120] and book.limit_qty[0] == 80


def test_fills_stop_at_the_orders_remainder_and_cancel_the_rest() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 500, 10.01, 500),
        (2, 2, "T", "A", 10.00, 500, 10.00, 500, 10.01, 500, 0),
        (2, 2, "A", "A", 10.05, 1, 9.99, 1000, 10.01, 500),
    )
    book, index = _resting(events, 400)
    book.ahead[0] = 0  # at the front: the 500 traded would all have come to us
    _, fills = advance(events, index, 2, book, CONSERVATIVE, 150)
    assert fills.qty.tolist() == [150]
    assert book.limit_qty.sum() == 0


def test_a_trade_rows_book_is_the_one_before_the_trade_and_never_counts_twice() -> None:
    # Databento: the trade row shows the level before the trade (300), the next row the
    # level after it (100); the trade already moved us, the drop must not move us again
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "T", "A", 10.00, 200, 10.00, 300, 10.01, 500, 0),
        (2, 2, "A", "A", 10.05, 10, 10.00, 100, 10.01, 500),
    )
    for model in (CONSERVATIVE, PROBABILISTIC):
        book, index = _resting(events, 200, model)
        advance(events, index, 2, book, model, 10_000)
        assert book.ahead[0] == pytest.approx(100.0), model
        assert book.bid_sz[0, 0] == 100  # the venue's book is the complete one


def test_the_book_is_taken_only_where_an_event_ends() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 250, 10.00, 50, 10.01, 500, 0),  # inside an event
        (2, 2, "A", "B", 10.00, 250, 10.00, 300, 10.01, 500),  # ends it: back to 300
    )
    book, index = _resting(events, 200)
    advance(events, index, 1, book, CONSERVATIVE, 10_000)
    index, _ = advance(events, index, 2, book, CONSERVATIVE, 10_000)
    # the half-way book (50) is never the venue's: the queue ahead stays 300
    assert book.ahead[0] == 300 and book.bid_sz[0, 0] == 300


def test_our_level_is_tracked_below_a_better_bid() -> None:
    # rule (a): a better bid at 10.01 stands; cancellations at our 10.00 level still show
    # on level 1 of the book and move us
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.02, 500),
        (2, 2, "A", "B", 10.01, 400, 10.01, 400, 10.02, 500),  # level 1: 10.00 x 1000
    )
    book, index = _resting(events, 200)
    events["bid_sz"][1, 1] = 120  # our level shrank to 120 while 10.01 stood in front
    advance(events, index, 2, book, CONSERVATIVE, 10_000)
    assert book.ahead[0] == 120


def test_our_level_beyond_the_visible_levels_is_left_as_it_was() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.05, 500),
        (2, 2, "A", "B", 10.03, 400, 10.03, 400, 10.05, 500),  # shows 10.03 and 10.02 only
    )
    book, index = _resting(events, 200)
    advance(events, index, 2, book, CONSERVATIVE, 10_000)
    assert book.ahead[0] == 300


@pytest.mark.parametrize(("ask_sz", "filled"), [(150, 150), (500, 200)])
def test_asks_coming_down_to_our_price_fill_the_smaller_of_remainder_and_ask(
    ask_sz: int, filled: int
) -> None:
    # rule (b): the bid falls away, then the ask comes down to our 10.00 buy
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.99, 800, 10.01, 500),
        (3, 2, "A", "A", 10.00, ask_sz, 9.99, 800, 10.00, ask_sz),
        (4, 2, "A", "B", 9.99, 10, 9.99, 810, 10.00, ask_sz),  # the same ask: no new fill
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 4, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == [filled] and fills.kind.tolist() == [CROSSED]
    assert fills.px.tolist() == [10 * D] and fills.ts.tolist() == [3]


@pytest.mark.parametrize("ask_px", [10.00, 9.99])
def test_asks_crossing_our_price_fill_the_whole_remainder_under_the_whole_rule(
    ask_px: float,
) -> None:
    # hftbacktest's rule: an ask at or through our 10.00 buy fills all of it, whatever its size
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.98, 800, 10.01, 500),
        (3, 2, "A", "A", ask_px, 30, 9.98, 800, ask_px, 30),
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000, WHOLE)
    assert fills.qty.tolist() == [200] and fills.kind.tolist() == [CROSSED]
    assert fills.px.tolist() == [10 * D] and fills.ts.tolist() == [3]
    assert book.limit_qty[0] == 0
    # the displayed rule, on the same rows: the row is a seller adding 30 at or below our
    # price, which it would have sold us; the rest of the book it shows came from no seller
    # we saw arrive
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000, DISPLAYED)
    assert fills.qty.tolist() == [30] and book.limit_qty[0] == 170


def test_each_seller_offering_at_our_price_fills_us_for_its_size() -> None:
    # asks added and cancelled at our price while one of 30 stays there: each new seller
    # would have sold to us
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.98, 800, 10.01, 500),
        (3, 2, "A", "A", 10.00, 30, 9.98, 800, 10.00, 30),
        (4, 2, "A", "A", 10.00, 40, 9.98, 800, 10.00, 70),
        (5, 2, "C", "A", 10.00, 40, 9.98, 800, 10.00, 30),
        (6, 2, "A", "A", 10.00, 50, 9.98, 800, 10.00, 80, 0),  # inside an event: it counts
        (6, 2, "C", "B", 9.98, 800, 9.97, 900, 10.00, 80),
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 6, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == [30, 40, 50] and set(fills.kind) == {CROSSED}


def test_asks_that_come_down_without_a_seller_arriving_fill_what_they_newly_show() -> None:
    # a book where the asks reach our price on a row that is not an ask's own: what the
    # asks at or below our price show beyond what we took, as that grows
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "C", "B", 10.00, 300, 9.98, 800, 10.01, 500),
        (3, 2, "C", "B", 9.98, 10, 9.98, 790, 10.00, 60),
        (4, 2, "C", "B", 9.98, 10, 9.98, 780, 10.00, 90),
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 4, book, CONSERVATIVE, 10_000)
    # 60 at 10.00 and 1000 at 10.01 (the helper's second level) at first: 60; then 30 more
    assert fills.qty.tolist() == [60, 30] and set(fills.kind) == {CROSSED}


def test_both_crossing_rules_run_one_compiled_kernel() -> None:
    # the rule is an integer argument: switching it never compiles the kernel again
    from sor.ck.queue import _advance

    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "A", "A", 10.00, 30, 9.98, 800, 10.00, 30),
    )
    for rule in (DISPLAYED, WHOLE):
        for model in (CONSERVATIVE, PROBABILISTIC):
            book, index = _resting(events, 200, model)
            advance(events, index, 2, book, model, 10_000, rule)
    assert len(_advance.signatures) == 1


def test_a_fraction_of_the_queue_carries_over_partial_fills() -> None:
    # rule (c): probabilistic leaves 99.5 ahead (one share cancelled of 100 ahead and 100
    # behind); a trade of 149 gives 49 and half a share stays owed to the order
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 100, 10.01, 500),
        (2, 2, "A", "B", 10.00, 100, 10.00, 200, 10.01, 500),
        (3, 2, "C", "B", 10.00, 1, 10.00, 199, 10.01, 500),
        (4, 2, "T", "A", 10.00, 149, 10.00, 199, 10.01, 500, 0),
        (4, 2, "A", "A", 10.05, 1, 10.00, 50, 10.01, 500),
        (5, 2, "T", "A", 10.00, 1, 10.00, 50, 10.01, 500, 0),
        (5, 2, "A", "A", 10.05, 1, 10.00, 49, 10.01, 500),
    )
    book, index = _resting(events, 200, PROBABILISTIC)
    index, fills = advance(events, index, 3, book, PROBABILISTIC, 10_000)
    assert book.ahead[0] == pytest.approx(99.5)
    index, fills = advance(events, index, 4, book, PROBABILISTIC, 10_000)
    assert fills.qty.tolist() == [49] and book.ahead[0] == pytest.approx(-0.5)
    _, fills = advance(events, index, 5, book, PROBABILISTIC, 10_000)
    assert fills.qty.tolist() == [1] and book.ahead[0] == pytest.approx(-0.5)


def test_trades_without_an_aggressor_side_at_the_bid_fill_us() -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 100, 10.01, 500),
        (2, 2, "T", "N", 10.00, 70, 10.00, 100, 10.01, 500, 0),  # at the bid: a sell
        (2, 2, "A", "A", 10.05, 1, 10.00, 30, 10.01, 500),
        (3, 2, "T", "N", 10.01, 70, 10.00, 30, 10.01, 500, 0),  # at the ask: a buy
        (3, 2, "A", "A", 10.05, 1, 10.00, 30, 10.01, 430),
    )
    book, index = _resting(events, 200)
    book.ahead[0] = 0.0  # at the front of the queue
    _, fills = advance(events, index, 3, book, CONSERVATIVE, 10_000)
    assert fills.qty.tolist() == [70]


@pytest.mark.parametrize(("model", "ahead"), [(CONSERVATIVE, 300.0), (PROBABILISTIC, 200.0)])
def test_size_cuts_on_modify_rows_advance_the_queue(model: int, ahead: float) -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (2, 2, "A", "B", 10.00, 150, 10.00, 450, 10.01, 500),
        (3, 2, "M", "B", 10.00, 50, 10.00, 300, 10.01, 500),  # an order cut from 200 to 50
    )
    book, index = _resting(events, 200, model)
    advance(events, index, 3, book, model, 10_000)
    assert book.ahead[0] == pytest.approx(ahead)


def test_marketable_orders_sweep_venues_and_levels_cheapest_first() -> None:
    events = _events(
        (1, 2, "A", "A", 10.01, 100, 10.00, 100, 10.01, 300),
        (1, 5, "A", "A", 10.01, 100, 10.00, 100, 10.01, 200),
        (1, 9, "A", "A", 10.00, 100, 9.99, 100, 10.00, 100),
    )
    book = Book.empty(np.unique(events["publisher_id"]), 10)
    advance(events, 0, 1, book, CONSERVATIVE, 0)
    fills = sweep(book, 700)
    # 100 @ 10.00 (venue 9), 300 + 200 @ 10.01 (venues 2 then 5), 100 @ 10.01 (venue 9 level 1)
    assert fills.qty.tolist() == [100, 300, 200, 100]
    assert fills.venue.tolist() == [2, 0, 1, 2]
    assert sweep(book, 10_000).qty.sum() == 1000 + 1000 + 1000 - 100  # depth left, not reused


def _passive_run(latency: OrderLatency) -> CKResult:
    """300 shares rested at once behind 100; 900 more join at t=51, then 500 trade at t=200."""
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 100, 10.01, 500),
        (51, 2, "A", "B", 10.00, 900, 10.00, 1000, 10.01, 500),
        (200, 2, "T", "A", 10.00, 500, 10.00, 1000, 10.01, 500, 0),
        (200, 2, "A", "A", 10.05, 1, 10.00, 500, 10.01, 500),
    )
    venues = np.unique(events["publisher_id"]).astype(np.int64)
    fees, rebates = np.array([3_000_000]), np.array([2_000_000])
    return run_ck(events, venues, 300, fees, rebates, RiskParameters(0.0, 0.0, 0.0), 1e-6,
                  (1, 1000), CKSettings(latency, CONSERVATIVE), passive_only=True)  # fmt: skip


@pytest.mark.parametrize(("crossing_fill", "passive"), [(DISPLAYED, 100), (WHOLE, 300)])
def test_the_routers_crossing_rule_is_the_settings_one(crossing_fill: int, passive: int) -> None:
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500),
        (50, 2, "C", "B", 10.00, 300, 9.98, 800, 10.01, 500),  # the bid falls away
        (60, 2, "A", "A", 10.00, 100, 9.98, 800, 10.00, 100),  # 100 offered at our 10.00
    )
    venues = np.unique(events["publisher_id"]).astype(np.int64)
    settings = CKSettings(OrderLatency(10), CONSERVATIVE, crossing_fill)
    result = run_ck(events, venues, 300, np.array([3_000_000]), np.array([2_000_000]),
                    RiskParameters(0.0, 0.0, 0.0), 1e-6, (1, 1000), settings,
                    passive_only=True)  # fmt: skip
    assert result.passive == passive and result.filled == 300
    assert [e.ts for e in result.executions if e.passive] == [60]


@pytest.mark.parametrize(("latency_ns", "passive"), [(10, 300), (49, 300), (50, 0), (100, 0)])
def test_an_order_joins_the_queue_as_it_stands_when_it_arrives(
    latency_ns: int, passive: int
) -> None:
    result = _passive_run(OrderLatency(latency_ns))
    # arriving before t=51 it is behind 100 of the 500 traded; from t=51 on, behind 1000
    assert result.passive == passive
    assert result.filled == 300  # the rest is bought at the window's end
    market = [e for e in result.executions if not e.passive]
    assert all(e.ts == 1000 and e.px == 10_010_000_000 for e in market)


def test_sampled_latencies_are_seeded_and_each_order_draws_its_own() -> None:
    outcomes = set()
    for seed in range(12):
        latency = OrderLatency(50, sigma=0.5, seed=seed)
        delays = latency.draw(latency.generator(), 2)  # the marketable order's, venue 0's
        result = _passive_run(latency)
        assert result.passive == (300 if 1 + delays[1] < 51 else 0), seed
        assert result == _passive_run(latency)
        outcomes.add(result.passive)
    assert outcomes == {0, 300}  # the seeds above reach both sides of t=51


def test_order_latency_draws_a_lognormal_law_around_its_median() -> None:
    constant = OrderLatency(100_000)
    assert constant.generator() is None
    assert constant.draw(None, 3).tolist() == [100_000] * 3
    assert constant.as_dict() == {"model": "constant", "ns": 100_000}
    sampled = OrderLatency(100_000, sigma=0.4, seed=3)
    draws = sampled.draw(sampled.generator(), 20_000)
    assert draws.dtype == np.int64 and draws.min() > 0
    assert np.median(draws) == pytest.approx(100_000, rel=0.02)
    assert np.log(draws).std() == pytest.approx(0.4, rel=0.02)
    assert sampled.draw(sampled.generator(), 5).tolist() == draws[:5].tolist()
    assert sampled.as_dict() == {"model": "lognormal", "median_ns": 100_000, "sigma": 0.4,
                                 "seed": 3}  # fmt: skip


@pytest.mark.parametrize("bad", [dict(median_ns=-1), dict(sigma=-0.1), dict(sigma=float("nan")),
                                 dict(median_ns=0, sigma=0.5)])  # fmt: skip
def test_order_latency_rejects_impossible_settings(bad: dict) -> None:
    with pytest.raises(ConfigError, match="latency"):
        OrderLatency(**bad)


def test_a_top_of_book_venues_restated_ask_is_no_new_seller() -> None:
    # F_TOB rows restate the whole top level: 30 at 10.00, then 40 (10 more), then the ask
    # goes back up and returns with 40 (the same sellers): only the growth counts, once
    events = _events(
        (1, 2, "A", "B", 10.00, 100, 10.00, 300, 10.01, 500, 192),
        (2, 2, "A", "B", 9.98, 800, 9.98, 800, 10.01, 500, 192),  # the bid falls away
        (3, 2, "A", "A", 10.00, 30, 9.98, 800, 10.00, 30, 192),
        (4, 2, "A", "A", 10.00, 40, 9.98, 800, 10.00, 40, 192),
        (5, 2, "A", "A", 10.02, 70, 9.98, 800, 10.02, 70, 192),
        (6, 2, "A", "A", 10.00, 40, 9.98, 800, 10.00, 40, 192),
    )
    book, index = _resting(events, 200)
    _, fills = advance(events, index, 6, book, CONSERVATIVE, 10_000)
    # 30, then 10 more; the ask moving away and back starts a new crossing: 40 again
    assert fills.qty.tolist() == [30, 10, 40] and set(fills.kind) == {CROSSED}
