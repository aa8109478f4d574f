"""The model-ck backtest: the full Cont-Kukanov router searched over its risk parameters and
horizon, against the static router, the baselines and a pure passive strategy.

Every strategy completes: what is left at the window's end is bought with marketable
orders. The result (:class:`CkResult`) holds every strategy's shares, money and fills, from
which its report (:mod:`sor.report.ck_report`) adds, per strategy, the implementation
shortfall against the arrival mid (bps), the share filled passively and the rebates earned.

A sell runs the buy machinery on the reflected market (:mod:`sor.ck.mirror`) and maps its
money back; the static strategies sell on the snapshots as the static model does.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np

from sor.ck.mirror import mirror_constant, proceeds, reflect_events
from sor.ck.queue import (
    Book,
    advance,
    attach_venues,
    order_level_venues,
    sweep,
)
from sor.ck.router import CKResult, CKSettings, arrival, outflows, run_ck
from sor.core.defaults import (
    DEFAULT_CK_LAMBDA_OVER,
    DEFAULT_CK_LAMBDA_UNDER,
    DEFAULT_CK_THETA_QUEUE,
    DEFAULT_HORIZONS_S,
)
from sor.core.domain import (
    NANOS_PER_DOLLAR,
    NANOS_PER_SECOND,
    RiskParameters,
    StrategyResult,
    dollars_to_nanos,
)
from sor.core.errors import SorError
from sor.core.market import MarketData
from sor.core.search import SearchGrid, best_index, run_grid, tied_with
from sor.core.types import FillRule, QueueModel, Side
from sor.report.markouts import FillLog, TopOfBook
from sor.static.backtest import BacktestConfig, baseline_names, run_backtest

log = logging.getLogger("sor")

DEFAULT_CK_GRID = SearchGrid(
    lambda_over=DEFAULT_CK_LAMBDA_OVER,
    lambda_under=DEFAULT_CK_LAMBDA_UNDER,
    theta_queue=DEFAULT_CK_THETA_QUEUE,
)
"""Model ck's grid (``SearchGrid.of_model("ck")``), for the tests and the help."""


@dataclass(frozen=True)
class Outcome:
    """A strategy's money and fills, in the form both the report and the figure read.

    Attributes
    ----------
    total_fill
        Shares bought (sold, for a sell order).
    total_cash_nanos
        What they cost, fees paid and rebates earned included (for a sell: the proceeds),
        nano-dollars.
    passive_fill
        Shares of ``total_fill`` filled by resting limit orders.
    rebates_nanos
        Maker rebates earned, nano-dollars.
    completion_ns
        When the last share of the order filled (ns since the epoch), None when the order
        was not completed.
    fills
        Every fill at the market's own prices, with the fee it paid or the rebate it earned;
        None where they are not kept (the search's rows).
    """

    total_fill: int
    total_cash_nanos: int
    passive_fill: int
    rebates_nanos: int
    completion_ns: int | None
    fills: FillLog | None = field(default=None, repr=False, compare=False)

    @property
    def avg_fill_px(self) -> float | None:
        """Average price paid per share, fees and rebates included ($)."""
        if self.total_fill == 0:
            return None
        return float(Fraction(self.total_cash_nanos, self.total_fill * NANOS_PER_DOLLAR))

    @property
    def passive_share(self) -> float | None:
        """The share of the filled shares filled passively, None when none filled."""
        return self.passive_fill / self.total_fill if self.total_fill else None


@dataclass(frozen=True)
class CkSearchRow:
    """The router's outcome for one point of the search: a parameter set and a horizon."""

    parameters: RiskParameters
    horizon_s: float
    outcome: Outcome

    def as_dict(self) -> dict[str, float]:
        """Return the point under its report names: the parameters, then ``horizon_s``."""
        return {**self.parameters.as_dict(), "horizon_s": self.horizon_s}


