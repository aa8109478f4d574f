"""One backtest: the router's parameter search and the baselines over one market.

Pure: takes snapshots already read (from a file or a stream) and returns values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from sor.core.defaults import DEFAULT_ORDER_SIZE, DEFAULT_SIDE
from sor.core.domain import STEP, RiskParameters, StrategyResult, VenueCosts
from sor.core.errors import ConfigError, SorError
from sor.core.market import MarketData
from sor.core.search import SearchGrid, best_index, run_grid, tied_with
from sor.core.types import Side
from sor.static.allocator import validate_order_size
from sor.static.baselines import best_ask_targets, twap_targets, vwap_targets
from sor.static.replay import (
    MarketArrays,
    check_market_notional,
    displayed_size,
    run_router,
    run_sweep,
)

MODELS = ("static", "ck")


def baseline_names(side: Side | str) -> tuple[str, ...]:
    """Return the baselines of a ``side`` order: ``best_bid`` stands for ``best_ask`` when
    selling (docs/semantics.md section 10)."""
    return Side.parse(side).baselines


_MODEL_GRID = SearchGrid()
"""The grid a configuration is given when none is: replaced by its model's own."""


@dataclass(frozen=True)
class BacktestConfig:
    """Everything that decides a backtest's numbers; recorded in the report.

    Attributes
    ----------
    order_size
        Shares to buy or sell, a positive multiple of 100.
    start_ns, end_ns
        Window bounds (inclusive, ns since the epoch) the data was cut to, or None for the
        first and last kept timestamps; they also set the TWAP/VWAP buckets.
    costs
        Taker fees and maker rebates per venue.
    grid
        The search lists; by default the model's own (``SearchGrid.of_model``: model ck
        searches fewer, smaller penalties).
    model
        ``static``: the static Cont-Kukanov allocator of docs/semantics.md section 5; ``ck``: the
        full model on the queue simulator (``sor.ck.backtest``).
    seed
        Seed of the generated data, when the data was generated; recorded only.
    side
        ``Side.BUY`` takes the asks; ``Side.SELL`` takes the bids for the most proceeds
        (docs/semantics.md section 10). Its name (``"sell"``) is taken too.
    """

    order_size: int = DEFAULT_ORDER_SIZE
    start_ns: int | None = None
    end_ns: int | None = None
    costs: VenueCosts = field(default_factory=VenueCosts)
    grid: SearchGrid = field(default=_MODEL_GRID)
    model: str = "static"
    seed: int | None = None
    side: Side = field(default_factory=lambda: Side.parse(DEFAULT_SIDE))

    def __post_init__(self) -> None:
        validate_order_size(self.order_size)
        object.__setattr__(self, "side", Side.parse(self.side))
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.grid is _MODEL_GRID:  # not given: the model's own
            object.__setattr__(self, "grid", SearchGrid.of_model(self.model))
        if self.start_ns is not None and self.end_ns is not None and self.end_ns < self.start_ns:
            raise ConfigError("the window ends before it starts (--end is before --start)")


@dataclass(frozen=True)
class SearchRow:
    """The router's outcome for one parameter set."""

    parameters: RiskParameters
    result: StrategyResult


@dataclass(frozen=True)
class Unfilled:
    """Why the static router ended short: it sends only when one timestamp's displayed
    quotes take the whole remainder in lots of ``STEP`` shares (docs/semantics.md section 5).

    Attributes
    ----------
    remainder
        Shares the router still needed at the window's end.
    largest_displayed
        The largest displayed total of the window: at one timestamp, the top-of-book size
        of the side the order takes, summed over the venues (shares).
    largest_in_lots
        The same with each venue's size rounded down to whole lots of ``STEP`` shares: the
        largest order the router could have sent at once.
    """

    remainder: int
    largest_displayed: int
    largest_in_lots: int


@dataclass(frozen=True)
class BacktestResult:
    """The outcome of one backtest, ready for the report and the plot."""

    config: BacktestConfig
    data: MarketData
    venues: tuple[int, ...]
    n_timestamps: int
    window_start_ns: int
    window_end_ns: int
    search: tuple[SearchRow, ...]
    best: int
    baselines: dict[str, StrategyResult]
    displayed_size: np.ndarray = field(repr=False)
    group_ts: np.ndarray = field(repr=False)
    unfilled: Unfilled | None = None
    """Why the router ended short, None when it filled the whole order."""

    @property
    def router(self) -> StrategyResult:
        """The router's result under the best parameter set."""
        return self.search[self.best].result

    @property
    def best_parameters(self) -> RiskParameters:
        """The parameter set the search chose."""
        return self.search[self.best].parameters

    @property
    def tied_at_best(self) -> tuple[int, ...]:
        """The sets whose shares and cash equal the chosen set's (it among them), in grid
        order: the search chose the earliest of them."""
        sign = self.config.side.sign  # a sell prefers the most proceeds
        return tied_with(
            [(row.result.unfilled, sign * row.result.total_cash_nanos) for row in self.search],
            self.best,
        )

    @property
    def search_is_arbitrary(self) -> bool:
        """True when every parameter set gave the same fills, so the choice means nothing."""
        first = self.search[0].result
        return all(
            row.result.total_cash_nanos == first.total_cash_nanos
            and row.result.total_fill == first.total_fill
            and row.result.fills == first.fills
            for row in self.search[1:]
        )


