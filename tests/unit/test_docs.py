"""The documentation matches the repository: links resolve inside it, docs/report.md names
every key of real reports, docs/stream.md every message type and field the codec builds,
and its example replay is one the consumer accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from sor.cli import app
from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.streaming.codec import (
    CONTENTS,
    checksum_text,
    decode,
    encode,
    heartbeat_message,
    payload_digests,
)
from sor.streaming.producer import replay_messages

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.M)


def _prose(page: Path) -> str:
    """The page without its fenced code blocks (code may hold brackets that are no link)."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def _slug(heading: str) -> str:
    """The anchor a Markdown heading gets on GitHub."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _named(text: str) -> set[str]:
    """Every ``name`` written in backquotes in ``text``."""
    return set(re.findall(r"`([^`\s]+)`", text))


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("docs") / "market.csv"
    generate_market(path, venues=2, seed=3, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:52Z", depth=10)  # fmt: skip
    return path


def _report(market: Path, out: Path, *extra: str) -> dict[str, Any]:
    done = CliRunner().invoke(
        app,
        ["backtest", "--data", str(market), "--order-size", "500", "--lambda-over", "0.05",
         "--lambda-under", "0.05", "--theta-queue", "0.005", "--workers", "1", "--no-plot",
         "--json-out", str(out), "--quiet", *extra],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    report: dict[str, Any] = json.loads(out.read_text())
    return report


def _keys(value: Any, path: str = "") -> set[str]:
    """Every key of a report at any depth, but not the venue ids, skip reasons and groups of
    a blotter's breakdown, which are data."""
    if isinstance(value, list):
        return set().union(*(_keys(item, path) for item in value))
    if not isinstance(value, dict) or path in ("run.venues", "run.skipped_rows"):
        return set()
    # keyed by data (a size bucket, a side, an hour): the keys below them are the report's
    found = set() if path.startswith("tca.breakdown.") else set(value)
    for key, item in value.items():
        found |= _keys(item, f"{path}.{key}" if path else key)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_points_into_the_repository(page: Path) -> None:
    for target in LINK.findall(_prose(page)):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        name, _, anchor = target.partition("#")
        resolved = (page.parent / name).resolve()
        assert resolved.is_relative_to(REPO), f"{page.name}: {target} leaves the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            headings = {_slug(h) for h in HEADING.findall(_prose(resolved))}
            assert anchor in headings, f"{page.name}: {target}: no such heading"


def test_the_readme_lists_every_documentation_page() -> None:
    linked = set(LINK.findall((REPO / "README.md").read_text(encoding="utf-8")))
    assert {f"docs/{page.name}" for page in DOCS.glob("*.md")} <= linked


def test_docs_report_names_every_key_of_both_reports(market: Path, tmp_path: Path) -> None:
    documented = _named((DOCS / "report.md").read_text(encoding="utf-8"))
    static = _report(market, tmp_path / "static.json")
    ck = _report(market, tmp_path / "ck.json", "--model", "ck", "--horizon", "0.5")
    assert static["run"]["model"] == "static" and ck["run"]["model"] == "ck"
    for name, report in (("static", static), ("ck", ck)):
        assert set(report) <= documented, name  # the top level first, for a clear message
        assert _keys(report) - documented == set(), name
    sampled = _report(market, tmp_path / "sampled.json", "--model", "ck", "--horizon", "0.5",
                      "--latency-sigma", "0.5")  # fmt: skip
    assert _keys(sampled["run"]["latency"]) <= documented


@pytest.mark.parametrize("model", ["static", "ck"])
def test_docs_report_names_every_key_of_a_blotter_report(
    market: Path, tmp_path: Path, model: str
) -> None:
    documented = _named((DOCS / "report.md").read_text(encoding="utf-8"))
    blotter = tmp_path / "orders.csv"
    blotter.write_text("time,side,size,end,desk\n2024-08-01T13:36:40Z,buy,500,,x\n"
                       "2024-08-01T13:36:45Z,sell,300,2024-08-01T13:36:50Z,y\n")  # fmt: skip
    table, out = tmp_path / "orders_report.csv", tmp_path / "orders.json"
    done = CliRunner().invoke(
        app,
        ["backtest", "--data", str(market), "--orders", str(blotter), "--orders-report",
         str(table), "--lambda-over", "0.05", "--lambda-under", "0.05", "--theta-queue",
         "0.005", "--workers", "1", "--no-plot", "--json-out", str(out), "--quiet",
         "--model", model, *(["--horizon", "0.5"] if model == "ck" else [])],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    report = json.loads(out.read_text())
    assert report["run"]["model"] == model
    assert _keys(report) - documented == set()
    columns = table.read_text().splitlines()[0].split(",")
    assert set(columns) - {"desk"} <= documented


def test_docs_stream_names_every_message_type_and_field(market: Path) -> None:
    text = (DOCS / "stream.md").read_text(encoding="utf-8")
    documented = _named(text)
    snapshots = read_market(market)
    messages = [
        json.loads(payload)
        for events in (None, read_events(market))
        for payload, _ in replay_messages(snapshots, replay="docs", events=events)
    ]
    messages.append(json.loads(encode(heartbeat_message(replay="docs"))))
    types = {m["type"] for m in messages}
    assert types == {"start", "end", "heartbeat", *CONTENTS.values()}
    assert types <= documented
    assert {m["content"] for m in messages if m["type"] == "start"} == set(CONTENTS)
    assert set(CONTENTS) <= documented
    fields = set().union(*(set(m) for m in messages))
    assert fields - documented == set()


def test_the_example_replay_in_docs_stream_is_complete_and_valid() -> None:
    lines = [
        line
        for block in FENCE.findall((DOCS / "stream.md").read_text(encoding="utf-8"))
        for line in block.splitlines()
        if line.startswith('{"v":')
    ]
    replays: dict[str, list[str]] = {}
    for line in lines:
        replays.setdefault(decode(line.encode())["replay"], []).append(line)
    complete = [r for r in replays.values() if '"type":"end"' in r[-1]]
    assert len(complete) == 1
    start, *data, end = (decode(line.encode()) for line in complete[0])
    payloads = [line.encode() for line in complete[0][1:-1]]
    assert start["type"] == "start" and CONTENTS[start["content"]] == "snapshot"
    assert [m["seq"] for m in data] == list(range(end["count"]))
    assert checksum_text(int(payload_digests(payloads).astype(object).sum())) == end["checksum"]
