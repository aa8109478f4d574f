"""The generated market's adverse selection and its many days (docs/generate.md)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_main
from sor.app.settings import MAX_METAORDER_SECONDS as FLAG_MAX_METAORDER_SECONDS
from sor.cli.generate import HELP_FLOW
from sor.core.errors import ConfigError
from sor.core.timestamps import parse_timestamp
from sor.data.days import plan_days
from sor.data.generate import (
    IMPACT_DECAY,
    MAX_METAORDER_SECONDS,
    FlowModel,
    _after,
    _impact_moves,
    _warp,
    generate_market,
)
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
    # every flow flag's default; the impact's decay is set by --params (a fitted market's)
    assert {name: defaults[name] for name in HELP_FLOW} == HELP_FLOW
    assert set(defaults) - set(HELP_FLOW) == {"impact_decay"}
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


def test_decaying_impact_reverts_each_move_after_a_power_law_delay() -> None:
    # one metaorder buying for a day: every impact move is up; each comes back down after a
    # delay with P(delay > t) = (1 + t / 2 s) ** -0.25, or stays when that falls past the end
    start, end = 0, 86_400 * 10**9
    metaorders = (np.array([start], np.int64), np.array([1], np.int64))
    rng = np.random.default_rng(5)
    times, steps = _impact_moves(rng, start, end, 2.0, metaorders, 1, 0.25, 2.0)
    ups, downs = times[steps > 0], times[steps < 0]
    assert np.all(np.isin(np.abs(steps), (1, 2)))
    # moves are 1 or 2 ticks, reversals the same: the down ticks are the reverted ones
    assert -steps[steps < 0].sum() <= steps[steps > 0].sum()
    kept = 1.0 - len(downs) / len(ups)  # share not reverted within the day
    # expected share past the end: the mean over the day of (1 + (end - t) / 2 s) ** -0.25
    left = (end - np.sort(ups)) / 10**9
    assert kept == pytest.approx(float(np.mean((1.0 + left / 2.0) ** -0.25)), abs=0.01)
    # permanent impact (decay 0) never reverts
    _, permanent = _impact_moves(np.random.default_rng(5), start, end, 2.0, metaorders, 1)
    assert np.all(permanent > 0)


def test_decaying_impact_keeps_prices_diffusive_under_long_metaorders(tmp_path: Path) -> None:
    # all moves pushed by metaorders of 8 s (as fitted to the AMZN day; their Pareto tail
    # holds some of many minutes): permanent impact trends, so the mid's
    # variance per second grows with the interval; decaying impact keeps it flat
    def ratio(decay: float) -> float:
        out = tmp_path / f"d{decay}.csv"
        flow = FlowModel(informed=0.0, metaorder_share=0.5, metaorder_seconds=8.0,
                         impact=1.0, impact_decay=decay)  # fmt: skip
        generate_market(out, seed=2, start="2024-08-01T13:30:00Z",
                        end="2024-08-01T17:30:00Z", depth=1, venues=1, rate_per_venue=20.0,
                        price_moves=1.0, flow=flow)  # fmt: skip
        import polars as pl

        frame = pl.read_csv(out, columns=["ts_event", "bid_px_00", "ask_px_00"])
        ts = frame["ts_event"].str.to_datetime(time_unit="ns").dt.epoch("ns").to_numpy()
        mid = ((frame["bid_px_00"] + frame["ask_px_00"]) / 2).to_numpy()

        def per_second(width: int) -> float:
            bounds = np.arange(ts[0], ts[-1], width * 10**9)
            at = mid[np.searchsorted(ts, bounds, side="right") - 1]
            return float(np.mean(np.diff(at) ** 2)) / width

        return per_second(600) / per_second(10)

    assert ratio(0.0) > 2.5  # trends: 3.3 with this seed
    assert 0.7 < ratio(IMPACT_DECAY) < 1.4  # 1.05


def test_warped_moves_crowd_into_busy_spells_and_keep_their_count() -> None:
    # rate 1 for the first half, 3 for the second: with tilt 1 three quarters of the moves
    # fall in the second half, with tilt 0.5 sqrt(3) / (1 + sqrt(3)) of them
    start, end = 0, 1000 * 10**9
    regime = (np.array([end // 2], np.int64), np.array([3.0]))
    times = np.sort(np.random.default_rng(1).integers(start, end, size=200_000))
    for tilt, share in ((1.0, 0.75), (0.5, 3**0.5 / (1 + 3**0.5))):
        warped = _warp(times, regime, start, end, tilt)
        assert len(warped) == len(times) and np.all(np.diff(warped) >= 0)
        assert warped.min() >= start and warped.max() < end
        assert np.mean(warped >= end // 2) == pytest.approx(share, abs=0.005)
    # tilt 0, an even pace (the generator then does not warp at all): within float rounding
    assert np.abs(_warp(times, regime, start, end, 0.0) - times).max() <= 1


def test_arrivals_follow_the_activity_through_quiet_and_busy_spells() -> None:
    # a quiet second (rate x0.1) then a busy one (x10), 20 arrivals a second at rate 1: the
    # counts are Poisson with means 2 and 200; a wait drawn at the quiet rate would have
    # jumped over much of the busy second
    ts = np.array([0, 10**9], np.int64)
    mult = np.array([0.1, 10.0])
    end = 2 * 10**9
    rng = np.random.default_rng(4)
    counts = np.zeros(2)
    runs = 400
    for _ in range(runs):
        clock = 0
        while True:
            clock = _after(ts, mult, clock, rng.exponential(1e9 / 20.0), end) + 1
            if clock >= end:
                break
            counts[int(clock >= 10**9)] += 1
    assert counts[0] / runs == pytest.approx(2.0, rel=0.1)
    assert counts[1] / runs == pytest.approx(200.0, rel=0.02)
