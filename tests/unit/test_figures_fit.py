"""The figures of ``sor stats`` and ``sor evaluate`` as a reader sees them: every text inside
the figure, no legend over a bar, no blank band between panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.container import ErrorbarContainer

from figure_bounds import legend_covers_a_bar, texts_outside, vertical_gaps
from sor.core.search import SearchGrid
from sor.data.generate import generate_market
from sor.evaluation.figures import evaluation_figure
from sor.evaluation.report import RunRecord, build_evaluation
from sor.evaluation.tasks import DayOutcome
from sor.static.backtest import BacktestConfig
from sor.stylized.figures import stats_figure
from sor.stylized.summary import file_stats


def test_the_stats_figure_fits_and_its_legend_covers_no_bar(tmp_path: Path) -> None:
    # six venues of even rates: the bars of the last venues stand where a legend would
    market = tmp_path / "m.csv"
    generate_market(market, venues=6, seed=7, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:42Z", depth=1)  # fmt: skip
    figure = stats_figure(file_stats(market))
    assert texts_outside(figure) == []
    rates = next(ax for ax in figure.axes if ax.get_title().startswith("Message and trade"))
    assert not legend_covers_a_bar(rates)


def _outcome(k: int, saving: float) -> DayOutcome:
    return DayOutcome(
        source=f"day{k}.csv", instrument="38/AAPL", sha256=str(k),
        window={"start": f"2024-08-{k + 1:02d}T13:30:00Z", "end": f"2024-08-{k + 1:02d}T14:00:00Z"},
        head={"savings_vs_baselines_bps": {"vwap": saving}}, unfilled=(0,), cash_nanos=(5,),
        avg_fill_px=(100.0,), baseline_px={"vwap": 100.0 + saving / 100}, best=0,
        arbitrary=False, side="buy",
    )  # fmt: skip


@pytest.mark.parametrize("days", [4, 14])
def test_the_evaluation_figure_fits_without_a_blank_band(days: int) -> None:
    # four days: no interval, a reason under two titles; fourteen: intervals, long day labels
    config = BacktestConfig(order_size=300, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    outcomes = [_outcome(k, (-1) ** k * 0.1 * k) for k in range(days)]
    report = build_evaluation(outcomes, RunRecord(config, None, None, 1, 7, 100))
    figure = evaluation_figure(report)
    assert texts_outside(figure) == []
    # each gap holds the labels under a panel and the next title, no more
    gaps = vertical_gaps(figure, figure.axes)
    assert len(gaps) == 2 and (gaps < 0.03).all(), gaps


def test_the_stats_markouts_carry_bars_of_their_standard_errors(tmp_path: Path) -> None:
    # 40 s: forty 1-s blocks give the 1-s markout a standard error, four 10-s blocks none
    market = tmp_path / "m.csv"
    generate_market(market, venues=2, seed=7, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:12Z", depth=1)  # fmt: skip
    stats = file_stats(market)
    figure = stats_figure(stats)
    assert texts_outside(figure) == []
    ax = next(ax for ax in figure.axes if ax.get_title().startswith("Trade markouts"))
    bars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    series = [*stats.report["venues"].values(), stats.report["overall"]]
    assert len(bars) == len(series) == 3
    for container, facts in zip(bars, series, strict=True):
        shown = [k for k, v in facts["markout_bps"].items() if v is not None]
        assert shown == ["1", "10"]
        segments = container.lines[2][0].get_segments()
        for key, segment in zip(shown, segments, strict=True):
            mean, error = facts["markout_bps"][key], facts["markout_se_bps"][key]
            if error is None:  # no bar: nothing drawn, or ends that are not numbers
                assert len(segment) == 0 or np.isnan(segment).all()
            else:
                (x0, low), (x1, high) = segment
                assert x0 == x1 and low < mean < high
                assert (high - low) / 2 == pytest.approx(1.959964 * error, rel=1e-6)
        assert facts["markout_se_bps"]["1"] is not None and facts["markout_se_bps"]["10"] is None
    label = ax.get_xlabel()
    assert "1.96 standard errors" in label
    blocks = stats.report["overall"]["markout_blocks"]["10"]
    assert blocks < 30 and f"fewer than 30 blocks hold a trade: 10 s ({blocks})" in label
