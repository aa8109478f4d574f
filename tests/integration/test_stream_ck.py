"""Model ck from Kafka: an event stream gives exactly the file's report, static or ck."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sor.cli import app
from sor.data.generate import generate_market
from sor.streaming.broker import EmbeddedBroker

pytestmark = pytest.mark.integration
CK = ["--model", "ck", "--lambda-under", "0.01,0.2", "--theta-queue", "0.005",
      "--horizon", "0.5,2", "--order-size", "2000"]  # fmt: skip
WINDOW = ["--start", "2024-08-01T13:36:40Z", "--end", "2024-08-01T13:37:20.5Z"]


def _topic() -> str:
    return f"ck-{uuid.uuid4().hex[:10]}"


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(app, [*args, "--quiet"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _report(out: Path, *args: str) -> bytes:
    _invoke("backtest", *args, "--no-plot", "--json-out", str(out))
    return out.read_bytes()


def test_ck_from_an_event_stream_is_the_file_run(
    broker: EmbeddedBroker, market_csv: Path, tmp_path: Path
) -> None:
    topic = _topic()
    _invoke("produce", "--data", str(market_csv), "--bootstrap", broker.bootstrap,
            "--topic", topic, "--speed", "0", "--events", *WINDOW)  # fmt: skip
    # the consumer is not told the window: the end marker carries it
    from_kafka = _report(tmp_path / "kafka.json", "--kafka", broker.bootstrap, "--topic", topic,
                         *CK)  # fmt: skip
    from_file = _report(tmp_path / "file.json", "--data", str(market_csv), *WINDOW, *CK)
    assert b'"model": "ck"' in from_file
    assert from_kafka == from_file
    # the same event stream serves the static model: its snapshots are the file's
    static_kafka = _report(tmp_path / "s_kafka.json", "--kafka", broker.bootstrap,
                           "--topic", topic)  # fmt: skip
    static_file = _report(tmp_path / "s_file.json", "--data", str(market_csv), *WINDOW)
    assert static_kafka == static_file
    # and a sell, of either model
    for model in ("ck", "static"):
        extra = CK if model == "ck" else ()
        sold_kafka = _report(tmp_path / f"{model}_sell_kafka.json", "--kafka", broker.bootstrap,
                             "--topic", topic, "--side", "sell", *extra)  # fmt: skip
        sold_file = _report(tmp_path / f"{model}_sell_file.json", "--data", str(market_csv),
                            *WINDOW, "--side", "sell", *extra)  # fmt: skip
        assert b'"side": "sell"' in sold_file
        assert sold_kafka == sold_file


def test_ck_on_a_snapshot_stream_says_what_it_needs(
    broker: EmbeddedBroker, market_csv: Path
) -> None:
    topic = _topic()
    _invoke("produce", "--data", str(market_csv), "--bootstrap", broker.bootstrap,
            "--topic", topic, "--speed", "0")  # fmt: skip
    result = CliRunner().invoke(
        app, ["backtest", "--kafka", broker.bootstrap, "--topic", topic, *CK, "--no-plot",
              "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "snapshots only" in result.output and "--events" in result.output


def test_ck_stream_of_mbp10_data_through_the_embedded_broker(tmp_path: Path) -> None:
    data = tmp_path / "mbp10.csv"
    generate_market(data, venues=3, seed=12, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:52Z")  # fmt: skip
    streamed = _report(tmp_path / "stream.json", "--data", str(data), "--stream", *CK)
    assert streamed == _report(tmp_path / "file.json", "--data", str(data), *CK)


def test_an_event_stream_replayed_twice_counts_once(
    broker: EmbeddedBroker, market_csv: Path
) -> None:
    from sor.data.events import read_events
    from sor.data.reader import read_market
    from sor.streaming.consumer import consume_market
    from sor.streaming.producer import publish

    topic = _topic()
    market, events = read_market(market_csv), read_events(market_csv)
    for _ in range(2):
        publish(market, bootstrap=broker.bootstrap, topic=topic, events=events)
    consumed = consume_market(broker.bootstrap, topic, give_up_after_s=60)
    rebuilt, stats = consumed.market, consumed.stats
    assert (consumed.start["content"], consumed.count) == ("events", len(events))
    assert rebuilt.events is not None
    assert (rebuilt.events == events).all()
    assert (rebuilt.snapshots == market.snapshots).all()
    # two replays: the consumer rebuilds the latest, and the other one's messages are
    # never mixed in
    assert stats.other_replays == len(events)
    assert not stats.malformed and not stats.duplicates


def test_ck_from_a_stream_of_order_level_data_is_the_file_run(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """An MBO file (a full-depth venue and a top-of-book one) streamed as events: the L2
    queue models need only what the messages carry (the books, actions and flags; F_TOB
    rows restate a level), so the report is the file's."""
    import numpy as np

    from orderlevel_helpers import Flow, interleave, tob_flow, write_mbo_csv

    rng = np.random.default_rng(7)
    flow = Flow(rng, step_ns=2_000_000)
    for _ in range(4000):
        flow.step()
    data = write_mbo_csv(tmp_path / "day.mbo.csv",
                         *interleave(rng, flow.rows, tob_flow(rng, 1500, step_ns=5_000_000)))  # fmt: skip
    topic = _topic()
    _invoke("produce", "--data", str(data), "--bootstrap", broker.bootstrap, "--topic", topic,
            "--speed", "0", "--events")  # fmt: skip
    args = ["--model", "ck", "--order-size", "300", "--horizon", "0.5"]
    for side in ("buy", "sell"):
        from_kafka = _report(tmp_path / "kafka.json", "--kafka", broker.bootstrap, "--topic",
                             topic, "--side", side, *args)  # fmt: skip
        from_file = _report(tmp_path / "file.json", "--data", str(data), "--side", side, *args)
        assert b'"total_fill": 300' in from_file
        assert from_kafka == from_file
