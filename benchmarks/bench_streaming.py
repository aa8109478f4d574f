"""Producer and consumer throughput at --speed 0 against the embedded broker.

Both sides are measured beside a bare confluent-kafka loop over the same encoded messages
in the same run (goal: >= 100,000 messages/s each, and >= half of the bare loop). Consumer
rates count from the first message received, for the bare loop and for sor alike.
Run: ``python benchmarks/bench_streaming.py``.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.streaming.broker import EmbeddedBroker
from sor.streaming.consumer import consume_market
from sor.streaming.producer import (
    PRODUCER_DEFAULTS,
    STREAM_KEY,
    ensure_topic,
    publish,
    replay_messages,
)


def _bare_produce(bootstrap: str, topic: str, payloads: list[bytes]) -> float:
    ensure_topic(bootstrap, topic)
    producer = Producer({**PRODUCER_DEFAULTS, "bootstrap.servers": bootstrap})
    began = time.perf_counter()
    for payload in payloads:
        while True:
            try:
                producer.produce(topic, key=STREAM_KEY, value=payload)
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(60)
    return len(payloads) / (time.perf_counter() - began)


def _bare_consume(bootstrap: str, topic: str, count: int) -> tuple[float, float]:
    """Return the bare loop's rate from its first batch, and with the connection included."""
    started = time.perf_counter()
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "log_level": 0,
         "enable.auto.commit": False, "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 52_428_800}
    )  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    seen = first_batch = 0
    began = 0.0
    while seen < count:
        batch = sum(1 for m in consumer.consume(10_000, 1.0) if m.error() is None)
        if batch and not began:  # steady state: from the first batch received
            began = time.perf_counter()
            first_batch = batch
        seen += batch
    done = time.perf_counter()
    consumer.close()
    return (count - first_batch) / (done - began), count / (done - started)


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder, EmbeddedBroker() as broker:
        path = Path(folder) / "market.csv"
        generate_market(path, venues=6, depth=1)  # nine minutes, six venues
        market = read_market(path)
        payloads = [payload for payload, _ in replay_messages(market, replay="bench")]
        count = len(payloads)

        bare_topic = f"bench-bare-{uuid.uuid4().hex[:8]}"
        bare_produce = _bare_produce(broker.bootstrap, bare_topic, payloads)
        bare_consume, bare_consume_total = _bare_consume(broker.bootstrap, bare_topic, count)

        topic = f"bench-sor-{uuid.uuid4().hex[:8]}"
        began = time.perf_counter()
        publish(market, bootstrap=broker.bootstrap, topic=topic, speed=0)
        sor_produce = count / (time.perf_counter() - began)
        began = time.perf_counter()
        consume_market(broker.bootstrap, topic, on_snapshot=lambda _message: None)
        sor_consume_total = count / (time.perf_counter() - began)

    print(f"streaming: {count:,} messages ({sum(map(len, payloads)) / count:.0f} bytes each), "
          "embedded broker, --speed 0")  # fmt: skip
    print(f"  bare confluent-kafka produce    {bare_produce:12,.0f} msg/s")
    print(f"  sor produce (encode + send)     {sor_produce:12,.0f} msg/s  "
          f"({sor_produce / bare_produce:.0%} of bare; goal >= 100,000 and >= 50%)")  # fmt: skip
    print(f"  bare confluent-kafka consume    {bare_consume:12,.0f} msg/s  (from its first batch)")
    print(f"  bare consume, connect included  {bare_consume_total:12,.0f} msg/s")
    print(f"  sor consume, connect included   {sor_consume_total:12,.0f} msg/s  "
          f"({sor_consume_total / bare_consume_total:.0%} of bare; decode, digests, rebuild "
          "and the live router's feed; goal >= 50%)")  # fmt: skip
    print("  (the consumer feeds the live router once it has read what the topic held, so")
    print("  its rate is timed from the start, connection included, as the bare loop's is)")
    return {
        "bare_produce": bare_produce, "sor_produce": sor_produce,
        "bare_consume": bare_consume, "bare_consume_with_connect": bare_consume_total,
        "sor_consume_with_connect": sor_consume_total,
    }  # fmt: skip


if __name__ == "__main__":
    main()
