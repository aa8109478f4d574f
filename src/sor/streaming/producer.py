"""Replay kept snapshots (or every event) to a Kafka topic, paced by their ``ts_event`` gaps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sor.core.defaults import DEFAULT_TOPIC
from sor.core.errors import SorError
from sor.core.market import MarketData
from sor.streaming.broker import wait_until_ready
from sor.streaming.codec import (
    encode,
    encode_stream,
    end_message,
    heartbeat_message,
    new_replay_id,
    payload_digests,
    start_message,
)

log = logging.getLogger(__name__)

HEARTBEAT_S = 5.0
"""How often a replay paused by ``--speed`` says it is alive (well within a consumer's
30-second gap time-out)."""

STREAM_KEY = b"instrument"
"""Every message of a replay has this key, so all land in one partition, in order."""

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,  # a retried send is written once
    "acks": "all",
    "linger.ms": 20,
    "batch.num.messages": 100_000,
    # large record batches: a consumer's fetches then bring many messages each
    "batch.size": 8_000_000,
    "message.max.bytes": 8_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "compression.type": "none",
    "delivery.report.only.error": True,  # the callback runs for failures only
    "log_level": 0,  # the client's own lines would leak to stderr: outages are told below
}


@dataclass(frozen=True)
class ProduceSummary:
    """What a replay published."""

    topic: str
    replay: str
    messages: int
    seconds: float


def replay_messages(
    market: MarketData,
    *,
    replay: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    seed: int | None = None,
    events: np.ndarray | None = None,
) -> Iterator[tuple[bytes, int | None]]:
    """Yield every message of one replay with the ``ts_event`` of its data (None for the
    markers): the start marker, the snapshots of ``market`` (or every one of ``events``),
    then the end marker with their count and checksum."""
    start = start_message(market, replay=replay, start_ns=start_ns, end_ns=end_ns, seed=seed,
                          events=events is not None, created_ns=time.time_ns())  # fmt: skip
    yield encode(start), None
    rows = market.snapshots if events is None else events
    times = rows["ts_event"]
    total = 0
    count = 0
    for payload in encode_stream(rows, events=events is not None, replay=replay):
        total += int(payload_digests([payload])[0])
        yield payload, int(times[count])
        count += 1
    yield encode(end_message(replay=replay, count=count, checksum=total)), None


def ensure_topic(bootstrap: str, topic: str, client: Mapping[str, str] | None = None) -> None:
    """Create ``topic`` with one partition unless it exists."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0, **(client or {})})
    if topic in admin.list_topics(timeout=10).topics:
        return
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    for future in futures.values():
        try:
            future.result(timeout=10)
        except KafkaException as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise SorError(f"cannot create topic {topic!r} at {bootstrap}: {exc}") from None


def publish(
    market: MarketData,
    *,
    bootstrap: str,
    topic: str = DEFAULT_TOPIC,
    replay: str | None = None,
    speed: float = 0.0,
    start_ns: int | None = None,
    end_ns: int | None = None,
    seed: int | None = None,
    client: Mapping[str, str] | None = None,
    on_message: Callable[[int, int], None] | None = None,
    events: np.ndarray | None = None,
) -> ProduceSummary:
    """Publish one replay (:func:`replay_messages`) and wait for every delivery.

    Parameters
    ----------
    replay
        The replay's id (default: a new one); publishing an id again adds to that replay.
    speed
        1 replays in real time from the ``ts_event`` gaps, 10 ten times faster, 0 as fast
        as possible. While paused, a heartbeat goes out every ``HEARTBEAT_S`` seconds.
    start_ns, end_ns, seed
        The window the snapshots were cut to and the seed of generated data, carried in
        the start marker.
    client
        Extra confluent-kafka settings (security, for instance), passed through.
    on_message
        Called with (data messages sent, ``ts_event``) after each one, for progress.
    events
        Every row of the window (``sor.data.events.read_events``) to publish instead of the
        snapshots, for ``--model ck``; ``market`` still supplies the start marker's metadata.

    Raises
    ------
    SorError
        No broker answers, or a message could not be delivered.
    """
    from confluent_kafka import KafkaError, Producer

    if speed < 0:
        raise SorError(f"--speed must be 0 (as fast as possible) or positive, got {speed}")
    replay = replay or new_replay_id()
    wait_until_ready(bootstrap)
    ensure_topic(bootstrap, topic, client)
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    away: list[bool] = []

    def on_error(error: KafkaError) -> None:
        if error.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT) and not away:
            away.append(True)
            log.warning("Kafka broker at %s unavailable: the producer keeps retrying", bootstrap)

    producer = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap,
                         "error_cb": on_error, **(client or {})})  # fmt: skip
    heartbeat = encode(heartbeat_message(replay=replay))
    began = time.monotonic()
    first_ts: int | None = None
    sent = 0
    for payload, ts in replay_messages(market, replay=replay, start_ns=start_ns, end_ns=end_ns,
                                       seed=seed, events=events):  # fmt: skip
        if failures:
            break
        if ts is not None and speed > 0:
            first_ts = ts if first_ts is None else first_ts
            _pause(producer, topic, heartbeat, delivered,
                   began + (ts - first_ts) / 1e9 / speed)  # fmt: skip
        _send(producer, topic, payload, delivered, poll=sent % 1000 == 0)
        sent += 1
        if ts is not None and on_message is not None:
            on_message(sent - 1, ts)
    left = producer.flush(30)
    if failures or left:
        detail = failures[0] if failures else f"{left} message(s) still queued after 30 s"
        raise SorError(f"publishing to {topic!r} at {bootstrap} failed: {detail}")
    elapsed = time.monotonic() - began
    log.info("published replay %s: %d messages to %s in %.2f s", replay, sent, topic, elapsed)
    return ProduceSummary(topic=topic, replay=replay, messages=sent, seconds=elapsed)


def _pause(
    producer: Any, topic: str, heartbeat: bytes, on_delivery: Callable[..., None], due: float
) -> None:
    """Wait until ``due`` (monotonic seconds), saying the replay is alive meanwhile."""
    while (pause := due - time.monotonic()) > 0:
        producer.poll(0)
        time.sleep(min(pause, HEARTBEAT_S))
        if due - time.monotonic() > 0:
            _send(producer, topic, heartbeat, on_delivery)


def _send(
    producer: Any,
    topic: str,
    payload: bytes,
    on_delivery: Callable[..., None],
    *,
    poll: bool = True,
) -> None:
    while True:
        try:
            producer.produce(topic, key=STREAM_KEY, value=payload, on_delivery=on_delivery)
            break
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.05)
    if poll:
        producer.poll(0)
