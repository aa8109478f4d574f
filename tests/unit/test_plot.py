"""The figures: PNG files, the same bytes for the same inputs, and the numbers they draw."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from figure_bounds import shown_texts, texts_outside
from sor.ck.backtest import CkResult, run_ck_backtest
from sor.ck.queue import attach_venues
from sor.ck.router import arrival
from sor.core.domain import NANOS_PER_DOLLAR, SNAPSHOT_DTYPE
from sor.core.search import SearchGrid
from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.report.builder import build_report
from sor.report.ck_report import build_ck_report
from sor.report.figures import (
    ARBITRARY,
    MARKOUT_TITLE,
    arrival_mid,
    ck_figure,
    drift_bps,
    drift_line,
    nbbo_mid,
    static_figure,
    write_ck_plot,
    write_plot,
)
from sor.report.markouts import TopOfBook
from sor.static.backtest import BacktestConfig, BacktestResult, run_backtest

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("plot") / "market.csv"
    generate_market(path, venues=3, seed=1, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:32Z", depth=10)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def static_result(market: Path) -> BacktestResult:
    grid = SearchGrid(lambda_over=(0.1,), lambda_under=(0.1, 0.4), theta_queue=(0.1,))
    return run_backtest(read_market(market), BacktestConfig(order_size=2000, grid=grid),
                        workers=1)  # fmt: skip


@pytest.fixture(scope="module")
def ck_result(market: Path) -> CkResult:
    grid = SearchGrid(lambda_over=(0.05,), lambda_under=(0.01, 0.2), theta_queue=(0.0005, 0.05))
    config = BacktestConfig(order_size=2000, model="ck", grid=grid)
    return run_ck_backtest(read_events(market), read_market(market), config, horizons_s=(0.5,),
                           workers=1)  # fmt: skip


def _axes(fig: Figure, title_start: str) -> Axes:
    (found,) = [ax for ax in fig.axes if ax.get_title().startswith(title_start)]
    return found


def _bars(fig: Figure) -> dict[str, float]:
    """Return the cost panel's bar heights by strategy, as drawn."""
    ax = _axes(fig, "Cost per strategy")
    names = [label.get_text() for label in ax.get_xticklabels()]
    return dict(zip(names, [bar.get_height() for bar in ax.patches], strict=True))


def _independent_arrival_mid(market: Path) -> float:
    """The ck definition, on every event: the NBBO mid once every venue has printed."""
    events, venues = attach_venues(read_events(market))
    mid = arrival(events, venues)[1]
    assert mid is not None
    return mid


@pytest.mark.parametrize("kind", ["static", "ck"])
def test_the_figure_is_a_png_with_the_same_bytes_every_time(
    kind: str, static_result: BacktestResult, ck_result: CkResult, tmp_path: Path
) -> None:
    def write(path: Path) -> Path:
        if kind == "static":
            return write_plot(static_result, path)
        return write_ck_plot(ck_result, path)

    first, second = write(tmp_path / "a.png"), write(tmp_path / "b.png")
    assert first.read_bytes()[:8] == PNG_SIGNATURE
    assert first.read_bytes() == second.read_bytes()
    assert b"Software" not in first.read_bytes()  # no library version in the bytes


@pytest.mark.parametrize("suffix", [".pdf", ".svgz", ".eps"])
def test_other_formats_are_the_same_bytes_every_time(
    suffix: str, ck_result: CkResult, tmp_path: Path
) -> None:
    # PostScript and gzip would otherwise stamp the date, and PostScript the file name
    first = write_ck_plot(ck_result, tmp_path / f"a{suffix}").read_bytes()
    assert first == write_ck_plot(ck_result, tmp_path / f"b{suffix}").read_bytes()


def test_static_bars_are_each_strategy_cost_against_the_arrival_mid(
    static_result: BacktestResult, market: Path
) -> None:
    mid = _independent_arrival_mid(market)
    drawn = _bars(static_figure(static_result))
    strategies = {"router": static_result.router, **static_result.baselines}
    assert set(drawn) == set(strategies)
    for name, strategy in strategies.items():
        assert strategy.avg_fill_px is not None
        expected = (strategy.avg_fill_px - mid) / mid * 1e4
        assert drawn[name] == pytest.approx(expected, rel=1e-12, abs=1e-9), name
    # the bars start at zero: the axis holds zero and every bar rises (or falls) from it
    low, high = _axes(static_figure(static_result), "Cost per strategy").get_ylim()
    assert low <= 0.0 <= high


