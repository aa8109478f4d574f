"""The stream's message schema: round trip and rejection of bad messages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sor.data.reader import read_market
from sor.streaming.codec import (
    MessageError,
    decode,
    encode,
    end_message,
    market_from_messages,
    snapshot_message,
)


def test_round_trip_rebuilds_the_market(tiny_csv: Path) -> None:
    market = read_market(tiny_csv, skip_bad_rows=True)
    messages = [decode(encode(snapshot_message(i, r))) for i, r in enumerate(market.snapshots)]
    end = decode(encode(end_message(market, start_ns=1, end_ns=None, seed=7)))
    rebuilt = market_from_messages(list(reversed(messages)), end)  # order comes from seq
    np.testing.assert_array_equal(rebuilt.snapshots, market.snapshots)
    assert (rebuilt.source, rebuilt.sha256, rebuilt.rows_read, rebuilt.rows_in_window) == (
        market.source, market.sha256, market.rows_read, market.rows_in_window,
    )  # fmt: skip
    assert (end["start_ns"], end["end_ns"], end["seed"], end["count"]) == (1, None, 7, 5)


def test_prices_are_exact_decimal_strings(tiny_csv: Path) -> None:
    market = read_market(tiny_csv)
    first = json.loads(encode(snapshot_message(0, market.snapshots[0])))
    assert first["ask_px"] == "10" and first["bid_px"] == "9.98"
    assert decode(encode(first))["ask_px_nanos"] == 10_000_000_000


@pytest.mark.parametrize(
    "payload",
    [
        None,
        b"\xff\xfe",
        b"[1, 2]",
        b'{"v": 2, "type": "snapshot"}',
        b'{"v": 1, "type": "tick"}',
        b'{"v": 1, "type": "snapshot", "seq": "1", "ts_event": 1, "publisher_id": 2, '
        b'"ask_sz": 1, "bid_sz": 1}',
        b'{"v": 1, "type": "snapshot", "seq": 1, "ts_event": 1, "publisher_id": 2, '
        b'"ask_sz": 1, "bid_sz": 1, "ask_px": "ten"}',
        b'{"v": 1, "type": "end"}',
    ],
)
def test_bad_messages_are_rejected(payload: bytes | None) -> None:
    with pytest.raises(MessageError):
        decode(payload)


def test_fast_encoder_writes_what_the_generic_one_writes(tiny_csv: Path) -> None:
    from sor.streaming.codec import encode_snapshots

    market = read_market(tiny_csv)
    market.snapshots["bid_px"][1] = 0  # a missing price is null
    market.snapshots["ask_px"][2] = 222_805_000_001  # sub-cent digits survive
    fast = encode_snapshots(market.snapshots)
    slow = [encode(snapshot_message(i, r)) for i, r in enumerate(market.snapshots)]
    assert [json.loads(f) for f in fast] == [json.loads(s) for s in slow]
    assert decode(fast[2])["ask_px_nanos"] == 222_805_000_001


@pytest.mark.parametrize(
    ("text", "nanos"),
    [("222.83", 222_830_000_000), ("10", 10_000_000_000), ("0.000000001", 1),
     ("1e2", 100_000_000_000), (None, 0), ("-5", 0)],
)  # fmt: skip
def test_prices_parse_exactly(text: str | None, nanos: int) -> None:
    from sor.streaming.codec import _price_nanos

    assert _price_nanos(text) == nanos


def test_sub_nanodollar_prices_are_rejected() -> None:
    from sor.streaming.codec import _price_nanos

    with pytest.raises(MessageError):
        _price_nanos("1.0000000001")


def test_batch_decoding_pins_bad_messages_to_their_place(tiny_csv: Path) -> None:
    from sor.streaming.codec import decode_batch

    market = read_market(tiny_csv)
    good = [encode(snapshot_message(i, r)) for i, r in enumerate(market.snapshots)]
    assert [m["seq"] for m in decode_batch(good)] == list(range(5))  # type: ignore[index]
    mixed = [good[0], b"\\x00not json", good[1], b'{"v": 1}{"v": 1}', None, b'{"v": 1, "x": 1}']
    decoded = decode_batch(mixed)
    assert [isinstance(d, MessageError) for d in decoded] == [False, True, False, True, True, True]
    assert decoded[2]["seq"] == 1  # type: ignore[index]
    # two objects in one payload cannot pass for two messages of the batch
    sneaky = decode_batch([b'{"v": 1, "type": "end", "count": 0}, {"v": 1}', good[0]])
    assert isinstance(sneaky[0], MessageError)
