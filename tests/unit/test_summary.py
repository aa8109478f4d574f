"""Why a strategy ended short, in the report's notes, and the run's summary on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_run import run_main
from sor.core.search import SearchGrid
from sor.data.reader import read_market
from sor.report.builder import UNFILLED, build_report
from sor.report.summary import backtest_summary
from sor.static.backtest import BacktestConfig, run_backtest

ONE_SET = SearchGrid((0.1,), (0.1,), (0.1,))
ONE_POINT = ["--lambda-over", "0.1", "--lambda-under", "0.1", "--theta-queue", "0.1"]


def _report(path: Path, order_size: int) -> dict:
    return build_report(
        run_backtest(read_market(path), BacktestConfig(order_size=order_size, grid=ONE_SET))
    )


def _unfilled(report: dict) -> list[str]:
    return [note for note in report["notes"] if note.startswith(UNFILLED)]


def test_a_router_that_never_sees_the_whole_order_displayed_says_so(tiny_csv: Path) -> None:
    # the tiny market displays at most 500 + 1,000 + 400 asks at once (tests/golden/README.md)
    report = _report(tiny_csv, 2000)
    assert report["strategies"]["router"]["unfilled"] == 2000
    assert _unfilled(report) == [
        "unfilled: the router bought 0 of 2,000 shares: the static rule sends an order only "
        "when one timestamp's displayed asks take the whole remainder in lots of 100 shares, "
        "and the most the window displayed at once was 1,900 shares against the 2,000 it "
        "needed; --model ck, or an order of at most 1,900 shares, would trade"
    ]
    assert _unfilled(_report(tiny_csv, 1900)) == []  # that order trades, and says nothing


def test_the_note_counts_whole_lots_and_names_the_baselines_left_short(
    tiny_csv: Path, tmp_path: Path
) -> None:
    # venue 9 shows 450: 1,950 displayed, 1,900 in whole lots; the sweeps take 800 + 950 + 1,000
    odd = tmp_path / "odd.csv"
    odd.write_text(tiny_csv.read_text().replace(",10.02,100,400,", ",10.02,100,450,"))
    report = _report(odd, 5000)
    assert _unfilled(report) == [
        "unfilled: the router bought 0 of 5,000 shares: the static rule sends an order only "
        "when one timestamp's displayed asks take the whole remainder in lots of 100 shares, "
        "and the most the window displayed at once was 1,950 shares (1,900 in whole lots) "
        "against the 5,000 it needed; --model ck, or an order of at most 1,900 shares, "
        "would trade",
        "unfilled: of the 5,000 shares, left at the window's end: best_ask 2,250, twap 2,250, "
        "vwap 2,250; the displayed asks they swept did not add up to the order",
    ]


def test_the_summary_gives_the_reports_figures(tiny_csv: Path) -> None:
    report = _report(tiny_csv, 1000)  # the hand-worked example: every strategy fills
    assert backtest_summary(report).splitlines() == [
        "buy 1,000 shares, model static, in bps: saving > 0 the router did better",
        "strategy     avg price $  fill rate  router saves bps",
        "router           10.0030    100.0 %                 -",
        f"best_ask         10.0060    100.0 %  {(10.006 - 10.003) / 10.006 * 1e4:>+16.2f}",
        f"twap             10.0000    100.0 %  {(10.0 - 10.003) / 10.0 * 1e4:>+16.2f}",
        f"vwap             10.0007    100.0 %  {(10.00072 - 10.003) / 10.00072 * 1e4:>+16.2f}",
    ]
    short = _report(tiny_csv, 2000)
    lines = backtest_summary(short).splitlines()
    assert lines[2] == "router                 -      0.0 %                 -"
    assert lines[-1] == _unfilled(short)[0]


def test_model_ck_names_each_strategys_unfilled_shares_and_the_summary_its_cost(
    tiny_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    args = ["backtest", "--data", str(tiny_csv), "--model", "ck", "--order-size", "5000",
            *ONE_POINT, "--horizon", "1", "--no-plot", "--json-out", str(out)]  # fmt: skip
    outcome = run_main(args, capsys)
    assert outcome.returncode == 0, outcome.stderr
    report = json.loads(out.read_text())
    assert outcome.stdout == out.read_text()  # stdout is the JSON alone
    left = {name: entry["unfilled"] for name, entry in report["strategies"].items()}
    assert all(shares > 0 for shares in left.values())
    parts = ", ".join(f"{name} {shares:,}" for name, shares in left.items())
    note = (
        f"unfilled: of the 5,000 shares, left at the window's end: {parts}; the marketable "
        "orders that complete every strategy at the window's end found too little displayed "
        "on the asks"
    )
    assert _unfilled(report) == [note]
    summary = backtest_summary(report)
    router = report["strategies"]["router"]
    assert f"{router['implementation_shortfall_bps']:+.2f}" in summary.splitlines()[2]
    assert [f"sor: {line}" for line in summary.splitlines()] == outcome.stderr.splitlines()[
        -len(summary.splitlines()) :
    ]
    quiet = run_main([*args, "--quiet"], capsys)
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert quiet.stdout == outcome.stdout