@pytest.mark.parametrize("kind", ["static", "ck"])
def test_the_markout_panel_draws_the_reports_markouts(
    kind: str, static_result: BacktestResult, ck_result: CkResult
) -> None:
    if kind == "static":
        fig, report = static_figure(static_result), build_report(static_result)
    else:
        fig, report = ck_figure(ck_result), build_ck_report(ck_result)
    strategies = report["markouts"]["strategies"]
    lines = {line.get_label(): line for line in _axes(fig, MARKOUT_TITLE).get_lines()}
    assert set(strategies) <= set(lines)
    for name, entry in strategies.items():
        drawn = np.asarray(lines[name].get_ydata(), dtype=float)
        expected = [np.nan if v is None else v for v in entry["markout_bps"].values()]
        np.testing.assert_array_equal(drawn, expected, err_msg=name)


def test_ck_bars_and_cells_are_costs_against_the_reports_arrival_mid(
    ck_result: CkResult, market: Path
) -> None:
    ck_report = build_ck_report(ck_result)
    mid = ck_report["run"]["arrival_mid"]
    assert mid == _independent_arrival_mid(market)
    fig = ck_figure(ck_result)
    drawn = _bars(fig)
    summaries = {"router": ck_report["optimized"], **ck_report["baselines"]}
    assert set(drawn) == set(summaries)
    for name, summary in summaries.items():
        expected = (summary["avg_fill_px"] - mid) / mid * 1e4
        assert drawn[name] == pytest.approx(expected, rel=1e-12, abs=1e-9), name
        shortfall = ck_report["strategies"][name]["implementation_shortfall_bps"]
        assert drawn[name] == pytest.approx(shortfall, rel=1e-12, abs=1e-9)
    (heat,) = [ax for ax in fig.axes if ax.images]
    cells = np.asarray(heat.images[0].get_array())
    unders = sorted({row["lambda_under"] for row in ck_report["search"]["table"]})
    thetas = sorted({row["theta_queue"] for row in ck_report["search"]["table"]})
    for row in ck_report["search"]["table"]:
        cell = cells[thetas.index(row["theta_queue"]), unders.index(row["lambda_under"])]
        assert cell == pytest.approx((row["avg_fill_px"] - mid) / mid * 1e4, abs=1e-9)


def test_nbbo_mid_is_the_best_quotes_of_each_venues_last_row(
    static_result: BacktestResult,
) -> None:
    snapshots = static_result.data.snapshots
    times, mids = nbbo_mid(snapshots)
    quotes: dict[int, tuple[int, int]] = {}
    expected: dict[int, float] = {}
    for row in snapshots:
        quotes[int(row["publisher_id"])] = (int(row["ask_px"]), int(row["bid_px"]))
        asks = [a for a, _ in quotes.values() if a > 0]
        bids = [b for _, b in quotes.values() if b > 0]
        both = asks and bids
        expected[int(row["ts_event"])] = (
            (min(asks) + max(bids)) / 2 / NANOS_PER_DOLLAR if both else float("nan")
        )
    assert times.tolist() == list(expected)
    np.testing.assert_array_equal(mids, np.array(list(expected.values())))


def test_the_arrival_is_when_the_last_venue_first_quotes() -> None:
    rows = [  # ts_event, publisher_id, ask $, bid $
        (1, 2, 10.05, 10.00),
        (2, 9, 10.02, 0.0),  # no bid yet at venue 9
        (2, 2, 10.04, 9.99),  # the second row of venue 2 at ts 2 is not kept: see below
        (3, 5, 10.06, 10.01),  # every venue has a row: the arrival
        (4, 2, 10.01, 10.00),
    ]
    kept = [r for k, r in enumerate(rows) if k != 2]  # one row per venue and time, the first
    snapshots = np.array(
        [(t, v, round(a * NANOS_PER_DOLLAR), 100, round(b * NANOS_PER_DOLLAR), 100)
         for t, v, a, b in kept],
        dtype=SNAPSHOT_DTYPE,
    )  # fmt: skip
    # best ask 10.02 (venue 9), best bid 10.01 (venue 5)
    assert arrival_mid(snapshots) == (3, pytest.approx(10.015, abs=1e-12))
    times, mids = nbbo_mid(snapshots)
    assert times.tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(mids, [10.025, 10.01, 10.015, 10.01], atol=1e-12)
    assert arrival_mid(snapshots[:0]) == (None, None)


