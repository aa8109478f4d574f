"""Kafka replay against the file: same report, end marker, duplicates, bad messages, faults."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Producer
from typer.testing import CliRunner

from sor.cli import app
from sor.data.reader import read_market
from sor.streaming.broker import EmbeddedBroker, free_port
from sor.streaming.consumer import consume_market
from sor.streaming.producer import STREAM_KEY, ensure_topic, publish, replay_messages

pytestmark = pytest.mark.integration
GRID = ["--lambda-over", "0.1,0.4", "--lambda-under", "0.2", "--theta-queue", "0.3,0.5"]
SECTION_6 = ("best_parameters", "optimized", "baselines", "savings_vs_baselines_bps")


def _topic() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output


def _file_report(market_csv: Path, out: Path, *window: str) -> bytes:
    _invoke("backtest", "--data", str(market_csv), *window, *GRID, "--no-plot",
            "--json-out", str(out))  # fmt: skip
    return out.read_bytes()


@pytest.mark.parametrize(
    "window", [(), ("--start", "2024-08-01T13:36:40Z", "--end", "2024-08-01T13:37:20.5Z")]
)
def test_kafka_run_prints_exactly_the_file_runs_report(
    broker: EmbeddedBroker, market_csv: Path, tmp_path: Path, window: tuple[str, ...]
) -> None:
    topic = _topic()
    _invoke("produce", "--data", str(market_csv), "--bootstrap", broker.bootstrap,
            "--topic", topic, "--speed", "0", *window)  # fmt: skip
    # the consumer is not told the window: the end marker carries it
    _invoke("backtest", "--kafka", broker.bootstrap, "--topic", topic, *GRID, "--no-plot",
            "--json-out", str(tmp_path / "kafka.json"))  # fmt: skip
    expected = _file_report(market_csv, tmp_path / "file.json", *window)
    assert (tmp_path / "kafka.json").read_bytes() == expected


def test_a_sell_from_kafka_and_from_the_classic_script_is_the_file_runs_sell(
    broker: EmbeddedBroker, market_csv: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    topic = _topic()
    _invoke("produce", "--data", str(market_csv), "--bootstrap", broker.bootstrap,
            "--topic", topic, "--speed", "0")  # fmt: skip
    _invoke("backtest", "--kafka", broker.bootstrap, "--topic", topic, "--side", "sell", *GRID,
            "--no-plot", "--json-out", str(tmp_path / "kafka.json"))  # fmt: skip
    expected = _file_report(market_csv, tmp_path / "file.json", "--side", "sell")
    assert b'"best_bid"' in expected
    assert (tmp_path / "kafka.json").read_bytes() == expected
    repo = Path(__file__).resolve().parents[2]
    streamed = subprocess.run(
        [sys.executable, str(repo / "backtest.py"), "--data", str(market_csv), "--side", "sell",
         *GRID, "--no-plot", "--quiet", "--json-out", str(tmp_path / "stream.json")],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    assert streamed.stdout.encode() == expected


def test_the_end_marker_stops_the_consumer(broker: EmbeddedBroker, market_csv: Path) -> None:
    topic = _topic()
    market = read_market(market_csv)
    publish(market, bootstrap=broker.bootstrap, topic=topic)
    began = time.monotonic()
    consumed = consume_market(broker.bootstrap, topic, give_up_after_s=30)
    rebuilt, stats = consumed.market, consumed.stats
    assert time.monotonic() - began < 10
    assert consumed.count == len(market.snapshots) == len(rebuilt.snapshots)
    assert (rebuilt.snapshots == market.snapshots).all()
    assert stats.messages == len(market.snapshots) + 2
    assert (rebuilt.source, rebuilt.sha256, rebuilt.rows_read) == (
        market.source, market.sha256, market.rows_read,
    )  # fmt: skip


def _raw_producer(bootstrap: str, topic: str) -> Producer:
    ensure_topic(bootstrap, topic)
    return Producer({"bootstrap.servers": bootstrap})


def test_duplicates_and_malformed_messages(
    broker: EmbeddedBroker, market_csv: Path, tmp_path: Path
) -> None:
    topic = _topic()
    market = read_market(market_csv)
    producer = _raw_producer(broker.bootstrap, topic)
    payloads = [payload for payload, _ in replay_messages(market, replay="r1")]
    for seq, payload in enumerate(payloads):
        producer.produce(topic, key=STREAM_KEY, value=payload)
        if seq % 100 == 1:  # a retried send: the same snapshot twice
            producer.produce(topic, key=STREAM_KEY, value=payload)
        if seq == 51:
            producer.produce(topic, key=STREAM_KEY, value=b"\x00not json")
            producer.produce(topic, key=STREAM_KEY, value=b'{"v": 2, "type": "snapshot"}')
    assert producer.flush(10) == 0

    _invoke("backtest", "--kafka", broker.bootstrap, "--topic", topic, *GRID, "--no-plot",
            "--json-out", str(tmp_path / "kafka.json"))  # fmt: skip
    # the report is the file's to the byte: what the stream went through is for stderr
    assert (tmp_path / "kafka.json").read_bytes() == _file_report(market_csv, tmp_path / "f.json")
    consumed = consume_market(broker.bootstrap, topic, give_up_after_s=30)
    assert consumed.stats.duplicates == len(range(1, len(payloads) - 1, 100))
    malformed = consumed.stats.malformed
    # start marker, 51 snapshots and a duplicate come first
    assert [offset for _, offset, _ in malformed] == [53, 54]
    assert "not JSON" in malformed[0][2]


def test_an_unreachable_broker_is_a_clear_error_within_15_seconds() -> None:
    began = time.monotonic()
    result = CliRunner().invoke(
        app, ["backtest", "--kafka", f"127.0.0.1:{free_port()}", "--no-plot", "--quiet"]
    )
    assert time.monotonic() - began < 15
    assert result.exit_code == 2
    assert "no Kafka broker answers" in result.output


def test_a_broker_restart_mid_stream_loses_and_doubles_nothing(market_csv: Path) -> None:
    market = read_market(market_csv)
    topic = _topic()
    half = len(market.snapshots) // 2
    seen: list[int] = []
    outcome: dict[str, object] = {}
    with EmbeddedBroker() as restartable:
        producer = _raw_producer(restartable.bootstrap, topic)
        messages = replay_messages(market, replay="restarted")
        for _ in range(half + 1):  # the start marker and half the snapshots
            producer.produce(topic, key=STREAM_KEY, value=next(messages)[0])
        assert producer.flush(10) == 0

        def consume() -> None:
            outcome["result"] = consume_market(
                restartable.bootstrap, topic, give_up_after_s=60,
                on_snapshot=lambda m: seen.append(m["seq"]),
            )  # fmt: skip

        consumer = threading.Thread(target=consume)
        consumer.start()
        deadline = time.monotonic() + 20
        while len(seen) < half and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(seen) == half
        restartable.stop()  # the broker goes away; its topics were in memory
        time.sleep(1.0)
        restartable.start()
        # the producer publishes the same replay again into the new broker
        publish(market, bootstrap=restartable.bootstrap, topic=topic, replay="restarted")
        consumer.join(60)
        assert not consumer.is_alive()
    consumed = outcome["result"]
    assert sorted(seen) == list(range(len(market.snapshots)))  # each snapshot exactly once
    assert (consumed.market.snapshots == market.snapshots).all()  # type: ignore[attr-defined]
    assert consumed.stats.outages >= 1  # type: ignore[attr-defined]


def test_classic_script_streams_through_the_embedded_broker(
    market_csv: Path, tmp_path: Path
) -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    common = [str(market_csv), *GRID, "--no-plot", "--quiet"]
    streamed = subprocess.run(
        [sys.executable, str(repo / "backtest.py"), "--data", *common,
         "--json-out", str(tmp_path / "stream.json")],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert streamed.returncode == 0, streamed.stderr
    expected = _file_report(market_csv, tmp_path / "file.json")
    assert streamed.stdout.encode() == expected


def test_ctrl_c_stops_a_waiting_consumer_cleanly(broker: EmbeddedBroker, tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    topic = _topic()
    ensure_topic(broker.bootstrap, topic)  # an empty stream: the consumer waits for data
    process = subprocess.Popen(
        [sys.executable, "-m", "sor", "backtest", "--kafka", broker.bootstrap, "--topic", topic,
         "--no-plot", "--json-out", str(tmp_path / "never.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3.0)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert out == "" and not (tmp_path / "never.json").exists()


@pytest.mark.parametrize("events", [False, True], ids=["snapshots", "events"])
def test_live_fills_through_the_broker_equal_the_backtest_router(
    broker: EmbeddedBroker, market_csv: Path, events: bool
) -> None:
    from sor.core.search import SearchGrid
    from sor.data.events import read_events
    from sor.static.backtest import BacktestConfig, run_backtest
    from sor.streaming.live import LiveRouter

    market = read_market(market_csv)
    topic = _topic()
    rows = read_events(market_csv) if events else None
    publish(market, bootstrap=broker.bootstrap, topic=topic, events=rows)
    config = BacktestConfig(order_size=3000, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    live = LiveRouter(config.order_size, config.costs)
    consume_market(broker.bootstrap, topic, give_up_after_s=60, on_snapshot=live.on_snapshot)
    live.finish()
    router = run_backtest(market, config).router
    assert router.total_fill == 3000 and len(router.fills) > 1
    assert live.fills == [
        (f.ts_event, f.publisher_id, f.quantity, round(f.price * 1e9)) for f in router.fills
    ]
    assert (live.filled, live.cash_nanos) == (router.total_fill, router.total_cash_nanos)
