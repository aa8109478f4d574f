"""Consume a replayed stream from the beginning and rebuild the market the file gives.

A stream carries snapshots (the static model) or every event (``sor produce --events``, for
``--model ck``); its end marker says which, and the market rebuilt holds the events too.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sor.data.events import EVENT_DTYPE
from sor.data.reader import MarketData
from sor.domain import SNAPSHOT_DTYPE
from sor.errors import SorError
from sor.streaming.broker import wait_until_ready
from sor.streaming.codec import (
    MessageError,
    decode_batch,
    decode_event_batch,
    decode_snapshot_batch,
    events_from_messages,
    market_from_events,
    market_from_snapshots,
    snapshots_from_messages,
)

log = logging.getLogger(__name__)

_CONTENT = {None: "snapshot", "snapshots": "snapshot", "events": "event"}
"""The data message type each end marker's ``content`` announces."""


@dataclass
class StreamStats:
    """What the consumer saw besides the snapshots it kept."""

    messages: int = 0
    duplicates: int = 0
    malformed: list[tuple[int, int, str]] = field(default_factory=list)
    """(partition, offset, reason) of each message that broke the schema."""
    outages: int = 0

    def as_report(self) -> dict[str, Any]:
        """Return the anomalies for the report (empty when the stream was clean)."""
        out: dict[str, Any] = {}
        if self.duplicates:
            out["duplicates_ignored"] = self.duplicates
        if self.malformed:
            out["malformed_messages"] = [
                {"partition": p, "offset": o, "reason": r} for p, o, r in self.malformed
            ]
        return out


