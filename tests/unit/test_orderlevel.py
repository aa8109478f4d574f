"""Order-level input: Databento MBO (CSV, DBN) and LOBSTER files rebuilt into per-venue
books, their events, their bad records, and the commands reading them."""

from __future__ import annotations

import csv
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dbn_encode import mbo_csv_to_dbn
from orderlevel_helpers import D, mbo_events, write_mbo_csv
from sor.cli import app
from sor.core.errors import DataError
from sor.data.events import (
    CUT_CANCEL,
    CUT_FILL,
    CUT_HIDDEN,
    CUT_REQUEUE,
    ORDER_LEVEL,
    TOP_OF_BOOK,
    complete_books,
    read_events,
)
from sor.data.lobster import read_lobster
from sor.data.orderlevel import input_kind
from sor.data.reader import read_market

T0 = 1_712_151_000_000_000_000  # 2024-04-03T13:30:00Z
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
GOOGL = SHARED / "dbeq-basic-20240403-googl.mbo.dbn.zst"
AMZN = SHARED / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_{}.zip"

ROWS = [
    (T0, "A", "B", 10.00, 100, 1),
    (T0 + 1, "A", "B", 10.00, 200, 2),
    (T0 + 2, "A", "A", 10.05, 300, 3),
    (T0 + 3, "A", "B", 9.99, 50, 4),
    (T0 + 10, "T", "A", 10.00, 60, 0),
    (T0 + 10, "F", "B", 10.00, 60, 1),
    (T0 + 10, "C", "B", 10.00, 60, 1),
    (T0 + 20, "M", "B", 10.01, 200, 2),
    (T0 + 21, "M", "B", 9.99, 20, 4),
]


def _top(events: np.ndarray, side: str) -> list[tuple[float, int]]:
    px, sz = events[f"{side}_px"], events[f"{side}_sz"]
    return [(float(p[0]) / D, int(s[0])) for p, s in zip(px, sz, strict=True)]


def test_every_record_is_an_event_with_its_venues_book_after_it() -> None:
    events = mbo_events(*ROWS)
    assert len(events) == len(ROWS) and (events["source"] == ORDER_LEVEL).all()
    assert events["seq"].tolist() == list(range(len(ROWS)))
    assert _top(events, "bid") == [(10.0, 100), (10.0, 300), (10.0, 300), (10.0, 300),
                                   # the trade and the fill leave the book; the cancel cuts
                                   (10.0, 300), (10.0, 300), (10.0, 240),
                                   (10.01, 200), (10.01, 200)]  # fmt: skip
    assert events["bid_px"][-1, :3].tolist() == [int(10.01 * D), 10 * D, int(9.99 * D)]
    assert events["bid_sz"][-1, :3].tolist() == [200, 40, 20]
    assert _top(events, "ask")[0] == (0.0, 0) and _top(events, "ask")[-1] == (10.05, 300)
    # what left a resting order's place, for the exact queue
    cut = events[["cut", "cut_px", "cut_prio", "cut_size"]].tolist()
    assert cut[6] == (CUT_FILL, 10 * D, 0, 60)  # the fill's cut of order 1 (added first)
    assert cut[7] == (CUT_REQUEUE, 10 * D, 1, 200)  # order 2 moved to 10.01: to the back
    assert cut[8] == (CUT_CANCEL, int(9.99 * D), 3, 30)  # order 4 cut from 50 to 20
    assert [c[0] for c in cut[:6]] == [0] * 6


def test_the_trade_rows_book_is_the_one_before_the_trade() -> None:
    events = mbo_events(*ROWS)
    complete = complete_books(events)
    # the trade and fill rows are not the venue's book; the cut is
    assert complete.tolist() == [True] * 4 + [False, False] + [True] * 3


