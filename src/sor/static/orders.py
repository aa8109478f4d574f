"""Many parent orders over one market: each routed on its own window by the router and by
every baseline, one parameter set chosen across all of them.

Pure: takes the market already read and the blotter's orders, returns values. Each order
runs what the single-order backtest :func:`sor.static.backtest.run_backtest` runs on the
snapshots of its window ``[time, end]`` (:func:`sor.static.backtest.run_order`), so its
figures are those of ``sor backtest --start TIME --end END --side SIDE --order-size SIZE``
with the same other settings. The market is laid out for the kernels once per side and
each order replays views of it: work and memory follow the market, not the orders' count
times the market.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sor.core.domain import RiskParameters, StrategyResult
from sor.core.errors import DataError
from sor.core.market import MarketData
from sor.core.search import best_index
from sor.core.types import Side
from sor.data.blotter import Blotter
from sor.static.backtest import BacktestConfig, run_order
from sor.static.replay import MarketArrays

ORDERS_RULE = (
    "one parameter set for every order, chosen across all of them (never per order in "
    "hindsight): fewest unfilled shares summed over the orders, then least cash paid for "
    "the buys minus proceeds of the sells, then earliest in grid order"
)


@dataclass(frozen=True)
class OrderOutcome:
    """One order's backtest, without its fills (memory follows the orders' count, not the
    market's length times it).

    Attributes
    ----------
    config
        The order's configuration: the run's, with the order's window, side and size.
    search
        The router's outcome under each parameter set, in grid order.
    baselines
        Each baseline's outcome, named as in a single-order report.
    """

    config: BacktestConfig
    search: tuple[StrategyResult, ...]
    baselines: dict[str, StrategyResult]


@dataclass(frozen=True)
class OrdersResult:
    """The outcome of a blotter's backtest, ready for the report.

    Attributes
    ----------
    config
        The run's configuration (its window, side and size are each order's own).
    data
        The market, read once.
    blotter
        The orders, as read.
    parameter_sets
        The router's grid, in order.
    orders
        Each order's outcome, in the blotter's order.
    best
        The index of the parameter set chosen across all orders (:data:`ORDERS_RULE`).
    """

    config: BacktestConfig
    data: MarketData
    blotter: Blotter
    parameter_sets: tuple[RiskParameters, ...]
    orders: tuple[OrderOutcome, ...]
    best: int

    @property
    def best_parameters(self) -> RiskParameters:
        """The parameter set chosen for every order."""
        return self.parameter_sets[self.best]

    def router(self, order: int) -> StrategyResult:
        """The router's outcome on order ``order`` under the chosen parameter set."""
        return self.orders[order].search[self.best]

    @property
    def choice_is_arbitrary(self) -> bool:
        """True when every parameter set gave every order the same figures."""
        return all(
            row is o.search[0]  # one outcome shared by every set: the same figures
            or (row.total_fill, row.total_cash_nanos) == (o.search[0].total_fill,
                                                          o.search[0].total_cash_nanos)
            for o in self.orders
            for row in o.search[1:]
        )  # fmt: skip


def window(market: MarketData, start_ns: int, end_ns: int) -> MarketData:
    """Return the snapshots of ``market`` in ``[start_ns, end_ns]`` (a view, not a copy).

    The snapshots are sorted by ``ts_event`` with one row per venue and time, so cutting
    whole times off either end keeps exactly the rows a read of that window keeps.
    """
    ts = market.snapshots["ts_event"]
    lo = int(np.searchsorted(ts, start_ns, side="left"))
    hi = int(np.searchsorted(ts, end_ns, side="right"))
    return dataclasses.replace(market, snapshots=market.snapshots[lo:hi], rows_in_window=hi - lo)


def run_orders(
    market: MarketData,
    blotter: Blotter,
    config: BacktestConfig,
    *,
    workers: int | None = None,
    on_order: Callable[[], None] | None = None,
) -> OrdersResult:
    """Backtest every order of ``blotter`` on its window of ``market`` and choose one
    parameter set across all of them.

    The static router's allocation takes no risk parameter, so each order's router runs
    once and its outcome is every parameter set's (as the single-order search finds it).
    The orders run one after another: ``workers`` does not apply to them.

    Raises
    ------
    DataError
        An order's window holds no snapshot (the message names its line).
    SorError
        As :func:`~sor.static.backtest.run_backtest`.
    """
    sets = tuple(config.grid.parameter_sets())
    snapshots = market.snapshots
    # The market is laid out once, for the first side, and shares its venues and timestamps
    # with the other side's quotes; each order cuts views of them.
    layouts: dict[Side, MarketArrays] = {}
    outcomes = []
    for k in range(len(blotter)):
        side = blotter.sides[k]
        if side not in layouts:
            layouts[side] = (
                next(iter(layouts.values())).on_side(snapshots, side)
                if layouts
                else MarketArrays.from_snapshots(snapshots, side)
            )
        whole = layouts[side]
        start, end = int(blotter.time_ns[k]), int(blotter.end_ns[k])
        # the timestamps of window(market, start, end): its rows are theirs
        first = int(np.searchsorted(whole.group_ts, start, side="left"))
        stop = int(np.searchsorted(whole.group_ts, end, side="right"))
        if stop <= first:
            raise DataError(
                "no snapshot of the data falls in the order's window from time to end",
                path=str(blotter.path), line=blotter.lines[k], column="time",
            )  # fmt: skip
        order = dataclasses.replace(
            config, start_ns=start, end_ns=end, side=side, order_size=int(blotter.sizes[k])
        )
        router, baselines = run_order(whole.between(first, stop), market.source, order)
        outcomes.append(OrderOutcome(config=order, search=(router,) * len(sets),
                                     baselines=baselines))  # fmt: skip
        if on_order is not None:
            on_order()
    # Each order's outcome is every set's, so one total stands for each set (the rule then
    # takes the first). A sell's proceeds count against its cost: one ordering rule.
    unfilled = sum(o.search[0].unfilled for o in outcomes)
    cash = sum(o.config.side.sign * o.search[0].total_cash_nanos for o in outcomes)
    best = best_index([(unfilled, cash)] * len(sets))
    return OrdersResult(config, market, blotter, sets, tuple(outcomes), best)