def consume_market(
    bootstrap: str,
    topic: str,
    *,
    client: Mapping[str, str] | None = None,
    on_snapshot: Callable[[dict[str, Any]], None] | None = None,
    give_up_after_s: float | None = None,
) -> tuple[MarketData, dict[str, Any], StreamStats]:
    """Read ``topic`` from its beginning until the end marker and every message before it.

    Messages are identified by ``seq``: a message seen twice (a retry, or the same data
    replayed twice into the topic) counts once. A message that breaks the schema is
    counted with its offset and skipped. While the broker is away the consumer waits,
    saying so, and resumes where the data is complete.

    Parameters
    ----------
    on_snapshot
        Called with each new snapshot message, in arrival order (the live router); on an
        event stream, with each venue's first event at each ``ts_event`` as a snapshot.
    give_up_after_s
        Stop with an error after this long without completing (None: wait as long as it
        takes, Ctrl-C stops).

    Returns
    -------
    The market, the end marker, and the stream statistics.
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

    wait_until_ready(bootstrap)
    stats = StreamStats()
    broker_down = False

    def on_error(error: KafkaError) -> None:
        nonlocal broker_down
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
            if not broker_down:
                stats.outages += 1
                log.warning("Kafka broker at %s unavailable: waiting for it to return", bootstrap)
            broker_down = True

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"sor-backtest-{uuid.uuid4().hex[:12]}",  # offsets are not committed
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 52_428_800,
            "max.partition.fetch.bytes": 52_428_800,  # few large fetches: one partition
            "error_cb": on_error,
            "log_level": 0,
            **(client or {}),
        }
    )
    received = _Received(topic)
    end: dict[str, Any] | None = None
    began = time.monotonic()
    try:
        partitions = _wait_for_topic(consumer, topic)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        while end is None or len(received.seen) < end["count"]:
            if give_up_after_s is not None and time.monotonic() - began > give_up_after_s:
                have = len(received.seen)
                want = end["count"] if end else "?"
                raise SorError(
                    f"the stream on {topic!r} did not complete within {give_up_after_s:.0f} s "
                    f"({have} of {want} messages)"
                )
            batch = consumer.consume(num_messages=10_000, timeout=0.5)
            if batch and broker_down:
                log.warning("Kafka broker at %s is back: resuming", bootstrap)
                broker_down = False
            good = []
            for message in batch:
                error = message.error()
                if error is None:
                    good.append(message)
                elif error.code() != KafkaError._PARTITION_EOF:
                    log.warning("consumer: %s", error)
            stats.messages += len(good)
            payloads = [m.value() for m in good]
            for kind, decoder in _BATCH_DECODERS.items():
                fast = decoder(payloads) if received.kind in (None, kind) else None
                if fast is not None:
                    stats.duplicates += received.add_rows(kind, *fast, on_snapshot)
                    good, payloads = [], []
                    break
            for message, decoded in zip(good, decode_batch(payloads), strict=True):
                if isinstance(decoded, MessageError):
                    where = (message.partition() or 0, message.offset() or 0, str(decoded))
                    stats.malformed.append(where)
                    log.warning("malformed message at partition %d offset %d: %s skipped", *where)
                    continue
                if decoded["type"] == "end":
                    end = decoded
                    continue
                if not received.add_message(decoded, on_snapshot):
                    stats.duplicates += 1
            if end is not None:
                received.check_against(end)
    finally:
        consumer.close()
    if stats.duplicates:
        log.warning("%d duplicate message(s) ignored", stats.duplicates)
    return received.market(end), end, stats


_BATCH_DECODERS = {"snapshot": decode_snapshot_batch, "event": decode_event_batch}
"""The columnar decoder of each data message type (the hot path)."""


class _Received:
    """The data messages of one stream kept so far, one per ``seq``: snapshots or events,
    decoded a batch at a time on the hot path (``parts``) or one by one (``messages``)."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.kind: str | None = None
        self.seen: set[int] = set()
        self.last_seq = -1
        self.messages: list[dict[str, Any]] = []
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []  # (seq, rows of the kind's dtype)
        self.venue_ts: dict[int, int] = {}  # last ts_event announced per venue (event streams)

    def _is(self, kind: str) -> None:
        if self.kind is None:
            self.kind = kind
        elif kind != self.kind:
            raise SorError(
                f"the stream on {self.topic!r} mixes {self.kind} and {kind} messages: two "
                "different replays share the topic"
            )

    def add_message(
        self, decoded: dict[str, Any], on_snapshot: Callable[[dict[str, Any]], None] | None = None
    ) -> bool:
        """Keep one decoded data message; False when its ``seq`` was seen already. A new
        snapshot goes to ``on_snapshot`` (see :meth:`_announce`)."""
        kind = decoded["type"]
        self._is(kind)
        seq = decoded["seq"]
        if seq in self.seen:
            return False
        self.seen.add(seq)
        self.last_seq = max(self.last_seq, seq)
        self.messages.append(decoded)
        if on_snapshot is not None:
            event = kind == "event"
            asks, sizes = decoded["ask_px_nanos"], decoded["ask_sz"]
            self._announce(on_snapshot, kind, seq, decoded["ts_event"], decoded["publisher_id"],
                           asks[0] if event else asks, sizes[0] if event else sizes,
                           decoded["bid_px_nanos"], decoded["bid_sz"])  # fmt: skip
        return True

    def _announce(
        self,
        on_snapshot: Callable[[dict[str, Any]], None],
        kind: str,
        seq: int,
        ts: int,
        venue: int,
        ask_px: int,
        ask_sz: int,
        bid_px: int,
        bid_sz: int,
    ) -> None:
        """Give the live router a snapshot message: every snapshot, or, on an event stream,
        each venue's first event at each ``ts_event`` (the snapshot the file gives)."""
        if kind == "event":
            if self.venue_ts.get(venue) == ts:
                return
            self.venue_ts[venue] = ts
        on_snapshot({"type": "snapshot", "seq": seq, "ts_event": ts, "publisher_id": venue,
                     "ask_px_nanos": ask_px, "ask_sz": ask_sz, "bid_px_nanos": bid_px,
                     "bid_sz": bid_sz})  # fmt: skip

    def add_rows(
        self,
        kind: str,
        seqs: np.ndarray,
        rows: np.ndarray,
        on_snapshot: Callable[[dict[str, Any]], None] | None = None,
    ) -> int:
        """Keep a batch of decoded rows of ``kind``; return how many repeated a ``seq``
        already seen. New snapshots go to ``on_snapshot`` in order (see :meth:`_announce`)."""
        self._is(kind)
        new = np.ones(len(seqs), dtype=bool)
        for i, seq in enumerate(seqs.tolist()):
            if seq in self.seen:
                new[i] = False
            else:
                self.seen.add(seq)
        if new.any():
            self.last_seq = max(self.last_seq, int(seqs[new].max()))
            self.parts.append((seqs[new], rows[new]))
            if on_snapshot is not None:
                kept = rows[new]
                asks, sizes = kept["ask_px"], kept["ask_sz"]
                if kind == "event":
                    asks, sizes = asks[:, 0], sizes[:, 0]
                for values in zip(
                    seqs[new].tolist(), kept["ts_event"].tolist(), kept["publisher_id"].tolist(),
                    asks.tolist(), sizes.tolist(), kept["bid_px"].tolist(),
                    kept["bid_sz"].tolist(), strict=True,
                ):  # fmt: skip
                    self._announce(on_snapshot, kind, *values)
        return int((~new).sum())

    def check_against(self, end: dict[str, Any]) -> None:
        """Raise when the messages kept cannot belong to the replay ``end`` closes."""
        if self.last_seq >= end["count"]:
            raise SorError(
                f"the stream on {self.topic!r} holds messages beyond its end marker's count "
                f"({end['count']}): two different replays share the topic"
            )
        if self.kind is not None and self.kind != _CONTENT[end.get("content")]:
            raise SorError(
                f"the stream on {self.topic!r} holds {self.kind} messages but its end marker "
                f"announces {end.get('content')}: two different replays share the topic"
            )

    def market(self, end: dict[str, Any]) -> MarketData:
        """The market of the complete stream."""
        events = end.get("content") == "events"
        parts = list(self.parts)
        if self.messages:
            parts.append(
                (  # both rebuilders order their rows by seq
                    np.array(sorted(m["seq"] for m in self.messages)),
                    (events_from_messages if events else snapshots_from_messages)(self.messages),
                )
            )
        dtype = EVENT_DTYPE if events else SNAPSHOT_DTYPE
        seqs = np.concatenate([np.zeros(0, np.int64), *(seq for seq, _ in parts)])
        rows = np.concatenate([np.zeros(0, dtype), *(r for _, r in parts)])
        rows = rows[np.argsort(seqs, kind="stable")]
        return market_from_events(rows, end) if events else market_from_snapshots(rows, end)


def _wait_for_topic(consumer: Any, topic: str) -> list[int]:
    """Return the topic's partitions, waiting for a producer to create it."""
    announced = False
    while True:
        metadata = consumer.list_topics(topic, timeout=10)
        found = metadata.topics.get(topic)
        if found is not None and found.error is None and found.partitions:
            return sorted(found.partitions)
        if not announced:
            log.info("waiting for topic %r to appear", topic)
            announced = True
        time.sleep(0.2)