@dataclass(frozen=True)
class CkResult:
    """The outcome of one model-ck backtest, ready for the report and the figure
    (:func:`sor.report.ck_report.build_ck_report`, :func:`sor.report.figures.ck_figure`).

    One router run of the search is a :class:`sor.ck.router.CKResult`; this is the whole
    backtest's.

    Attributes
    ----------
    config
        The run's configuration (order, side, costs, grid).
    data
        The snapshots the static strategies ran on: the input's name, hash and skipped rows.
    settings
        The simulator's settings: latency, queue model, fill rules.
    horizons_s
        The decision horizons searched, seconds.
    venues
        Publisher ids of the venues, ascending.
    order_level
        Per venue of ``venues``, how the ``FIFO`` queue model sees it
        (:func:`sor.ck.queue.order_level_venues`: 0 where it cannot).
    window_start_ns, window_end_ns
        The window, ns since the epoch, inclusive.
    n_events
        Events in the window.
    arrival_mid_px
        The NBBO mid once every venue has printed ($), of the market itself on a sell; None
        when undefined.
    search
        Every point of the search in grid order, horizons varying fastest.
    best
        Index in ``search`` of the chosen point.
    strategies
        Every strategy's outcome with its fills, in the report's order: ``router`` (at the
        chosen point), ``static``, the baselines of the side, ``passive`` (at the chosen
        point).
    book
        The venues' complete books, top level: what the fills' markouts are measured on.
    """

    config: BacktestConfig
    data: MarketData
    settings: CKSettings
    horizons_s: tuple[float, ...]
    venues: tuple[int, ...]
    order_level: tuple[int, ...]
    window_start_ns: int
    window_end_ns: int
    n_events: int
    arrival_mid_px: float | None
    search: tuple[CkSearchRow, ...]
    best: int
    strategies: dict[str, Outcome]
    book: TopOfBook = field(repr=False)

    @property
    def sell(self) -> bool:
        """True for a sell order."""
        return self.config.side is Side.SELL

    @property
    def router(self) -> Outcome:
        """The router's outcome at the chosen point, with its fills."""
        return self.strategies["router"]

    @property
    def best_row(self) -> CkSearchRow:
        """The point the search chose."""
        return self.search[self.best]

    @property
    def baselines(self) -> dict[str, Outcome]:
        """The strategies the router is compared with, in the report's order: the side's
        baselines, ``passive``, then ``static``."""
        names = (*baseline_names(self.config.side), "passive", "static")
        return {name: self.strategies[name] for name in names}

    @property
    def tied_at_best(self) -> tuple[int, ...]:
        """The points whose shares and cash equal the chosen point's (it among them), in
        grid order: the search chose the earliest of them."""
        sign = self.config.side.sign  # a sell prefers the most proceeds
        return tied_with(
            [(-r.outcome.total_fill, sign * r.outcome.total_cash_nanos) for r in self.search],
            self.best,
        )

    @property
    def search_is_arbitrary(self) -> bool:
        """True when every point gave the same shares and cash: the choice means nothing."""
        return len({(r.outcome.total_fill, r.outcome.total_cash_nanos) for r in self.search}) == 1

    @property
    def queue_model_name(self) -> str:
        """The queue model's name, as ``--queue-model`` spells it."""
        return QueueModel(self.settings.queue_model).text

    @property
    def crossing_fill_name(self) -> str:
        """The crossing-fill rule's name, as ``--crossing-fill`` spells it."""
        return FillRule(self.settings.crossing_fill).text


def _from_ck(result: CKResult, two_c: int = 0) -> Outcome:
    """The outcome of a ck run; ``two_c`` maps a run on the reflected market to a sell."""
    done = [e.ts for e in result.executions]
    filled = result.filled
    cash = proceeds(two_c, filled, result.cash_nanos) if two_c else result.cash_nanos
    return Outcome(filled, cash, result.passive, result.rebates_nanos,
                   max(done) if done and filled >= result.order_size else None)  # fmt: skip


def _with_fills(
    outcome: Outcome, result: CKResult, fees: np.ndarray, rebates: np.ndarray, two_c: int = 0
) -> Outcome:
    """Attach a ck run's fills to its outcome, at the market's own prices (``two_c``: the
    run was on the reflected market), with the fee each paid or the rebate it earned."""
    rows = (
        (e.ts, e.qty, two_c - e.px if two_c else e.px,
         -int(rebates[e.venue]) if e.passive else int(fees[e.venue]))
        for e in result.executions
    )  # fmt: skip
    return replace(outcome, fills=FillLog.of_rows(rows))