def test_top_of_book_venues_replace_their_side_and_an_undefined_price_empties_it() -> None:
    rows = [
        (T0, "A", "B", 10.00, 100, 4348, 64, 41),
        (T0, "A", "A", 10.05, 200, 4348, 192, 41),
        (T0 + 1, "A", "B", 10.01, 300, 4348, 64, 41),  # replaces 10.00 x 100
        (T0 + 1, "A", "A", 0, 0, 4348, 192, 41),  # no ask any more
        (T0 + 2, "T", "N", 10.01, 10, 7, 192, 41),
    ]
    events = mbo_events(*rows)
    assert (events["source"] == TOP_OF_BOOK).all()
    assert _top(events, "bid") == [(10.0, 100), (10.0, 100), (10.01, 300), (10.01, 300),
                                   (10.01, 300)]  # fmt: skip
    assert _top(events, "ask") == [(0.0, 0), (10.05, 200), (10.05, 200), (0.0, 0), (0.0, 0)]
    assert (events["bid_px"][:, 1:] == 0).all()


def test_mbo_csv_and_dbn_give_the_same_events(tmp_path: Path) -> None:
    csv = write_mbo_csv(tmp_path / "day.mbo.csv", *ROWS)
    assert input_kind(csv) == "mbo"
    from_csv = read_events(csv)
    for name in ("day.mbo.dbn", "day.mbo.dbn.zst"):
        dbn = mbo_csv_to_dbn(csv, tmp_path / name)
        assert input_kind(dbn) == "mbo"
        np.testing.assert_array_equal(read_events(dbn), from_csv)
    np.testing.assert_array_equal(from_csv, mbo_events(*ROWS))


def test_the_window_cuts_the_events_of_the_whole_rebuild(tmp_path: Path) -> None:
    csv = write_mbo_csv(tmp_path / "day.mbo.csv", *ROWS)
    window = read_events(csv, start_ns=T0 + 10, end_ns=T0 + 20)
    assert window["ts_event"].tolist() == [T0 + 10] * 3 + [T0 + 20]
    # the book at the window's start holds the orders placed before it
    assert window["bid_sz"][0, 0] == 300
    market = read_market(csv, start_ns=T0 + 10, end_ns=T0 + 20)
    assert market.rows_read == len(ROWS) and market.rows_in_window == 4
    assert market.snapshots["bid_sz"].tolist() == [300, 200]  # first row per time


@pytest.mark.parametrize(
    ("bad", "reason", "message"),
    [((T0 + 30, "C", "B", 10.00, 10, 99), "unknown_order",
      "cancels, modifies or fills an order that is not resting at its venue"),
     ((T0 + 30, "A", "B", 10.00, 10, 3), "duplicate_order", "adds an order whose id already"),
     ((T0 + 30, "C", "B", 10.00, 500, 3), "cut_exceeds_order", "cancels or fills more than"),
     ((T0 - 5, "A", "B", 10.00, 10, 77), "out_of_time_order", "ts_event before the previous"),
     ((T0 + 30, "A", "B", 10.00, 0, 78), "bad_add", "adds an order without a price or a size"),
     ((T0 + 30, "A", "B", 10.00, -5, 79), "bad_size", "has a negative size")],
)  # fmt: skip
def test_a_bad_record_is_one_line_or_skipped_and_counted(
    tmp_path: Path, bad: tuple, reason: str, message: str
) -> None:
    rows = [*ROWS[:4], bad, *ROWS[4:]]
    csv = write_mbo_csv(tmp_path / "bad.mbo.csv", *rows)
    with pytest.raises(DataError, match=f"line 6: the record .*{message}") as info:
        read_events(csv)
    assert str(info.value).count("\n") == 0 and str(csv) in str(info.value)
    good = read_events(csv, skip_bad_rows=True)
    np.testing.assert_array_equal(good["bid_sz"], mbo_events(*ROWS)["bid_sz"])
    assert read_market(csv, skip_bad_rows=True).skipped == {reason: 1}
    dbn = mbo_csv_to_dbn(csv, tmp_path / "bad.mbo.dbn") if reason != "bad_size" else None
    if dbn is not None:
        with pytest.raises(DataError, match=f"record 5: the record .*{message}"):
            read_events(dbn)


