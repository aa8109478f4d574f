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
    market_from_messages,
    snapshot_message,
    start_message,
)

R = "r1"


def test_round_trip_rebuilds_the_market(tiny_csv: Path) -> None:
    market = read_market(tiny_csv, skip_bad_rows=True)
    messages = [
        decode(encode(snapshot_message(i, r, replay=R))) for i, r in enumerate(market.snapshots)
    ]
    start = decode(encode(start_message(market, replay=R, start_ns=1, end_ns=None, seed=7)))
    rebuilt = market_from_messages(list(reversed(messages)), start)  # order comes from seq
    np.testing.assert_array_equal(rebuilt.snapshots, market.snapshots)
    assert (rebuilt.source, rebuilt.sha256, rebuilt.rows_read, rebuilt.rows_in_window) == (
        market.source, market.sha256, market.rows_read, market.rows_in_window,
    )  # fmt: skip
    assert (start["start_ns"], start["end_ns"], start["seed"]) == (1, None, 7)


def test_prices_are_exact_decimal_strings(tiny_csv: Path) -> None:
    market = read_market(tiny_csv)
    first = json.loads(encode(snapshot_message(0, market.snapshots[0], replay=R)))
    assert first["ask_px"] == "10" and first["bid_px"] == "9.98"
    assert decode(encode(first))["ask_px_nanos"] == 10_000_000_000


