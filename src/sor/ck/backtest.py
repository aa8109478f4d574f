"""The model-ck backtest: the full Cont-Kukanov router searched over its risk parameters and
horizon, against the static router, the baselines and a pure passive strategy.

Every strategy completes: what is left at the window's end is bought with marketable
orders. The report adds, per strategy, the implementation shortfall against the arrival
mid (bps), the share filled passively and the rebates earned.

A sell runs the buy machinery on the reflected market (:mod:`sor.ck.mirror`) and maps its
money back; the static strategies sell on the snapshots as the static model does.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import numpy as np

from sor import __version__
from sor.ck.mirror import mirror_constant, proceeds, reflect_events
from sor.ck.queue import (
    Book,
    advance,
    attach_venues,
    fill_rule_entries,
    order_level_venues,
    queue_model_entries,
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
from sor.core.search import SearchGrid, best_index, run_grid
from sor.core.timestamps import format_timestamp
from sor.report.builder import BUY_RULE, SELL_RULE, Money, completion, savings_bps, summary
from sor.report.markouts import EVENT_MID, FillLog, TopOfBook, cost_split, markouts_section
from sor.static.backtest import BacktestConfig, baseline_names, run_backtest

log = logging.getLogger("sor")

DEFAULT_CK_GRID = SearchGrid(
    lambda_over=DEFAULT_CK_LAMBDA_OVER,
    lambda_under=DEFAULT_CK_LAMBDA_UNDER,
    theta_queue=DEFAULT_CK_THETA_QUEUE,
)


@dataclass(frozen=True)
class Outcome:
    """A strategy's money and fills in the common form of the report."""

    total_fill: int
    total_cash_nanos: int
    passive: int
    rebates_nanos: int
    completion_ns: int | None
    fills: FillLog | None = field(default=None, repr=False, compare=False)

    @property
    def avg_fill_px(self) -> float | None:
        """Average price paid per share, fees and rebates included ($)."""
        if self.total_fill == 0:
            return None
        return float(Fraction(self.total_cash_nanos, self.total_fill * NANOS_PER_DOLLAR))


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