@dataclass(frozen=True)
class CkWindow:
    """One order's window made ready for the router: what every run of its search shares.

    Attributes
    ----------
    events
        The window's events with a ``venue`` column; on a sell, those of the reflected
        market (:mod:`sor.ck.mirror`).
    venues
        Publisher ids of the window's venues, ascending.
    two_c
        The mirror constant of a sell (nano-dollars), 0 for a buy.
    start_ns, end_ns
        The window, ns since the epoch, inclusive.
    order_size
        Shares to buy (or sell).
    fees, rebates
        Per venue of ``venues``, the taker fee and the maker rebate, nano-dollars per share.
    flows
        Per venue, the outflow of its best bid (:func:`sor.ck.router.outflows`).
    arrival_ns
        When every venue of the window has printed once.
    arrival_mid_px
        The NBBO mid then ($) of ``events``: of the reflected market on a sell.
    settings
        The simulator's settings.
    """

    events: np.ndarray = field(repr=False)
    venues: np.ndarray
    two_c: int
    start_ns: int
    end_ns: int
    order_size: int
    fees: np.ndarray
    rebates: np.ndarray
    flows: tuple[list[np.ndarray], list[np.ndarray]] = field(repr=False)
    arrival_ns: int
    arrival_mid_px: float | None
    settings: CKSettings

    def run(
        self, parameters: RiskParameters, horizon_s: float, *, passive_only: bool = False
    ) -> CKResult:
        """Run the ck router (or, with ``passive_only``, the passive strategy) on the window."""
        return run_ck(self.events, self.venues, self.order_size, self.fees, self.rebates,
                      parameters, horizon_s, (self.start_ns, self.end_ns), self.settings,
                      passive_only=passive_only, flows=self.flows,
                      arrival_ns=self.arrival_ns)  # fmt: skip

    def outcome(self, result: CKResult) -> Outcome:
        """The outcome of a run on this window, its money mapped back on a sell; no fills."""
        return _from_ck(result, self.two_c)

    def with_fills(self, result: CKResult) -> Outcome:
        """The outcome of a run on this window with its fills at the market's own prices."""
        return _with_fills(_from_ck(result, self.two_c), result, self.fees, self.rebates,
                           self.two_c)  # fmt: skip


def ck_window(
    events: np.ndarray,
    config: BacktestConfig,
    settings: CKSettings,
    horizons_s: tuple[float, ...],
    source: str,
) -> CkWindow:
    """Make the window's ``events`` ready for the router on ``config``'s order.

    Raises
    ------
    SorError
        The window holds no event, the shortest horizon would decide too often over it
        (:data:`MAX_DECISIONS`), or the queue model needs what the input lacks.
    """
    sell = config.side is Side.SELL
    two_c = mirror_constant(events) if sell else 0
    events, venues = attach_venues(events)
    if sell:  # on the copy the venues were attached to: this window's own
        events = reflect_events(events, two_c, in_place=True)
    if len(events) == 0:
        raise SorError(f"no rows of {source} fall in the window; check --start/--end")
    start = config.start_ns if config.start_ns is not None else int(events["ts_event"][0])
    end = config.end_ns if config.end_ns is not None else int(events["ts_event"][-1])
    _check_decisions(end - start, horizons_s)
    fees = np.array([dollars_to_nanos(config.costs.fee(int(v))) for v in venues], np.int64)
    rebates = np.array([dollars_to_nanos(config.costs.rebate(int(v))) for v in venues], np.int64)
    settings.book(events, venues)  # fifo on an input without order ids fails here, once
    arrival_ns, mid = arrival(events, venues)
    return CkWindow(events, venues, two_c, start, end, config.order_size, fees, rebates,
                    outflows(events, len(venues)), arrival_ns, mid, settings)  # fmt: skip


def snapshot_outcomes(
    window: CkWindow, market: MarketData, config: BacktestConfig
) -> dict[str, Outcome]:
    """Run the static router at zero penalties and the baselines on the window's snapshots
    ``market``, each completed at the window's end with marketable orders: ``static``, then
    the side's baselines."""
    static = run_backtest(market, replace(config, grid=SearchGrid((0.0,), (0.0,), (0.0,))))
    final = Book.empty(window.venues, window.events["ask_px"].shape[1])
    advance(window.events, 0, window.end_ns, final, 0, 0)
    last_row_ns = np.full(len(window.venues), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_row_ns, window.events["venue"], window.events["ts_event"])
    return {
        name: _complete(result, final, last_row_ns, window.fees, window.end_ns, window.two_c)
        for name, result in {"static": static.router, **static.baselines}.items()
    }


def warn_latency(settings: CKSettings, window_ns: int, orders: str = "") -> None:
    """Warn when the entry latency is not shorter than a window of ``window_ns``: no limit
    order reaches a book before its end (``orders``: which orders' windows, for a blotter)."""
    if settings.latency.median_ns < window_ns:
        return
    log.warning(
        "warning: --latency-us %g is not shorter than the %s s window%s: no order of the "
        "router or of passive reaches a book before its end, where both complete with "
        "marketable orders", settings.latency.median_ns / 1_000,
        f"{window_ns / NANOS_PER_SECOND:,.6g}", orders,
    )  # fmt: skip


