"""``sor evaluate --orders`` without a cluster: the walk-forward over the orders of the days
before, worked out by hand on built outcomes; the orders placed on exactly one day; a day
holding no order left unread; the interval from enough trading dates."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sor.core.errors import DataError, SorError
from sor.core.intervals import cluster_bootstrap_mean
from sor.core.search import SearchGrid
from sor.core.timestamps import parse_timestamp
from sor.core.types import Side
from sor.data.arrivals import ArrivalLaw, draw_arrivals
from sor.data.blotter import OPEN_END, Blotter, read_blotter
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.data.span import time_span
from sor.evaluation.orders import build_orders_evaluation, drawn_blotter
from sor.evaluation.report import RunRecord
from sor.evaluation.tasks import NO_TIME, DayFailure, DaySpec, OrdersDay, day_seed, run_day
from sor.static.backtest import BacktestConfig

NANOS = 10**9
GRID = SearchGrid((0.1, 0.4), (0.1,), (0.1,))  # two parameter sets
# per aggregated baseline, the average price a buy and a sell get: best quote, twap, vwap
BUY_PX, SELL_PX = (10.01, 10.00, 9.99), (9.99, 10.00, 10.01)


def _settings(train_days: int, resamples: int = 1_000) -> RunRecord:
    return RunRecord(BacktestConfig(grid=GRID), None, None, train_days, 7, resamples)


def _blotter(orders: list[tuple[str, str, int]]) -> Blotter:
    """Orders of (time, side, size), one a line from line 2, open-ended."""
    n = len(orders)
    return Blotter(
        path=Path("blotter.csv"), ids=tuple(f"o{k}" for k in range(n)),
        time_ns=np.array([parse_timestamp(t) for t, _, _ in orders], dtype=np.int64),
        end_ns=np.full(n, OPEN_END, dtype=np.int64),
        sides=tuple(Side.parse(s) for _, s, _ in orders),
        sizes=np.array([q for _, _, q in orders], dtype=np.int64),
        lines=tuple(range(2, n + 2)), carried=pl.DataFrame(),
    )  # fmt: skip


def _figures(size: int, fill: int, px: float) -> tuple[int, int, int]:
    return fill, round(fill * px * 100) * NANOS // 100, NO_TIME if fill < size else 1


def _day(
    date: str,
    blotter: Blotter,
    rows: list[int],
    router: list[list[tuple[int, float]]],
    instrument: str = "38/AAPL",
) -> OrdersDay:
    """The day of ``date`` routing the blotter's ``rows``: per order, per set, the router's
    (shares filled, average price); the baselines fill whole at BUY_PX or SELL_PX."""
    sizes = [int(blotter.sizes[k]) for k in rows]
    sides = [blotter.sides[k] for k in rows]
    search = [[_figures(q, f, px) for f, px in sets] for q, sets in zip(sizes, router, strict=True)]
    baselines = [
        [_figures(q, q, px) for px in (SELL_PX if side is Side.SELL else BUY_PX)]
        for q, side in zip(sizes, sides, strict=True)
    ]
    return OrdersDay(
        source=f"{date}.csv", read=True, instrument=instrument, sha256=date,
        window={"start": f"{date}T13:30:00.000000000Z", "end": f"{date}T20:00:00.000000000Z"},
        orders=np.array(rows, dtype=np.int64), search=np.array(search, dtype=np.int64),
        baselines=np.array(baselines, dtype=np.int64), arrival_mid=np.full(len(rows), 10.0),
        depth=np.full(len(rows), 1_000, dtype=np.int64),
    )  # fmt: skip


def _unread(name: str) -> OrdersDay:
    return OrdersDay.without_orders(name, 2)


def _saving(side: Side, baseline: float, router: float) -> float:
    gain = router - baseline if side is Side.SELL else baseline - router
    return gain / baseline * 10_000


BLOTTER = _blotter([
    ("2024-08-01T14:00:00Z", "buy", 100),
    ("2024-08-01T15:00:00Z", "sell", 200),
    ("2024-08-02T14:00:00Z", "buy", 100),
    ("2024-08-05T14:00:00Z", "sell", 100),
    ("2024-08-05T15:00:00Z", "buy", 300),
])  # fmt: skip


def _days() -> list[OrdersDay]:
    # 08-01: both sets fill whole; the net cash (buys minus sells) is 1,000 - 2,000 under
    # set 0 and 1,001 - 2,004 = -1,003 under set 1: set 1 is its best.
    first = _day("2024-08-01", BLOTTER, [0, 1], [[(100, 10.00), (100, 10.01)],
                                                 [(200, 10.00), (200, 10.02)]])  # fmt: skip
    # 08-02: set 1 leaves 50 shares: set 0 is its best
    second = _day("2024-08-02", BLOTTER, [2], [[(100, 10.00), (50, 10.00)]])
    # 08-05: net cash 3,000 - 1,000 under set 0 and 3,003 - 1,005 = 1,998 under set 1
    third = _day("2024-08-05", BLOTTER, [3, 4], [[(100, 10.00), (100, 10.05)],
                                                 [(300, 10.00), (300, 10.01)]])  # fmt: skip
    # given out of order, with a day holding no order between them
    return [third, _unread("2024-08-03.csv"), first, second]


def test_each_day_is_chosen_on_the_orders_of_the_days_before_it_and_scored_order_by_order() -> None:
    report = build_orders_evaluation(_days(), BLOTTER, _settings(1), skip_bad_rows=False)
    days = report["days"]
    assert [d["input"] for d in days] == ["2024-08-01.csv", "2024-08-02.csv", "2024-08-05.csv"]
    # K = 1 counts days holding orders: 08-02 trains on 08-01 (set 1), 08-05 on 08-02 (set 0)
    assert [d["out_of_sample"] and d["out_of_sample"]["set"] for d in days] == [None, 1, 0]
    assert [d["out_of_sample"] and d["out_of_sample"]["trained_on"] for d in days] == [
        None, [0], [1],
    ]  # fmt: skip
    # in sample: each day's own best over its orders
    assert [d["best_parameters"]["lambda_over"] for d in days] == [0.4, 0.1, 0.4]
    assert [s["unfilled"] for s in days[1]["search"]] == [0, 50]
    assert [float(s["net_cash"]) for s in days[2]["search"]] == [2_000.0, 1_998.0]
    # the scored orders, out of sample: 08-02's buy under set 1 (50 shares at 10.00), and
    # 08-05's sell and buy under set 0 (at 10.00)
    expected = {
        "best_quote": [_saving(Side.BUY, 10.01, 10.00), _saving(Side.SELL, 9.99, 10.00),
                       _saving(Side.BUY, 10.01, 10.00)],
        "twap": [0.0, 0.0, 0.0],
        "vwap": [_saving(Side.BUY, 9.99, 10.00), _saving(Side.SELL, 10.01, 10.00),
                 _saving(Side.BUY, 9.99, 10.00)],
    }  # fmt: skip
    orders = report["orders"]
    assert [o["id"] for o in orders] == ["o0", "o1", "o2", "o3", "o4"]
    assert [o["out_of_sample"] and o["out_of_sample"]["set"] for o in orders] == [
        None, None, 1, 0, 0,
    ]  # fmt: skip
    seller = orders[3]["out_of_sample"]["savings_vs_baselines_bps"]
    assert seller == pytest.approx(
        {"best_bid": expected["best_quote"][1], "twap": 0.0, "vwap": expected["vwap"][1]}
    )
    # in sample, 08-05 is under its own best, set 1: the sell at 10.05
    assert orders[3]["in_sample"]["router"]["avg_fill_px"] == pytest.approx(10.05)
    summary = report["summary"]
    assert (summary["days"], summary["scored_days"], summary["orders"]) == (3, 2, 5)
    assert (summary["scored_orders"], summary["days_without_orders"]) == (3, 1)
    for name, values in expected.items():
        oos = summary["savings_vs_baselines_bps"][name]["out_of_sample"]
        assert oos["mean"] == pytest.approx(np.mean(values))
        assert (oos["orders"], oos["dates"], oos["ci95"]) == (3, 2, None)
        assert oos["no_interval"] == (
            "3 orders from 2 trading dates: an interval needs at least 10 independent trading dates"
        )
        assert oos["win_share"] == sum(v > 1e-9 for v in values) / 3
    assert report["tca"]["orders"] == 3
    assert report["tca"]["strategies"]["router"]["shares"] == 100 + 100 + 300
    assert report["tca"]["strategies"]["router"]["total_fill"] == 50 + 100 + 300


def test_k_days_sum_the_orders_of_every_training_day() -> None:
    # K = 2: 08-05 trains on 08-01 and 08-02 together; set 1 leaves 50 shares over them
    report = build_orders_evaluation(_days(), BLOTTER, _settings(2), skip_bad_rows=False)
    assert [d["out_of_sample"] and d["out_of_sample"]["set"] for d in report["days"]] == [
        None, None, 0,
    ]  # fmt: skip
    with pytest.raises(SorError, match=r"^--train-days 3 needs at least 4 days holding orders"):
        build_orders_evaluation(_days(), BLOTTER, _settings(3), skip_bad_rows=False)


def test_an_order_in_no_day_is_one_error_naming_its_line_or_is_counted_when_skipped() -> None:
    blotter = _blotter([
        ("2024-08-01T14:00:00Z", "buy", 100),
        ("2024-08-01T15:00:00Z", "sell", 200),
        ("2024-08-02T14:00:00Z", "buy", 100),
        ("2024-08-03T14:00:00Z", "buy", 100),  # no day holds 08-03
        ("2024-08-05T14:00:00Z", "sell", 100),
        ("2024-08-05T15:00:00Z", "buy", 300),
    ])  # fmt: skip
    days = [
        _day("2024-08-01", blotter, [0, 1], [[(100, 10.0)] * 2, [(200, 10.0)] * 2]),
        _day("2024-08-02", blotter, [2], [[(100, 10.0)] * 2]),
        _day("2024-08-05", blotter, [4, 5], [[(100, 10.0)] * 2, [(300, 10.0)] * 2]),
    ]
    with pytest.raises(DataError) as error:
        build_orders_evaluation(days, blotter, _settings(1), skip_bad_rows=False)
    assert str(error.value) == (
        "blotter.csv, line 5, column 'time': 2024-08-03T14:00:00.000000000Z falls in no day's "
        "data (an order is routed on the day whose first to last row holds its time)"
    )
    # with --skip-bad-rows: left out and counted with those the days left out themselves
    late = OrdersDay.without_orders("2024-08-06.csv", 2, skipped=((5, "end_after_data"),))
    days[2] = _day("2024-08-05", blotter, [4], [[(100, 10.0)] * 2])
    report = build_orders_evaluation([*days, late], blotter, _settings(1), skip_bad_rows=True)
    assert report["summary"]["skipped_orders"] == {"end_after_data": 1, "time_outside_data": 1}
    assert report["summary"]["orders"] == 4


def test_an_order_in_two_days_and_days_of_two_instruments_are_refused() -> None:
    blotter = _blotter([("2024-08-01T14:00:00Z", "buy", 100), ("2024-08-02T14:00:00Z", "buy", 100)])
    one = _day("2024-08-01", blotter, [0], [[(100, 10.0)] * 2])
    other = _day("2024-08-01", blotter, [0], [[(100, 10.0)] * 2], instrument="98/MSFT")
    with pytest.raises(SorError, match=r"^--orders: the days hold more than one instrument "
                       r"\(38/AAPL, 98/MSFT\), and a blotter's orders name none"):  # fmt: skip
        build_orders_evaluation([one, other], blotter, _settings(1), skip_bad_rows=False)
    overlap = _day("2024-08-02", blotter, [0, 1], [[(100, 10.0)] * 2] * 2)
    with pytest.raises(DataError, match=r"^blotter.csv, line 2, column 'time': .* falls in the "
                       r"data of two days, 2024-08-01.csv and 2024-08-02.csv$"):  # fmt: skip
        build_orders_evaluation([one, overlap], blotter, _settings(1), skip_bad_rows=False)


def test_ten_trading_dates_give_an_interval_clustered_by_date() -> None:
    dates = [f"2024-09-{d:02d}" for d in range(1, 12)]
    times = [(f"{date}T14:00:00Z", "buy", 100) for date in dates]
    blotter = _blotter([t for t in times for _ in range(2)])
    prices = [10.0 + 0.001 * ((3 * k) % 7) for k in range(len(dates) * 2)]
    days = [
        _day(date, blotter, [2 * d, 2 * d + 1],
             [[(100, prices[2 * d])] * 2, [(100, prices[2 * d + 1])] * 2])
        for d, date in enumerate(dates)
    ]  # fmt: skip
    report = build_orders_evaluation(days, blotter, _settings(1), skip_bad_rows=False)
    oos = report["summary"]["savings_vs_baselines_bps"]["best_quote"]["out_of_sample"]
    values = [_saving(Side.BUY, 10.01, p) for p in prices[2:]]
    expected = cluster_bootstrap_mean(values, [d for d in dates[1:] for _ in range(2)], seed=7,
                                      resamples=1_000, unit="order", cluster="trading date")  # fmt: skip
    assert (oos["orders"], oos["dates"], oos["no_interval"]) == (20, 10, None)
    assert oos["ci95"] == pytest.approx([expected.low, expected.high])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "day.csv"
    generate_market(path, venues=2, seed=3, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:37Z")  # fmt: skip
    return path


def test_the_scan_of_a_day_spans_the_window_its_read_keeps(tiny: Path, tmp_path: Path) -> None:
    from dbn_encode import csv_to_dbn

    market = read_market(tiny)
    assert time_span(tiny) == (market.first_ts, market.last_ts)
    assert time_span(csv_to_dbn(tiny, tmp_path / "day.dbn")) == (market.first_ts, market.last_ts)
    (tmp_path / "no_times.csv").write_text("a,b\n1,2\n")
    assert time_span(tmp_path / "no_times.csv") is None  # read whole: the reader says why


def test_a_day_holding_no_order_is_not_read(tiny: Path, tmp_path: Path) -> None:
    # a bad price the reader refuses: only a read of the day finds it
    lines = tiny.read_text().splitlines(keepends=True)
    fields = lines[5].split(",")
    fields[13] = "oops"  # bid_px_00
    bad = tmp_path / "bad.csv"
    bad.write_text("".join([*lines[:5], ",".join(fields), *lines[6:]]))
    config = BacktestConfig(grid=GRID)
    elsewhere = _blotter([("2024-08-02T13:36:33Z", "buy", 100)])
    unread = run_day(DaySpec(0, str(bad), config), elsewhere)
    assert isinstance(unread, list) and isinstance(unread[0], OrdersDay)
    assert (unread[0].read, len(unread[0].orders)) == (False, 0)
    inside = _blotter([("2024-08-01T13:36:33Z", "buy", 100)])
    failed = run_day(DaySpec(0, str(bad), config), inside)
    assert isinstance(failed, DayFailure) and failed.message.startswith(f"{bad}, line 6")
    routed = run_day(DaySpec(0, str(tiny), config), inside)
    assert isinstance(routed, list) and isinstance(routed[0], OrdersDay)
    assert routed[0].orders.tolist() == [0] and routed[0].search.shape == (1, 2, 3)


@pytest.mark.parametrize(
    ("flags", "blotter", "line"),
    [
        (["--order-size", "500"], "time,side,size\n2024-08-01T13:36:33Z,buy,100\n",
         "sor: error: --orders: each order gives its own time, end, side and size; drop "
         "--order-size"),
        ([], "time,side\n2024-08-01T13:36:33Z,buy\n",
         "sor: error: {blotter}, line 1, column 'size': missing; a blotter has the columns "
         "time, side and size (and optionally end and id)"),
    ],
)  # fmt: skip
def test_what_a_blotter_cannot_take_is_refused_in_one_line_before_any_cluster(
    tiny: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    blotter: str,
    line: str,
) -> None:
    from cli_run import run_main

    orders = tmp_path / "blotter.csv"
    orders.write_text(blotter)
    outcome = run_main(
        ["evaluate", "--data", str(tiny), "--orders", str(orders), "--train-days", "1",
         "--json-out", str(tmp_path / "e.json"), "--no-plot", "-q", *flags],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [line.format(blotter=orders)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blotter.csv"]


LAW = ArrivalLaw(rate_per_hour=7_200, size_median=500, size_sigma=0.5, sides="both")


def test_a_day_draws_its_orders_from_the_seed_and_its_date_alone() -> None:
    morning, evening = parse_timestamp("2024-08-01T13:30:00Z"), parse_timestamp("2024-08-01T20:00Z")
    assert day_seed(7, morning) == day_seed(7, evening)  # the date, not the time
    assert day_seed(7, morning) != day_seed(8, morning)
    assert day_seed(7, morning) != day_seed(7, parse_timestamp("2024-08-02T13:30:00Z"))
    expected = np.random.SeedSequence([7, 20240801]).generate_state(1, dtype=np.uint64)[0]
    assert day_seed(7, morning) == int(expected)


def test_a_day_of_arrivals_routes_what_it_draws_over_its_span_whatever_its_place(
    tiny: Path,
) -> None:
    config = BacktestConfig(grid=GRID)
    spec = DaySpec(0, str(tiny), config, arrivals=LAW, arrivals_seed=7,
                   order_horizon_ns=2 * NANOS)  # fmt: skip
    outcome = run_day(spec)
    assert isinstance(outcome, list) and isinstance(outcome[0], OrdersDay)
    day = outcome[0]
    market = read_market(tiny)
    first, last = market.first_ts, market.last_ts
    assert first is not None and last is not None
    drawn = draw_arrivals(first, last, LAW, day_seed(7, first))
    assert day.drawn is not None and len(drawn) > 1
    assert day.drawn.time_ns.tolist() == drawn.time_ns.tolist()
    assert day.drawn.sizes.tolist() == drawn.sizes.tolist() and day.drawn.sides == drawn.sides
    # each order ends two seconds after its time, at most with the day
    ends = np.minimum(drawn.time_ns + 2 * NANOS, last)
    assert day.drawn.end_ns.tolist() == ends.tolist()
    assert day.orders.tolist() == list(range(len(drawn))) and day.ends is not None
    assert day.ends.tolist() == ends.tolist()
    assert day.search.shape == (len(drawn), 2, 3)
    again = run_day(DaySpec(5, str(tiny), config, arrivals=LAW, arrivals_seed=7,
                            order_horizon_ns=2 * NANOS))  # fmt: skip
    assert isinstance(again, list) and isinstance(again[0], OrdersDay)
    assert np.array_equal(again[0].search, day.search)  # the day's place in the run: no matter
    heavy = ArrivalLaw(rate_per_hour=1e8, size_median=500, size_sigma=0.5, sides="both")
    refused = run_day(DaySpec(0, str(tiny), config, arrivals=heavy))
    assert refused == DayFailure(
        f"{tiny}: --arrivals 1e+08 per hour over the data's 0.00139 hours expects 138,616 "
        "orders, more than the cap of 100,000 (sor.data.arrivals.MAX_ARRIVALS); lower "
        "--arrivals or give a shorter market"
    )


def _drawn_day(date: str, times: list[str], sha: str) -> OrdersDay:
    drawn = _blotter([(f"{date}T{t}Z", "buy", 100 * (k + 1)) for k, t in enumerate(times)])
    day = _day(date, drawn, list(range(len(times))), [[(100 * (k + 1), 10.0)] * 2
                                                       for k in range(len(times))])  # fmt: skip
    return dataclasses.replace(day, sha256=sha, drawn=drawn)


def test_the_days_draws_join_into_one_blotter_that_reads_back_the_same(tmp_path: Path) -> None:
    later = _drawn_day("2024-08-02", ["13:31:00", "13:32:00", "13:33:00"], "b")
    earlier = _drawn_day("2024-08-01", ["13:31:00", "13:40:00"], "a")
    repeat = dataclasses.replace(earlier, source="copy.csv")  # one file given twice
    blotter, days = drawn_blotter([later, _unread("x.csv"), earlier, repeat])
    # the earlier day's orders first, each day's in time order, numbered from 1
    assert blotter.ids == ("1", "2", "3", "4", "5") and blotter.lines == (2, 3, 4, 5, 6)
    assert blotter.sizes.tolist() == [100, 200, 100, 200, 300]
    assert [d.orders.tolist() for d in days] == [[2, 3, 4], [], [0, 1], [0, 1]]
    written = tmp_path / "drawn.csv"
    blotter.table().write_csv(written)
    read = read_blotter(written)
    assert (read.ids, read.lines, read.sides) == (blotter.ids, blotter.lines, blotter.sides)
    assert read.time_ns.tolist() == blotter.time_ns.tolist()
    assert read.sizes.tolist() == blotter.sizes.tolist()
    report = build_orders_evaluation(days, blotter, _settings(1), skip_bad_rows=False)
    assert (report["summary"]["orders"], report["summary"]["scored_orders"]) == (5, 3)


@pytest.mark.parametrize(
    ("flags", "line"),
    [
        (["--side", "sell"],
         "sor: error: --arrivals: each order gives its own time, end, side and size; drop --side"),
        (["--orders", "b.csv"], "sor: error: --arrivals draws a blotter: it excludes --orders "
         "(give one of them)"),
    ],
)  # fmt: skip
def test_what_arrivals_cannot_take_is_refused_in_one_line_before_any_cluster(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], line: str
) -> None:
    from cli_run import run_main

    outcome = run_main(
        ["evaluate", "--data", str(tiny), "--arrivals", "60", "--train-days", "1",
         "--json-out", str(tmp_path / "e.json"), "--orders-out", str(tmp_path / "o.csv"),
         "--no-plot", "-q", *flags],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []


def test_a_flag_of_arrivals_without_it_is_refused(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cli_run import run_main

    outcome = run_main(["evaluate", "--data", str(tiny), "--orders-out", str(tmp_path / "o.csv"),
                        "--no-plot", "-q"], capsys)  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        "sor: error: --orders-out writes the blotter --arrivals draws: give --arrivals"
    ]


def test_a_day_under_model_ck_routes_its_orders_at_every_point_as_backtest_does(
    tiny: Path,
) -> None:
    from sor.ck.orders import run_ck_orders
    from sor.ck.router import CKSettings
    from sor.core.market import MarketData
    from sor.data.events import read_events, snapshots_from_events

    config = BacktestConfig(model="ck", grid=GRID)
    blotter = _blotter(
        [("2024-08-01T13:36:33Z", "buy", 300), ("2024-08-01T13:36:35Z", "sell", 200)]
    )
    spec = DaySpec(0, str(tiny), config, horizons_s=(0.5, 1.0), ck_settings=CKSettings())
    outcome = run_day(spec, blotter)
    assert isinstance(outcome, list) and isinstance(outcome[0], OrdersDay)
    day = outcome[0]
    assert day.search.shape == (2, 4, 3)  # two sets, two horizons each
    events = read_events(tiny)
    market = MarketData(snapshots_from_events(events), source=str(tiny), events=events)
    first, last = (parse_timestamp(day.window[end]) for end in ("start", "end"))
    alone = run_ck_orders(market, blotter.within(first, last), config, horizons_s=(0.5, 1.0),
                          workers=1)  # fmt: skip
    for at, order in enumerate(alone.orders):
        expected = [(r.total_fill, r.total_cash_nanos) for r in order.search]
        assert [(f, c) for f, c, _ in day.search[at].tolist()] == expected
        baselines = [order.baselines[name] for name in order.config.side.baselines]
        assert [(f, c) for f, c, _ in day.baselines[at].tolist()] == [
            (b.total_fill, b.total_cash_nanos) for b in baselines
        ]


def test_a_day_measures_each_order_against_its_interval_vwap_and_marks_it_out_as_backtest(
    tiny: Path,
) -> None:
    from sor.data.events import read_trades
    from sor.report.markouts import MARKOUT_HORIZONS_S
    from sor.report.tca import orders_table, shortfall_bps
    from sor.static.orders import run_orders

    config = BacktestConfig(grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    blotter = _blotter(
        [("2024-08-01T13:36:33Z", "buy", 3000), ("2024-08-01T13:36:34Z", "sell", 2000)]
    )
    outcome = run_day(DaySpec(0, str(tiny), config, order_horizon_ns=2 * NANOS), blotter)
    assert isinstance(outcome, list) and isinstance(outcome[0], OrdersDay)
    day = outcome[0]
    assert day.vwap is not None and day.markouts is not None
    assert day.baseline_markouts is not None
    market = dataclasses.replace(read_market(tiny), trades=read_trades(tiny))
    placed = blotter.within(*(parse_timestamp(day.window[e]) for e in ("start", "end")),
                            horizon_ns=2 * NANOS)  # fmt: skip
    table = orders_table(run_orders(market, placed, config, workers=1))
    marks = [f"markout_{h}s_bps" for h in MARKOUT_HORIZONS_S]
    assert np.isfinite(day.vwap).all() and np.isfinite(day.markouts).any()
    for at, k in enumerate(day.orders.tolist()):
        side = blotter.sides[k]
        rows = table.filter(pl.col("id") == blotter.ids[k]).rows(named=True)
        figures = [day.markouts[at, 0], *day.baseline_markouts[at]]
        for row, measured in zip(rows, figures, strict=True):
            px = row["avg_fill_px"]
            assert (
                shortfall_bps(px, float(day.vwap[at]), side)
                == row["shortfall_vs_interval_vwap_bps"]
            )
            expected = [np.nan if row[m] is None else row[m] for m in marks]
            np.testing.assert_array_equal(measured, expected)
