"""``sor backtest --orders``: each order of a blotter gets the figures of its own single-order
backtest, one parameter set serves every order, and a bad blotter ends in one line naming
its file, line and column."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sor
from cli_run import run_main
from sor.data.events import read_events, read_trades, trades_of
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.static.orders import window

START = "2024-08-01T13:36:32Z"
ONE_SET = ["--lambda-over", "0.4", "--lambda-under", "0.4", "--theta-queue", "0.4"]
ORDERS = [
    # id, time, side, size, end ("" for the end of the data), desk (carried)
    ("b1", "2024-08-01T13:36:40Z", "buy", "3000", "2024-08-01T13:37:20Z", "x"),
    ("s1", "2024-08-01T13:36:50Z", "sell", "2000", "2024-08-01T13:37:50Z", "y"),
    ("b2", "2024-08-01T13:37:30Z", "buy", "500", "", "x"),
    ("s2", "2024-08-01T13:37:45Z", "sell", "10000", "2024-08-01T13:38:10Z", "z"),
]


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("orders") / "m.csv"
    generate_market(path, venues=3, seed=5, start=START, end="2024-08-01T13:38:32Z", depth=10)
    return path


def _blotter(path: Path, rows: list[tuple[str, ...]] = ORDERS) -> Path:
    lines = ["id,time,side,size,end,desk", *(",".join(row) for row in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    outcome = run_main(["backtest", "-q", "--workers", "1", "--no-plot", *args], capsys)
    assert outcome.returncode == 0, outcome.stderr
    return outcome.stdout


def _exact(text: str) -> Any:
    """The report with its money read exactly."""
    return json.loads(text, parse_float=Decimal)


def test_each_order_has_the_figures_of_its_own_backtest(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blotter, table = _blotter(tmp_path / "orders.csv"), tmp_path / "per_order.csv"
    _run(["--data", str(market), "--orders", str(blotter), "--orders-report", str(table),
          "--json-out", str(tmp_path / "o.json"), *ONE_SET], capsys)  # fmt: skip
    rows = pl.read_csv(table, infer_schema=False)
    assert rows.height == 4 * len(ORDERS)
    for order_id, time, side, size, end, desk in ORDERS:
        window = ["--start", time, *(["--end", end] if end else [])]
        single = _exact(_run(["--data", str(market), *window, "--side", side,
                              "--order-size", size, "--json-out", str(tmp_path / "one.json"),
                              *ONE_SET], capsys))  # fmt: skip
        expected = {"router": single["optimized"], **single["baselines"]}
        mine = rows.filter(pl.col("id") == order_id)
        assert mine.get_column("strategy").to_list() == list(expected)
        for row in mine.iter_rows(named=True):
            figures = expected[row["strategy"]]
            assert Decimal(row["total_cash"]) == figures["total_cash"]
            assert int(row["total_fill"]) == figures["total_fill"]
            assert float(row["avg_fill_px"]) == float(figures["avg_fill_px"])
            assert (row["side"], row["size"], row["desk"]) == (side, size, desk)


def test_one_parameter_set_serves_every_order(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blotter = _blotter(tmp_path / "orders.csv")
    report = json.loads(_run(["--data", str(market), "--orders", str(blotter),
                              "--lambda-over", "0.1,0.4", "--lambda-under", "0.4",
                              "--theta-queue", "0.4", "--json-out",
                              str(tmp_path / "o.json")], capsys))  # fmt: skip
    assert list(report) == ["run", "notes", "tca"]
    tca = report["tca"]
    assert tca["orders"] == len(ORDERS)
    assert tca["parameters"]["parameter_sets"] == 2
    assert tca["parameters"]["chosen"]["lambda_over"] in (0.1, 0.4)
    assert "never per order in hindsight" in tca["parameters"]["rule"]
    assert list(tca["strategies"]) == ["router", "best_quote", "twap", "vwap"]
    for figures in tca["strategies"].values():
        assert figures["shares"] == sum(int(row[3]) for row in ORDERS)
        assert 0 <= figures["fill_rate"] <= 1
    for saving in tca["router_savings_bps"].values():
        assert saving["orders"] == len(ORDERS) and 0 <= saving["won"] <= 1
        # two minutes of one hour: one price path, no interval, and the reason
        assert (saving["ci95"], saving["clusters"]) == (None, 1)
        assert saving["no_interval"] == (
            "4 orders from 1 hour: an interval needs at least 10 independent hours"
        )
    assert (tca["intervals"]["clusters"], tca["intervals"]["count"]) == ("hour", 1)


def test_the_api_gives_the_commands_report(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blotter = _blotter(tmp_path / "orders.csv")
    text = _run(["--data", str(market), "--orders", str(blotter), "--json-out",
                 str(tmp_path / "o.json"), *ONE_SET], capsys)  # fmt: skip
    run = sor.backtest(market, orders=blotter, lambda_over=0.4, lambda_under=0.4,
                       theta_queue=0.4, workers=1)  # fmt: skip
    assert run.json == text
    assert run.orders.height == 4 * len(ORDERS)
    assert run.orders.columns[:11] == ["id", "strategy", "side", "size", "time", "end",
                                       "total_cash", "total_fill", "avg_fill_px",
                                       "arrival_mid", "shortfall_bps"]  # fmt: skip
    with pytest.raises(sor.SorError, match="not yet fills"):
        run.fills  # noqa: B018 -- a blotter's fills are the next slice's


HEADER = "id,time,side,size,end"
GOOD = "a,2024-08-01T13:36:40Z,buy,100,"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("time,side\n2024-08-01T13:36:40Z,buy\n", "line 1, column 'size'", "missing"),
        (f"{HEADER}\na,2024-08-01T13:36:40Z,hold,100,\n", "line 2, column 'side'",
         "unknown side 'hold'"),
        (f"{HEADER}\n{GOOD}\nb,2024-08-01T13:36:40Z,buy,0,\n", "line 3, column 'size'",
         "positive multiple of 100"),
        (f"{HEADER}\na,2024-08-01T13:36:40Z,buy,150.5,\n", "line 2, column 'size'",
         "'150.5' is not a whole number"),
        (f"{HEADER}\na,2024-08-01T13:36:40Z,sell,250,\n", "line 2, column 'size'",
         "positive multiple of 100 shares, got 250"),
        (f"{HEADER}\na,2024-08-01T12:00:00Z,buy,100,\n", "line 2, column 'time'",
         "lies outside the data"),
        (f"{HEADER}\na,1722519392000000000,buy,100,\n", "line 2, column 'time'",
         "lies outside the data"),
        (f"{HEADER}\na,2024-08-01T13:36:40Z,buy,100,2024-08-01T13:36:35Z\n",
         "line 2, column 'end'", "is before the order's time"),
        (f"{HEADER}\na,2024-08-01T13:36:40Z,buy,100,2024-08-01T14:00:00Z\n",
         "line 2, column 'end'", "is after the data's end"),
        (f"{HEADER}\n{GOOD}\n{GOOD}\n", "line 3, column 'id'", "'a' repeats the id of line 2"),
        (f"{HEADER}\na,noon,buy,100,\n", "line 2, column 'time'", "invalid timestamp 'noon'"),
        # two sides: which one the user meant is not ours to guess (the second was carried)
        ("time,side,size,side\n2024-08-01T13:36:40Z,buy,100,sell\n", "line 1, column 'side'",
         "repeats"),
    ],
)  # fmt: skip
def test_a_bad_blotter_ends_in_one_line_naming_its_place(
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    where: str,
    message: str,
) -> None:
    blotter, report = tmp_path / "orders.csv", tmp_path / "o.json"
    blotter.write_text(text, encoding="utf-8")
    outcome = run_main(["backtest", "-q", "--data", str(market), "--orders", str(blotter),
                        "--no-plot", "--json-out", str(report)], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith(f"sor: error: {blotter}, {where}: "), lines[0]
    assert message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]  # nothing written


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--side", "sell"], "--orders: each order gives its own time, end, side and size; "
         "drop --side"),
        (["--orders-report", "{blotter}"], "--orders-report: {blotter} is the input file"),
        (["--orders-report", "{tmp}/t.xlsx"], "--orders-report: {tmp}/t.xlsx: the table's "
         "format comes from its suffix"),
    ],
)  # fmt: skip
def test_what_a_blotter_run_refuses(
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    blotter = _blotter(tmp_path / "orders.csv")
    given = [flag.format(blotter=blotter, tmp=tmp_path) for flag in flags]
    outcome = run_main(["backtest", "-q", "--data", str(market), "--orders", str(blotter),
                        "--no-plot", "--json-out", str(tmp_path / "o.json"), *given],
                       capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith(f"sor: error: {message.format(blotter=blotter, tmp=tmp_path)}")


def test_orders_report_needs_orders(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_main(["backtest", "-q", "--data", str(market), "--no-plot", "--json-out",
                        str(tmp_path / "o.json"), "--orders-report",
                        str(tmp_path / "t.csv")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        "sor: error: --orders-report writes the per-order table of --orders; give both"
    ]


def test_a_bad_blotter_is_told_before_the_market_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blotter = tmp_path / "orders.csv"
    blotter.write_text(f"{HEADER}\na,2024-08-01T13:36:40Z,hold,100,\n", encoding="utf-8")
    outcome = run_main(["backtest", "-q", "--data", str(tmp_path / "absent.csv"), "--orders",
                        str(blotter), "--no-plot", "--json-out", str(tmp_path / "o.json")],
                       capsys)  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: {blotter}, line 2, column 'side': unknown side 'hold'; use buy or sell"
    ]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=st.floats(0, 1), length=st.floats(0, 1))
def test_an_orders_window_keeps_the_rows_a_read_of_that_window_keeps(
    market: Path, start: float, length: float
) -> None:
    whole = read_market(market)
    first, last = whole.first_ts, whole.last_ts
    assert first is not None and last is not None
    lo = first + round(start * (last - first))
    hi = lo + round(length * (last - lo))
    cut = window(whole, lo, hi)
    read = read_market(market, start_ns=lo, end_ns=hi)
    assert cut.snapshots.tobytes() == read.snapshots.tobytes()


def test_the_trades_read_alone_are_those_of_every_event(market: Path) -> None:
    """The interval VWAP's prints: a CSV parsed for its top level gives the trades of its
    whole events, in a window too."""
    ts = read_market(market).snapshots["ts_event"]
    for bounds in ({}, {"start_ns": int(ts[500]), "end_ns": int(ts[2000])}):
        alone = read_trades(market, **bounds)
        assert len(alone) > 10
        assert alone.tobytes() == trades_of(read_events(market, **bounds)).tobytes()


def test_a_market_of_quotes_alone_routes_a_blotter(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A CSV of top-of-book columns alone, which a single-order backtest reads, routes a
    blotter too: no print to take an interval VWAP of, so it is null (it was an error
    naming the missing action column)."""
    quotes = tmp_path / "quotes.csv"
    columns = ["ts_event", "publisher_id", "bid_px_00", "ask_px_00", "bid_sz_00", "ask_sz_00"]
    pl.read_csv(market, infer_schema=False).select(columns).write_csv(quotes)
    assert len(read_trades(quotes)) == 0
    blotter = _blotter(tmp_path / "orders.csv", ORDERS[:1])
    table = tmp_path / "t.csv"
    _run(["--data", str(quotes), "--orders", str(blotter), *ONE_SET, "--orders-report",
          str(table)], capsys)  # fmt: skip
    assert pl.read_csv(table)["interval_vwap"].null_count() == 4
