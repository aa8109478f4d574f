"""Consume a topic from the beginning and rebuild exactly one replay: the market the file gives.

A topic collects replays (``sor produce`` draws a replay id each time; see
:mod:`sor.streaming.codec`). The consumer keeps the messages of one of them:

- ``latest`` (the default): the newest replay that is complete when the consumer has read
  what the topic held as it joined; with none complete, the newest one that started, which
  it follows until complete.
- ``next``: the first replay whose producer began after the consumer's command did (its
  start marker's ``created_ns``): start the consumer, then the producer, or both at once.
- a replay id: that replay (``list_replays`` and ``sor replays`` list them).

A replay is complete when every ``seq`` below its end marker's ``count`` has arrived and the
digests of their payloads add up to the marker's ``checksum``. A ``seq`` that arrives twice
with the same payload counts once (a retried send); with another payload, the run stops
naming both offsets. A followed replay that goes quiet for ``gap_timeout_s`` (while the
broker is up) stops the run naming the missing ``seq`` range. Malformed messages are counted
with their offsets, never fatal.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sor.core.defaults import DEFAULT_GAP_TIMEOUT_S
from sor.core.domain import SNAPSHOT_DTYPE
from sor.core.errors import SorError
from sor.core.market import MarketData
from sor.data.events import EVENT_DTYPE
from sor.streaming.broker import wait_until_ready
from sor.streaming.codec import (
    CONTENTS,
    SCHEMA_VERSION,
    MessageError,
    checksum_text,
    decode_batch,
    decode_event_batch,
    decode_snapshot_batch,
    market_from_events,
    market_from_snapshots,
    payload_digests,
)

log = logging.getLogger(__name__)

LATEST = "latest"
NEXT = "next"

_DTYPES = {"snapshot": SNAPSHOT_DTYPE, "event": EVENT_DTYPE}
_BATCH_DECODERS = {"snapshot": decode_snapshot_batch, "event": decode_event_batch}
"""The one decoder of each data message type: every row the consumer keeps comes from it."""


@dataclass
class StreamStats:
    """What the consumer saw besides the replay it kept: for stderr, not the report (it
    depends on the topic's history, the report only on the replay)."""

    messages: int = 0
    duplicates: int = 0
    malformed: list[tuple[int, int, str]] = field(default_factory=list)
    """(partition, offset, reason) of each message that broke the schema."""
    outages: int = 0
    other_replays: int = 0
    """Data messages of replays other than the one rebuilt."""

    def summary(self) -> str:
        """One line for stderr."""
        return (
            f"{self.messages} messages read, {self.duplicates} duplicate(s) ignored, "
            f"{len(self.malformed)} malformed, {self.other_replays} of other replays, "
            f"{self.outages} broker outage(s)"
        )


@dataclass(frozen=True)
class ReplayInfo:
    """One replay found in a topic."""

    replay: str
    offset: int
    """Offset of its start marker (of its first message when the marker is missing)."""
    content: str | None
    source: str | None
    count: int | None
    """Data messages its end marker announces; None before the end marker."""
    received: int
    complete: bool


@dataclass
class Consumed:
    """The replay a consumer rebuilt."""

    replay: str
    market: MarketData
    start: dict[str, Any]
    """Its start marker: the input's metadata, window and seed."""
    count: int
    stats: StreamStats


class _Replay:
    """The messages of one replay kept so far, one per ``seq``, with each payload's digest
    and offset (to tell a retried send from a poisoned duplicate)."""

    def __init__(
        self, replay: str, offset: int, start: dict[str, Any] | None, *, keep_rows: bool = True
    ) -> None:
        self.replay = replay
        self.keep_rows = keep_rows
        self.offset = offset
        self.start = start
        self.end: dict[str, Any] | None = None
        self.parts: list[tuple[np.ndarray, np.ndarray]] = []  # (seq, rows of the dtype)
        self.received = 0
        self.last_seq = -1
        self._have = np.zeros(0, dtype=bool)
        self._digest = np.zeros(0, dtype=np.uint64)
        self._where = np.zeros(0, dtype=np.int64)
        self.feed: Callable[[str, np.ndarray, np.ndarray], None] | None = None
        self.last_activity = time.monotonic()

    @property
    def kind(self) -> str | None:
        """The data message type its start marker announces."""
        return CONTENTS.get(self.start.get("content", "")) if self.start else None

    def add(
        self, kind: str, seqs: np.ndarray, rows: np.ndarray, digests: np.ndarray, offsets: list[int]
    ) -> int:
        """Keep the rows whose ``seq`` is new; return how many repeated one already kept.

        Raises
        ------
        SorError
            A data message of another type than the replay announced, or a ``seq`` seen
            before with other content.
        """
        if self.kind is not None and kind != self.kind:
            raise SorError(
                f"replay {self.replay}: a {kind} message at offset {offsets[0]} in a replay "
                f"of {self.start['content'] if self.start else '?'}"
            )
        self.last_activity = time.monotonic()
        top = int(seqs.max()) + 1 if len(seqs) else 0
        if top > len(self._have):
            grown = max(top, 2 * len(self._have), 1024)
            self._have = _grow(self._have, grown, False)
            self._digest = _grow(self._digest, grown, 0)
            self._where = _grow(self._where, grown, -1)
        new = np.ones(len(seqs), dtype=bool)
        for i, seq in enumerate(seqs.tolist()):
            if self._have[seq]:
                new[i] = False
                if self._digest[seq] != digests[i]:
                    raise SorError(
                        f"replay {self.replay}: seq {seq} at offset {offsets[i]} differs from "
                        f"its first copy at offset {int(self._where[seq])}: the topic holds "
                        "two different messages under one seq"
                    )
            else:
                self._have[seq] = True
                self._digest[seq] = digests[i]
                self._where[seq] = offsets[i]
        if new.any():
            self.received += int(new.sum())
            self.last_seq = max(self.last_seq, int(seqs[new].max()))
            if self.keep_rows:
                self.parts.append((seqs[new], rows[new]))
            if self.feed is not None:
                self.feed(kind, seqs[new], rows[new])
        return int((~new).sum())

    @property
    def complete(self) -> bool:
        """Every ``seq`` below the end marker's count has arrived."""
        return self.end is not None and self.received >= self.end["count"]

    def check(self) -> None:
        """Raise unless the kept messages are exactly the replay the end marker closes."""
        if self.end is None:
            return
        count = self.end["count"]
        if self.last_seq >= count:
            raise SorError(
                f"replay {self.replay}: a message has seq {self.last_seq}, beyond the "
                f"{count} its end marker counts"
            )
        if self.complete:
            total = int(self._digest[:count].astype(object).sum())
            if checksum_text(total) != self.end["checksum"]:
                raise SorError(
                    f"replay {self.replay}: the messages' checksum {checksum_text(total)} "
                    f"differs from the end marker's {self.end['checksum']}: the topic's "
                    "content was altered"
                )

    def missing(self) -> str:
        """The ``seq`` ranges not yet received, as text (``12-15, 40``)."""
        known = self.end["count"] if self.end else self.last_seq + 1
        have = np.zeros(known, dtype=bool)
        have[: min(known, len(self._have))] = self._have[:known]
        absent = np.flatnonzero(~have)
        if not len(absent):
            return "none"
        breaks = np.flatnonzero(np.diff(absent) > 1)
        starts = [absent[0], *absent[breaks + 1]]
        ends = [*absent[breaks], absent[-1]]
        spans = [f"{a}" if a == b else f"{a}-{b}" for a, b in zip(starts, ends, strict=True)]
        return ", ".join(spans[:10]) + (f" and {len(spans) - 10} more" if len(spans) > 10 else "")

    def ordered(self) -> tuple[np.ndarray, np.ndarray]:
        """The kept ``seq`` numbers and their rows, in ``seq`` order."""
        dtype = _DTYPES[self.kind or "snapshot"]
        seqs = np.concatenate([np.zeros(0, np.int64), *(seq for seq, _ in self.parts)])
        rows = np.concatenate([np.zeros(0, dtype), *(r for _, r in self.parts)])
        order = np.argsort(seqs, kind="stable")
        return seqs[order], rows[order]

    def market(self) -> MarketData:
        """The market of the complete replay."""
        assert self.start is not None
        _, rows = self.ordered()
        if self.kind == "event":
            return market_from_events(rows, self.start)
        return market_from_snapshots(rows, self.start)

    def info(self) -> ReplayInfo:
        """What ``sor replays`` prints of it."""
        start = self.start or {}
        return ReplayInfo(
            replay=self.replay,
            offset=self.offset,
            content=start.get("content"),
            source=start.get("source"),
            count=self.end["count"] if self.end else None,
            received=self.received,
            complete=self.complete and self.start is not None,
        )


def _grow(values: np.ndarray, size: int, fill: Any) -> np.ndarray:
    out = np.full(size, fill, dtype=values.dtype)
    out[: len(values)] = values
    return out


class _Chooser:
    """Which replays to keep while reading, and which one the run rebuilds."""

    def __init__(self, wanted: str, topic: str, stats: StreamStats, *, wait: bool = False) -> None:
        self.wanted = wanted
        self.stats = stats
        self.wait = wait  # a replay named by id may still be on its way
        self.topic = topic
        self.kept: dict[str, _Replay] = {}
        self.followed: _Replay | None = None
        self.since_ns = time.time_ns()  # ``next``: replays created from then on
        self.caught_up = False

    def on_start(self, replay: str, offset: int, start: dict[str, Any]) -> None:
        """A start marker: keep the replay if it may be the one."""
        if self.wanted not in (LATEST, NEXT) and replay != self.wanted:
            return
        if self.wanted == NEXT and int(start.get("created_ns") or 0) < self.since_ns:
            return
        current = self.kept.get(replay)
        if current is not None:
            current.start = current.start or start  # the same replay, published again
            return
        self.kept[replay] = _Replay(replay, offset, start)
        if self.wanted == LATEST:
            # an incomplete replay older than the newest complete one can never be chosen
            newest_complete = max((r.offset for r in self.kept.values() if r.complete), default=-1)
            for name in [n for n, r in self.kept.items() if r.offset < newest_complete]:
                self.stats.other_replays += self.kept.pop(name).received
        if self.caught_up and (self.wanted in (LATEST, NEXT) or self.wait):
            self.follow(self.kept[replay])

    def replay_of(self, replay: str) -> _Replay | None:
        """Where a data message or end marker of ``replay`` goes (None: not kept)."""
        return self.kept.get(replay)

    def catch_up(self) -> None:
        """The consumer has read what the topic held as it joined: choose what to follow."""
        self.caught_up = True
        if self.wanted not in (LATEST, NEXT):
            found = self.kept.get(self.wanted)
            if (found is None or found.start is None) and self.wait:
                return
            if found is None or found.start is None:
                raise SorError(
                    f"no replay {self.wanted} in topic {self.topic!r}; `sor replays` lists them"
                )
            self.follow(found)
            return
        # ``next`` keeps only replays created after the command began: the same rule picks
        complete = [r for r in self.kept.values() if r.complete and r.start is not None]
        started = [r for r in self.kept.values() if r.start is not None]
        pick = max(complete or started, key=lambda r: r.offset, default=None)
        if pick is not None:
            self.follow(pick)

    def follow(self, replay: _Replay) -> None:
        """Rebuild ``replay``; drop every other."""
        if self.followed is not None and self.followed is not replay:
            log.warning(
                "replay %s superseded by replay %s, which started later", self.followed.replay,
                replay.replay,
            )  # fmt: skip
        self.followed = replay
        self.stats.other_replays += sum(r.received for r in self.kept.values() if r is not replay)
        self.kept = {replay.replay: replay}
        replay.last_activity = time.monotonic()
        log.info(
            "rebuilding replay %s (%s of %s)", replay.replay,
            (replay.start or {}).get("content"), (replay.start or {}).get("source"),
        )  # fmt: skip


def consume_market(
    bootstrap: str,
    topic: str,
    *,
    replay: str = LATEST,
    client: Mapping[str, str] | None = None,
    on_snapshot: Callable[[dict[str, Any]], None] | None = None,
    on_replay: Callable[[str], None] | None = None,
    gap_timeout_s: float = DEFAULT_GAP_TIMEOUT_S,
    give_up_after_s: float | None = None,
    wait_for_replay: bool = False,
    since_ns: int | None = None,
) -> Consumed:
    """Read ``topic`` from its beginning and rebuild one replay (see the module's text).

    Parameters
    ----------
    replay
        ``latest``, ``next`` or a replay id.
    on_snapshot
        Called with each new snapshot of the replay being rebuilt, in arrival order, from
        the moment the consumer has chosen it (the live router); on an event stream, with
        each venue's first event at each ``ts_event`` as a snapshot.
    on_replay
        Called with the replay's id whenever the consumer starts rebuilding one (the live
        router starts afresh then).
    gap_timeout_s
        Stop with an error naming the missing ``seq`` range when the replay being rebuilt
        sends nothing for this long while the broker is up.
    give_up_after_s
        Stop with an error after this long without completing (None: wait as long as it
        takes; Ctrl-C stops).
    wait_for_replay
        With a replay id: wait for it to start rather than fail when the topic lacks it
        (its producer runs beside the consumer).
    since_ns
        ``next`` takes the first replay created at or after this time (ns since the epoch;
        default: now).
    """
    stats = StreamStats()
    chooser = _Chooser(replay, topic, stats, wait=wait_for_replay)
    if since_ns is not None:
        chooser.since_ns = since_ns
    began = time.monotonic()
    with _Connection(bootstrap, topic, client, stats) as connection:
        announced: set[str] = set()
        while True:
            followed = chooser.followed
            if followed is not None and followed.replay not in announced:
                announced.add(followed.replay)
                _start_feeding(followed, on_snapshot, on_replay)
            if followed is not None and followed.complete:
                followed.check()
                break
            _check_time(chooser, connection, began, gap_timeout_s, give_up_after_s)
            for message, decoded in connection.poll():
                _take(chooser, message, decoded, stats)
            if not chooser.caught_up and connection.at_end:
                chooser.catch_up()
    assert followed is not None and followed.end is not None
    log.info("replay %s complete: %d messages; %s", followed.replay, followed.received,
             stats.summary())  # fmt: skip
    return Consumed(followed.replay, followed.market(), followed.start or {}, followed.received,
                    stats)  # fmt: skip


def narrow(consumed: Consumed, start_ns: int | None, end_ns: int | None) -> MarketData:
    """Return the replay's market cut to ``[start_ns, end_ns]`` (None: the replay's own
    bound), as the file run with that window reads it.

    Raises
    ------
    SorError
        The window reaches past the replay's (the stream holds nothing there), or the replay
        carries snapshots only: a file run counts the rows in a window before keeping one
        per venue and time, which a snapshot replay cannot tell for a narrower window.
    """
    own_start, own_end = consumed.start.get("start_ns"), consumed.start.get("end_ns")
    start_ns = own_start if start_ns is None else start_ns
    end_ns = own_end if end_ns is None else end_ns
    if (start_ns, end_ns) == (own_start, own_end):
        return consumed.market
    from sor.core.timestamps import format_timestamp

    where = f"replay {consumed.replay}"
    if own_start is not None and (start_ns is None or start_ns < own_start):
        raise SorError(
            f"--start reaches before {where}'s window, which starts at "
            f"{format_timestamp(own_start)}: the stream holds nothing earlier"
        )
    if own_end is not None and (end_ns is None or end_ns > own_end):
        raise SorError(
            f"--end reaches past {where}'s window, which ends at {format_timestamp(own_end)}: "
            "the stream holds nothing later"
        )
    events = consumed.market.events
    if events is None:
        raise SorError(
            f"{where} carries snapshots, which cannot give a narrower window's row counts; "
            "publish it with that --start/--end, or with --events"
        )
    lo = -(2**63) if start_ns is None else start_ns
    hi = 2**63 - 1 if end_ns is None else end_ns
    inside = events[(events["ts_event"] >= lo) & (events["ts_event"] <= hi)]
    # an event replay holds every row: those inside the window are the file run's count
    return market_from_events(inside, {**consumed.start, "rows_in_window": len(inside)})


def _start_feeding(
    replay: _Replay,
    on_snapshot: Callable[[dict[str, Any]], None] | None,
    on_replay: Callable[[str], None] | None,
) -> None:
    """Give the live router the replay's snapshots so far, then each new one."""
    if on_replay is not None:
        on_replay(replay.replay)
    if on_snapshot is None:
        return
    venue_ts: dict[int, int] = {}

    def feed(kind: str, seqs: np.ndarray, rows: np.ndarray) -> None:
        asks, sizes = rows["ask_px"], rows["ask_sz"]
        bids, bid_sizes = rows["bid_px"], rows["bid_sz"]
        if kind == "event":
            asks, sizes, bids, bid_sizes = asks[:, 0], sizes[:, 0], bids[:, 0], bid_sizes[:, 0]
        for seq, ts, venue, ask_px, ask_sz, bid_px, bid_sz in zip(
            seqs.tolist(), rows["ts_event"].tolist(), rows["publisher_id"].tolist(),
            asks.tolist(), sizes.tolist(), bids.tolist(), bid_sizes.tolist(),
            strict=True,
        ):  # fmt: skip
            if kind == "event":  # a venue's first event at a ts_event is its snapshot
                if venue_ts.get(venue) == ts:
                    continue
                venue_ts[venue] = ts
            on_snapshot({"type": "snapshot", "seq": seq, "ts_event": ts, "publisher_id": venue,
                         "ask_px_nanos": ask_px, "ask_sz": ask_sz, "bid_px_nanos": bid_px,
                         "bid_sz": bid_sz})  # fmt: skip

    if replay.parts and replay.kind is not None:
        feed(replay.kind, *replay.ordered())
    replay.feed = feed


def _check_time(
    chooser: _Chooser,
    connection: _Connection,
    began: float,
    gap_timeout_s: float,
    give_up_after_s: float | None,
) -> None:
    now = time.monotonic()
    followed = chooser.followed
    if give_up_after_s is not None and now - began > give_up_after_s:
        what = f"replay {followed.replay}" if followed else "a replay"
        raise SorError(
            f"{what} on {chooser.topic!r} did not complete within {give_up_after_s:.0f} s"
        )
    if connection.broker_down and not connection.reachable():
        if followed is not None:
            followed.last_activity = now  # an outage is no gap: the clock restarts after it
        return
    if followed is None:
        return
    if now - followed.last_activity > gap_timeout_s:
        if followed.end is not None:
            raise SorError(
                f"replay {followed.replay} on {chooser.topic!r} lost messages: seq "
                f"{followed.missing()} of {followed.end['count']} never arrived (nothing "
                f"for {gap_timeout_s:.0f} s)"
            )
        gaps = followed.missing()
        raise SorError(
            f"replay {followed.replay} on {chooser.topic!r} stopped after seq "
            f"{followed.last_seq} with no end marker (nothing for {gap_timeout_s:.0f} s)"
            + (f"; missing seq {gaps}" if gaps != "none" else "; is its producer running?")
        )


def _take(chooser: _Chooser, message: Any, decoded: Any, stats: StreamStats) -> None:
    """Route one decoded message (or a decoded batch) to its replay."""
    if isinstance(decoded, _Batch):
        target = chooser.replay_of(decoded.replay)
        if target is None:
            stats.other_replays += len(decoded.seqs)
            return
        stats.duplicates += target.add(
            decoded.kind, decoded.seqs, decoded.rows, decoded.digests, decoded.offsets
        )
        return
    kind, name = decoded["type"], decoded["replay"]
    if kind == "start":
        chooser.on_start(name, message.offset(), decoded)
        return
    target = chooser.replay_of(name)
    if target is None:
        stats.other_replays += 1
        return
    target.last_activity = time.monotonic()  # an end marker or a heartbeat
    if kind == "end":
        target.end = decoded
        target.check()


@dataclass
class _Batch:
    """Data messages of one replay decoded together (the hot path)."""

    replay: str
    kind: str
    seqs: np.ndarray
    rows: np.ndarray
    digests: np.ndarray
    offsets: list[int]


class _Connection:
    """A consumer assigned to every partition of the topic from the beginning, which
    survives the broker going away (waiting, saying so) and decodes what it fetches."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        client: Mapping[str, str] | None,
        stats: StreamStats,
        *,
        wait_for_topic: bool = True,
    ) -> None:
        self.wait_for_topic = wait_for_topic
        self.bootstrap = bootstrap
        self.topic = topic
        self.client = dict(client or {})
        self.stats = stats
        self.broker_down = False
        self.last_offset = -1
        """The highest offset fetched so far, whatever the message held."""
        self.at_end = False
        self._probed = 0.0
        """The consumer has reached the end of the topic as it stood (once is enough)."""
        self._consumer: Any = None
        self._partitions: list[int] = []

    def __enter__(self) -> _Connection:
        from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

        wait_until_ready(self.bootstrap)

        def on_error(error: KafkaError) -> None:
            if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT):
                if not self.broker_down:
                    self.stats.outages += 1
                    log.warning(
                        "Kafka broker at %s unavailable: waiting for it to return", self.bootstrap
                    )
                self.broker_down = True

        self._consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": f"sor-backtest-{uuid.uuid4().hex[:12]}",  # offsets not committed
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "fetch.max.bytes": 52_428_800,
                "max.partition.fetch.bytes": 52_428_800,  # few large fetches: one partition
                "reconnect.backoff.max.ms": 1000,  # back within a second of the broker
                "enable.partition.eof": True,  # to know when what the topic held is read
                "error_cb": on_error,
                "log_level": 0,
                **self.client,
            }
        )
        self._partitions = self._wait_for_topic()
        if not self._partitions:  # no such topic, and not to be awaited: nothing to read
            self.at_end = True
            return self
        self._consumer.assign(
            [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in self._partitions]
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._consumer is not None:
            self._consumer.close()

    def _wait_for_topic(self) -> list[int]:
        """Return the topic's partitions, waiting for a producer to create it (and for the
        broker, should it go away meanwhile)."""
        from confluent_kafka import KafkaException

        announced = False
        while True:
            try:
                metadata = self._consumer.list_topics(self.topic, timeout=5)
            except KafkaException:
                metadata = None  # the broker is away: on_error said so; keep waiting
            found = metadata.topics.get(self.topic) if metadata is not None else None
            if found is not None and found.error is None and found.partitions:
                return sorted(found.partitions)
            if not self.wait_for_topic and metadata is not None:
                return []
            if not announced:
                log.info("waiting for topic %r to appear", self.topic)
                announced = True
            time.sleep(0.2)

    def reachable(self) -> bool:
        """Ask the broker, at most every two seconds, whether it is back; clear the outage
        when it answers (data may never come again if the broker lost it)."""
        from confluent_kafka import KafkaException

        now = time.monotonic()
        if now - self._probed < 2.0:
            return False
        self._probed = now
        try:
            self._consumer.list_topics(self.topic, timeout=1)
        except KafkaException:
            return False
        self._back()
        return True

    def _back(self) -> None:
        log.warning("Kafka broker at %s is back: resuming", self.bootstrap)
        self.broker_down = False

    def poll(self) -> Iterator[tuple[Any, Any]]:
        """Fetch and decode one batch; yield (message, decoded message or ``_Batch``)."""
        from confluent_kafka import KafkaError

        batch = self._consumer.consume(num_messages=10_000, timeout=0.5)
        if batch and self.broker_down:
            self._back()
        good = []
        for message in batch:
            error = message.error()
            if error is None:
                good.append(message)
            elif error.code() == KafkaError._PARTITION_EOF:
                self.at_end = True
            else:
                log.warning("consumer: %s", error)
        self.stats.messages += len(good)
        if not good:
            return
        self.last_offset = max(self.last_offset, max(m.offset() for m in good))
        payloads = [m.value() for m in good]
        # markers, heartbeats and odd messages are decoded one by one; the runs of data
        # messages between them go to the columnar decoders (the hot path)
        odd = [i for i, p in enumerate(payloads) if not p or not p.startswith(_DATA_PREFIXES)]
        begin = 0
        for end in [*odd, len(payloads)]:
            if end > begin:
                yield from self._decode(good[begin:end], payloads[begin:end])
            if end < len(payloads):
                yield from self._decode(good[end : end + 1], payloads[end : end + 1])
            begin = end + 1

    def _decode(self, good: list[Any], payloads: list[bytes | None]) -> Iterator[tuple[Any, Any]]:
        """Decode a run of messages: at once when they are data messages of one replay,
        else one by one, each malformed one logged with its offset."""
        if len(payloads) > 1:
            for kind, decoder in _BATCH_DECODERS.items():
                fast = decoder(payloads)
                if fast is not None and len(set(fast[0].tolist())) == 1:
                    replays, seqs, rows = fast
                    offsets = [m.offset() for m in good]
                    digests = payload_digests([p or b"" for p in payloads])
                    yield good[-1], _Batch(str(replays[0]), kind, seqs, rows, digests, offsets)
                    return
        decoded: list[Any] = decode_batch(payloads)
        for message, one in zip(good, decoded, strict=True):
            if not isinstance(one, MessageError) and one["type"] in _BATCH_DECODERS:
                # a data message alone, checked: its row from its kind's one decoder
                alone = _BATCH_DECODERS[one["type"]]([message.value()])
                if alone is None:
                    one = MessageError(f"a {one['type']} message its decoder refuses")
                else:
                    one = _Batch(one["replay"], one["type"], alone[1], alone[2],
                                 payload_digests([message.value()]), [message.offset()])  # fmt: skip
            if isinstance(one, MessageError):
                where = (message.partition() or 0, message.offset() or 0, str(one))
                self.stats.malformed.append(where)
                log.warning("malformed message at partition %d offset %d: %s skipped", *where)
            else:
                yield message, one


_DATA_PREFIXES = tuple(
    f'{{"v":{SCHEMA_VERSION},"type":"{kind}",'.encode() for kind in ("snapshot", "event")
)
"""How the producer's data messages begin: what may go to the columnar decoders."""


def list_replays(
    bootstrap: str, topic: str, *, client: Mapping[str, str] | None = None
) -> list[ReplayInfo]:
    """Read ``topic`` up to its end as it stands and describe every replay in it, oldest
    first."""
    stats = StreamStats()
    found: dict[str, _Replay] = {}

    def replay_of(name: str, offset: int) -> _Replay:
        return found.setdefault(name, _Replay(name, offset, None, keep_rows=False))

    with _Connection(bootstrap, topic, client, stats, wait_for_topic=False) as connection:
        while not connection.at_end:
            for message, decoded in connection.poll():
                if isinstance(decoded, _Batch):
                    replay = replay_of(decoded.replay, decoded.offsets[0])
                    try:
                        replay.add(decoded.kind, decoded.seqs, decoded.rows, decoded.digests,
                                   decoded.offsets)  # fmt: skip
                    except SorError as exc:  # listed as it is; a backtest of it would stop
                        log.warning("%s", exc)
                    continue
                replay = replay_of(decoded["replay"], message.offset())
                if decoded["type"] == "start":
                    replay.start = replay.start or decoded
                elif decoded["type"] == "end":
                    replay.end = decoded
    return [r.info() for r in sorted(found.values(), key=lambda r: r.offset)]
