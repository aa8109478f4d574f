"""sor's order-level books and exact FIFO queue against the plain-Python references of
tests/orderlevel_reference.py: on hand-made and randomized (seeded) record sequences, and on
the real files of ``../shared/data`` where they are present."""

from __future__ import annotations

import sys
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orderlevel_helpers import Flow, interleave, mbo_records, tob_flow
from orderlevel_reference import (
    AT_PRICE,
    CROSSED,
    THROUGH,
    FifoResult,
    Record,
    event_order,
    fifo_orders,
    lobster_actions,
    lobster_books,
    lobster_messages,
    rebuild_books,
    records_of,
)
from sor.ck.fills import Orders, simulate
from sor.ck.queue import FIFO, attach_venues
from sor.ck.router import CKSettings
from sor.data.mbo import MboRecords, read_mbo_records, rebuild_events

T0 = 1_712_151_000_000_000_000  # 2024-04-03T13:30:00Z
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
GOOGL = SHARED / "dbeq-basic-20240403-googl.mbo.dbn.zst"
LOBSTER = SHARED / "lobster"
BOOK_FIELDS = ("bid_px", "bid_sz", "ask_px", "ask_sz")
SECOND = 1_000_000_000


# comparisons ---------------------------------------------------------------------------------


def check_books(records: MboRecords) -> int:
    """Assert that sor's events carry, record by record, the reference's books; return the
    number of events."""
    events = rebuild_events(records, skip_bad_rows=False).events
    recs = records_of(records.columns)
    books = rebuild_books(recs)
    order = event_order(recs)
    assert len(events) == len(recs)
    assert events["seq"].tolist() == order
    assert events["ts_event"].tolist() == [recs[i].ts for i in order]
    assert events["action"].tobytes().decode() == "".join(recs[i].action for i in order)
    expected = np.array([books[i] for i in order], np.int64).reshape(len(order), 4, -1)
    for j, name in enumerate(BOOK_FIELDS):
        wrong = np.flatnonzero((events[name] != expected[:, j]).any(axis=1))
        if len(wrong):
            k = int(wrong[0])
            first = order[k]
            mine = [r for r in recs[: first + 1] if r.venue == recs[first].venue]
            pytest.fail(
                f"{len(wrong)} event(s) differ in {name}; first: record {first} {recs[first]}\n"
                f"sor:       {events[name][k].tolist()}\nreference: {expected[k, j].tolist()}\n"
                f"the venue's records up to it (last 12): {mine[-12:]}"
            )
    return len(events)


def sor_fifo(records: MboRecords, venue: int, orders: list[tuple[int, int, int]]):
    """sor's fills of ``orders`` (place_ns, cancel_ns, shares) resting at ``venue``."""
    events, venues = attach_venues(rebuild_events(records, skip_bad_rows=False).events)
    index = int(np.searchsorted(venues, venue))
    assert venues[index] == venue
    n = len(orders)
    column = [np.array([o[j] for o in orders], np.int64).reshape(n) for j in range(3)]
    table = Orders(np.full(n, index, np.int64), *column)
    return simulate(events, venues, table, CKSettings(queue_model=FIFO))


def check_fifo(
    records: MboRecords, orders: list[tuple[int, int, int]], venue: int = 39
) -> list[FifoResult]:
    """Assert that sor's FIFO queue fills each order as the reference does (placement,
    price, shares ahead, shares filled and shares per fill time); return the reference's
    results."""
    expected = fifo_orders(records_of(records.columns), venue, orders)
    got = sor_fifo(records, venue, orders)
    for i, want in enumerate(expected):
        times: dict[int, int] = {}
        for ts, qty, _ in want.fills:
            times[ts] = times.get(ts, 0) + qty
        mine = got.fill_order == i
        sor_times: dict[int, int] = {}
        for ts, qty in zip(got.fill_ns[mine].tolist(), got.fill_qty[mine].tolist(), strict=True):
            sor_times[ts] = sor_times.get(ts, 0) + qty
        sor_view = (bool(got.placed[i]), int(got.price[i]), float(got.ahead[i]),
                    int(got.filled[i]), sor_times)  # fmt: skip
        want_view = (want.placed, want.price, float(want.ahead), want.filled, times)
        assert sor_view == want_view, (
            f"order {i} {orders[i]}: sor (placed, price, ahead, filled, fills) {sor_view}, "
            f"reference {want_view}; reference fills {want.fills}"
        )
    return expected