def check_venues(costs: VenueCosts, venues: np.ndarray) -> None:
    """Raise ``ConfigError`` when fees or rebates name a venue absent from the data."""
    known = {int(v) for v in venues}
    named = {v for v, _ in costs.fees} | {v for v, _ in costs.rebates}
    unknown = sorted(named - known)
    if unknown:
        raise ConfigError(
            f"fees/rebates configured for unknown venue(s) {unknown}; the data has "
            f"publisher_id {sorted(known)}"
        )


def run_backtest(
    data: MarketData,
    config: BacktestConfig,
    *,
    workers: int | None = None,
    on_progress: Callable[[], None] | None = None,
) -> BacktestResult:
    """Run the router for every parameter set and the three baselines on ``data``.

    Raises
    ------
    SorError
        The window holds no data, or the configuration names venues the data lacks.
    """
    if len(data.snapshots) == 0:
        raise SorError(
            f"no rows of {data.source} fall in the window; check --start/--end "
            "against the file's ts_event range"
        )
    market = MarketArrays.from_snapshots(data.snapshots, config.side)
    fee_nanos, start, end = _checked(market, data.source, config)
    size = config.order_size

    def evaluate(params: RiskParameters) -> SearchRow:
        with _naming(data.source):
            router = run_router(market, fee_nanos, size)
        return SearchRow(params, router.to_result("router", size, market, fee_nanos))

    rows = run_grid(evaluate, config.grid.parameter_sets(), workers=workers, on_done=on_progress)
    # a sell prefers the most proceeds: negating the cash keeps one ordering rule
    sign = -1 if market.sell else 1
    best = best_index([(row.result.unfilled, sign * row.result.total_cash_nanos) for row in rows])
    displayed = displayed_size(market)
    baselines = _baselines(market, fee_nanos, config, (start, end), displayed, with_fills=True)
    remainder = rows[best].result.unfilled
    unfilled = None
    if remainder > 0:
        in_lots = displayed_size(market, STEP)
        unfilled = Unfilled(remainder, int(displayed.max()), int(in_lots.max()))
    return BacktestResult(
        config=config,
        data=data,
        venues=tuple(int(v) for v in market.venues),
        n_timestamps=market.n_timestamps,
        window_start_ns=start,
        window_end_ns=end,
        search=tuple(rows),
        best=best,
        baselines=baselines,
        displayed_size=displayed,
        group_ts=market.group_ts,
        unfilled=unfilled,
    )


def run_order(
    market: MarketArrays, source: str, config: BacktestConfig
) -> tuple[StrategyResult, dict[str, StrategyResult]]:
    """Backtest one order of a blotter: return the router's outcome and each baseline's,
    without their fills, as :func:`run_backtest` finds them on the same rows.

    ``market`` holds the rows of the order's window, laid out for its side (a cut of the
    whole market's arrays: :meth:`MarketArrays.between`); ``source`` names them in errors.
    The router runs once: its allocation takes no risk parameter (:func:`run_router`), so
    that one outcome is every parameter set's.

    Raises
    ------
    SorError
        As :func:`run_backtest`.
    """
    fee_nanos, start, end = _checked(market, source, config)
    size = config.order_size
    with _naming(source):
        router = run_router(market, fee_nanos, size)
    displayed = displayed_size(market)
    return (
        router.to_result("router", size, market, fee_nanos, with_fills=False),
        _baselines(market, fee_nanos, config, (start, end), displayed, with_fills=False),
    )


def _checked(
    market: MarketArrays, source: str, config: BacktestConfig
) -> tuple[np.ndarray, int, int]:
    """Check ``config`` against ``market``; return each venue's fee (nano-dollars per share)
    and the window's bounds (ns) that set the TWAP and VWAP buckets."""
    check_venues(config.costs, market.venues)
    fee_nanos = config.costs.fee_nanos(market.venues)
    with _naming(source):
        check_market_notional(market, fee_nanos, config.order_size)
    start = config.start_ns if config.start_ns is not None else int(market.group_ts[0])
    end = config.end_ns if config.end_ns is not None else int(market.group_ts[-1])
    return fee_nanos, start, end


def _baselines(
    market: MarketArrays,
    fee_nanos: np.ndarray,
    config: BacktestConfig,
    window: tuple[int, int],
    displayed: np.ndarray,
    *,
    with_fills: bool,
) -> dict[str, StrategyResult]:
    """Run each baseline on ``market``, in the report's order."""
    size, (start, end) = config.order_size, window
    # Targets are built one baseline at a time: on long files each is an array as long as
    # the market, and peak memory is a stated goal.
    targets = {
        baseline_names(config.side)[0]: lambda: best_ask_targets(market.n_timestamps, size),
        "twap": lambda: twap_targets(market.group_ts, size, start, end),
        "vwap": lambda: vwap_targets(market.group_ts, displayed, size, start, end),
    }
    return {
        name: run_sweep(market, fee_nanos, size, target()).to_result(
            name, size, market, fee_nanos, with_fills=with_fills
        )
        for name, target in targets.items()
    }


@contextmanager
def _naming(source: str) -> Iterator[None]:
    """Prefix an error about the data (money past exact arithmetic) with its source."""
    try:
        yield
    except SorError as exc:
        raise SorError(f"{source}: {exc}") from None
