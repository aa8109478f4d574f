"""The hand-worked sell of tests/golden/README.md, through the library and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run_main
from sor.core.search import SearchGrid
from sor.data.reader import read_market
from sor.report.builder import build_report
from sor.static.backtest import BacktestConfig, run_backtest

TINY_SELL = Path(__file__).with_name("tiny_sell_mbp1.csv")
EXPECTED = {
    "router": (9997.0, 1000),
    "best_bid": (9994.0, 1000),
    "twap": (10000.0, 1000),
    "vwap": (9999.28, 1000),
}


def test_tiny_sell_gives_the_hand_worked_figures() -> None:
    data = read_market(TINY_SELL)
    grid = SearchGrid((0.1, 0.5), (0.1,), (0.1,))
    report = build_report(
        run_backtest(data, BacktestConfig(order_size=1000, grid=grid, side="sell"))
    )
    got = {"router": report["optimized"], **report["baselines"]}
    assert list(report["baselines"]) == ["best_bid", "twap", "vwap"]
    for name, (cash, fill) in EXPECTED.items():
        assert got[name]["total_cash"] == pytest.approx(cash, abs=1e-9), name
        assert got[name]["total_fill"] == fill
    savings = report["savings_vs_baselines_bps"]
    assert savings["best_bid"] == pytest.approx((9.997 - 9.994) / 9.994 * 1e4)
    assert savings["twap"] == pytest.approx((9.997 - 10.0) / 10.0 * 1e4)
    assert savings["vwap"] == pytest.approx((9.997 - 9.99928) / 9.99928 * 1e4)
    assert report["run"]["side"] == "sell"
    assert report["search"]["rule"].startswith("fewest unfilled shares, then most total_cash")


def test_the_cli_sells_the_tiny_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sell.json"
    args = ["backtest", "--data", str(TINY_SELL), "--order-size", "1000", "--side", "sell",
            "--no-plot", "-q", "--json-out", str(out)]  # fmt: skip
    result = run_main(args, capsys)
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert json.loads(result.stdout) == report
    assert report["optimized"]["total_cash"] == 9997.0
    assert report["baselines"]["best_bid"]["total_cash"] == 9994.0


def test_a_bad_side_is_one_line_of_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["backtest", "--data", str(TINY_SELL), "--side", "short", "--no-plot", "-q"]
    result = run_main(args, capsys)
    assert result.returncode == 2
    assert result.stderr.startswith("sor: error:") and "side" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