def test_sor_backtest_reads_mbo_and_says_which_venue_was_seen_order_by_order(
    tmp_path: Path,
) -> None:
    rows = [*ROWS, (T0 + 2, "A", "B", 10.00, 500, 4348, 64, 41),
            (T0 + 2, "A", "A", 10.02, 500, 4348, 192, 41)]  # fmt: skip
    rows.sort(key=lambda r: r[0])
    rows = [(T0 + (r[0] - T0) * 10_000_000, *r[1:]) for r in rows]  # 10 ms apart
    csv = write_mbo_csv(tmp_path / "day.mbo.csv", *rows)
    base = ["backtest", "--data", str(csv), "--no-plot", "--json-out", str(tmp_path / "o.json"),
            "--order-size", "100", "--quiet"]  # fmt: skip
    static = CliRunner().invoke(app, base)
    assert static.exit_code == 0, static.output
    assert json.loads(static.stdout)["optimized"]["total_fill"] == 100
    ck = CliRunner().invoke(app, [*base, "--model", "ck", "--queue-model", "fifo",
                                  "--horizon", "0.02"])  # fmt: skip
    assert ck.exit_code == 0, ck.output
    run = json.loads(ck.stdout)["run"]
    assert run["venue_queue_models"] == {"39": "fifo", "41": "conservative"}


# LOBSTER


def _lobster(folder: Path, messages: list[str], books: list[str], name: str = "X") -> Path:
    stem = f"{name}_2012-06-21_34200000_57600000"
    message = folder / f"{stem}_message_1.csv"
    message.write_text("".join(f"{m}\n" for m in messages))
    (folder / f"{stem}_orderbook_1.csv").write_text("".join(f"{b}\n" for b in books))
    return message


NY_OPEN = 1_340_285_400_000_000_000  # 2012-06-21T13:30:00Z, 09:30 in New York


def test_lobster_messages_become_events_with_the_books_of_the_orderbook_file(
    tmp_path: Path,
) -> None:
    message = _lobster(tmp_path, [
        "34200.5,1,11,100,2238100,1",  # a bid of 100 at 223.81
        "34200.6,5,0,40,2238200,-1",  # a hidden sell executed: a buy trade, nothing moves
        "34201.000000001,4,11,30,2238100,1",  # 30 of order 11 executed by a sell
        "34201.5,7,0,0,-1,-1",  # a halt: no event
        "34202.632812672004,3,7,200,2238100,1",  # an order the file never announced
    ], [
        "2238300,500,2238100,300",
        "2238300,500,2238100,300",
        "2238300,500,2238100,270",
        "2238300,500,2238100,270",
        "2238300,500,2238100,70",
    ])  # fmt: skip
    assert input_kind(message) == "lobster"
    data = read_lobster(message)
    events = data.events
    assert [(e["action"], e["side"]) for e in events] == [
        (b"A", b"B"),
        (b"T", b"B"),
        (b"T", b"A"),
        (b"F", b"B"),
        (b"C", b"B"),
        (b"C", b"B"),
    ]
    assert events["ts_event"].tolist() == [NY_OPEN + 500_000_000, NY_OPEN + 600_000_000,
                                           NY_OPEN + 1_000_000_001, NY_OPEN + 1_000_000_001,
                                           NY_OPEN + 1_000_000_001,
                                           NY_OPEN + 2_632_812_672]  # fmt: skip
    assert (events["publisher_id"] == 2).all() and data.halts == 1
    # the trade and the fill carry the book before the execution, the cut the one after
    assert events["bid_sz"][:, 0].tolist() == [300, 300, 300, 300, 270, 70]
    assert events["flags"].tolist() == [128, 128, 0, 0, 128, 128]
    cut = events[["cut", "cut_px", "cut_prio", "cut_size"]].tolist()
    # the hidden execution is marked as such, with its price and size
    assert cut[1] == (CUT_HIDDEN, int(223.82 * D), -1, 40)
    assert cut[4] == (CUT_FILL, int(223.81 * D), 0, 30)
    # order 7 rested before the file began (its price was in view all along): ahead of all
    assert cut[5] == (CUT_CANCEL, int(223.81 * D), -1, 200)
    assert read_lobster(message, publisher=9).events["publisher_id"].tolist() == [9] * 6