def run_ck_backtest(
    events: np.ndarray,
    market: MarketData,
    config: BacktestConfig,
    *,
    horizons_s: tuple[float, ...] = DEFAULT_HORIZONS_S,
    settings: CKSettings | None = None,
    workers: int | None = None,
    on_progress: Callable[[], None] | None = None,
) -> CkResult:
    """Run the model-ck backtest; its report is :func:`sor.report.ck_report.build_ck_report`.

    ``events`` are every row of the window (:func:`sor.data.events.read_events`, or an event
    stream's); ``market`` the snapshots of the same rows, for the static strategies.
    """
    settings = settings or CKSettings()
    window = ck_window(events, config, settings, horizons_s, market.source)
    warn_latency(settings, window.end_ns - window.start_ns)
    mid = window.arrival_mid_px
    if window.two_c:  # the mid of the market itself, not of its reflection: exact and unrounded
        mid = arrival(attach_venues(events)[0], window.venues)[1]
    size = config.order_size
    points = [
        (params, horizon)
        for params, horizon in itertools.product(config.grid.parameter_sets(), horizons_s)
    ]

    def evaluate(point: tuple[RiskParameters, float]) -> CKResult:
        return window.run(*point)

    # processes: a run is mostly Python, which holds the GIL (the forked workers inherit the
    # events and the arrays above)
    results = run_grid(evaluate, points, workers=workers, on_done=on_progress, processes=True)
    table = [window.outcome(r) for r in results]
    sign = config.side.sign  # a sell prefers the most proceeds
    best = best_index([(size - o.total_fill, sign * o.total_cash_nanos) for o in table])
    passive = window.run(*points[best], passive_only=True)
    outcomes = {
        "router": window.with_fills(results[best]),
        **snapshot_outcomes(window, market, config),
        "passive": window.with_fills(passive),
    }
    return CkResult(
        config=config,
        data=market,
        settings=settings,
        horizons_s=tuple(horizons_s),
        venues=tuple(int(v) for v in window.venues),
        order_level=tuple(int(v) for v in order_level_venues(window.events, window.venues)),
        window_start_ns=window.start_ns,
        window_end_ns=window.end_ns,
        n_events=len(window.events),
        arrival_mid_px=mid,
        search=tuple(
            CkSearchRow(params, horizon, outcome)
            for (params, horizon), outcome in zip(points, table, strict=True)
        ),
        best=best,
        strategies=outcomes,
        book=TopOfBook.of_events(events),
    )


MAX_DECISIONS = 200_000
"""Decisions one parameter set may take (window over horizon): each costs milliseconds."""


def _check_decisions(window_ns: int, horizons_s: tuple[float, ...]) -> None:
    """Raise ``SorError`` when the shortest horizon would decide too often over the window."""
    shortest = min(horizons_s)
    decisions = window_ns / (shortest * NANOS_PER_SECOND)
    if decisions > MAX_DECISIONS:
        raise SorError(
            f"--horizon {shortest:g} s over a window of {window_ns / NANOS_PER_SECOND:,.0f} s "
            f"means {decisions:,.0f} decisions per parameter set (at most {MAX_DECISIONS:,}): "
            "use a longer horizon or a narrower window"
        )


def _complete(
    result: StrategyResult,
    final: Book,
    last_row_ns: np.ndarray,
    fees: np.ndarray,
    end: int,
    two_c: int = 0,
) -> Outcome:
    """Buy what a snapshot strategy left at the window's end with marketable orders.

    Each strategy sweeps its own copy of the final book (each runs on its own state), less
    what it bought itself from a venue's best ask since that venue's last row: that size
    stays consumed until a next row, which the window no longer holds. With ``two_c`` the
    strategy sold and ``final`` is the reflected book: its asks are the bids.
    """
    filled, cash, done_ns = result.total_fill, result.total_cash_nanos, result.completion_ts
    rows = [(f.ts_event, f.quantity, dollars_to_nanos(f.price), dollars_to_nanos(f.fee))
            for f in result.fills]  # fmt: skip
    if filled < result.order_size:
        own = replace(final, consumed=final.consumed.copy())
        for fill in result.fills:
            v = int(np.searchsorted(final.venues, fill.publisher_id))
            price = dollars_to_nanos(fill.price)
            if two_c:
                price = two_c - price
            if fill.ts_event >= last_row_ns[v] and price == own.ask_px[v, 0]:
                own.consumed[v, 0] = min(own.consumed[v, 0] + fill.quantity, own.ask_sz[v, 0])
        got = sweep(own, result.order_size - filled)
        for v, q, p in zip(got.venue, got.qty, got.px, strict=True):
            price = two_c - int(p) if two_c else int(p)
            cash += int(q) * ((price - int(fees[v])) if two_c else (price + int(fees[v])))
            filled += int(q)
            rows.append((end, int(q), price, int(fees[v])))
        done_ns = end if filled >= result.order_size else None
    return Outcome(filled, cash, 0, 0, done_ns, FillLog.of_rows(rows))
