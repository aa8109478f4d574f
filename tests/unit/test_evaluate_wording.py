"""sor evaluate says what happened in its own words: no --start/--end it does not have, no
"sor evaluate splits such a file" about a file it splits, and a sell's rule and figure in
a seller's terms."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from sor.core.search import SearchGrid
from sor.evaluation.figures import evaluation_figure
from sor.evaluation.report import RunRecord, build_evaluation
from sor.evaluation.tasks import DayFailure, DayOutcome, DaySpec, run_day
from sor.static.backtest import BacktestConfig

GRID = SearchGrid((0.1,), (0.1,), (0.1,))


def _day(tmp_path: Path, name: str, seed: int, start: str = "2024-08-01T13:36:32Z") -> Path:
    from sor.data.generate import generate_market

    path = tmp_path / name
    generate_market(path, venues=2, seed=seed, start=start,
                    end=start.replace(":32Z", ":40Z"))  # fmt: skip
    return path


@pytest.mark.parametrize("model", ["static", "ck"])
def test_a_day_without_a_row_is_refused_in_evaluates_words(tmp_path: Path, model: str) -> None:
    day = _day(tmp_path, "day.csv", seed=3)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(day.read_bytes().splitlines(keepends=True)[0])  # the header alone
    config = BacktestConfig(model=model, order_size=300, grid=GRID)
    horizons = (1.0,) if model == "ck" else None
    failure = run_day(DaySpec(0, str(empty), config, horizons_s=horizons))
    assert failure == DayFailure(
        f"{empty}: holds no row of quotes to evaluate (a day file is read whole)"
    )


def test_a_csv_of_two_instrument_ids_without_a_symbol_column_is_split_by_id(
    tmp_path: Path,
) -> None:
    first = pl.read_csv(_day(tmp_path, "a.csv", seed=4), infer_schema=False).drop("symbol")
    second = pl.read_csv(_day(tmp_path, "b.csv", seed=5), infer_schema=False).drop("symbol")
    both = tmp_path / "both.csv"
    pl.concat([first, second.with_columns(pl.lit("39").alias("instrument_id"))]).write_csv(both)
    alone = tmp_path / "alone.csv"
    first.write_csv(alone)
    config = BacktestConfig(order_size=300, grid=GRID)
    split = run_day(DaySpec(0, str(both), config))
    assert isinstance(split, list), split
    assert [d.instrument for d in split] == ["38", "39"]
    single = run_day(DaySpec(0, str(alone), config))
    assert isinstance(single, list)
    assert (split[0].head, split[0].cash_nanos) == (single[0].head, single[0].cash_nanos)
    assert single[0].instrument == "38"  # the id, without a symbol column, as a DBN day's


def _outcome(k: int, side: str) -> DayOutcome:
    return DayOutcome(
        source=f"day{k}.csv", instrument="38/AAPL", sha256=str(k),
        window={"start": f"2024-08-0{k + 1}T13:30:00Z", "end": f"2024-08-0{k + 1}T14:00:00Z"},
        head={"savings_vs_baselines_bps": {"vwap": 1.0}}, unfilled=(0,), cash_nanos=(5,),
        avg_fill_px=(100.0,), baseline_px={"vwap": 100.1}, best=0, arbitrary=False,
        side=side,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("side", "cash", "better"),
    [("buy", "the least total_cash", "paid less than"),
     ("sell", "the most total_cash (proceeds)", "received more than")],
)  # fmt: skip
def test_the_rule_and_the_figure_say_what_a_sell_chooses_and_wins(
    side: str, cash: str, better: str
) -> None:
    config = BacktestConfig(order_size=300, grid=GRID, side=side)
    report = build_evaluation([_outcome(k, side) for k in range(3)],
                              RunRecord(config, None, None, 1, 7, 100))  # fmt: skip
    assert f"fewest unfilled shares summed over the train_days days before it, then {cash} " \
        "summed over them" in report["method"]["walk_forward"]  # fmt: skip
    assert report["method"]["win"] == f"a day's savings > 0 (the router {better} the baseline)"
    title = evaluation_figure(report).get_suptitle()
    assert title.endswith(f"positive: the router {better} the baseline")


def test_the_guide_states_the_sell_side() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "evaluate.md").read_text()
    assert "There is no `--side`" not in guide
    assert "## The sell side" in guide and "**most** `total_cash`" in guide
