"""The hand-worked example of tests/golden/README.md, through the library and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sor.core.search import SearchGrid
from sor.data.reader import read_market
from sor.report.builder import build_report
from sor.static.backtest import BacktestConfig, run_backtest

EXPECTED = {
    "router": (10003.0, 1000),
    "best_ask": (10006.0, 1000),
    "twap": (10000.0, 1000),
    "vwap": (10000.72, 1000),
}


def _report(path: Path) -> dict:
    data = read_market(path)
    grid = SearchGrid((0.1, 0.5), (0.1, 0.5), (0.1,))
    return build_report(run_backtest(data, BacktestConfig(order_size=1000, grid=grid)))


def test_tiny_file_gives_the_hand_worked_figures(tiny_csv: Path) -> None:
    report = _report(tiny_csv)
    got = {"router": report["optimized"], **report["baselines"]}
    for name, (cash, fill) in EXPECTED.items():
        assert got[name]["total_cash"] == pytest.approx(cash, abs=1e-9), name
        assert got[name]["total_fill"] == fill
        assert got[name]["avg_fill_px"] == pytest.approx(cash / fill, abs=1e-12)
    savings = report["savings_vs_baselines_bps"]
    assert savings["best_ask"] == pytest.approx((10.006 - 10.003) / 10.006 * 1e4)
    assert savings["twap"] == pytest.approx((10.0 - 10.003) / 10.0 * 1e4)
    assert savings["vwap"] == pytest.approx((10.00072 - 10.003) / 10.00072 * 1e4)


def test_tiny_file_counts_and_search_note(tiny_csv: Path) -> None:
    report = _report(tiny_csv)
    run = report["run"]
    assert run["rows_read"] == 6
    assert run["snapshots"] == 5  # the repeated venue-9 row is dropped
    assert run["timestamps"] == 3
    assert report["search"]["parameter_sets"] == 4
    assert report["search"]["choice_is_arbitrary"] is True
    assert report["best_parameters"] == {
        "lambda_over": 0.1,
        "lambda_under": 0.1,
        "theta_queue": 0.1,
    }
    assert report["strategies"]["router"]["completion_time"] == "2024-08-01T13:00:00.500000000Z"
    assert report["strategies"]["twap"]["completion_time"] == "2024-08-01T13:01:30.000000000Z"


def test_window_end_cuts_the_last_bucket(tiny_csv: Path) -> None:
    from sor.core.timestamps import parse_timestamp

    end = parse_timestamp("2024-08-01T13:00:00.5Z")
    data = read_market(tiny_csv, end_ns=end)
    report = build_report(
        run_backtest(
            data,
            BacktestConfig(order_size=1000, end_ns=end, grid=SearchGrid((0.1,), (0.1,), (0.1,))),
        )
    )
    # One bucket only: TWAP wants everything at once and behaves like best_ask.
    assert report["baselines"]["twap"] == report["baselines"]["best_ask"]
    assert json.dumps(report)  # serialisable