# random flows --------------------------------------------------------------------------------


def random_orders(
    rng: np.random.Generator, rows: list[tuple], count: int
) -> list[tuple[int, int, int]]:
    """Orders placed and cancelled at random moments of the rows' span, a third of them
    exactly at a record's time."""
    times = sorted({r[0] for r in rows})
    first, last = times[0], times[-1]
    orders = []
    for _ in range(count):
        exact = rng.random() < 0.3
        place = int(rng.choice(times)) if exact else int(rng.integers(first, last + 1))
        if rng.random() < 0.3:
            later = [t for t in times if t >= place]
            cancel = int(rng.choice(later)) if later else place
        else:
            cancel = place + int(rng.integers(0, (last - first) // 2 + 2))
        qty = int(rng.choice([1, 50, 100, 300, 1000, 5000]))
        orders.append((place, cancel, qty))
    return orders


# A: the books --------------------------------------------------------------------------------


def test_books_of_hand_made_records() -> None:
    rows = [
        (T0, "A", "B", 10.00, 100, 1),
        (T0, "A", "B", 10.00, 200, 2),
        (T0 + 1, "A", "A", 10.05, 300, 3),
        (T0 + 2, "M", "B", 9.99, 200, 2),  # moves
        (T0 + 3, "M", "B", 10.00, 50, 1),  # shrinks
        (T0 + 4, "T", "A", 10.00, 20, 0),
        (T0 + 4, "F", "B", 10.00, 20, 1),  # the book stays until the cancel
        (T0 + 4, "C", "B", 10.00, 20, 1),
        (T0 + 5, "F", "B", 9.99, 50, 2),  # orphan: the next record is about another order
        (T0 + 6, "A", "A", 10.04, 10, 4),
        (T0 + 7, "N", "N", 0, 0, 0),
        (T0 + 8, "M", "A", 10.04, 0, 4),  # to zero
        (T0 + 9, "R", "N", 0, 0, 0),
        (T0 + 10, "A", "B", 9.90, 10, 5),
    ]
    records = mbo_records(*rows)
    books = rebuild_books(records_of(records.columns))
    bid = [(b[0][0], b[1][0], b[0][1], b[1][1]) for b in books]
    g = 10**7  # a cent
    assert bid[3] == (1000 * g, 100, 999 * g, 200)
    assert bid[4] == (1000 * g, 50, 999 * g, 200)
    assert bid[6] == bid[5] == bid[4]
    assert bid[7] == (1000 * g, 30, 999 * g, 200)
    assert bid[8] == bid[7] and bid[9] == (1000 * g, 30, 999 * g, 150)
    assert books[12] == ([0] * 10,) * 4 and bid[13] == (990 * g, 10, 0, 0)
    assert check_books(records) == len(rows)


def test_books_of_top_of_book_and_unsorted_venues() -> None:
    rows = [
        (T0 + 5, "A", "B", 10.00, 100, 1, 128, 39),
        (T0 + 1, "A", "B", 9.98, 300, 7, 192, 41),
        (T0 + 2, "A", "A", 10.02, 200, 7, 64, 41),
        (T0 + 5, "A", "A", 10.05, 100, 2, 128, 39),
        (T0 + 3, "T", "N", 10.02, 100, 7, 0, 41),
        (T0 + 3, "A", "B", 9.97, 500, 7, 194, 41),  # replaces the bid side
        (T0 + 4, "A", "A", 0, 0, 7, 194, 41),  # undefined price: no ask
        (T0 + 6, "A", "B", 9.97, 0, 7, 194, 41),  # no size: no bid
    ]
    records = mbo_records(*rows)
    books = rebuild_books(records_of(records.columns))
    assert books[5][0][:2] == [997 * 10**7, 0] and books[5][1][:2] == [500, 0]
    assert books[6][2][0] == 0 and books[7] == ([0] * 10,) * 4
    check_books(records)


@pytest.mark.parametrize("seed", range(8))
def test_books_of_random_flows(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    full = Flow(rng, venue=39)
    full.flags = (128, 130, 0)
    full.orphans, full.clears, full.nones = 0.02, 0.003, 0.01
    for _ in range(1500):
        full.step()
    other = Flow(rng, venue=38, first_id=1)  # the same order ids at another venue
    other.orphans = 0.02
    for _ in range(400):
        other.step()
    rows = interleave(rng, full.rows, other.rows, tob_flow(rng, 500))
    check_books(mbo_records(*rows))


def test_event_sides_are_the_records_sides() -> None:
    """Each event keeps its record's side, also when the file is not in time order (two
    venues' records interleaved, as in real files)."""
    rows = [
        (T0 + 2, "A", "B", 10.00, 100, 1, 128, 39),
        (T0 + 1, "A", "A", 10.05, 100, 1, 128, 38),
    ]
    events = rebuild_events(mbo_records(*rows), skip_bad_rows=False).events
    assert events["publisher_id"].tolist() == [38, 39]
    assert events["side"].tolist() == [b"A", b"B"]


def test_event_sides_of_the_real_googl_file() -> None:
    if not GOOGL.is_file():
        pytest.skip(f"the real Databento MBO file {GOOGL} is not present")
    records = read_mbo_records(GOOGL, skip_bad_rows=False)
    events = rebuild_events(records, skip_bad_rows=False).events
    recs = records_of(records.columns)
    expected = "".join(recs[i].side for i in event_order(recs))
    sides = events["side"].tobytes().decode()
    wrong = [k for k in range(len(recs)) if sides[k] != expected[k]]
    assert not wrong, f"{len(wrong)} event(s) of {len(recs)} have another side than their record"


def test_books_of_the_real_googl_file() -> None:
    if not GOOGL.is_file():
        pytest.skip(f"the real Databento MBO file {GOOGL} is not present")
    records = read_mbo_records(GOOGL, skip_bad_rows=False)
    assert check_books(records) == 157_187


# B: the FIFO queue ---------------------------------------------------------------------------


def _book(*extra: tuple) -> list[tuple]:
    """Bids at 10.00 (ids 1 and 2, 100 and 200 shares), a bid at 9.99 (id 9), an ask at
    10.05 (id 3); our order joins at T0 + 5, behind 300 shares."""
    return [
        (T0, "A", "B", 10.00, 100, 1),
        (T0 + 1, "A", "B", 10.00, 200, 2),
        (T0 + 1, "A", "B", 9.99, 400, 9),
        (T0 + 2, "A", "A", 10.05, 300, 3),
        (T0 + 10, "A", "B", 10.00, 500, 4),  # behind us
        *extra,
    ]


def _fill(oid: int, cents: int, shares: int, ts: int, side: str = "B") -> list[tuple]:
    aggressor = "A" if side == "B" else "B"
    return [
        (ts, "T", aggressor, cents / 100, shares, 0),
        (ts, "F", side, cents / 100, shares, oid),
        (ts, "C", side, cents / 100, shares, oid),
    ]


ORDER = (T0 + 5, T0 + 1000, 1000)


@pytest.mark.parametrize(
    ("extra", "filled", "kinds"),
    [
        ([], 0, set()),
        # fills ahead of us advance us, fills behind us fill us
        ([*_fill(1, 1000, 60, T0 + 20), *_fill(4, 1000, 150, T0 + 21)], 150, {AT_PRICE}),
        # a cancel behind us, then a fill ahead: nothing for us
        ([(T0 + 20, "C", "B", 10.00, 500, 4), *_fill(2, 1000, 200, T0 + 21)], 0, set()),
        # a modify raising an order ahead sends it behind us: its fill is ours
        ([(T0 + 20, "M", "B", 10.00, 250, 2), *_fill(2, 1000, 240, T0 + 21)], 240, {AT_PRICE}),
        # a modify cutting an order ahead keeps it ahead
        ([(T0 + 20, "M", "B", 10.00, 150, 2), *_fill(2, 1000, 140, T0 + 21)], 0, set()),
        # moved away and back: behind us
        (
            [
                (T0 + 20, "M", "B", 9.99, 200, 1),
                (T0 + 21, "M", "B", 10.00, 200, 1),
                *_fill(1, 1000, 200, T0 + 22),
            ],
            200,
            {AT_PRICE},
        ),
        # a fill at a worse price fills us
        (_fill(9, 999, 300, T0 + 20), 300, {THROUGH}),
        # an ask added at our price fills us (for at most our remainder)
        (
            [
                (T0 + 20, "A", "A", 10.00, 700, 5),
                (T0 + 20, "C", "A", 10.00, 700, 5),
                (T0 + 21, "A", "A", 9.98, 700, 6),
                (T0 + 21, "C", "A", 9.98, 700, 6),
            ],
            1000,
            {CROSSED},
        ),
        # an ask moved to our price offers its new size; at the same price, only the growth
        (
            [
                (T0 + 20, "M", "A", 10.00, 120, 3),
                (T0 + 21, "M", "A", 10.00, 170, 3),
                (T0 + 22, "M", "A", 10.00, 100, 3),
                (T0 + 22, "C", "A", 10.00, 100, 3),
            ],
            170,
            {CROSSED},
        ),
        # a trade alone (hidden liquidity) changes nothing
        ([(T0 + 20, "T", "A", 10.00, 500, 0)], 0, set()),
        # fills at a better bid, or on asks, do not fill us
        (
            [
                (T0 + 20, "A", "B", 10.01, 100, 7),
                *_fill(7, 1001, 100, T0 + 21),
                *_fill(3, 1005, 100, T0 + 22, side="A"),
            ],
            0,
            set(),
        ),
    ],
)
def test_fifo_rules_by_hand(extra: list[tuple], filled: int, kinds: set[str]) -> None:
    (result,) = check_fifo(mbo_records(*_book(*extra)), [ORDER])
    assert result.placed and result.price == 10 * 10**9 and result.ahead == 300
    assert result.filled == filled
    assert {kind for _, _, kind in result.fills} == kinds


def test_fifo_after_the_cancel_and_without_a_bid() -> None:
    rows = [
        (T0, "A", "A", 10.05, 300, 3),
        (T0 + 2, "A", "B", 10.00, 100, 1),
        (T0 + 4, "A", "B", 10.00, 100, 2),
        *_fill(2, 1000, 50, T0 + 6),  # at the cancel's time: counts
        *_fill(2, 1000, 50, T0 + 7),  # after it: does not
    ]
    orders = [
        (T0 + 1, T0 + 9, 100),
        (T0 + 3, T0 + 6, 100),
        (T0 + 2, T0 + 9, 100),
        (T0 + 3, T0 + 3, 100),  # cancelled as it rests
    ]
    got = check_fifo(mbo_records(*rows), orders)
    assert [r.placed for r in got] == [False, True, True, True]
    # the second fills at its cancel's moment; the third joined before order 2: both its fills
    assert [r.filled for r in got] == [0, 50, 100, 0]


def test_fifo_with_another_venues_records_out_of_time_order() -> None:
    """A venue's records that come later in the file but earlier in time change nothing
    for an order resting at another venue: here the bid at 9.99 below our order must not
    read as an ask crossing it."""
    rows = [
        (T0 + 1, "A", "B", 10.00, 100, 1, 128, 39),
        (T0 + 20, "A", "B", 9.99, 100, 2, 128, 39),
        (T0 + 10, "A", "A", 10.05, 100, 1, 128, 38),
    ]
    (result,) = check_fifo(mbo_records(*rows), [(T0 + 5, T0 + 30, 100)])
    assert result.placed and result.filled == 0


@pytest.mark.parametrize("seed", range(12))
def test_fifo_of_random_flows(seed: int) -> None:
    rng = np.random.default_rng(2000 + seed)
    flow = Flow(rng)
    if seed % 2:  # fills that no cancel of their order follows still fill us
        flow.orphans = 0.03
    for _ in range(600):
        flow.step()
    rows = flow.rows
    if seed % 3 == 0:  # another venue's records in between change nothing
        rows = interleave(rng, rows, tob_flow(rng, 200))
    orders = random_orders(rng, flow.rows, 25)
    results = check_fifo(mbo_records(*rows), orders)
    assert sum(r.placed for r in results) > 0


def test_fifo_of_random_flows_fills_every_way() -> None:
    """The random flows do reach each kind of fill (else the comparison proves little)."""
    kinds: set[str] = set()
    for seed in range(3):
        rng = np.random.default_rng(2000 + seed)
        flow = Flow(rng)
        for _ in range(600):
            flow.step()
        for result in fifo_orders(
            records_of(mbo_records(*flow.rows).columns), 39, random_orders(rng, flow.rows, 25)
        ):
            kinds |= {kind for _, _, kind in result.fills}
    assert kinds == {AT_PRICE, THROUGH, CROSSED}


def test_fifo_of_the_real_googl_file() -> None:
    if not GOOGL.is_file():
        pytest.skip(f"the real Databento MBO file {GOOGL} is not present")
    records = read_mbo_records(GOOGL, skip_bad_rows=False)
    last = int(records.columns["ts_event"].max())
    orders = [
        (place, place + horizon * SECOND, qty)
        for horizon in (10, 60)
        for qty in (100, 1000)
        for place in range(T0, last - horizon * SECOND + 1, 30 * SECOND)
    ]
    results = check_fifo(records, orders, venue=39)
    assert len(results) > 200 and sum(r.placed for r in results) > 200
    assert sum(r.filled for r in results) > 0


# C: LOBSTER ---------------------------------------------------------------------------------


@pytest.mark.parametrize("levels", [1, 5])
def test_lobster_books_are_the_orderbook_rows(levels: int, tmp_path: Path) -> None:
    archive = LOBSTER / f"LOBSTER_SampleFile_AMZN_2012-06-21_{levels}.zip"
    if not archive.is_file():
        pytest.skip(f"the LOBSTER sample {archive} is not present")
    from sor.data.lobster import read_lobster

    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path)
    stem = f"AMZN_2012-06-21_34200000_57600000_{{}}_{levels}.csv"
    message = next(tmp_path.rglob(stem.format("message")))
    midnight = int(datetime(2012, 6, 21, tzinfo=ZoneInfo("America/New_York")).timestamp())
    messages = lobster_messages(message, midnight * SECOND)
    rows = lobster_books(message.with_name(stem.format("orderbook")))
    events = read_lobster(message).events

    which, expected_action, expected_side, expected_book = [], [], [], []
    for i, m in enumerate(messages):
        actions = lobster_actions(m.type)
        resting = "B" if m.direction == 1 else "A"
        for k, action in enumerate(actions):
            which.append(i)
            expected_action.append(action)
            # a trade's side is the aggressor's: the other side of the resting order
            expected_side.append(("A" if resting == "B" else "B") if action == "T" else resting)
            last = k == len(actions) - 1
            expected_book.append(rows[i] if last or i == 0 else rows[i - 1])
    assert len(events) == len(which)
    assert events["action"].tobytes().decode() == "".join(expected_action)
    assert events["side"].tobytes().decode() == "".join(expected_side)
    message_of = np.array(which, np.int64)
    assert events["ts_event"].tolist() == [messages[i].ts for i in which]
    for name, values in (
        ("price", [m.price for m in messages]),
        ("size", [m.size for m in messages]),
    ):
        assert (events[name] == np.array(values, np.int64)[message_of]).all(), name
    expected = np.array(expected_book, np.int64).reshape(len(expected_book), 4, -1)
    # the first message's events before its last have no previous row to compare with
    known = (message_of > 0) | (np.arange(len(events)) == np.flatnonzero(message_of == 0)[-1])
    for j, name in enumerate(BOOK_FIELDS):
        wrong = np.flatnonzero((events[name] != expected[:, j]).any(axis=1) & known)
        if len(wrong):
            k = int(wrong[0])
            pytest.fail(
                f"{len(wrong)} event(s) differ in {name}; first: event {k} of message "
                f"{which[k]} {messages[which[k]]}: sor {events[name][k].tolist()}, "
                f"orderbook {expected[k, j].tolist()}"
            )


def test_reference_records_round_trip() -> None:
    """The reference reads the helper's records as written."""
    (rec,) = records_of(mbo_records((T0, "A", "B", 10.01, 100, 5, 130, 40)).columns)
    assert rec == Record(T0, 40, "A", "B", 10_010_000_000, 100, 5, 130)
