"""A blotter's orders cut one laid-out market instead of laying out their windows each: the
cut equals the layout of the window's rows alone, and every order's figures equal its own
single-order backtest, on markets where venues come and go and times repeat."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sor.core.domain import SNAPSHOT_DTYPE, VenueCosts
from sor.core.errors import SorError
from sor.core.market import MarketData
from sor.core.search import SearchGrid
from sor.core.types import Side
from sor.data.blotter import Blotter
from sor.static.backtest import BacktestConfig, run_backtest
from sor.static.orders import run_orders, window
from sor.static.replay import MarketArrays

VENUES = (2, 5, 9, 40)
ONE_SET = SearchGrid((0.4,), (0.4,), (0.4,))
T0 = 1_722_519_392_000_000_000


@st.composite
def markets(draw: st.DrawFn) -> np.ndarray:
    """Snapshots as a read keeps them: sorted by time, at most one row per venue and time;
    a venue may be silent for a stretch, a quote empty (price 0)."""
    rows = []
    ts = T0
    for _ in range(draw(st.integers(1, 15))):
        ts += draw(st.sampled_from((1, 1_000_000, 30_000_000_000)))
        for venue in draw(st.lists(st.sampled_from(VENUES), min_size=1, max_size=3, unique=True)):
            ask = draw(st.sampled_from((0, 100_000_000_000, 100_010_000_000, 100_020_000_000)))
            bid = draw(st.sampled_from((0, 99_990_000_000, 99_980_000_000)))
            size = draw(st.sampled_from((0, 100, 300, 1_200)))
            rows.append((ts, venue, ask, size, bid, draw(st.sampled_from((0, 200, 900)))))
    return np.array(rows, dtype=SNAPSHOT_DTYPE)


def _same(left: MarketArrays, right: MarketArrays) -> None:
    for name in ("venues", "venue", "quote_px", "quote_sz", "group_start", "group_ts"):
        a, b = getattr(left, name), getattr(right, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert left.sell == right.sell


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.data())
def test_a_cut_equals_the_layout_of_its_rows_alone(snapshots: np.ndarray, data: st.DataObject) -> None:  # fmt: skip
    whole = MarketArrays.from_snapshots(snapshots, Side.BUY)
    first = data.draw(st.integers(0, whole.n_timestamps - 1))
    stop = data.draw(st.integers(first + 1, whole.n_timestamps))
    lo, hi = whole.group_start[first], whole.group_start[stop]
    for side, laid_out in ((Side.BUY, whole), (Side.SELL, whole.on_side(snapshots, Side.SELL))):
        _same(laid_out, MarketArrays.from_snapshots(snapshots, side))
        _same(laid_out.between(first, stop), MarketArrays.from_snapshots(snapshots[lo:hi], side))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(markets(), st.data())
def test_each_order_has_the_figures_of_its_own_backtest(snapshots: np.ndarray, data: st.DataObject) -> None:  # fmt: skip
    market = MarketData(snapshots=snapshots, source="m.csv", rows_in_window=len(snapshots))
    times = snapshots["ts_event"]
    count = data.draw(st.integers(1, 4))
    starts = [data.draw(st.sampled_from(times.tolist())) for _ in range(count)]
    ends = [data.draw(st.one_of(st.just(start), st.integers(start, int(times[-1]))))
            for start in starts]  # fmt: skip
    blotter = Blotter(
        path=Path("orders.csv"),
        ids=tuple(str(k + 1) for k in range(count)),
        time_ns=np.array(starts, dtype=np.int64),
        end_ns=np.array(ends, dtype=np.int64),
        sides=tuple(data.draw(st.sampled_from(Side)) for _ in range(count)),
        sizes=np.array([data.draw(st.sampled_from((100, 500, 2_000))) for _ in range(count)]),
        lines=tuple(range(2, count + 2)),
        carried=pl.DataFrame(),
    )
    # a fee for a venue some windows lack: such an order is refused, as its own backtest is
    costs = data.draw(st.sampled_from((VenueCosts(), VenueCosts(fees=((5, 0.001),)))))
    config = BacktestConfig(grid=ONE_SET, costs=costs)
    expected = []
    for k in range(count):
        order = dataclasses.replace(config, start_ns=starts[k], end_ns=ends[k],
                                    side=blotter.sides[k], order_size=int(blotter.sizes[k]))  # fmt: skip
        try:
            expected.append(run_backtest(window(market, starts[k], ends[k]), order, workers=1))
        except SorError as exc:
            with pytest.raises(SorError) as caught:
                run_orders(market, blotter, config, workers=1)
            assert str(caught.value) == str(exc)
            return
    result = run_orders(market, blotter, config, workers=1)
    for outcome, single in zip(result.orders, expected, strict=True):
        assert outcome.search == tuple(
            dataclasses.replace(row.result, fills=()) for row in single.search
        )
        assert outcome.baselines == {
            name: dataclasses.replace(value, fills=()) for name, value in single.baselines.items()
        }
