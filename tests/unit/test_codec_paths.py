"""The codec's one encoder and one decoder per data message kind, along their rarer paths."""

from __future__ import annotations

import numpy as np

from sor.streaming.codec import (
    decode,
    decode_event_batch,
    encode,
    event_message,
    events_from_messages,
)

_EVENT = {"v": 2, "type": "event", "replay": "r1", "seq": 0, "ts_event": 5, "publisher_id": 2,
          "action": "T", "side": "A", "price": "9.99", "size": 10, "flags": 128,
          "bid_px": ["9.99", "9.98"], "bid_sz": [90, 40], "ask_px": ["10", "10.01"],
          "ask_sz": [5, 7]}  # fmt: skip


def test_messages_of_two_depths_decode_one_at_a_time() -> None:
    deep = decode(encode(_EVENT))
    shallow = decode(
        encode({**_EVENT, "seq": 1, "bid_px": ["9.99"], "bid_sz": [90], "ask_px": ["10.02"],
                "ask_sz": [3]})
    )  # fmt: skip
    one_level = {**_EVENT, "bid_px": ["1"], "bid_sz": [1], "ask_px": ["1"], "ask_sz": [1]}
    assert decode_event_batch([encode(_EVENT), encode(one_level)]) is None
    rows = events_from_messages([shallow, deep])  # the batch refuses mixed depths
    assert rows["ask_px"][0, :3].tolist() == [10_000_000_000, 10_010_000_000, 0]
    assert rows["ask_px"][1, :2].tolist() == [10_020_000_000, 0]
    assert rows["ask_sz"][1, :2].tolist() == [3, 0]


def test_the_dict_of_a_message_is_what_the_encoder_writes() -> None:
    rows = events_from_messages([decode(encode(_EVENT))])
    assert event_message(0, rows[0], 2, replay="r1") == _EVENT
    assert events_from_messages([]).shape == (0,)
    np.testing.assert_array_equal(events_from_messages([decode(encode(_EVENT))]), rows)
