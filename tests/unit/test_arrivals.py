"""``--arrivals``: the blotter drawn when a user has none. Poisson arrivals at the rate
asked, log-normal sizes in lots of 100 around the median, the same orders for the same
seed, and ``--orders-out`` written so that ``--orders`` repeats the run byte for byte."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sor
from cli_run import Outcome, run_main
from sor.core.domain import MAX_ORDER_SIZE, NANOS_PER_HOUR, STEP
from sor.core.errors import ConfigError
from sor.core.timestamps import parse_timestamp
from sor.core.types import Side
from sor.data.arrivals import MAX_ARRIVALS, ArrivalLaw, draw_arrivals
from sor.data.blotter import OPEN_END, read_blotter
from sor.data.generate import generate_market
from sor.report.builder import dumps

START = "2024-08-01T13:36:32Z"
END = "2024-08-01T13:37:32Z"
FIRST = parse_timestamp(START)
ONE_SET = ["--lambda-over", "0.4", "--lambda-under", "0.4", "--theta-queue", "0.4"]
LAW = ArrivalLaw(rate_per_hour=120.0, size_median=5000, size_sigma=0.75, sides="both")


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("arrivals") / "m.csv"
    generate_market(path, venues=2, seed=3, start=START, end=END, depth=1)
    return path


def _backtest(args: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    return run_main(["backtest", "-q", "--workers", "1", "--no-plot", *ONE_SET, *args], capsys)


def test_the_same_seed_draws_the_same_orders_and_another_seed_others() -> None:
    last = FIRST + 10 * NANOS_PER_HOUR
    one, again, other = (draw_arrivals(FIRST, last, LAW, seed) for seed in (7, 7, 8))
    assert one.table().equals(again.table())
    assert one.sides == again.sides and one.sizes.tobytes() == again.sizes.tobytes()
    assert not one.table().equals(other.table())


def test_arrivals_come_at_the_rate_asked_over_the_span() -> None:
    """50,000 orders expected over 500 hours: the count within 5 standard deviations
    (224 orders), the median size within 3 % and the sides even within 1 %."""
    law = ArrivalLaw(rate_per_hour=100.0, size_median=5000, size_sigma=0.75, sides="both")
    last = FIRST + 500 * NANOS_PER_HOUR
    drawn = draw_arrivals(FIRST, last, law, 11)
    assert abs(len(drawn) - 50_000) < 5 * np.sqrt(50_000)
    assert np.all(np.diff(drawn.time_ns) >= 0)
    assert drawn.time_ns[0] >= FIRST and drawn.time_ns[-1] <= last
    # arrivals uniform over the span: each tenth of it holds a tenth of them
    tenths = np.bincount((drawn.time_ns - FIRST) * 10 // (last - FIRST + 1), minlength=10)
    assert np.all(np.abs(tenths - len(drawn) / 10) < 5 * np.sqrt(len(drawn) / 10))
    assert abs(np.median(drawn.sizes) / 5000 - 1) < 0.03
    assert abs(sum(side is Side.BUY for side in drawn.sides) / len(drawn) - 0.5) < 0.01
    assert np.all(drawn.end_ns == OPEN_END)
    assert drawn.ids[:3] == ("1", "2", "3") and drawn.lines[:3] == (2, 3, 4)


@settings(max_examples=30, deadline=None)
@given(
    median=st.integers(STEP, 10**9),
    sigma=st.floats(0, 3),
    sides=st.sampled_from(["buy", "sell", "both"]),
    seed=st.integers(0, 2**63 - 1),
)
def test_every_drawn_size_is_a_whole_lot_within_the_order_size_bounds(
    median: int, sigma: float, sides: str, seed: int
) -> None:
    law = ArrivalLaw(rate_per_hour=3600.0, size_median=median, size_sigma=sigma,
                     sides=sides)  # type: ignore[arg-type]  # fmt: skip
    drawn = draw_arrivals(FIRST, FIRST + NANOS_PER_HOUR // 10, law, seed)
    assert np.all(drawn.sizes % STEP == 0)
    assert np.all((drawn.sizes >= STEP) & (drawn.sizes <= MAX_ORDER_SIZE))
    if sigma == 0:
        assert set(drawn.sizes.tolist()) == {max(STEP, round(median / STEP) * STEP)}
    if sides != "both":
        assert set(drawn.sides) == {Side.parse(sides)}


def test_a_draw_of_too_many_or_no_orders_is_refused() -> None:
    many = ArrivalLaw(rate_per_hour=MAX_ARRIVALS + 1, size_median=100, size_sigma=0, sides="buy")
    with pytest.raises(ConfigError, match="more than the cap of 100,000"):
        draw_arrivals(FIRST, FIRST + NANOS_PER_HOUR, many, 7)
    rare = ArrivalLaw(rate_per_hour=1e-9, size_median=100, size_sigma=0, sides="buy")
    with pytest.raises(ConfigError, match="drew no order: raise the rate"):
        draw_arrivals(FIRST, FIRST + NANOS_PER_HOUR, rare, 7)


def test_orders_out_repeats_the_run_byte_for_byte(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawn, table, again = tmp_path / "drawn.csv", tmp_path / "t1.csv", tmp_path / "t2.csv"
    first = _backtest(["--data", str(market), "--arrivals", "600", "--seed", "5",
                       "--order-horizon", "10", "--orders-out", str(drawn), "--orders-report",
                       str(table), "--json-out", str(tmp_path / "a.json")], capsys)  # fmt: skip
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["run"]["arrivals"] == {"rate_per_hour": 600.0, "size_median": 5000,
                                         "size_sigma": 0.75, "sides": "both", "seed": 5}  # fmt: skip
    assert report["run"]["orders_file"] == str(drawn)
    assert report["tca"]["orders"] == len(read_blotter(drawn)) > 1
    second = _backtest(["--data", str(market), "--orders", str(drawn), "--order-horizon", "10",
                        "--orders-report", str(again), "--json-out",
                        str(tmp_path / "b.json")], capsys)  # fmt: skip
    assert second.returncode == 0, second.stderr
    assert table.read_bytes() == again.read_bytes()
    del report["run"]["arrivals"]  # the one thing the repeat cannot know
    assert dumps(report) == second.stdout


def test_the_seed_chooses_the_orders(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = []
    for seed in ("5", "5", "6"):
        out = tmp_path / f"drawn{len(texts)}.csv"
        outcome = _backtest(["--data", str(market), "--arrivals", "600", "--seed", seed,
                             "--orders-out", str(out), "--json-out",
                             str(tmp_path / "o.json")], capsys)  # fmt: skip
        assert outcome.returncode == 0, outcome.stderr
        texts.append(out.read_bytes())
    assert texts[0] == texts[1] != texts[2]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--arrivals", "60", "--orders", "{tmp}/orders.csv"],
         "--arrivals draws a blotter: it excludes --orders (give one of them)"),
        (["--arrivals", "0"], "--arrivals: must be > 0, got 0"),
        (["--arrivals", "-3"], "--arrivals: must be > 0, got -3"),
        (["--arrivals", "inf"], "--arrivals: must be a finite number, got inf"),
        (["--arrivals", "60", "--arrival-size-median", "50"],
         "--arrival-size-median: must be >= 100, got 50"),
        (["--arrivals", "60", "--arrival-size-sigma", "-1"],
         "--arrival-size-sigma: must be >= 0, got -1"),
        (["--arrivals", "60", "--arrival-sides", "short"],
         "--arrival-sides: must be 'buy', 'sell' or 'both', got 'short'"),
        (["--arrival-sides", "buy"],
         "--arrival-sides shapes the orders --arrivals draws: give --arrivals"),
        (["--orders-out", "{tmp}/drawn.csv"],
         "--orders-out writes the blotter --arrivals draws: give --arrivals"),
        (["--arrivals", "60", "--orders-out", "{market}"],
         "--orders-out: {market} is the input file"),
        (["--arrivals", "60", "--side", "sell"],
         "--arrivals: each order gives its own time, end, side and size; drop --side"),
        (["--arrivals", "60", "--stream"],
         "--arrivals reads the market from a file: it excludes --kafka and --stream"),
        (["--arrivals", "1e-6"], "--arrivals 1e-06 per hour over the data's 0.0167 hours drew "
         "no order: raise the rate or give a longer market"),
        (["--arrivals", "1e9"], "--arrivals 1e+09 per hour over the data's 0.0167 hours expects "
         "{count} orders, more than the cap of 100,000 (sor.data.arrivals.MAX_ARRIVALS); lower "
         "--arrivals or give a shorter market"),
    ],
)  # fmt: skip
def test_what_arrivals_refuse_is_one_line(
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    message: str,
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    (tmp_path / "orders.csv").write_text("time,side,size\n2024-08-01T13:36:40Z,buy,100\n")
    given_flags = [flag.format(tmp=tmp_path, market=market) for flag in flags]
    outcome = _backtest(["--data", str(market), *given_flags, "--json-out",
                         str(tmp_path / "o.json")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    expected = f"sor: error: {message.format(tmp=tmp_path, market=market, count='{count}')}"
    before, _, after = expected.partition("{count}")  # the span's orders, thousands
    assert lines[0].startswith(before) and lines[0].endswith(after), lines[0]
    if after:
        assert re.fullmatch(r"[\d,]+", lines[0][len(before) : -len(after)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]


def test_the_api_draws_and_reads_back_as_the_command_does(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drawn = tmp_path / "drawn.csv"
    outcome = _backtest(["--data", str(market), "--arrivals", "600", "--arrival-sides", "sell",
                         "--order-horizon", "15", "--json-out", str(tmp_path / "o.json")],
                        capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    grid = {"lambda_over": 0.4, "lambda_under": 0.4, "theta_queue": 0.4, "workers": 1}
    run = sor.backtest(market, arrivals=600, arrival_sides="sell", order_horizon=15,
                       orders_out=drawn, **grid)  # fmt: skip
    expected = json.loads(outcome.stdout)
    expected["run"]["orders_file"] = str(drawn)
    assert run.json == dumps(expected)
    assert set(run.orders.get_column("side")) == {"sell"}
    again = sor.backtest(market, orders=drawn, order_horizon=15, **grid)
    assert again.orders.equals(run.orders)
