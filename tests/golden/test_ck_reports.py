"""Model ck's reports on a small generated market, byte for byte: ``ck_buy.json`` and
``ck_sell.json`` are what ``sor backtest --model ck`` wrote (tests/golden/README.md), from a
file and through a stream; the report built from the typed result, and what each reader of
that result (``sor evaluate``'s day, the figure) takes from it, are the same figures.

Only the version line is left out of the comparison: a release changes it, nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from cli_run import run_main
from sor.ck.backtest import CkResult, run_ck_backtest
from sor.ck.latency import OrderLatency
from sor.ck.queue import WHOLE
from sor.ck.router import CKSettings
from sor.core.domain import NANOS_PER_DOLLAR
from sor.core.search import SearchGrid
from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.evaluation.tasks import HEAD_KEYS, DayOutcome, DaySpec, parameter_sets, run_day
from sor.report.builder import dumps
from sor.report.ck_report import build_ck_report
from sor.report.figures import ck_figure
from sor.static.backtest import BacktestConfig

GOLDEN = Path(__file__).parent
MARKET = "market.csv"
"""The market's name as the reports record it (``run.input``): the runs read it from
their working directory."""
SEARCH = ["--model", "ck", "--order-size", "2000", "--lambda-under", "0.01,0.2",
          "--theta-queue", "0.0005,0.05", "--horizon", "0.5,2"]  # fmt: skip
CASES = {
    "ck_buy.json": [],
    "ck_sell.json": ["--side", "sell", "--crossing-fill", "whole", "--latency-sigma", "0.5"],
}
GRID = SearchGrid((0.05,), (0.01, 0.2), (0.0005, 0.05))
HORIZONS_S = (0.5, 2.0)
SETTINGS = {
    "ck_buy.json": (
        BacktestConfig(2000, grid=GRID, model="ck"),
        CKSettings(latency=OrderLatency(100_000, 0.0, 7)),
    ),
    "ck_sell.json": (
        BacktestConfig(2000, grid=GRID, model="ck", side="sell"),
        CKSettings(latency=OrderLatency(100_000, 0.5, 7), crossing_fill=WHOLE),
    ),
}
"""The flags of ``CASES`` as the library takes them."""
_VERSION = re.compile(r'^    "version": "[^"]*",$', re.MULTILINE)


def versionless(report: str) -> str:
    """Return the report's JSON with the value of ``run.version`` blanked."""
    return _VERSION.sub('    "version": "",', report)


@pytest.fixture(scope="module")
def market_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the golden market: 3 venues, MBP-10, 30 seconds, seed 5."""
    folder = tmp_path_factory.mktemp("ck-golden")
    generate_market(folder / MARKET, venues=3, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:02Z", depth=10)  # fmt: skip
    return folder


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_command_writes_the_golden_report(
    name: str,
    market_folder: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(market_folder)
    args = ["backtest", "--data", MARKET, *SEARCH, *CASES[name], "--json-out", name,
            "--no-plot", "--quiet"]  # fmt: skip
    result = run_main(args, capsys)
    assert result.returncode == 0, result.stderr
    expected = versionless((GOLDEN / name).read_text(encoding="utf-8"))
    assert versionless((market_folder / name).read_text(encoding="utf-8")) == expected
    assert versionless(result.stdout) == expected


def golden(name: str) -> str:
    """Return the golden report ``name``, its version blanked."""
    return versionless((GOLDEN / name).read_text(encoding="utf-8"))


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_stream_run_writes_the_golden_report(
    name: str,
    market_folder: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(market_folder)
    out = tmp_path / name
    args = ["backtest", "--data", MARKET, "--stream", *SEARCH, *CASES[name],
            "--json-out", str(out), "--no-plot", "--quiet"]  # fmt: skip
    result = run_main(args, capsys)
    assert result.returncode == 0, result.stderr
    assert versionless(out.read_text(encoding="utf-8")) == golden(name)


@pytest.fixture(scope="module")
def results(market_folder: Path) -> dict[str, CkResult]:
    """Each golden case's typed result, through the library."""
    path = market_folder / MARKET
    events, market = read_events(path), dataclasses.replace(read_market(path), source=MARKET)
    return {
        name: run_ck_backtest(
            events, market, config, horizons_s=HORIZONS_S, settings=settings, workers=1
        )
        for name, (config, settings) in SETTINGS.items()
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_report_built_from_the_result_is_the_golden_one(
    name: str, results: dict[str, CkResult]
) -> None:
    assert versionless(dumps(build_ck_report(results[name]))) == golden(name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_an_evaluated_day_takes_the_golden_reports_figures(name: str, market_folder: Path) -> None:
    config, settings = SETTINGS[name]
    day = run_day(DaySpec(0, str(market_folder / MARKET), config, HORIZONS_S, settings))
    assert isinstance(day, list) and len(day) == 1
    outcome: DayOutcome = day[0]
    report = json.loads(golden(name), parse_float=Decimal)
    table = report["search"]["table"]
    assert outcome.window == report["run"]["window"]
    assert json.loads(dumps(outcome.head), parse_float=Decimal) == {
        key: report[key] for key in HEAD_KEYS
    }
    assert outcome.unfilled == tuple(2000 - row["total_fill"] for row in table)
    assert outcome.cash_nanos == tuple(int(row["total_cash"] * NANOS_PER_DOLLAR) for row in table)
    assert [Decimal(repr(p)) for p in outcome.avg_fill_px] == [row["avg_fill_px"] for row in table]
    sweeps = [n for n in report["baselines"] if n != "passive"]
    assert list(outcome.baseline_px) == sweeps
    assert [Decimal(repr(outcome.baseline_px[n])) for n in sweeps] == [
        report["baselines"][n]["avg_fill_px"] for n in sweeps
    ]
    chosen = {key: float(value) for key, value in report["best_parameters"].items()}
    assert parameter_sets(config, HORIZONS_S)[outcome.best] == chosen
    assert outcome.arbitrary is report["search"]["choice_is_arbitrary"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_figure_draws_the_golden_reports_figures(
    name: str, results: dict[str, CkResult]
) -> None:
    report = json.loads(golden(name))
    fig = ck_figure(results[name])
    (cost,) = [ax for ax in fig.axes if ax.get_title().startswith("Cost per strategy")]
    (passive,) = [ax for ax in fig.axes if ax.get_title() == "Share filled passively"]
    strategies = report["strategies"]
    names = [label.get_text() for label in cost.get_xticklabels()]
    assert names == list(strategies)
    drawn = [bar.get_height() for bar in cost.patches]
    expected = [strategies[n]["implementation_shortfall_bps"] for n in names]
    np.testing.assert_allclose(drawn, expected, rtol=1e-12, atol=1e-9)
    shares = [bar.get_height() for bar in passive.patches]
    assert shares == [strategies[n]["passive_share"] or 0.0 for n in names]
    assert f"{report['run']['order_size']:,} shares" in str(fig.get_suptitle())