@pytest.mark.parametrize(
    ("messages", "book_rows", "message"),
    [(["34200.5,1,11,100,2238100,1"], ["1,2,3,4", "1,2,3,4"], "the orderbook file has 2 rows"),
     (["34200.5,9,11,100,2238100,1"], ["2238300,500,2238100,300"], "line 1: column type"),
     (["34200.5,1,11,-100,2238100,1"], ["2238300,500,2238100,300"], "column size: negative"),
     (["34200.5,1,11,100,2238100,0"], ["2238300,500,2238100,300"], "direction"),
     (["34200.5,1,11,100,2238100,1", "34200.4,1,12,100,2238100,1"],
      ["2238300,500,2238100,100", "2238300,500,2238100,200"], "line 2, column 'time'")],
)  # fmt: skip
def test_a_bad_lobster_row_is_one_line(
    tmp_path: Path, messages: list[str], book_rows: list[str], message: str
) -> None:
    path = _lobster(tmp_path, messages, book_rows)
    with pytest.raises(DataError, match=message):
        read_lobster(path)


def test_bad_lobster_rows_are_skipped_and_counted_by_their_first_fault(tmp_path: Path) -> None:
    good = "34200.5,1,11,100,2238100,1"
    messages = [good, "34200.6,1,12,100,2238100,0", "34200.7,9,13,100,2238100,0",
                "34200.8,1,14,-5,2238100,0", "34200.9,1,15,100,2238100,0"]  # fmt: skip
    path = _lobster(tmp_path, messages, ["2238300,500,2238100,100"] * len(messages))
    # a row with two faults counts under the first the reader checks (its type)
    assert read_lobster(path, skip_bad_rows=True).skipped == {
        "bad_side": 2, "bad_action": 1, "bad_size": 1,
    }  # fmt: skip


def test_a_lobster_file_needs_its_name_or_its_book(tmp_path: Path) -> None:
    plain = tmp_path / "messages.csv"
    plain.write_text("34200.5,1,11,100,2238100,1\n")
    assert input_kind(plain) == "lobster"
    with pytest.raises(DataError, match=r"named TICKER_DATE_START_END_message_LEVEL\.csv"):
        read_events(plain)
    message = _lobster(tmp_path, ["34200.5,1,11,100,2238100,1"], ["2238300,500,2238100,300"])
    book = message.with_name(message.name.replace("message", "orderbook"))
    with pytest.raises(DataError, match="give its message file"):
        read_events(book)
    book.rename(tmp_path / "elsewhere.csv")
    with pytest.raises(DataError, match="--lobster-book"):
        read_events(message)


def _shared(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} is absent: the shared real data is not on this machine")
    return path


def test_the_shared_googl_mbo_day_reads_as_three_venues() -> None:
    events = read_events(_shared(GOOGL))
    assert len(events) == 157_187
    venues, first = np.unique(events["publisher_id"], return_index=True)
    assert venues.tolist() == [39, 40, 41]
    assert events["source"][first].tolist() == [ORDER_LEVEL, TOP_OF_BOOK, TOP_OF_BOOK]
    # a rebuilt book is never crossed at its own venue, and never shows a negative size
    complete = events[complete_books(events)]
    both = (complete["bid_px"][:, 0] > 0) & (complete["ask_px"][:, 0] > 0)
    assert (complete["bid_px"][both, 0] < complete["ask_px"][both, 0]).all()
    assert (events["bid_sz"] >= 0).all() and (events["ask_sz"] >= 0).all()
    # every fill's cut follows its fill (Databento sends them as a pair)
    assert np.count_nonzero(events["cut"] == CUT_FILL) == np.count_nonzero(events["action"] == b"F")


