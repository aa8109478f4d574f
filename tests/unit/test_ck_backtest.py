"""sor backtest --model ck: the search, every strategy completing, the extra report keys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbn_encode import csv_to_dbn
from sor.cli import app
from sor.data.generate import generate_market


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ck") / "market.csv"
    generate_market(path, venues=3, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:32Z", depth=10)  # fmt: skip
    return path


def _run(market: Path, out: Path, *extra: str) -> dict:
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(market), "--model", "ck", "--order-size", "2000",
         "--lambda-under", "0.01,0.2", "--theta-queue", "0.0005,0.05", "--lambda-over", "0.05",
         "--horizon", "0.2,2", "--json-out", str(out), "--plot", str(out.with_suffix(".png")),
         "--quiet", *extra],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())


def test_ck_report_has_every_strategy_complete_and_the_extra_figures(
    market: Path, tmp_path: Path
) -> None:
    report = _run(market, tmp_path / "ck.json")
    assert report["run"]["model"] == "ck"
    assert set(report["baselines"]) == {"best_ask", "twap", "vwap", "passive", "static"}
    assert report["search"]["parameter_sets"] == 8
    assert set(report["best_parameters"]) == {
        "lambda_over", "lambda_under", "theta_queue", "horizon_s",
    }  # fmt: skip
    for name, details in report["strategies"].items():
        assert details["unfilled"] == 0, name  # the window's end buys any remainder
        assert details["implementation_shortfall_bps"] is not None
        assert 0.0 <= details["passive_share"] <= 1.0
    assert report["strategies"]["passive"]["passive_share"] > 0.5
    assert report["strategies"]["best_ask"]["passive_share"] == 0.0
    assert report["strategies"]["router"]["rebates"] == pytest.approx(
        0.002 * 2000 * report["strategies"]["router"]["passive_share"]
    )
    assert (tmp_path / "ck.png").read_bytes()[:4] == b"\x89PNG"
    # the search is a real trade-off here: some parameter sets rest more than others
    shares = {row["passive_share"] for row in report["search"]["table"]}
    assert len(shares) > 1


def test_ck_run_is_deterministic_and_queue_models_differ(market: Path, tmp_path: Path) -> None:
    first = _run(market, tmp_path / "a.json")
    again = _run(market, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    conservative = _run(market, tmp_path / "c.json", "--queue-model", "conservative")
    assert conservative["run"]["queue_model"] == "conservative"
    assert "crossing_fill" not in first["run"]  # the default is not recorded
    assert first == again


def test_ck_report_is_the_same_on_one_worker_and_on_two(market: Path, tmp_path: Path) -> None:
    # two workers run the search in forked processes (Linux), one runs it in this process
    _run(market, tmp_path / "one.json", "--workers", "1")
    _run(market, tmp_path / "two.json", "--workers", "2")
    assert (tmp_path / "one.json").read_bytes() == (tmp_path / "two.json").read_bytes()


def test_an_error_in_a_search_worker_is_the_usual_one_line_error(
    market: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sor.ck.backtest
    from sor.core.errors import SorError

    real = sor.ck.backtest.run_ck

    def failing(*args: object, **kwargs: object) -> object:
        if args[6] == 2.0:  # the horizon: one point in two fails
            raise SorError("the queue simulator gave up")
        return real(*args, **kwargs)

    monkeypatch.setattr(sor.ck.backtest, "run_ck", failing)  # the forked workers inherit it
    result = CliRunner().invoke(
        app,
        ["backtest", "--data", str(market), "--model", "ck", "--order-size", "2000",
         "--lambda-under", "0.01,0.2", "--theta-queue", "0.0005", "--lambda-over", "0.05",
         "--horizon", "0.2,2", "--no-plot", "--workers", "2", "--json-out", os.devnull],
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1] == "sor: error: the queue simulator gave up"
    assert "Traceback" not in result.output


def test_sampled_latency_is_recorded_and_reproducible(market: Path, tmp_path: Path) -> None:
    flags = ("--latency-us", "300", "--latency-sigma", "0.8", "--latency-seed", "11")
    first = _run(market, tmp_path / "a.json", *flags)
    _run(market, tmp_path / "b.json", *flags)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert first["run"]["latency"] == {
        "model": "lognormal", "median_ns": 300_000, "sigma": 0.8, "seed": 11,
    }  # fmt: skip
    constant = _run(market, tmp_path / "c.json")
    assert constant["run"]["latency"] == {"model": "constant", "ns": 100_000}


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--queue-model", "psychic"), "queue-model"),
        (("--latency-sigma", "-1"), "latency-sigma"),
        (("--latency-sigma", "0.5", "--latency-us", "0"), "latency-us"),
    ],
)
def test_ck_rejects_bad_settings(market: Path, flags: tuple[str, ...], named: str) -> None:
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(market), "--model", "ck", *flags, "--no-plot", "-q"]
    )
    assert result.exit_code == 2 and named in result.output


def test_ck_reads_dbn_as_it_reads_csv(market: Path, tmp_path: Path) -> None:
    from_csv = _run(market, tmp_path / "csv.json")
    from_dbn = _run(csv_to_dbn(market, tmp_path / "market.dbn.zst"), tmp_path / "dbn.json")
    for report in (from_csv, from_dbn):
        del report["run"]["input"], report["run"]["input_sha256"]
    assert from_dbn == from_csv


def test_each_strategy_completes_on_its_own_copy_of_the_final_book() -> None:
    import numpy as np

    from sor.ck.backtest import _complete
    from sor.ck.queue import Book
    from sor.core.domain import Fill, StrategyResult

    final = Book.empty(np.array([2, 9]), 2)
    final.ask_px[:] = [[10_000_000_000, 10_010_000_000], [10_000_000_000, 0]]
    final.ask_sz[:] = [[300, 500], [200, 0]]
    last_row_ns = np.array([100, 50])
    fees = np.array([3_000_000, 3_000_000])
    fills = (
        Fill(120, 2, 100, 10.0, 0.003),  # after venue 2's last row: its size stays consumed
        Fill(40, 9, 200, 10.0, 0.003),  # before venue 9's last row: that row restored it
    )
    behind = StrategyResult("twap", 10_000, 300, 300 * 10_003_000_000, None, fills)
    done = _complete(behind, final, last_row_ns, fees, end=999)
    assert done.total_fill == 300 + 200 + 200 + 500
    assert (
        done.total_cash_nanos == 300 * 10_003_000_000 + 400 * 10_003_000_000 + 500 * 10_013_000_000
    )
    assert done.completion_ns is None  # the book ran dry
    # the next strategy finds the whole final book: the first one swept its own copy
    fresh = StrategyResult("vwap", 1000, 0, 0, None)
    done = _complete(fresh, final, last_row_ns, fees, end=999)
    assert (done.total_fill, done.completion_ns) == (1000, 999)
    assert done.total_cash_nanos == 500 * 10_003_000_000 + 500 * 10_013_000_000
    assert (final.consumed == 0).all()
