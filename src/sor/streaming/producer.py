"""Replay kept snapshots (or every event) to a Kafka topic, paced by their ``ts_event`` gaps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from sor.data.reader import MarketData
from sor.errors import SorError
from sor.streaming.broker import wait_until_ready
from sor.streaming.codec import encode, encode_stream, end_message

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "mock_l1_stream"
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
    "log_level": 3,
}


@dataclass(frozen=True)
class ProduceSummary:
    """What a replay published."""

    topic: str
    messages: int
    seconds: float


def ensure_topic(bootstrap: str, topic: str, client: Mapping[str, str] | None = None) -> None:
    """Create ``topic`` with one partition unless it exists."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap, **(client or {})})
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
    speed: float = 0.0,
    start_ns: int | None = None,
    end_ns: int | None = None,
    seed: int | None = None,
    client: Mapping[str, str] | None = None,
    on_message: Callable[[int, int], None] | None = None,
    events: np.ndarray | None = None,
) -> ProduceSummary:
    """Publish every snapshot of ``market`` (or every one of ``events``) then the end marker;
    wait for every delivery.

    Parameters
    ----------
    speed
        1 replays in real time from the ``ts_event`` gaps, 10 ten times faster, 0 as fast
        as possible.
    start_ns, end_ns, seed
        The window the snapshots were cut to and the seed of generated data, carried in
        the end marker.
    client
        Extra confluent-kafka settings (security, for instance), passed through.
    on_message
        Called with (messages sent, ``ts_event``) after each snapshot, for progress.
    events
        Every row of the window (``sor.data.events.read_events``) to publish instead of the
        snapshots, for ``--model ck``; ``market`` still supplies the end marker's metadata.

    Raises
    ------
    SorError
        No broker answers, or a message could not be delivered.
    """
    from confluent_kafka import KafkaError, Producer

    if speed < 0:
        raise SorError(f"--speed must be 0 (as fast as possible) or positive, got {speed}")
    wait_until_ready(bootstrap)
    ensure_topic(bootstrap, topic, client)
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    producer = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap, **(client or {})})
    rows = market.snapshots if events is None else events
    began = time.monotonic()
    first_ts = int(rows["ts_event"][0]) if len(rows) else 0
    times = rows["ts_event"]
    for seq, payload in enumerate(encode_stream(rows, events=events is not None)):
        if failures:
            break
        if speed > 0:
            due = began + (int(times[seq]) - first_ts) / 1e9 / speed
            pause = due - time.monotonic()
            if pause > 0:
                producer.poll(0)
                time.sleep(pause)
        _send(producer, topic, payload, delivered, poll=seq % 1000 == 0)
        if on_message is not None:
            on_message(seq + 1, int(times[seq]))
    if not failures:
        marker = end_message(market, start_ns=start_ns, end_ns=end_ns, seed=seed, events=events)
        _send(producer, topic, encode(marker), delivered)
    left = producer.flush(30)
    if failures or left:
        detail = failures[0] if failures else f"{left} message(s) still queued after 30 s"
        raise SorError(f"publishing to {topic!r} at {bootstrap} failed: {detail}")
    elapsed = time.monotonic() - began
    log.info("published %d messages to %s in %.2f s", len(rows) + 1, topic, elapsed)
    return ProduceSummary(topic=topic, messages=len(rows) + 1, seconds=elapsed)


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
