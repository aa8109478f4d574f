"""The report of a blotter's backtest (``--orders``): transaction cost analysis over its
orders (docs/report.md, "tca"), and the per-order table of ``--orders-report``.

Each order's implementation shortfall is measured against its arrival mid: the NBBO mid of
the snapshots after every row at or before the order's time, as the markouts read it
(:data:`sor.report.markouts.SNAPSHOT_MID`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from sor import __version__
from sor.core.domain import NANOS_PER_DOLLAR, StrategyResult
from sor.core.timestamps import format_timestamp
from sor.core.types import Side
from sor.report.builder import Money, savings_bps, summary, venue_costs
from sor.report.markouts import SNAPSHOT_MID, TopOfBook
from sor.static.orders import ORDERS_RULE, OrdersResult

BEST_QUOTE = "best_quote"
"""The aggregate's name of the baseline that takes the best quote: ``best_ask`` for a buy,
``best_bid`` for a sell."""

NO_INTERVAL_NOTE = (
    "the router's savings are given as a mean and a share of orders won, without a "
    "confidence interval yet: orders of the same day share one price path, so an interval "
    "must resample them by cluster"
)
ORDERS_NOTE = (
    "each order is routed on its own window [time, end] of the market, by the router and by "
    "every baseline: its figures are those of sor backtest --start TIME --end END --side "
    "SIDE --order-size SIZE"
)
SHORTFALL_NOTE = (
    "implementation shortfall is against the arrival mid, fees included, positive = a "
    "cost: (avg_fill_px - mid) / mid for a buy, (mid - avg_fill_px) / mid for a sell"
)


def arrival_mids(result: OrdersResult) -> np.ndarray:
    """Return each order's arrival mid ($): the NBBO mid at its time (NaN where a side of
    the book shows no price)."""
    return TopOfBook.of_snapshots(result.data.snapshots).mids_at(result.blotter.time_ns)


def shortfall_bps(price: float | None, mid: float, side: Side) -> float | None:
    """Return the implementation shortfall of an average price against ``mid`` in bps,
    positive = a cost; None when either is unknown."""
    if price is None or not np.isfinite(mid) or not mid:
        return None
    return side.sign * (price - mid) / mid * 10_000


def _strategies(result: OrdersResult, order: int) -> dict[str, StrategyResult]:
    """The order's outcome per strategy: the router's under the chosen set, then each
    baseline under its single-order name."""
    return {"router": result.router(order), **result.orders[order].baselines}


def _aggregate_name(name: str) -> str:
    return BEST_QUOTE if name in ("best_ask", "best_bid") else name


def build_orders_report(result: OrdersResult) -> dict[str, Any]:
    """Build the report object of a blotter's backtest; the same inputs always give the same
    object."""
    config, data, blotter = result.config, result.data, result.blotter
    mids = arrival_mids(result)
    names = ("router", BEST_QUOTE, "twap", "vwap")
    size = {name: 0 for name in names}
    filled = {name: 0 for name in names}
    weighted = {name: 0.0 for name in names}
    measured = {name: 0 for name in names}
    savings: dict[str, list[float]] = {name: [] for name in names[1:]}
    for k, outcome in enumerate(result.orders):
        side = outcome.config.side
        strategies = _strategies(result, k)
        for raw, value in strategies.items():
            name = _aggregate_name(raw)
            size[name] += value.order_size
            filled[name] += value.total_fill
            cost = shortfall_bps(value.avg_fill_px, float(mids[k]), side)
            if cost is not None:
                weighted[name] += cost * value.total_fill
                measured[name] += value.total_fill
            if name != "router":
                saving = savings_bps(value, strategies["router"], side)
                if saving is not None:
                    savings[name].append(saving)
    return {
        "run": {
            "version": __version__,
            "model": config.model,
            "input": data.source,
            "input_sha256": data.sha256,
            "seed": config.seed,
            "orders_file": str(blotter.path),
            "rows_read": data.rows_read,
            "snapshots": len(data.snapshots),
            "skipped_rows": dict(sorted(data.skipped.items())),
            "venues": venue_costs(config.costs, (int(v) for v in data.venues)),
            "grid": {
                "lambda_over": list(config.grid.lambda_over),
                "lambda_under": list(config.grid.lambda_under),
                "theta_queue": list(config.grid.theta_queue),
            },
        },
        "notes": [ORDERS_NOTE, SHORTFALL_NOTE, NO_INTERVAL_NOTE],
        "tca": {
            "orders": len(result.orders),
            "arrival_mid": SNAPSHOT_MID,
            "parameters": {
                "chosen": result.best_parameters.as_dict(),
                "rule": ORDERS_RULE,
                "parameter_sets": len(result.parameter_sets),
                "choice_is_arbitrary": result.choice_is_arbitrary,
            },
            "strategies": {
                name: {
                    "shares": size[name],
                    "total_fill": filled[name],
                    "fill_rate": filled[name] / size[name] if size[name] else None,
                    "shortfall_bps": weighted[name] / measured[name] if measured[name] else None,
                }
                for name in names
            },
            "router_savings_bps": {
                name: {
                    "orders": len(values),
                    "mean": float(np.mean(values)) if values else None,
                    "won": sum(v > 0 for v in values) / len(values) if values else None,
                }
                for name, values in savings.items()
            },
        },
    }


def orders_table(result: OrdersResult) -> pl.DataFrame:
    """Return one row per order and strategy: the order's ``id``, ``strategy``, ``side``,
    ``size`` (shares), ``time`` and ``end``, the strategy's ``total_cash`` (exact dollars,
    a sell's proceeds), ``total_fill``, ``avg_fill_px`` ($/share, fees included), the
    ``arrival_mid`` ($) and ``shortfall_bps`` against it, then the blotter's carried
    columns (one named as a column of the table gets the prefix ``order_``)."""
    mids = arrival_mids(result)
    rows: dict[str, list[Any]] = {name: [] for name in (
        "id", "strategy", "side", "size", "time", "end", "total_cash", "total_fill",
        "avg_fill_px", "arrival_mid", "shortfall_bps")}  # fmt: skip
    carried_rows: list[int] = []
    for k, outcome in enumerate(result.orders):
        order, mid = outcome.config, float(mids[k])
        for name, value in _strategies(result, k).items():
            figures = summary(value)
            cash: Money = figures["total_cash"]
            rows["id"].append(result.blotter.ids[k])
            rows["strategy"].append(name)
            rows["side"].append(order.side.text)
            rows["size"].append(order.order_size)
            rows["time"].append(format_timestamp(order.start_ns or 0))
            rows["end"].append(format_timestamp(order.end_ns or 0))
            rows["total_cash"].append(Decimal(cash.nanos) / NANOS_PER_DOLLAR)
            rows["total_fill"].append(value.total_fill)
            rows["avg_fill_px"].append(value.avg_fill_px)
            rows["arrival_mid"].append(mid if np.isfinite(mid) else None)
            rows["shortfall_bps"].append(shortfall_bps(value.avg_fill_px, mid, order.side))
            carried_rows.append(k)
    table = pl.DataFrame(
        rows,
        schema={
            "id": pl.String, "strategy": pl.String, "side": pl.String, "size": pl.Int64,
            "time": pl.String, "end": pl.String, "total_cash": pl.Decimal(38, 9),
            "total_fill": pl.Int64, "avg_fill_px": pl.Float64, "arrival_mid": pl.Float64,
            "shortfall_bps": pl.Float64,
        },
    )  # fmt: skip
    carried = result.blotter.carried
    # a carried column named as one of the table's (a "strategy" tag) keeps its values
    carried = carried.rename({c: f"order_{c}" for c in carried.columns if c in table.columns})
    if carried.width:
        table = pl.concat([table, carried[carried_rows]], how="horizontal")
    return table
