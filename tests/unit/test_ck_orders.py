"""``sor backtest --orders --model ck``: each order of a blotter gets the figures of its own
single-order model-ck backtest, one point of the search (a parameter set and a horizon)
serves every order, and what the single-order run refuses is refused in one line."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import sor
from cli_run import run_main
from sor.data.generate import generate_market

START = "2024-08-01T13:36:32Z"
ONE_POINT = ["--lambda-over", "0.05", "--lambda-under", "0.01", "--theta-queue", "0.005",
             "--horizon", "0.5"]  # fmt: skip
ORDERS = [
    # id, time, side, size, end ("" for the end of the data)
    ("b1", "2024-08-01T13:36:36Z", "buy", "3000", "2024-08-01T13:36:50Z"),
    ("s1", "2024-08-01T13:36:40Z", "sell", "2000", "2024-08-01T13:37:00Z"),
    ("b2", "2024-08-01T13:36:55Z", "buy", "500", ""),
]
STRATEGIES = {"buy": ["router", "best_ask", "twap", "vwap", "passive", "static"],
              "sell": ["router", "best_bid", "twap", "vwap", "passive", "static"]}  # fmt: skip


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ck_orders") / "m.csv"
    generate_market(path, venues=2, seed=5, start=START, end="2024-08-01T13:37:12Z", depth=10)
    return path


@pytest.fixture
def blotter(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    lines = ["id,time,side,size,end", *(",".join(row) for row in ORDERS)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    outcome = run_main(["backtest", "-q", "--workers", "1", "--no-plot", "--model", "ck", *args],
                       capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    return outcome.stdout


def _single(market: Path, order: tuple[str, ...], out: Path, grid: list[str],
            capsys: pytest.CaptureFixture[str]) -> Any:  # fmt: skip
    """The report of the order's own single-order backtest, its money read exactly."""
    _, time, side, size, end = order
    window = ["--start", time, *(["--end", end] if end else [])]
    text = _run(["--data", str(market), *window, "--side", side, "--order-size", size,
                 "--json-out", str(out), *grid], capsys)  # fmt: skip
    return json.loads(text, parse_float=Decimal)


def test_each_order_has_the_figures_of_its_own_ck_backtest(
    market: Path, blotter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table, out = tmp_path / "per_order.csv", tmp_path / "o.json"
    text = _run(["--data", str(market), "--orders", str(blotter), "--orders-report", str(table),
                 "--json-out", str(out), *ONE_POINT], capsys)  # fmt: skip
    run = sor.backtest(market, orders=blotter, model="ck", lambda_over=0.05, lambda_under=0.01,
                       theta_queue=0.005, horizon=0.5, workers=1)  # fmt: skip
    assert run.json == text
    rows = pl.read_csv(table, infer_schema=False)
    assert rows.height == 6 * len(ORDERS)
    for k, order in enumerate(ORDERS):
        single = _single(market, order, tmp_path / "one.json", ONE_POINT, capsys)
        expected = {"router": single["optimized"], **single["baselines"]}
        mine = rows.filter(pl.col("id") == order[0])
        assert mine.get_column("strategy").to_list() == STRATEGIES[order[2]]
        for row in mine.iter_rows(named=True):
            figures = expected[row["strategy"]]
            assert Decimal(row["total_cash"]) == figures["total_cash"]
            assert int(row["total_fill"]) == figures["total_fill"]
            assert float(row["avg_fill_px"]) == float(figures["avg_fill_px"])
        # the passive share of a single order's report, kept on each outcome
        outcomes = {"router": run.result.router(k), **run.result.orders[k].baselines}  # type: ignore[union-attr]
        for name, value in outcomes.items():
            share = single["strategies"][name]["passive_share"]
            assert value.passive_fill == round(float(share) * value.total_fill), name
        assert any(value.passive_fill for value in outcomes.values())


def test_one_point_of_the_search_serves_every_ck_order(
    market: Path, blotter: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = ["--lambda-over", "0.05", "--lambda-under", "0.01", "--theta-queue", "0.005"]
    table = tmp_path / "per_order.csv"
    report = json.loads(_run(["--data", str(market), "--orders", str(blotter), *grid,
                              "--horizon", "0.5,2", "--orders-report", str(table),
                              "--json-out", str(tmp_path / "o.json")], capsys))  # fmt: skip
    assert list(report) == ["run", "notes", "tca"]
    assert report["run"]["model"] == "ck" and report["run"]["horizons_s"] == [0.5, 2.0]
    tca = report["tca"]
    assert tca["orders"] == len(ORDERS)
    parameters = tca["parameters"]
    assert parameters["parameter_sets"] == 2
    assert "never per order in hindsight" in parameters["rule"]
    horizon = parameters["chosen"]["horizon_s"]
    assert horizon in (0.5, 2.0)
    assert list(tca["strategies"]) == ["router", "best_quote", "twap", "vwap", "passive", "static"]
    for figures in tca["strategies"].values():
        assert figures["shares"] == figures["total_fill"] == sum(int(row[3]) for row in ORDERS)
    assert list(tca["router_savings_bps"]) == ["best_quote", "twap", "vwap", "passive", "static"]
    # passive rests its orders at the point chosen for all orders, not at each order's own
    single = _single(market, ORDERS[1], tmp_path / "one.json", [*grid, "--horizon", str(horizon)],
                     capsys)  # fmt: skip
    passive = pl.read_csv(table, infer_schema=False).filter(
        (pl.col("id") == "s1") & (pl.col("strategy") == "passive")
    )
    assert Decimal(passive.item(0, "total_cash")) == single["baselines"]["passive"]["total_cash"]


def _refused(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line of a refused run, which wrote nothing."""
    outcome = run_main(["backtest", "-q", "--workers", "1", "--model", "ck", "--no-plot",
                        "--json-out", str(tmp_path / "o.json"), *args], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1, outcome.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]  # nothing written
    return lines[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--queue-model", "fifo"], "--queue-model fifo needs order-level data (Databento MBO "
         "with order ids, or LOBSTER): no venue of this input has it"),
        (["--order-size", "500"], "--orders: each order gives its own time, end, side and "
         "size; drop --order-size"),
    ],
)  # fmt: skip
def test_what_a_ck_blotter_run_refuses(
    market: Path,
    blotter: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    line = _refused(["--data", str(market), "--orders", str(blotter), *flags], tmp_path, capsys)
    assert line.startswith(f"sor: error: {message}"), line


def test_an_order_deciding_too_often_is_refused_by_its_line(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a sparse five-minute market: the second order's window holds 200,000 shortest horizons
    sparse = tmp_path_factory.mktemp("sparse") / "m.csv"
    generate_market(sparse, venues=2, seed=5, start=START, end="2024-08-01T13:41:32Z",
                    rate_per_venue=1.0)  # fmt: skip
    blotter = tmp_path / "orders.csv"
    blotter.write_text("time,side,size,end\n2024-08-01T13:36:40Z,buy,100,2024-08-01T13:36:50Z\n"
                       "2024-08-01T13:36:40Z,sell,100,\n", encoding="utf-8")  # fmt: skip
    line = _refused(["--data", str(sparse), "--orders", str(blotter), "--horizon", "0.001"],
                    tmp_path, capsys)  # fmt: skip
    assert line.startswith(f"sor: error: {blotter}, line 3, column 'end': --horizon 0.001 s "
                           "over the order's window of "), line  # fmt: skip
    assert line.endswith("decisions per parameter set (at most 200,000): use a longer horizon "
                         "or an earlier end"), line  # fmt: skip
