"""The JSON report of the model-ck backtest (docs/report.md), built from its typed result.

Its sections and their order are the static model's (:func:`sor.report.builder.assemble`);
the figures ck adds are each strategy's implementation shortfall against the arrival mid,
share filled passively and rebates, the horizon in the search, the simulator's settings,
and the router's realised cost split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sor import __version__
from sor.ck.backtest import CkResult, Outcome
from sor.ck.orders import CkOrdersResult
from sor.ck.queue import fill_rule_entries, queue_model_entries
from sor.report.builder import (
    BUY_RULE,
    SELL_RULE,
    Money,
    assemble,
    completion,
    report_window,
    savings_bps,
    summary,
    tie_entry,
    tie_note,
    unfilled_note,
    venue_costs,
)
from sor.report.markouts import EVENT_MID, cost_split, markouts_section

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

CK_SHORT = (
    "the marketable orders that complete every strategy at the window's end found too "
    "little displayed on the {quotes}"
)

CK_ORDERS_NOTE = (
    "model ck: every strategy completes, the remainder at the order's end taken with "
    "marketable orders; router and passive run on every event with queue positions, "
    "latency, fees and rebates, the other strategies on the snapshots"
)


def ck_run_entries(result: CkOrdersResult) -> dict[str, Any]:
    """Return what a blotter's ``run`` records under model ck: the events read, the
    simulator's settings and the horizons searched, as a single order's report does."""
    settings = result.settings
    events = result.data.events
    return {
        "events": 0 if events is None else len(events),
        "latency": settings.latency.as_dict(),
        **queue_model_entries(
            settings.queue_model,
            settings.fallback_queue_model,
            np.asarray(result.venues),
            np.asarray(result.order_level),
        ),
        **fill_rule_entries(settings.crossing_fill, settings.trade_fill),
        "horizons_s": list(result.horizons_s),
    }


def build_ck_report(result: CkResult) -> dict[str, Any]:
    """Build the model-ck report object; the same result always gives the same object."""
    config, router, settings = result.config, result.router, result.settings
    size, mid = config.order_size, result.arrival_mid_px
    return assemble(
        config.side,
        best_parameters=result.best_row.as_dict(),
        optimized=summary(router),
        baselines={name: summary(o) for name, o in result.baselines.items()},
        savings_vs_baselines_bps={
            name: savings_bps(o, router, config.side) for name, o in result.baselines.items()
        },
        strategies={
            name: _details(o, size, mid, result.sell) for name, o in result.strategies.items()
        },
        search={
            "parameter_sets": len(result.search),
            "choice_is_arbitrary": result.search_is_arbitrary,
            "tied_at_best": tie_entry(result.tied_at_best),
            "rule": SELL_RULE if result.sell else BUY_RULE,
            "table": [
                {
                    **row.as_dict(),
                    **summary(row.outcome),
                    "passive_share": row.outcome.passive_share,
                }
                for row in result.search
            ],
        },
        run={
            "version": __version__,
            "model": "ck",
            "input": result.data.source,
            "input_sha256": result.data.sha256,
            "seed": config.seed,
            "order_size": size,
            "window": report_window(result.window_start_ns, result.window_end_ns),
            "events": result.n_events,
            "skipped_rows": dict(sorted(result.data.skipped.items())),
            "arrival_mid": mid,
            "latency": settings.latency.as_dict(),
            **queue_model_entries(
                settings.queue_model,
                settings.fallback_queue_model,
                np.asarray(result.venues),
                np.asarray(result.order_level),
            ),
            **fill_rule_entries(settings.crossing_fill, settings.trade_fill),
            "horizons_s": list(result.horizons_s),
            "venues": venue_costs(config.costs, result.venues),
        },
        notes=[
            *(SELL_NOTES if result.sell else BUY_NOTES),
            *tie_note(result.tied_at_best, len(result.search)),
            *unfilled_note(
                {name: size - o.total_fill for name, o in result.strategies.items()},
                size,
                CK_SHORT.format(quotes="bids" if result.sell else "asks"),
            ),
        ],
        markouts=ck_markouts(result),
    )


def ck_markouts(result: CkResult) -> dict[str, Any]:
    """Return the report's ``markouts`` of model ck: every strategy's fills against the NBBO
    mid of the venues' complete books, and the router's realised cost split."""
    side = result.config.side.sign
    fills = {name: o.fills for name, o in result.strategies.items() if o.fills is not None}
    markouts = markouts_section(EVENT_MID, result.book, side, fills)
    router = result.router.fills
    markouts["cost_split"] = (
        cost_split(router, side, result.book, result.arrival_mid_px) if router is not None else None
    )
    return markouts


def _details(outcome: Outcome, size: int, mid: float | None, sell: bool) -> dict[str, Any]:
    """Return a strategy's entry of ``strategies``: completion, implementation shortfall
    against the arrival mid (bps, positive = a cost), share filled passively, rebates."""
    price = outcome.avg_fill_px
    shortfall = None
    if price is not None and mid:
        # positive = a cost on both sides: paying above the mid, or selling below it
        shortfall = ((mid - price) if sell else (price - mid)) / mid * 10_000
    return {
        **completion(size - outcome.total_fill, outcome.completion_ns),
        "implementation_shortfall_bps": shortfall,
        "passive_share": outcome.passive_share,
        "rebates": Money(outcome.rebates_nanos),
    }
