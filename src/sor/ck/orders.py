"""Many parent orders over one market under model ck: each routed on its own window by the
full router at every point of the search and by every baseline, one point chosen across all
of them.

Pure: takes the market already read with its events and the blotter's orders, returns
values. Each order is the single-order backtest of :func:`sor.ck.backtest.run_ck_backtest`
on the events and snapshots of its window ``[time, end]``, so its figures are those of
``sor backtest --model ck --start TIME --end END --side SIDE --order-size SIZE`` with the
same other settings, wherever one point of the search is chosen for both.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sor.ck.backtest import (
    MAX_DECISIONS,
    CkWindow,
    Outcome,
    ck_window,
    snapshot_outcomes,
    warn_latency,
)
from sor.ck.queue import order_level_venues
from sor.ck.router import CKSettings
from sor.core.defaults import DEFAULT_HORIZONS_S
from sor.core.domain import NANOS_PER_SECOND, RiskParameters, StrategyResult
from sor.core.errors import DataError
from sor.core.market import MarketData
from sor.core.search import best_index, run_grid
from sor.data.blotter import Blotter
from sor.static.backtest import BacktestConfig, baseline_names
from sor.static.orders import OrderOutcome, OrdersResult, window

CK_ORDERS_RULE = (
    "one point of the search (a parameter set and a horizon) for every order, chosen across "
    "all of them (never per order in hindsight): fewest unfilled shares summed over the "
    "orders, then least cash paid for the buys minus proceeds of the sells, then earliest "
    "in grid order, horizons varying fastest; passive rests its orders at that point"
)


@dataclass(frozen=True)
class CkPoint(RiskParameters):
    """A point of model ck's search: a parameter set and its decision horizon (seconds)."""

    horizon_s: float

    @property
    def parameters(self) -> RiskParameters:
        """The point's parameter set alone."""
        return RiskParameters(self.lambda_over, self.lambda_under, self.theta_queue)

    def as_dict(self) -> dict[str, float]:
        """Return the point under its report names: the parameters, then ``horizon_s``."""
        return {**super().as_dict(), "horizon_s": self.horizon_s}


@dataclass(frozen=True)
class CkOrdersResult(OrdersResult):
    """The outcome of a blotter's backtest under model ck, read by the report as the static
    model's (:class:`~sor.static.orders.OrdersResult`).

    ``parameter_sets`` are the points of the search (:class:`CkPoint`), in grid order with
    horizons varying fastest; each order's ``search`` holds the router's outcome at each,
    and its ``baselines`` the side's baselines, ``passive`` (at the chosen point) and
    ``static``, as a single order's report names them. Every outcome carries its
    ``passive_fill``.

    Attributes
    ----------
    settings
        The simulator's settings: latency, queue model, fill rules.
    horizons_s
        The decision horizons searched, seconds.
    venues
        Publisher ids of the market's venues, ascending.
    order_level
        Per venue of ``venues``, how the ``FIFO`` queue model sees it over the whole market
        (:func:`sor.ck.queue.order_level_venues`: 0 where it cannot).
    """

    settings: CKSettings
    horizons_s: tuple[float, ...]
    venues: tuple[int, ...]
    order_level: tuple[int, ...]


def order_passes(points: int) -> int:
    """Return how many times :func:`run_ck_orders` reports each order done: once (passive
    runs with the router, at each horizon of the search)."""
    return 1


def _strategy(name: str, outcome: Outcome, order_size: int) -> StrategyResult:
    """The figures of ``outcome`` in the static model's form, without its fills."""
    return StrategyResult(name, order_size, outcome.total_fill, outcome.total_cash_nanos,
                          outcome.completion_ns, passive_fill=outcome.passive_fill)  # fmt: skip