def test_the_title_says_when_the_parameter_choice_is_arbitrary(
    static_result: BacktestResult, ck_result: CkResult
) -> None:
    # under the static allocator every parameter set gives the same fills
    assert static_result.search_is_arbitrary
    assert ARBITRARY in static_figure(static_result).get_suptitle()
    assert not ck_result.search_is_arbitrary
    title = ck_figure(ck_result).get_suptitle()
    assert "best parameters" in title
    assert "arbitrary" not in title
    first = ck_result.search[0].outcome
    rows = tuple(dataclasses.replace(row, outcome=first) for row in ck_result.search)
    same = dataclasses.replace(ck_result, search=rows)
    assert same.search_is_arbitrary
    assert ARBITRARY in ck_figure(same).get_suptitle()


def test_a_sell_figure_speaks_of_proceeds_and_selling_higher(market: Path) -> None:
    grid = SearchGrid(lambda_over=(0.1,), lambda_under=(0.1,), theta_queue=(0.1,))
    config = BacktestConfig(order_size=2000, grid=grid, side="sell")
    result = run_backtest(read_market(market), config, workers=1)
    fig = static_figure(result)
    mid = _independent_arrival_mid(market)
    drawn = _bars(fig)
    assert set(drawn) == {"router", "best_bid", "twap", "vwap"}
    for name, strategy in {"router": result.router, **result.baselines}.items():
        assert strategy.avg_fill_px is not None
        # a cost is positive on both sides: here, proceeds below the arrival mid
        expected = (mid - strategy.avg_fill_px) / mid * 1e4
        assert drawn[name] == pytest.approx(expected, rel=1e-12, abs=1e-9), name
    cost = _axes(fig, "Cost per strategy")
    assert "proceeds below the mid" in cost.get_title()
    assert cost.get_xlabel().replace("\n", " ").startswith("router sold ")
    titles = [ax.get_title() for ax in fig.axes]
    assert "Shares sold so far" in titles and "Where each strategy sold (by publisher_id)" in titles
    assert "sell 2,000 shares" in str(fig.get_suptitle())


def test_a_long_title_is_broken_to_fit_the_figure(
    static_result: BacktestResult, ck_result: CkResult
) -> None:
    long_name = "generated: seed=7, venues=2,9,43,5,8,38, depth=10, rows=362973"
    named = dataclasses.replace(
        static_result, data=dataclasses.replace(static_result.data, source=long_name)
    )
    renamed = dataclasses.replace(
        ck_result, data=dataclasses.replace(ck_result.data, source=long_name)
    )
    for title in (static_figure(named).get_suptitle(), ck_figure(renamed).get_suptitle()):
        assert long_name in title.replace("\n", " ")
        assert max(len(line) for line in title.splitlines()) <= 150
        assert len(title.splitlines()) >= 3


@pytest.mark.parametrize("kind", ["static", "ck"])
def test_every_text_lies_inside_the_figure(
    kind: str, static_result: BacktestResult, ck_result: CkResult
) -> None:
    # the comparison under the cost panel is wider than the panel: it once ran off the left
    fig = static_figure(static_result) if kind == "static" else ck_figure(ck_result)
    assert texts_outside(fig) == []
    assert len(shown_texts(fig)) > 20  # the title, the panels' titles, labels, ticks, legends


@pytest.mark.parametrize("kind", ["static", "ck"])
def test_the_title_gives_the_drift_one_price_path_makes_of_a_saving(
    kind: str, static_result: BacktestResult, ck_result: CkResult, market: Path
) -> None:
    mid = _independent_arrival_mid(market)
    result = static_result if kind == "static" else ck_result
    # the mid at the window's end, from the complete books of every venue's last row
    books = TopOfBook.of_events(read_events(market))
    end_mid = float(books.mids_at(np.array([result.window_end_ns]))[0])
    drift = (end_mid - mid) / mid * 1e4
    fig = static_figure(static_result) if kind == "static" else ck_figure(ck_result)
    last = str(fig.get_suptitle()).splitlines()[-1]
    moved = f"{'rose' if drift > 0 else 'fell'} {abs(drift):.2f} bps"
    assert last == (f"One price path: the mid {moved} over the window (arrival to end); a "
                    "saving against twap or vwap of that size is mostly this drift")  # fmt: skip
    assert len(last) <= 150
    assert drift_line(None).startswith("One price path: its drift is undefined")
    assert drift_bps(mid, float("nan")) is None and drift_bps(None, end_mid) is None
