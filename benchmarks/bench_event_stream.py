"""Event streams (model ck over Kafka): codec and end-to-end figures.

On a generated two-minute six-venue MBP-10 market, in the same run:
- encoding every event: the codec's column-wise encoder against a baseline written here,
  one dict per message through ``json.dumps`` (``_baseline_message``);
- decoding: the batch decoder of the consumer's hot path against message-by-message
  ``decode`` plus ``events_from_messages``;
- end to end: publishing the events to the embedded broker and consuming them back into
  the events array, against reading the same events from the file.
Run: ``python benchmarks/bench_event_stream.py``.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.streaming.broker import EmbeddedBroker
from sor.streaming.codec import (
    decode,
    decode_event_batch,
    encode_events,
    events_from_messages,
    stream_depth,
)
from sor.streaming.consumer import consume_market
from sor.streaming.producer import publish


def _price(nanos: int) -> str | None:
    if nanos <= 0:
        return None
    whole, fraction = divmod(nanos, 1_000_000_000)
    return f"{whole}.{fraction:09d}".rstrip("0").rstrip(".")


def _baseline_message(seq: int, row: np.void, depth: int) -> bytes:
    """One event message the straightforward way: a dict per row, then ``json.dumps``."""
    return json.dumps(
        {"v": 2, "type": "event", "replay": "bench", "seq": seq, "ts_event": int(row["ts_event"]),
         "publisher_id": int(row["publisher_id"]), "action": row["action"].decode(),
         "side": row["side"].decode(), "price": _price(int(row["price"])),
         "size": int(row["size"]), "bid_px": _price(int(row["bid_px"])),
         "bid_sz": int(row["bid_sz"]),
         "ask_px": [_price(int(v)) for v in row["ask_px"][:depth]],
         "ask_sz": [int(v) for v in row["ask_sz"][:depth]]},
        separators=(",", ":"),
    ).encode()  # fmt: skip


def _timed(step, *args):  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    result = step(*args)
    return result, time.perf_counter() - began


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "market.csv"
        generate_market(path, venues=6, seed=7, start="2024-08-01T13:36:32Z",
                        end="2024-08-01T13:38:32Z")  # fmt: skip
        events, read_s = _timed(read_events, path)
        count = len(events)
        depth = stream_depth(events)
        fast, fast_enc = _timed(lambda: encode_events(events, replay="bench"))
        slow, slow_enc = _timed(
            lambda: [_baseline_message(i, r, depth) for i, r in enumerate(events)]
        )
        assert fast == slow

        def batches() -> np.ndarray:
            parts = [decode_event_batch(fast[i : i + 10_000]) for i in range(0, count, 10_000)]
            assert all(part is not None for part in parts)
            return np.concatenate([part[2] for part in parts if part is not None])

        decoded, fast_dec = _timed(batches)
        one_by_one, slow_dec = _timed(lambda: events_from_messages([decode(p) for p in fast]))
        assert (decoded == events).all() and (one_by_one == events).all()

        market = read_market(path)
        with EmbeddedBroker() as broker:
            topic = f"bench-{uuid.uuid4().hex[:8]}"
            began = time.perf_counter()
            publish(market, bootstrap=broker.bootstrap, topic=topic, events=events)
            rebuilt = consume_market(broker.bootstrap, topic, give_up_after_s=300).market
            stream_s = time.perf_counter() - began
        assert rebuilt.events is not None and (rebuilt.events == events).all()

    figures = {
        "events": count,
        "encode_columnwise_per_s": count / fast_enc,
        "encode_per_message_per_s": count / slow_enc,
        "decode_batch_per_s": count / fast_dec,
        "decode_per_message_per_s": count / slow_dec,
        "file_read_s": read_s,
        "publish_and_consume_s": stream_s,
    }
    print(f"event stream: {count:,} events of a two-minute six-venue MBP-10 market")
    print(f"  encode  column-wise {figures['encode_columnwise_per_s']:>10,.0f} events/s   "
          f"per message (baseline) {figures['encode_per_message_per_s']:>10,.0f} events/s")  # fmt: skip
    print(f"  decode  batch       {figures['decode_batch_per_s']:>10,.0f} events/s   "
          f"per message (baseline) {figures['decode_per_message_per_s']:>10,.0f} events/s")  # fmt: skip
    print(
        f"  end to end through the embedded broker {stream_s:.2f} s "
        f"(reading the same events from the file: {read_s:.2f} s)"
    )
    return figures


if __name__ == "__main__":
    main()