@pytest.mark.parametrize("levels", [1, 5])
def test_the_shared_amzn_lobster_day_carries_the_orderbook_files_books(
    tmp_path: Path, levels: int
) -> None:
    archive = _shared(Path(str(AMZN).format(levels)))
    with zipfile.ZipFile(archive) as handle:
        handle.extractall(tmp_path)
    message = next(tmp_path.glob(f"*_message_{levels}.csv"))
    events = read_events(message)
    book = np.loadtxt(message.with_name(message.name.replace("message", "orderbook")),
                      delimiter=",", dtype=np.int64)  # fmt: skip
    kinds = np.loadtxt(message, delimiter=",", usecols=1, dtype=np.int64)
    # one complete book a message, but for hidden executions (trades: nothing moved)
    book = book[kinds != 5]
    complete = events[complete_books(events)]
    assert len(complete) == len(book)
    bids = np.where(book[:, 2] > 0, book[:, 2] * 100_000, 0)
    assert (complete["bid_px"][:, 0] == bids).all()
    assert (complete["ask_sz"][:, levels - 1] == np.where(book[:, 4 * levels - 4] < 9_999_999_999,
                                                          book[:, 4 * levels - 3], 0)).all()  # fmt: skip
    assert events["ts_event"][0] == NY_OPEN + 17_459_617  # 34200.017459617 s after midnight


def test_fifo_needs_the_file_not_the_event_stream(tmp_path: Path) -> None:
    csv = write_mbo_csv(tmp_path / "day.mbo.csv", *ROWS)
    result = CliRunner().invoke(app, ["backtest", "--data", str(csv), "--model", "ck",
                                      "--queue-model", "fifo", "--stream", "--no-plot",
                                      "--quiet"])  # fmt: skip
    assert result.exit_code == 2
    assert "the Kafka event stream carries MBP events" in result.output


def test_an_orderbook_file_that_is_not_a_file_is_said_so(tmp_path: Path) -> None:
    message = _lobster(tmp_path, ["34200.5,1,11,100,2238100,1"], ["2238300,500,2238100,100"])
    book = message.with_name(message.name.replace("message", "orderbook"))
    book.unlink()
    book.mkdir()
    with pytest.raises(DataError, match="is a directory"):
        read_events(message)
    book.rmdir()
    book.symlink_to(tmp_path / "gone.csv")
    with pytest.raises(DataError, match="which does not exist"):
        read_events(message)


@pytest.mark.parametrize("model", ["fifo", "conservative"])
def test_a_hidden_execution_at_or_below_a_resting_buys_price_fills_it(
    model: str, tmp_path: Path
) -> None:
    # we rest at 223.81 behind order 11 (100); it is deleted and the displayed bid falls to
    # order 12's 223.80. A hidden buy at 223.805 is executed (60): the seller passed our 223.81
    # first (price priority), so those 60 are ours; a hidden one at 223.82, above us, is not
    message = _lobster(tmp_path, [
        "34200.5,1,11,100,2238100,1",
        "34201,1,12,200,2238000,1",
        "34201.5,3,11,100,2238100,1",
        "34202,5,0,60,2238050,1",
        "34203,5,0,30,2238200,1",
        "34205,1,13,100,2238300,-1",
    ], [
        "2238300,500,2238100,100",
        "2238300,500,2238100,100",
        "2238300,500,2238000,200",
        "2238300,500,2238000,200",
        "2238300,500,2238000,200",
        "2238300,600,2238000,200",
    ])  # fmt: skip
    orders = tmp_path / f"{model}.csv"
    result = CliRunner().invoke(app, [
        "fills", "--data", str(message), "--queue-model", model, "--every", "60",
        "--size", "200", "--horizon", "4", "--latency-us", "0", "--orders-out", str(orders),
        "--no-plot", "--quiet"])  # fmt: skip
    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(orders.open()))
    assert (row["price"], row["queue_ahead"], row["filled"]) == ("223.81", "100", "60")
