"""Replays in a long-lived topic, against the real embedded broker: the consumer rebuilds
exactly one, or stops with a one-line reason; never a mix, never a silent wrong figure."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka import Producer

from cli_run import Outcome, run_as_command
from sor.core.errors import SorError
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.streaming.broker import EmbeddedBroker
from sor.streaming.codec import encode
from sor.streaming.consumer import consume_market, list_replays
from sor.streaming.producer import STREAM_KEY, ensure_topic, publish, replay_messages

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
GRID = ["--lambda-over", "0.1", "--lambda-under", "0.2", "--theta-queue", "0.3"]


def _sor(capfd: pytest.CaptureFixture[str], *args: str, cwd: Path) -> Outcome:
    """Run ``sor ARGS`` in this process (the wait for ``--replay next`` runs as its own)."""
    return run_as_command(list(args), capfd, cwd)


def _topic() -> str:
    return f"replays-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def two_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("two")
    a, b = folder / "a.csv", folder / "b.csv"
    generate_market(a, venues=3, seed=1, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:02Z", depth=1)  # fmt: skip
    generate_market(b, venues=3, seed=2, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:02Z", depth=1)  # fmt: skip
    return a, b


def _file_report(capfd: pytest.CaptureFixture[str], data: Path, folder: Path) -> str:
    done = _sor(capfd, "backtest", "--data", str(data), *GRID, "--no-plot", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_topic_of_two_replays_gives_each_files_report(
    broker: EmbeddedBroker,
    two_files: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    a, b = two_files
    topic = _topic()
    first = publish(read_market(a), bootstrap=broker.bootstrap, topic=topic).replay
    publish(read_market(b), bootstrap=broker.bootstrap, topic=topic)
    kafka = ["backtest", "--kafka", broker.bootstrap, "--topic", topic, *GRID, "--no-plot", "-q"]
    latest = _sor(capfd, *kafka, cwd=tmp_path)
    assert latest.returncode == 0, latest.stderr
    assert latest.stdout == _file_report(capfd, b, tmp_path)
    chosen = _sor(capfd, *kafka, "--replay", first, cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stderr
    assert chosen.stdout == _file_report(capfd, a, tmp_path)
    # an event replay after them is no error: replays of different kinds live side by side
    from sor.data.events import read_events

    publish(read_market(a), bootstrap=broker.bootstrap, topic=topic, events=read_events(a))
    again = _sor(capfd, *kafka, "--replay", first, cwd=tmp_path)
    assert again.stdout == chosen.stdout
    listed = list_replays(broker.bootstrap, topic)
    assert [(r.content, r.complete) for r in listed] == [
        ("snapshots", True), ("snapshots", True), ("events", True),
    ]  # fmt: skip
    assert listed[0].replay == first and listed[0].source == str(a)
    shown = _sor(capfd, "replays", "--kafka", broker.bootstrap, "--topic", topic, cwd=tmp_path)
    assert shown.returncode == 0 and len(shown.stdout.splitlines()) == 3
    assert first in shown.stdout.splitlines()[0]


def test_an_unknown_replay_is_a_one_line_error(
    broker: EmbeddedBroker, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    topic = _topic()
    ensure_topic(broker.bootstrap, topic)
    done = _sor(capfd, "backtest", "--kafka", broker.bootstrap, "--topic", topic, "--replay", "nope",
                "--no-plot", "-q", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"sor: error: no replay nope in topic {topic!r}; `sor replays` lists them"
    ]


@pytest.fixture
def raw(broker: EmbeddedBroker) -> Iterator[tuple[Producer, str]]:
    topic = _topic()
    ensure_topic(broker.bootstrap, topic)
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    yield producer, topic
    producer.flush(10)


def _messages(path: Path, replay: str) -> list[bytes]:
    return [payload for payload, _ in replay_messages(read_market(path), replay=replay)]


def _send(producer: Producer, topic: str, payloads: list[bytes]) -> None:
    for payload in payloads:
        producer.produce(topic, key=STREAM_KEY, value=payload)
    assert producer.flush(10) == 0


def test_a_lost_message_names_the_missing_range(
    broker: EmbeddedBroker, raw: tuple[Producer, str], two_files: tuple[Path, Path]
) -> None:
    producer, topic = raw
    payloads = _messages(two_files[0], "lossy")
    _send(producer, topic, payloads[:11] + payloads[14:])  # seq 10, 11 and 12 lost
    with pytest.raises(SorError, match=r"lost messages: seq 10-12 of \d+ never arrived"):
        consume_market(broker.bootstrap, topic, gap_timeout_s=2, give_up_after_s=60)


def test_a_replay_without_its_end_stops_after_the_gap_time(
    broker: EmbeddedBroker, raw: tuple[Producer, str], two_files: tuple[Path, Path]
) -> None:
    producer, topic = raw
    payloads = _messages(two_files[0], "cut")
    _send(producer, topic, payloads[:100])
    with pytest.raises(SorError, match="stopped after seq 98 with no end marker"):
        consume_market(broker.bootstrap, topic, gap_timeout_s=2, give_up_after_s=60)


def test_a_poisoned_duplicate_names_both_offsets(
    broker: EmbeddedBroker, raw: tuple[Producer, str], two_files: tuple[Path, Path]
) -> None:
    producer, topic = raw
    payloads = _messages(two_files[0], "poisoned")
    poisoned = json.loads(payloads[6])  # seq 5, published first at a price of 1.00
    poisoned["ask_px"] = "1"
    _send(producer, topic, [payloads[0], encode(poisoned), *payloads[1:]])
    with pytest.raises(SorError, match="seq 5 at offset 7 differs from its first copy at offset 1"):
        consume_market(broker.bootstrap, topic, gap_timeout_s=5, give_up_after_s=60)


def test_an_altered_replay_fails_its_checksum(
    broker: EmbeddedBroker, raw: tuple[Producer, str], two_files: tuple[Path, Path]
) -> None:
    producer, topic = raw
    payloads = _messages(two_files[0], "altered")
    changed = json.loads(payloads[3])
    changed["ask_sz"] += 100  # one message changed in place, never sent twice
    _send(producer, topic, [*payloads[:3], encode(changed), *payloads[4:]])
    with pytest.raises(SorError, match=r"checksum \w+ differs from the end marker's"):
        consume_market(broker.bootstrap, topic, gap_timeout_s=5, give_up_after_s=60)


def test_hostile_messages_are_counted_and_the_report_is_the_files(
    broker: EmbeddedBroker, raw: tuple[Producer, str], two_files: tuple[Path, Path],
    tmp_path: Path, capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    producer, topic = raw
    payloads = _messages(two_files[0], "hostile")
    one = json.loads(payloads[1])
    hostile = [
        b"[" * 200_000 + b"]" * 200_000,  # nested 200,000 levels deep
        b'{"v": 2, "type": "snapshot", "replay": "hostile", "x": ' + b"[" * 5000 + b"]" * 5000
        + b"}",
        encode({**one, "ts_event": 2**70}),
        encode({**one, "ask_px": "²"}),
        encode({**one, "publisher_id": 2**40}),
        b'{"v": 2, "type": "snapshot", "replay": "hostile", "seq": 1e400}',
        b"x" * 900_000,  # a large message
        "\u00e9\u0000\ud7ff".encode("utf-8", "surrogatepass"),
    ]  # fmt: skip
    _send(producer, topic, [*payloads[:50], *hostile, *payloads[50:]])
    consumed = consume_market(broker.bootstrap, topic, gap_timeout_s=5, give_up_after_s=60)
    assert [offset for _, offset, _ in consumed.stats.malformed] == list(range(50, 58))
    done = _sor(capfd, "backtest", "--kafka", broker.bootstrap, "--topic", topic, *GRID, "--no-plot",
                "-q", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == _file_report(capfd, two_files[0], tmp_path)


def test_next_waits_for_a_replay_created_after_it_began(
    broker: EmbeddedBroker,
    two_files: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    import os
    import time

    a, b = two_files
    topic = _topic()
    publish(read_market(a), bootstrap=broker.bootstrap, topic=topic)  # an old, complete one
    consumer = subprocess.Popen(
        [sys.executable, "-m", "sor", "backtest", "--kafka", broker.bootstrap, "--topic", topic,
         "--replay", "next", *GRID, "--no-plot", "-q"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2.0)
    assert consumer.poll() is None  # the old replay does not satisfy it
    publish(read_market(b), bootstrap=broker.bootstrap, topic=topic)
    out, err = consumer.communicate(timeout=120)
    assert consumer.returncode == 0, err
    assert out == _file_report(capfd, b, tmp_path)


def _consume_in_thread(bootstrap: str, topic: str, **kwargs: object) -> tuple[object, dict]:
    import threading

    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["result"] = consume_market(bootstrap, topic, give_up_after_s=90, **kwargs)
        except SorError as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_the_consumer_outlives_a_broker_that_dies_while_it_waits(
    two_files: tuple[Path, Path],
) -> None:
    import time

    market = read_market(two_files[0])
    with EmbeddedBroker() as restartable:
        topic = _topic()
        thread, outcome = _consume_in_thread(restartable.bootstrap, topic)
        time.sleep(2.0)  # the consumer waits for the topic
        restartable.stop()
        time.sleep(2.0)
        restartable.start()
        back = time.monotonic()
        publish(market, bootstrap=restartable.bootstrap, topic=topic)
        thread.join(60)  # type: ignore[attr-defined]
        assert "error" not in outcome, outcome.get("error")
        assert time.monotonic() - back < 30
    consumed = outcome["result"]
    assert (consumed.market.snapshots == market.snapshots).all()  # type: ignore[attr-defined]


def test_a_replay_the_broker_lost_is_named_not_awaited_forever(
    two_files: tuple[Path, Path],
) -> None:
    import time

    market = read_market(two_files[0])
    payloads = [payload for payload, _ in replay_messages(market, replay="lost")]
    with EmbeddedBroker() as restartable:
        topic = _topic()
        ensure_topic(restartable.bootstrap, topic)
        producer = Producer({"bootstrap.servers": restartable.bootstrap, "log_level": 0})
        _send(producer, topic, payloads[:200])
        thread, outcome = _consume_in_thread(restartable.bootstrap, topic, gap_timeout_s=8)
        time.sleep(2.0)
        restartable.stop()  # an in-memory broker: what it held is gone
        time.sleep(1.0)
        restartable.start()
        ensure_topic(restartable.bootstrap, topic)
        _send(producer, topic, payloads[400:])  # the old producer carries on
        thread.join(60)  # type: ignore[attr-defined]
    assert "result" not in outcome
    # the broker's new log restarts its offsets, so the consumer's position skips some of
    # the tail too: every message from seq 199 on up to some later one is missing
    assert re.search(r"lost messages: seq 199-\d+ of \d+ never arrived", str(outcome["error"]))


WINDOW = ["--start", "2024-08-01T13:36:40Z", "--end", "2024-08-01T13:36:55.5Z"]


def test_a_window_at_the_consumer_gives_the_file_runs_report(
    broker: EmbeddedBroker,
    two_files: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from sor.data.events import read_events

    a = two_files[0]
    topic = _topic()
    publish(read_market(a), bootstrap=broker.bootstrap, topic=topic, events=read_events(a))
    kafka = ["backtest", "--kafka", broker.bootstrap, "--topic", topic, *GRID, "--no-plot", "-q"]
    narrowed = _sor(capfd, *kafka, *WINDOW, cwd=tmp_path)
    assert narrowed.returncode == 0, narrowed.stderr
    file = _sor(
        capfd, "backtest", "--data", str(a), *WINDOW, *GRID, "--no-plot", "-q", cwd=tmp_path
    )
    assert narrowed.stdout == file.stdout
    assert json.loads(narrowed.stdout)["run"]["rows_in_window"] < read_market(a).rows_in_window


def test_a_window_a_replay_cannot_give_is_a_one_line_error(
    broker: EmbeddedBroker,
    two_files: tuple[Path, Path],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from sor.core.timestamps import parse_timestamp

    a = two_files[0]
    snapshots, windowed = _topic(), _topic()
    publish(read_market(a), bootstrap=broker.bootstrap, topic=snapshots)
    start, end = parse_timestamp(WINDOW[1]), parse_timestamp(WINDOW[3])
    publish(read_market(a, start_ns=start, end_ns=end), bootstrap=broker.bootstrap,
            topic=windowed, start_ns=start, end_ns=end)  # fmt: skip
    cases = [
        (snapshots, WINDOW, "carries snapshots, which cannot give a narrower window"),
        (windowed, ["--start", "2024-08-01T13:36:35Z"], "--start reaches before replay"),
        (windowed, ["--end", "2024-08-01T13:37:00Z"], "--end reaches past replay"),
    ]
    for topic, window, message in cases:
        done = _sor(capfd, "backtest", "--kafka", broker.bootstrap, "--topic", topic, *window, *GRID,
                    "--no-plot", "-q", cwd=tmp_path)  # fmt: skip
        assert done.returncode == 2 and done.stdout == ""
        assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


def test_listing_a_topic_that_does_not_exist_says_so_at_once(
    broker: EmbeddedBroker, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    done = _sor(capfd, "replays", "--kafka", broker.bootstrap, "--topic", _topic(), cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == ""
    assert "no replay in the topic" in done.stderr


def test_next_waits_for_a_topic_that_does_not_exist_yet(
    broker: EmbeddedBroker, two_files: tuple[Path, Path]
) -> None:
    import time

    market = read_market(two_files[0])
    topic = _topic()
    thread, outcome = _consume_in_thread(broker.bootstrap, topic, replay="next")
    time.sleep(7.0)  # past the first look-ups of the topic's metadata
    publish(market, bootstrap=broker.bootstrap, topic=topic)
    thread.join(60)  # type: ignore[attr-defined]
    assert "error" not in outcome, outcome.get("error")
    consumed = outcome["result"]
    assert (consumed.market.snapshots == market.snapshots).all()  # type: ignore[attr-defined]
