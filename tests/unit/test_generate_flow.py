"""The generated market's adverse selection and its many days (docs/generate.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from cli_run import run_main
from sor.app.settings import MAX_METAORDER_SECONDS as FLAG_MAX_METAORDER_SECONDS
from sor.cli.generate import HELP_FLOW
from sor.core.errors import ConfigError
from sor.core.timestamps import parse_timestamp
from sor.data.days import plan_days
from sor.data.generate import MAX_METAORDER_SECONDS, FlowModel, generate_market
from sor.stylized.summary import file_stats

START = "2024-08-02T13:30:00Z"  # a Friday
END = "2024-08-02T13:30:20Z"


@pytest.fixture(scope="module")
def default_market(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The stats of the default market: what `sor generate` writes with no flag."""
    path = tmp_path_factory.mktemp("flow") / "default.csv"
    generate_market(path)
    return file_stats(path).report["overall"]


def test_the_default_market_has_the_stylized_facts_of_a_real_one(default_market: dict) -> None:
    assert 0.4 <= default_market["ofi"]["10"]["r2"] <= 0.8
    assert default_market["trade_sign_autocorrelation"]["1"] > 0.2
    assert default_market["markout_bps"]["10"] > 0  # trades predict the price


def test_the_default_market_keeps_its_rates(default_market: dict) -> None:
    assert default_market["messages_per_s"] == pytest.approx(6 * 111, rel=0.03)
    assert default_market["spread_ticks"]["mean"] == pytest.approx(2.07, abs=0.15)


def test_without_adverse_selection_trade_signs_are_coins(tmp_path: Path) -> None:
    path = tmp_path / "off.csv"
    generate_market(path, flow=FlowModel.off())
    facts = file_stats(path).report["overall"]
    assert abs(facts["trade_sign_autocorrelation"]["1"]) < 0.03
    assert abs(facts["markout_bps"]["10"]) < 0.05


def test_informed_trades_alone_predict_the_price(tmp_path: Path) -> None:
    path = tmp_path / "informed.csv"
    flow = dataclasses.replace(FlowModel.off(), informed=0.5)
    generate_market(path, venues=2, end="2024-08-01T13:41:32Z", flow=flow)
    facts = file_stats(path).report["overall"]
    assert facts["markout_bps"]["10"] > 0.1


@pytest.mark.parametrize(
    "flow",
    [
        FlowModel(informed=-0.1),
        FlowModel(informed=0.5, metaorder_share=0.6),
        FlowModel(impact=1.5),
        FlowModel(metaorder_seconds=0.0),
        FlowModel(drift=0.6),
    ],
)
def test_a_flow_out_of_range_is_refused(flow: FlowModel, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        generate_market(tmp_path / "x.csv", start=START, end=END, flow=flow)


def test_the_help_states_the_flow_defaults() -> None:
    defaults = dataclasses.asdict(FlowModel())
    assert defaults == HELP_FLOW
    assert FLAG_MAX_METAORDER_SECONDS == MAX_METAORDER_SECONDS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--no-adverse-selection", "--impact", "0.1"], "--no-adverse-selection switches --impact"),
        (["--informed", "0.5", "--metaorder-share", "0.6"], "add up to more than 1"),
        (["--metaorder-seconds", "0"], "--metaorder-seconds: must be > 0"),
        (["--drift", "0.7"], "--drift: must be <= 0.5"),
        (["--days", "0"], "--days: must be >= 1"),
    ],
)
def test_bad_flow_flags_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    outcome = run_main(["generate", "--out", str(tmp_path / "x.csv"), *args], capsys)
    assert outcome.returncode == 2
    assert outcome.stderr.count("\n") == 1 and message in outcome.stderr, outcome.stderr


def _days(out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> list[Path]:
    outcome = run_main(["generate", "--out", str(out), "--days", "3", "--venues", "2",
                        "--depth", "1", "--start", START, "--end", END, "--seed", "11",
                        *extra], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    return sorted(out.iterdir())


def test_days_are_weekdays_in_name_order_and_the_same_for_the_same_seed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _days(tmp_path / "a", capsys)
    again = _days(tmp_path / "b", capsys)
    assert [p.name for p in first] == [
        "aapl-20240802.mbp-1.csv", "aapl-20240805.mbp-1.csv", "aapl-20240806.mbp-1.csv",
    ]  # fmt: skip
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    # each file's rows lie on its own day, at the same time of day
    for path in first:
        line = path.read_text().splitlines()[1]
        ts_event = line.split(",")[1]
        day = dt.datetime.strptime(path.name[5:13], "%Y%m%d").date()
        assert ts_event.startswith(f"{day:%Y-%m-%d}T13:30:"), ts_event


def test_a_day_does_not_depend_on_how_many_are_written() -> None:
    common = {"seed": 11, "start_ns": parse_timestamp(START), "end_ns": parse_timestamp(END),
              "rate_per_venue": 111.0, "price_moves": 0.35, "flow": FlowModel(), "depth": 10,
              "symbol": "AAPL"}  # fmt: skip
    assert plan_days(2, **common) == plan_days(5, **common)[:2]


def test_days_differ_in_volatility_liquidity_and_drift() -> None:
    plan = plan_days(20, seed=7, start_ns=parse_timestamp(START), end_ns=parse_timestamp(END),
                     rate_per_venue=111.0, price_moves=0.35, flow=FlowModel(), depth=10,
                     symbol="AAPL")  # fmt: skip
    moves = [day.price_moves for day in plan]
    rates = [day.rate_per_venue for day in plan]
    drifts = [day.flow.drift for day in plan]
    assert max(moves) / min(moves) > 1.5
    assert max(rates) / min(rates) > 1.2
    assert min(drifts) < 0 < max(drifts)
    assert len({day.seed for day in plan}) == 20
    assert all(parse_timestamp(START) < day.start_ns for day in plan[1:])


def test_days_need_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file.csv"
    target.write_text("x")
    outcome = run_main(["generate", "--out", str(target), "--days", "2"], capsys)
    assert outcome.returncode == 2
    assert "is a file; with --days give a directory" in outcome.stderr