@pytest.mark.parametrize(
    "payload",
    [
        None,
        b"\xff\xfe",
        b"[1, 2]",
        b'{"v": 2, "type": "snapshot", "replay": "r"}',
        b'{"v": 1, "type": "snapshot", "replay": "r", "seq": 1, "ts_event": 1, '
        b'"publisher_id": 2, "ask_sz": 1, "bid_sz": 1}',
        b'{"v": 2, "type": "tick", "replay": "r"}',
        b'{"v": 2, "type": "snapshot", "seq": 1, "ts_event": 1, "publisher_id": 2, '
        b'"ask_sz": 1, "bid_sz": 1}',
        b'{"v": 2, "type": "snapshot", "replay": "r", "seq": "1", "ts_event": 1, '
        b'"publisher_id": 2, "ask_sz": 1, "bid_sz": 1}',
        b'{"v": 2, "type": "snapshot", "replay": "r", "seq": 1, "ts_event": 1, '
        b'"publisher_id": 2, "ask_sz": 1, "bid_sz": 1, "ask_px": "ten"}',
        b'{"v": 2, "type": "end", "replay": "r"}',
        b'{"v": 2, "type": "end", "replay": "r", "count": 3, "checksum": "xyz"}',
        b'{"v": 2, "type": "start", "replay": "r", "content": "ticks"}',
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
    fast = encode_snapshots(market.snapshots, replay=R)
    slow = [encode(snapshot_message(i, r, replay=R)) for i, r in enumerate(market.snapshots)]
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
    good = [encode(snapshot_message(i, r, replay=R)) for i, r in enumerate(market.snapshots)]
    assert [m["seq"] for m in decode_batch(good)] == list(range(5))  # type: ignore[index]
    mixed = [good[0], b"\\x00not json", good[1], b'{"v": 2}{"v": 2}', None, b'{"v": 2, "x": 1}']
    decoded = decode_batch(mixed)
    assert [isinstance(d, MessageError) for d in decoded] == [False, True, False, True, True, True]
    assert decoded[2]["seq"] == 1  # type: ignore[index]
    # two objects in one payload cannot pass for two messages of the batch
    sneaky = decode_batch([b'{"v": 2, "type": "heartbeat", "replay": "r"}, {"v": 2}', good[0]])
    assert isinstance(sneaky[0], MessageError)


# --- event streams (model ck) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def mbp10_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    from sor.data.events import read_events
    from sor.data.generate import generate_market

    path = tmp_path_factory.mktemp("events") / "mbp10.csv"
    generate_market(path, venues=3, seed=8, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:40Z")  # fmt: skip
    return path, read_events(path)


def test_event_stream_rebuilds_the_events_and_the_snapshots(
    mbp10_events: tuple[Path, np.ndarray],
) -> None:
    from sor.streaming.codec import encode_events, event_message, stream_depth

    path, events = mbp10_events
    assert stream_depth(events) == 10
    fast = encode_events(events, replay=R)
    assert fast[:50] == [
        encode(event_message(i, r, 10, replay=R)) for i, r in enumerate(events[:50])
    ]
    market = read_market(path)
    start = decode(encode(start_message(market, replay=R, events=True)))
    assert start["content"] == "events"
    rebuilt = market_from_messages([decode(p) for p in reversed(fast)], start)
    assert rebuilt.events is not None
    np.testing.assert_array_equal(rebuilt.events, events)
    # the snapshots of docs/semantics.md come out of the events exactly as out of the file
    np.testing.assert_array_equal(rebuilt.snapshots, market.snapshots)
    assert len(market.snapshots) < len(events)


def test_mbp1_events_carry_one_level(tiny_csv: Path) -> None:
    from sor.data.events import read_events
    from sor.streaming.codec import encode_events

    events = read_events(tiny_csv)
    first = json.loads(encode_events(events, replay=R)[0])
    assert len(first["ask_px"]) == len(first["ask_sz"]) == 1
    messages = [decode(p) for p in encode_events(events, replay=R)]
    start = decode(encode(start_message(read_market(tiny_csv), replay=R, events=True)))
    np.testing.assert_array_equal(market_from_messages(messages, start).events, events)


_EVENT = {"v": 2, "type": "event", "replay": R, "seq": 0, "ts_event": 5, "publisher_id": 2, "action": "T",
          "side": "A", "price": "9.99", "size": 10, "flags": 0, "bid_px": ["9.99", "9.98"],
          "bid_sz": [90, 40], "ask_px": ["10", "10.01"], "ask_sz": [5, 7]}  # fmt: skip


def test_a_good_event_message_decodes() -> None:
    message = decode(encode(_EVENT))
    assert message["price_nanos"] == 9_990_000_000
    assert message["ask_px_nanos"] == [10_000_000_000, 10_010_000_000]
    assert message["bid_px_nanos"] == [9_990_000_000, 9_980_000_000]


@pytest.mark.parametrize(
    "change",
    [
        {"size": 1.5},
        {"action": "TT"},
        {"side": 1},
        {"ask_px": ["10"]},
        {"ask_px": [], "ask_sz": []},
        {"ask_px": ["10"] * 11, "ask_sz": [1] * 11},
        {"ask_sz": [5, "7"]},
        {"bid_px": "nine"},
        {"bid_px": ["nine", "9.98"]},
        {"bid_px": ["9.99"], "bid_sz": [90]},  # fewer levels than the asks
        {"flags": 256},
        {"flags": None},
        {"seq": -1},
        {"ts_event": 2**70},
        {"size": 2**40},
        {"publisher_id": 70_000},
        {"price": "²"},
        {"price": "١٢"},
        {"price": "1_000"},
        {"price": 9.99},
        {"price": "9999999999"},
        {"replay": "no spaces"},
        {"replay": 5},
    ],
)
def test_bad_event_messages_are_rejected(change: dict) -> None:
    with pytest.raises(MessageError):
        decode(encode({**_EVENT, **change}))


def test_start_marker_content_must_be_known() -> None:
    with pytest.raises(MessageError, match="content"):
        decode(b'{"v": 2, "type": "start", "replay": "r", "content": "ticks"}')


@pytest.mark.parametrize("depth", [100, 200_000])
def test_deeply_nested_messages_are_malformed_not_fatal(depth: int) -> None:
    from sor.streaming.codec import decode_batch

    deep = b"[" * depth + b"]" * depth
    with pytest.raises(MessageError):
        decode(deep)
    nested = b'{"v": 2, "x": ' + deep + b"}"
    assert all(isinstance(d, MessageError) for d in decode_batch([nested, deep]))


def test_batch_event_decoding_equals_message_by_message(
    mbp10_events: tuple[Path, np.ndarray],
) -> None:
    from sor.streaming.codec import decode_event_batch, encode_events, events_from_messages

    _, events = mbp10_events
    events = events.copy()
    events["price"][1] = 222_805_000_001  # sub-cent digits
    events["bid_px"][2, 0] = 0  # no bid: null
    payloads = encode_events(events, replay=R)
    fast = decode_event_batch(payloads)
    assert fast is not None
    replays, seqs, rows = fast
    assert set(replays.tolist()) == {R}
    np.testing.assert_array_equal(seqs, np.arange(len(events)))
    np.testing.assert_array_equal(rows, events_from_messages([decode(p) for p in payloads]))
    np.testing.assert_array_equal(rows, events)


@pytest.mark.parametrize(
    "odd",
    [
        b'{"v": 2, "type": "end", "replay": "r1", "count": 3, "checksum": "0000000000000000"}',
        b"not json",
        None,
        encode({**_EVENT, "size": 1.5}),
        encode({**_EVENT, "ask_px": ["10"], "ask_sz": [5]}),  # another depth
        encode({**_EVENT, "price": "ten"}),
        encode(_EVENT) + b"\n" + encode(_EVENT),
        encode({**_EVENT, "ts_event": 2**70}),
        encode({**_EVENT, "ask_sz": [5, 2**40]}),
    ],
)
def test_batch_event_decoding_leaves_odd_batches_to_the_exact_path(odd: bytes | None) -> None:
    from sor.streaming.codec import decode_event_batch

    good = encode(_EVENT)
    assert decode_event_batch([good, good]) is not None
    assert decode_event_batch([good, odd, good]) is None


def test_a_replay_keeps_each_event_seq_once(mbp10_events: tuple[Path, np.ndarray]) -> None:
    from sor.streaming.codec import decode_event_batch, encode_events, payload_digests
    from sor.streaming.consumer import _Replay

    path, events = mbp10_events
    payloads = encode_events(events, replay=R)
    half = len(payloads) // 2
    start = decode(encode(start_message(read_market(path), replay=R, events=True)))
    replay = _Replay(R, 0, start)
    for part in (payloads[: half + 10], payloads[half:]):  # ten repeated, then the rest
        decoded = decode_event_batch(part)
        assert decoded is not None
        offsets = list(range(len(part)))
        repeated = replay.add("event", decoded[1], decoded[2], payload_digests(part), offsets)
        assert repeated == (0 if part[0] == payloads[0] else 10)
    np.testing.assert_array_equal(replay.market().events, events)


def test_column_wise_encoder_writes_every_price_form_as_the_generic_one(
    mbp10_events: tuple[Path, np.ndarray],
) -> None:
    from sor.streaming.codec import encode_events, event_message

    _, events = mbp10_events
    rows = events[:6].copy()
    rows["price"] = [220_000_000_000, 223_100_000_000, 1, 999_999_999, 0, 10_000_000_000]
    rows["bid_px"][0, 0] = 0
    rows["ask_px"][1, 9] = 0  # a missing deeper level
    rows["action"][2] = b'"'  # escaped as JSON wants
    fast = encode_events(rows, replay=R)
    assert fast == [encode(event_message(i, r, 10, replay=R)) for i, r in enumerate(rows)]
    assert [json.loads(p)["price"] for p in fast] == [
        "220", "223.1", "0.000000001", "0.999999999", None, "10",
    ]  # fmt: skip


def test_a_stream_encoded_in_chunks_is_the_stream_encoded_at_once(
    mbp10_events: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sor.streaming import codec

    path, events = mbp10_events
    snapshots = read_market(path).snapshots
    whole_events = codec.encode_events(events, replay=R)
    whole_snapshots = codec.encode_snapshots(snapshots, replay=R)
    monkeypatch.setattr(codec, "ENCODE_CHUNK", 7)
    rows = events.copy()
    rows["ask_px"][:7, 5:] = 0  # a first chunk shallower than the stream
    rows["ask_sz"][:7, 5:] = 0
    chunked = list(codec.encode_stream(rows, events=True, replay=R))
    assert chunked[7:] == whole_events[7:]
    assert all(len(json.loads(p)["ask_px"]) == 10 for p in chunked[:7])
    assert list(codec.encode_stream(snapshots, events=False, replay=R)) == whole_snapshots


def test_batch_snapshot_decoding_equals_message_by_message(tiny_csv: Path) -> None:
    from sor.streaming.codec import decode_snapshot_batch, encode_snapshots

    market = read_market(tiny_csv)
    market.snapshots["bid_px"][1] = 0
    payloads = encode_snapshots(market.snapshots, replay=R)
    fast = decode_snapshot_batch(payloads)
    assert fast is not None
    np.testing.assert_array_equal(fast[1], np.arange(len(payloads)))
    np.testing.assert_array_equal(fast[2], market.snapshots)
    # anything odd in the batch leaves it to the exact one-by-one path
    end = b'{"v": 2, "type": "end", "replay": "r1", "count": 5, "checksum": "0000000000000000"}'
    for odd in (end, None, b"{}", payloads[0][:-1]):
        assert decode_snapshot_batch([*payloads, odd]) is None
    wrong = json.loads(payloads[0])
    wrong["ask_px"] = "ten"
    assert decode_snapshot_batch([encode(wrong)]) is None
