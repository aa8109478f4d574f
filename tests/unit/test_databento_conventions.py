"""Databento's trade-row and F_LAST conventions, read from rows in the real layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sor.ck.queue import CONSERVATIVE, PROBABILISTIC, Book, advance, attach_venues
from sor.data.events import F_LAST, complete_books, read_events

D = 1_000_000_000


def _write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def _sample_rows(real_sample: Path) -> tuple[str, list[str]]:
    header, *rows = real_sample.read_text().splitlines()
    return header, rows


def test_the_real_samples_trade_rows_carry_the_book_before_the_trade(real_sample: Path) -> None:
    events = read_events(real_sample)
    assert events["flags"].tolist() == [0, 0, 0, 0, 130]
    assert complete_books(events).tolist() == [False] * 4 + [True]
    trades = events[events["action"] == b"T"]
    assert trades["bid_sz"][:, 0].tolist() == [421, 231, 221, 121]
    assert trades["bid_px"][:, 1].tolist() == [222_800_000_000] * 4  # MBP-10 bid levels read
    assert events["bid_px"][-1, 0] == 222_800_000_000  # the traded level is gone


@pytest.mark.parametrize(("ahead", "filled"), [(421, 0), (300, 121), (0, 200)])
def test_an_order_resting_at_the_real_samples_bid(
    real_sample: Path, ahead: int, filled: int
) -> None:
    # 421 shares trade at 222.81 in four prints, then the level is gone: an order with
    # ``ahead`` shares in front of it fills with what the trades leave, and the drop shown
    # by the row after the trades is not taken from the queue a second time
    events, venues = attach_venues(read_events(real_sample))
    for model in (CONSERVATIVE, PROBABILISTIC):
        book = Book.empty(venues, 10)
        book.bid_px[0, 0], book.bid_sz[0, 0] = 222_810_000_000, 421
        book.rest(0, 200)
        book.ahead[0] = ahead
        _, fills = advance(events, 0, int(events["ts_event"].max()), book, model, 10_000)
        assert int(fills.qty.sum()) == filled, model
        assert book.bid_sz[0, 0] == 100 and book.bid_px[0, 0] == 222_800_000_000


def test_a_venues_book_is_the_one_where_its_event_ends(real_sample: Path, tmp_path: Path) -> None:
    header, rows = _sample_rows(real_sample)
    events, venues = attach_venues(read_events(_write(tmp_path / "s.csv", header, rows)))
    book = Book.empty(venues, 10)
    advance(events, 0, int(events["ts_event"][3]), book, CONSERVATIVE, 0)
    assert book.bid_px[0, 0] == 0  # four trade rows: no complete book yet
    advance(events, 4, int(events["ts_event"][4]), book, CONSERVATIVE, 0)
    assert book.bid_sz[0].tolist()[:2] == [100, 135]


def test_hand_written_rows_in_the_real_layout(real_sample: Path, tmp_path: Path) -> None:
    # the sample's rows with a cancellation of 50 at our level inside an event (flags 0)
    # and the event's end (flags 130) restoring it: only the end counts
    header, rows = _sample_rows(real_sample)
    last = rows[-1].split(",")
    inside = list(last)
    inside[5], inside[6], inside[9], inside[10] = "C", "B", "50", "0"
    inside[15] = "50"  # bid_sz_00 halfway through the event
    events, venues = attach_venues(
        read_events(_write(tmp_path / "h.csv", header, [",".join(inside), ",".join(last)]))
    )
    assert events["flags"].tolist() == [0, F_LAST + 2]
    book = Book.empty(venues, 10)
    advance(events, 0, int(events["ts_event"][-1]), book, CONSERVATIVE, 0)
    assert book.bid_sz[0, 0] == 100


def test_a_file_without_flags_takes_every_row_as_complete(tmp_path: Path) -> None:
    header = "ts_event,publisher_id,action,side,price,size,bid_px_00,bid_sz_00,ask_px_00,ask_sz_00"
    rows = ["2024-08-01T13:00:00.000000000Z,2,A,B,10,100,10,300,10.01,500",
            "2024-08-01T13:00:01.000000000Z,2,C,B,10,100,10,200,10.01,500"]  # fmt: skip
    events = read_events(_write(tmp_path / "noflags.csv", header, rows))
    assert events["flags"].tolist() == [F_LAST, F_LAST]
    assert complete_books(events).all()
    assert np.array_equal(events["bid_sz"][:, 0], [300, 200])