def run_ck_backtest(
    events: np.ndarray,
    market: MarketData,
    config: BacktestConfig,
    *,
    horizons_s: tuple[float, ...] = DEFAULT_HORIZONS_S,
    settings: CKSettings | None = None,
    workers: int | None = None,
    on_progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run the model-ck backtest and return the report object.

    ``events`` are every row of the window (:func:`sor.data.events.read_events`, or an event
    stream's); ``market`` the snapshots of the same rows, for the static strategies.
    """
    settings = settings or CKSettings()
    sell = config.side == "sell"
    two_c = mirror_constant(events) if sell else 0
    original = events
    if sell:
        events = reflect_events(events, two_c)
    events, venues = attach_venues(events)
    if len(events) == 0:
        raise SorError(f"no rows of {market.source} fall in the window; check --start/--end")
    start = config.start_ns if config.start_ns is not None else int(events["ts_event"][0])
    end = config.end_ns if config.end_ns is not None else int(events["ts_event"][-1])
    _check_decisions(end - start, horizons_s)
    if settings.latency.median_ns >= end - start:
        log.warning(
            "warning: --latency-us %g is not shorter than the %s s window: no order of the "
            "router or of passive reaches a book before its end, where both complete with "
            "marketable orders", settings.latency.median_ns / 1_000,
            f"{(end - start) / NANOS_PER_SECOND:,.6g}",
        )  # fmt: skip
    fees = np.array([dollars_to_nanos(config.costs.fee(int(v))) for v in venues], np.int64)
    rebates = np.array([dollars_to_nanos(config.costs.rebate(int(v))) for v in venues], np.int64)
    settings.book(events, venues)  # fifo on an input without order ids fails here, once
    flows = outflows(events, len(venues))
    arrival_ns, mid = arrival(events, venues)
    if sell:  # the mid of the market itself, not of its reflection: exact and unrounded
        mid = arrival(attach_venues(original)[0], venues)[1]
    size = config.order_size
    points = [
        (params, horizon)
        for params, horizon in itertools.product(config.grid.parameter_sets(), horizons_s)
    ]

    def evaluate(point: tuple[RiskParameters, float]) -> CKResult:
        params, horizon = point
        return run_ck(events, venues, size, fees, rebates, params, horizon, (start, end),
                      settings, flows=flows, arrival_ns=arrival_ns)  # fmt: skip

    # processes: a run is mostly Python, which holds the GIL (the forked workers inherit the
    # events and the arrays above)
    results = run_grid(evaluate, points, workers=workers, on_done=on_progress, processes=True)
    table = [_from_ck(r, two_c) for r in results]
    sign = -1 if sell else 1  # a sell prefers the most proceeds
    best = best_index([(size - o.total_fill, sign * o.total_cash_nanos) for o in table])
    passive = run_ck(events, venues, size, fees, rebates, points[best][0], points[best][1],
                     (start, end), settings, passive_only=True, flows=flows,
                     arrival_ns=arrival_ns)  # fmt: skip

    static = run_backtest(market, replace(config, grid=SearchGrid((0.0,), (0.0,), (0.0,))))
    final = Book.empty(venues, events["ask_px"].shape[1])
    advance(events, 0, end, final, 0, 0)
    last_row_ns = np.full(len(venues), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(last_row_ns, events["venue"], events["ts_event"])
    outcomes = {"router": _with_fills(table[best], results[best], fees, rebates, two_c)}
    for name, result in {"static": static.router, **static.baselines}.items():
        outcomes[name] = _complete(result, final, last_row_ns, fees, end, two_c)
    outcomes["passive"] = _with_fills(_from_ck(passive, two_c), passive, fees, rebates, two_c)
    params, horizon = points[best]
    names = [*baseline_names(config.side), "passive", "static"]
    router = outcomes["router"]
    report: dict[str, Any] = {
        "best_parameters": {**params.as_dict(), "horizon_s": horizon},
        "optimized": summary(router),
        "baselines": {name: summary(outcomes[name]) for name in names},
        "savings_vs_baselines_bps": {
            name: savings_bps(outcomes[name], router, config.side) for name in names
        },
        "strategies": {name: _details(o, size, mid, sell) for name, o in outcomes.items()},
        "search": {
            "parameter_sets": len(points),
            "choice_is_arbitrary": len({(r.filled, r.cash_nanos) for r in results}) == 1,
            "rule": SELL_RULE if sell else BUY_RULE,
            "table": [
                {
                    **p.as_dict(),
                    "horizon_s": h,
                    **summary(o),
                    "passive_share": r.passive / r.filled if r.filled else None,
                }
                for (p, h), r, o in zip(points, results, table, strict=True)
            ],
        },
        "run": {
            "version": __version__,
            "model": "ck",
            "input": market.source,
            "input_sha256": market.sha256,
            "seed": config.seed,
            "order_size": size,
            "window": {"start": format_timestamp(start), "end": format_timestamp(end)},
            "events": len(events),
            "skipped_rows": dict(sorted(market.skipped.items())),
            "arrival_mid": mid,
            "latency": settings.latency.as_dict(),
            **queue_model_entries(
                settings.queue_model,
                settings.fallback_queue_model,
                venues,
                order_level_venues(events, venues),
            ),
            **fill_rule_entries(settings.crossing_fill, settings.trade_fill),
            "horizons_s": list(horizons_s),
            "venues": {
                str(v): {"fee": config.costs.fee(int(v)), "rebate": config.costs.rebate(int(v))}
                for v in venues
            },
        },
        "notes": SELL_NOTES if sell else BUY_NOTES,
    }
    if sell:
        # a buy report carries no side, so buy reports stay as they were
        report["run"] = {"side": "sell", **report["run"]}
    # last, so that the keys before it read as they always have
    book, side = TopOfBook.of_events(original), -1 if sell else 1
    markouts = markouts_section(
        EVENT_MID,
        book,
        side,
        {name: o.fills for name, o in outcomes.items() if o.fills is not None},
    )
    markouts["cost_split"] = (
        cost_split(router.fills, side, book, mid) if router.fills is not None else None
    )
    report["markouts"] = markouts
    return report


BUY_NOTES = [
    "every strategy completes: the remainder at the window's end is bought with "
    "marketable orders sweeping the displayed asks",
    "best_ask, twap, vwap and static run on the snapshots (first row per venue and timestamp); router and "
    "passive on every event with queue positions, latency, fees and rebates",
    "vwap weights its buckets by displayed ask size over the whole window (hindsight)",
]
SELL_NOTES = [
    "every strategy completes: the remainder at the window's end is sold with "
    "marketable orders sweeping the displayed best bids",
    BUY_NOTES[1].replace("best_ask", "best_bid"),
    "vwap weights its buckets by displayed bid size over the whole window (hindsight)",
    "limit sells rest at each venue's best ask; implementation shortfall is "
    "(arrival mid - avg_fill_px) / arrival mid, so a cost is positive",
]


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


def _details(outcome: Outcome, size: int, mid: float | None, sell: bool = False) -> dict[str, Any]:
    price = outcome.avg_fill_px
    shortfall = None
    if price is not None and mid:
        # positive = a cost on both sides: paying above the mid, or selling below it
        shortfall = ((mid - price) if sell else (price - mid)) / mid * 10_000
    return {
        **completion(size - outcome.total_fill, outcome.completion_ns),
        "implementation_shortfall_bps": shortfall,
        "passive_share": outcome.passive / outcome.total_fill if outcome.total_fill else None,
        "rebates": Money(outcome.rebates_nanos),
    }