def run_ck_orders(
    market: MarketData,
    blotter: Blotter,
    config: BacktestConfig,
    *,
    horizons_s: tuple[float, ...] = DEFAULT_HORIZONS_S,
    settings: CKSettings | None = None,
    workers: int | None = None,
    on_order: Callable[[], None] | None = None,
) -> CkOrdersResult:
    """Backtest every order of ``blotter`` on its window of ``market`` (with its events)
    under model ck and choose one point of the search across all of them.

    Orders run in parallel on ``workers`` processes; ``on_order`` is called as each is done,
    :func:`order_passes` times per order.

    Raises
    ------
    DataError
        An order's window holds no snapshot or no event, or its shortest horizon would decide
        more than :data:`~sor.ck.backtest.MAX_DECISIONS` times over it (file, line, column).
    SorError
        As :func:`~sor.ck.backtest.run_ck_backtest`.
    """
    events = market.events
    assert events is not None, "model ck reads every event of the market"
    settings = settings or CKSettings()
    points = tuple(
        CkPoint(p.lambda_over, p.lambda_under, p.theta_queue, horizon)
        for p, horizon in itertools.product(config.grid.parameter_sets(), horizons_s)
    )
    orders = [_order(config, blotter, k) for k in range(len(blotter))]
    spans = [_span(market, events, blotter, k, min(horizons_s)) for k in range(len(blotter))]
    lengths = blotter.end_ns - blotter.time_ns
    short = np.flatnonzero(lengths <= settings.latency.median_ns)
    if len(short):  # one warning for the blotter, not one per order
        first = int(short[0])
        warn_latency(settings, int(lengths[first]), f" of {len(short)} of the orders (the "
                     f"first: line {blotter.lines[first]})")  # fmt: skip

    def prepare(k: int) -> CkWindow:
        lo, hi = spans[k]
        return ck_window(events[lo:hi], orders[k], settings, horizons_s, market.source)

    # passive splits its orders equally whatever the parameters: its outcome at a point is
    # its outcome at the point's horizon, so each order runs it once per horizon, beside the
    # router, and its window is prepared once (no second pass once the point is chosen)
    passive_points = {p.horizon_s: p for p in reversed(points)}

    def route(
        k: int,
    ) -> tuple[tuple[StrategyResult, ...], dict[str, StrategyResult], dict[float, StrategyResult]]:
        order, ready = orders[k], prepare(k)
        size = order.order_size
        search = tuple(
            _strategy("router", ready.outcome(ready.run(p.parameters, p.horizon_s)), size)
            for p in points
        )
        cut = window(market, int(blotter.time_ns[k]), int(blotter.end_ns[k]))
        baselines = {name: _strategy(name, o, size)
                     for name, o in snapshot_outcomes(ready, cut, order).items()}  # fmt: skip
        passives = {h: _passive(ready, p, size) for h, p in passive_points.items()}
        return search, baselines, passives

    # processes: a run is mostly Python, which holds the GIL (the forked workers inherit the
    # market and its events; each order's window is cut and prepared in its worker)
    routed = run_grid(route, range(len(orders)), workers=workers, on_done=on_order,
                      processes=True)  # fmt: skip
    unfilled = [sum(s[p].unfilled for s, _, _ in routed) for p in range(len(points))]
    # a sell's proceeds count against its cost: one ordering rule for both sides
    cash = [
        sum(o.side.sign * s[p].total_cash_nanos
            for o, (s, _, _) in zip(orders, routed, strict=True))
        for p in range(len(points))
    ]  # fmt: skip
    best = best_index(list(zip(unfilled, cash, strict=True)))
    chosen_s = points[best].horizon_s
    outcomes = tuple(
        OrderOutcome(order, search, {
            name: {**baselines, "passive": passives[chosen_s]}[name]
            for name in (*baseline_names(order.side), "passive", "static")
        })
        for order, (search, baselines, passives) in zip(orders, routed, strict=True)
    )  # fmt: skip
    venues, order_level = _order_level(events)
    return CkOrdersResult(config, market, blotter, points, outcomes, best, settings,
                          tuple(horizons_s), venues, order_level)  # fmt: skip


def _order_level(events: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return the venues of ``events`` and how the ``FIFO`` queue model sees each, from
    their venue and source alone (not a copy of every event)."""
    venues = np.unique(events["publisher_id"]).astype(np.int64)
    keys = np.empty(len(events), np.dtype([("venue", np.int64), ("source", np.uint8)]))
    keys["venue"] = np.searchsorted(venues, events["publisher_id"])
    keys["source"] = events["source"]
    views = order_level_venues(keys, venues)
    return tuple(int(v) for v in venues), tuple(int(v) for v in views)


def _order(config: BacktestConfig, blotter: Blotter, k: int) -> BacktestConfig:
    """The configuration of order ``k``: the run's, with the order's window, side and size."""
    return dataclasses.replace(
        config, start_ns=int(blotter.time_ns[k]), end_ns=int(blotter.end_ns[k]),
        side=blotter.sides[k], order_size=int(blotter.sizes[k]),
    )  # fmt: skip


def _passive(ready: CkWindow, point: CkPoint, size: int) -> StrategyResult:
    """Passive's outcome on a window at ``point``: equal limit orders, no market order."""
    result = ready.run(point.parameters, point.horizon_s, passive_only=True)
    return _strategy("passive", ready.outcome(result), size)


def _span(
    market: MarketData, events: np.ndarray, blotter: Blotter, k: int, shortest_s: float
) -> tuple[int, int]:
    """Return the rows of ``events`` in order ``k``'s window, checked.

    Raises
    ------
    DataError
        The window holds no snapshot or no event, or ``shortest_s`` would decide too often.
    """
    start, end = int(blotter.time_ns[k]), int(blotter.end_ns[k])
    path, line = str(blotter.path), blotter.lines[k]
    if len(window(market, start, end).snapshots) == 0:
        raise DataError("no snapshot of the data falls in the order's window from time to end",
                        path=path, line=line, column="time")  # fmt: skip
    ts = events["ts_event"]
    lo = int(np.searchsorted(ts, start, side="left"))
    hi = int(np.searchsorted(ts, end, side="right"))
    if lo == hi:
        raise DataError("no event of the data falls in the order's window from time to end",
                        path=path, line=line, column="time")  # fmt: skip
    decisions = (end - start) / (shortest_s * NANOS_PER_SECOND)
    if decisions > MAX_DECISIONS:
        raise DataError(
            f"--horizon {shortest_s:g} s over the order's window of "
            f"{(end - start) / NANOS_PER_SECOND:,.0f} s means {decisions:,.0f} decisions per "
            f"parameter set (at most {MAX_DECISIONS:,}): use a longer horizon or an earlier end",
            path=path, line=line, column="end",
        )  # fmt: skip
    return lo, hi
