"""The report of a blotter's backtest (``--orders``): transaction cost analysis over its
orders (docs/report.md, "tca"), and the per-order table of ``--orders-report``.

Each order's implementation shortfall is measured against its arrival mid: the NBBO mid of
the snapshots after every row at or before the order's time, as the markouts read it
(:data:`sor.report.markouts.SNAPSHOT_MID`).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from sor import __version__
from sor.ck.orders import CK_ORDERS_RULE, CkOrdersResult
from sor.core.defaults import DEFAULT_RESAMPLES, DEFAULT_SEED
from sor.core.domain import NANOS_PER_DOLLAR, NANOS_PER_SECOND, StrategyResult
from sor.core.intervals import CONFIDENCE, MIN_CLUSTERS, cluster_bootstrap_mean
from sor.core.timestamps import format_timestamp
from sor.core.types import Side
from sor.report.builder import Money, savings_bps, summary, venue_costs
from sor.report.ck_report import CK_ORDERS_NOTE, ck_run_entries
from sor.report.markouts import (
    MARKOUT_HORIZONS_S,
    SNAPSHOT_MID,
    TopOfBook,
    mark_out,
    share_weighted,
)
from sor.static.orders import ORDERS_RULE, OrdersResult

BEST_QUOTE = "best_quote"
"""The aggregate's name of the baseline that takes the best quote: ``best_ask`` for a buy,
``best_bid`` for a sell."""

INTERVAL_NOTE = (
    "orders of one day (or, within fewer days than the intervals need, of one hour) share "
    "one price path: the router's mean savings carry a cluster-bootstrap interval that "
    "resamples them together, and none where there are too few clusters (tca.intervals)"
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


MARKOUT_COLUMNS = tuple(f"markout_{h:g}s_bps" for h in MARKOUT_HORIZONS_S)
"""The per-order table's markout columns: ``markout_1s_bps`` and so on."""

SIZE_BUCKETS = (0.5, 1.0, 2.0, 5.0)
"""Edges of the size buckets: an order's size over the displayed depth at its arrival."""


@dataclass(frozen=True)
class OrderRow:
    """One order under one strategy, as every aggregate of the report reads it."""

    order: int
    strategy: str
    """As one order's report names it: ``router``, ``best_ask`` or ``best_bid``, ..."""
    value: StrategyResult
    shortfall: float | None
    saving: float | None
    """The router's paired saving against this strategy (None for the router itself)."""
    versus_vwap: float | None
    """The shortfall against the interval VWAP of the order's window (:func:`interval_vwaps`)."""
    markouts: dict[float, float]
    """Per horizon of :data:`MARKOUT_HORIZONS_S`, the mid's move that many seconds after the
    fill that completed the order (:func:`order_markouts`); NaN where unknown."""

    @property
    def name(self) -> str:
        """The strategy's name in the aggregates: the best quote's is one for both sides."""
        return _aggregate_name(self.strategy)


def displayed_depth(snapshots: np.ndarray, times: np.ndarray, sides: Sequence[Side]) -> np.ndarray:
    """Return the shares displayed at each time on the side an order takes (the asks for a
    buy, the bids for a sell): each venue's top-of-book size after its last row at or
    before the time, summed over the venues that show a price there."""
    ts, venue = snapshots["ts_event"], snapshots["publisher_id"]
    buys = np.array([side is Side.BUY for side in sides], dtype=bool)
    total = np.zeros(len(times), dtype=np.int64)
    for v in np.unique(venue):
        rows = snapshots[venue == v]
        last = np.searchsorted(ts[venue == v], times, side="right") - 1
        seen = last >= 0
        at = rows[np.maximum(last, 0)]
        ask = np.where(at["ask_px"] > 0, at["ask_sz"], 0)
        bid = np.where(at["bid_px"] > 0, at["bid_sz"], 0)
        total += np.where(seen, np.where(buys, ask, bid), 0)
    return total


SIZE_LABELS = (
    f"< {SIZE_BUCKETS[0]:g}x depth",
    *(f"{low:g}-{high:g}x depth" for low, high in itertools.pairwise(SIZE_BUCKETS)),
    f">= {SIZE_BUCKETS[-1]:g}x depth",
    "no depth shown",
)
"""The size buckets' names, smallest first; the last for an arrival with no depth shown."""


def size_bucket(size: int, depth: int) -> str:
    """Name the bucket of an order's size over the displayed depth at its arrival."""
    if depth <= 0:
        return SIZE_LABELS[-1]
    return SIZE_LABELS[bisect.bisect_right(SIZE_BUCKETS, size / depth)]


def hour_of(ns: int) -> str:
    """Name the UTC hour an order arrives in: ``13:00 UTC``."""
    return format_timestamp(ns)[11:13] + ":00 UTC"


def clusters_of(times: np.ndarray) -> tuple[str, list[str]]:
    """Return what clusters the orders (``day``: their UTC date, when they span at least
    :data:`MIN_CLUSTERS` dates; else ``hour``: their UTC date and hour) and each order's
    cluster."""
    stamps = [format_timestamp(int(t)) for t in times]
    days = [stamp[:10] for stamp in stamps]
    if len(set(days)) >= MIN_CLUSTERS:
        return "day", days
    return "hour", [stamp[:13] + ":00" for stamp in stamps]


def interval_vwaps(trades: np.ndarray | None, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return the market's VWAP ($) over each window ``[start, end]`` (ns, inclusive): every
    venue's trade prints in it, weighted by their sizes; NaN without a trade or without
    the trades (``trades`` None). The backtest's own orders are not in the prints."""
    out = np.full(len(starts), np.nan)
    if trades is None or not len(trades):
        return out
    ts = trades["ts_event"]
    lo = np.searchsorted(ts, starts, side="left")
    hi = np.searchsorted(ts, ends, side="right")
    price, size = trades["price"] / NANOS_PER_DOLLAR, trades["size"].astype(np.float64)
    for k, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if b > a:
            out[k] = float(np.dot(price[a:b], size[a:b]) / size[a:b].sum())
    return out


def _ends(result: OrdersResult) -> np.ndarray:
    """Each order's last moment (ns): the end of its window as routed."""
    return np.array([o.config.end_ns for o in result.orders], dtype=np.int64)


def order_markouts(
    completions: Sequence[int | None], signs: Sequence[int], book: TopOfBook
) -> dict[float, np.ndarray]:
    """Return, per horizon of :data:`MARKOUT_HORIZONS_S`, each order's markout: the mid's
    move that many seconds after the fill that completed it, in bps of the mid then,
    positive when the mid moved against the order (down after a buy), as a fill's markout
    (:func:`sor.report.markouts.mark_out`); NaN for an order that did not complete, where
    the data ends first or no mid is known."""
    done = np.array([c is not None for c in completions], dtype=bool)
    at = np.array([c or 0 for c in completions], dtype=np.int64)
    marks = mark_out(at[done], 1, book, MARKOUT_HORIZONS_S)[1]
    out = {}
    for h, values in marks.items():
        full = np.full(len(at), np.nan)
        full[done] = values * np.asarray(signs, dtype=np.float64)[done]
        out[h] = full
    return out


def _rows(result: OrdersResult, mids: np.ndarray, vwaps: np.ndarray) -> list[OrderRow]:
    pairs = [
        (k, name, value)
        for k in range(len(result.orders))
        for name, value in _strategies(result, k).items()
    ]
    signs = [result.orders[k].config.side.sign for k, _, _ in pairs]
    book = TopOfBook.of_snapshots(result.data.snapshots)
    marks = order_markouts([value.completion_ts for _, _, value in pairs], signs, book)
    rows = []
    for i, (k, name, value) in enumerate(pairs):
        side = result.orders[k].config.side
        router = result.router(k)
        rows.append(
            OrderRow(
                order=k, strategy=name, value=value,
                shortfall=shortfall_bps(value.avg_fill_px, float(mids[k]), side),
                saving=None if name == "router" else savings_bps(value, router, side),
                versus_vwap=shortfall_bps(value.avg_fill_px, float(vwaps[k]), side),
                markouts={h: float(values[i]) for h, values in marks.items()},
            )
        )  # fmt: skip
    return rows


def _duration_s(value: StrategyResult, arrival_ns: int) -> float:
    """Seconds from an order's arrival to the fill that completed it."""
    return (int(value.completion_ts or 0) - arrival_ns) / NANOS_PER_SECOND


def _weighted_shortfall(rows: Sequence[OrderRow]) -> float | None:
    """The shortfall of ``rows`` weighted by the shares each filled (None: nothing filled)."""
    return _weighted([(r.shortfall, r.value.total_fill) for r in rows if r.shortfall is not None])


def _weighted(costs: Sequence[tuple[float, int]]) -> float | None:
    """The mean of ``(cost, shares)`` weighted by the shares (None without any share)."""
    measured = sum(q for _, q in costs)
    return sum(c * q for c, q in costs) / measured if measured else None


def _strategy_figures(rows: Sequence[OrderRow], times: np.ndarray) -> dict[str, Any]:
    """Shares, fills, shortfall (share-weighted and per order), completion and duration."""
    shares = sum(r.value.order_size for r in rows)
    filled = sum(r.value.total_fill for r in rows)
    per_order = [r.shortfall for r in rows if r.shortfall is not None]
    done = [r for r in rows if r.value.completion_ts is not None and r.value.unfilled == 0]
    durations = [_duration_s(r.value, int(times[r.order])) for r in done]
    weights = np.array([r.value.total_fill for r in rows], dtype=np.float64)
    return {
        "shares": shares,
        "total_fill": filled,
        "fill_rate": filled / shares if shares else None,
        "shortfall_bps": _weighted_shortfall(rows),
        "shortfall_bps_per_order": float(np.mean(per_order)) if per_order else None,
        "shortfall_vs_interval_vwap_bps": _weighted(
            [(r.versus_vwap, r.value.total_fill) for r in rows if r.versus_vwap is not None]
        ),
        "completed": len(done),
        "duration_s": float(np.mean(durations)) if durations else None,
        "passive_share": sum(r.value.passive_fill for r in rows) / filled if filled else None,
        "markout_bps": {
            str(h): share_weighted(np.array([r.markouts[h] for r in rows]), weights)
            for h in MARKOUT_HORIZONS_S
        },
    }


def _savings(
    rows: Sequence[OrderRow], clusters: Sequence[str], by: str, seed: int
) -> dict[str, Any]:
    """The router's paired savings against one baseline: mean, clustered interval, wins."""
    known = [(r.saving, clusters[r.order]) for r in rows if r.saving is not None]
    interval = cluster_bootstrap_mean(
        [v for v, _ in known], [c for _, c in known], seed=seed, resamples=DEFAULT_RESAMPLES,
        unit="order", cluster=by,
    )  # fmt: skip
    return {
        "orders": interval.units,
        "mean": interval.mean,
        "ci95": None if interval.low is None else [interval.low, interval.high],
        "clusters": interval.clusters,
        "no_interval": interval.why,
        "won": sum(v > 0 for v, _ in known) / len(known) if known else None,
    }


def _breakdown(
    rows: Sequence[OrderRow],
    labels: Sequence[str],
    names: Sequence[str],
    order: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Per label of the orders (in ``order``'s order, else sorted): their count, each
    strategy's share-weighted shortfall and the router's mean saving and share won per
    baseline."""
    out: dict[str, Any] = {}
    present = set(labels)
    for label in [x for x in order if x in present] if order else sorted(present):
        mine = [r for r in rows if labels[r.order] == label]
        out[label] = {
            "orders": len({r.order for r in mine}),
            "shortfall_bps": {
                name: _weighted_shortfall([r for r in mine if r.name == name]) for name in names
            },
            "router_savings_bps": {
                name: _mean_won([r.saving for r in mine if r.name == name]) for name in names[1:]
            },
        }
    return out


def _mean_won(values: Sequence[float | None]) -> dict[str, Any]:
    known = [v for v in values if v is not None]
    return {
        "orders": len(known),
        "mean": float(np.mean(known)) if known else None,
        "won": sum(v > 0 for v in known) / len(known) if known else None,
    }


def build_orders_report(result: OrdersResult) -> dict[str, Any]:
    """Build the report object of a blotter's backtest; the same inputs always give the same
    object."""
    config, data, blotter = result.config, result.data, result.blotter
    ck = isinstance(result, CkOrdersResult)
    mids = arrival_mids(result)
    # model ck compares with passive and static too
    names = tuple(dict.fromkeys(_aggregate_name(raw) for raw in _strategies(result, 0)))
    vwaps = interval_vwaps(data.trades, blotter.time_ns, _ends(result))
    rows = _rows(result, mids, vwaps)
    by, clusters = clusters_of(blotter.time_ns)
    seed = DEFAULT_SEED if config.seed is None else config.seed
    sides = [o.config.side for o in result.orders]
    depth = displayed_depth(data.snapshots, blotter.time_ns, sides)
    buckets = [size_bucket(o.config.order_size, int(d)) for o, d in zip(result.orders, depth,
                                                                         strict=True)]  # fmt: skip
    hours = [hour_of(int(t)) for t in blotter.time_ns]
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
            **(ck_run_entries(result) if isinstance(result, CkOrdersResult) else {}),
        },
        "notes": [ORDERS_NOTE, SHORTFALL_NOTE, INTERVAL_NOTE, *([CK_ORDERS_NOTE] if ck else [])],
        "tca": {
            "orders": len(result.orders),
            "arrival_mid": SNAPSHOT_MID,
            "parameters": {
                "chosen": result.best_parameters.as_dict(),
                "rule": CK_ORDERS_RULE if ck else ORDERS_RULE,
                "parameter_sets": len(result.parameter_sets),
                "choice_is_arbitrary": result.choice_is_arbitrary,
            },
            "strategies": {
                name: _strategy_figures([r for r in rows if r.name == name], blotter.time_ns)
                for name in names
            },
            "router_savings_bps": {
                name: _savings([r for r in rows if r.name == name], clusters, by, seed)
                for name in names[1:]
            },
            "intervals": {
                "kind": "percentile cluster bootstrap of the mean over orders",
                "clusters": by,
                "count": len(set(clusters)),
                "min_clusters": MIN_CLUSTERS,
                "rule": (
                    f"orders are drawn whole by UTC day where they span at least "
                    f"{MIN_CLUSTERS} days, else by UTC hour; no interval from fewer than "
                    f"{MIN_CLUSTERS} clusters"
                ),
                "resamples": DEFAULT_RESAMPLES,
                "confidence": CONFIDENCE,
                "seed": seed,
            },
            "breakdown": {
                "size": _breakdown(rows, buckets, names, SIZE_LABELS),
                "side": _breakdown(rows, [o.config.side.text for o in result.orders], names),
                "time_of_day": _breakdown(rows, hours, names),
            },
        },
    }


def orders_table(result: OrdersResult) -> pl.DataFrame:
    """Return one row per order and strategy: the order's ``id``, ``strategy``, ``side``,
    ``size`` (shares), ``time`` and ``end``, the strategy's ``total_cash`` (exact dollars,
    a sell's proceeds), ``total_fill``, ``avg_fill_px`` ($/share, fees included), the
    ``arrival_mid`` ($) and ``shortfall_bps`` against it, the ``interval_vwap`` ($) of the
    order's window and ``shortfall_vs_interval_vwap_bps`` against it, ``router_saving_bps`` (the
    router's paired saving against this strategy; null on the router's row),
    ``duration_s`` (arrival to the fill that completed it; null when it did not complete),
    ``passive_fill`` (shares its resting orders filled), ``markout_1s_bps`` and the other
    horizons' (:func:`order_markouts`), ``displayed_depth`` (shares shown at arrival on the side it takes), then the blotter's
    carried columns (one named as a column of the table gets the prefix ``order_``, repeated until
    its name is free)."""
    mids = arrival_mids(result)
    times = result.blotter.time_ns
    depth = displayed_depth(result.data.snapshots, times, [o.config.side for o in result.orders])
    rows: dict[str, list[Any]] = {name: [] for name in (
        "id", "strategy", "side", "size", "time", "end", "total_cash", "total_fill",
        "avg_fill_px", "arrival_mid", "shortfall_bps", "interval_vwap",
        "shortfall_vs_interval_vwap_bps", "router_saving_bps", "duration_s",
        "passive_fill", *MARKOUT_COLUMNS, "displayed_depth")}  # fmt: skip
    vwaps = interval_vwaps(result.data.trades, times, _ends(result))
    for row in _rows(result, mids, vwaps):
        k, value = row.order, row.value
        order, mid = result.orders[k].config, float(mids[k])
        cash: Money = summary(value)["total_cash"]
        done = value.completion_ts is not None and value.unfilled == 0
        rows["id"].append(result.blotter.ids[k])
        rows["strategy"].append(row.strategy)
        rows["side"].append(order.side.text)
        rows["size"].append(order.order_size)
        rows["time"].append(format_timestamp(order.start_ns or 0))
        rows["end"].append(format_timestamp(order.end_ns or 0))
        rows["total_cash"].append(Decimal(cash.nanos) / NANOS_PER_DOLLAR)
        rows["total_fill"].append(value.total_fill)
        rows["avg_fill_px"].append(value.avg_fill_px)
        rows["arrival_mid"].append(mid if np.isfinite(mid) else None)
        rows["shortfall_bps"].append(row.shortfall)
        rows["interval_vwap"].append(float(vwaps[k]) if np.isfinite(vwaps[k]) else None)
        rows["shortfall_vs_interval_vwap_bps"].append(row.versus_vwap)
        rows["router_saving_bps"].append(row.saving)
        rows["duration_s"].append(_duration_s(value, int(times[k])) if done else None)
        rows["passive_fill"].append(value.passive_fill)
        for h, column in zip(MARKOUT_HORIZONS_S, MARKOUT_COLUMNS, strict=True):
            mark = row.markouts[h]
            rows[column].append(None if np.isnan(mark) else mark)
        rows["displayed_depth"].append(int(depth[k]))
    table = pl.DataFrame(
        rows,
        schema={
            "id": pl.String, "strategy": pl.String, "side": pl.String, "size": pl.Int64,
            "time": pl.String, "end": pl.String, "total_cash": pl.Decimal(38, 9),
            "total_fill": pl.Int64, "avg_fill_px": pl.Float64, "arrival_mid": pl.Float64,
            "shortfall_bps": pl.Float64, "interval_vwap": pl.Float64,
            "shortfall_vs_interval_vwap_bps": pl.Float64, "router_saving_bps": pl.Float64,
            "duration_s": pl.Float64, "passive_fill": pl.Int64,
            **dict.fromkeys(MARKOUT_COLUMNS, pl.Float64), "displayed_depth": pl.Int64,
        },
    )  # fmt: skip
    carried = result.blotter.carried
    # a carried column named as one of the table's (a "strategy" tag) keeps its values,
    # prefixed until its name is free (the blotter may carry "order_strategy" too)
    taken = set(table.columns) | set(carried.columns)
    renames = {}
    for c in carried.columns:
        if c in table.columns:
            name = f"order_{c}"
            while name in taken:
                name = f"order_{name}"
            taken.add(name)
            renames[c] = name
    carried = carried.rename(renames)
    if carried.width:
        per_row = [k for k in range(len(result.orders)) for _ in _strategies(result, k)]
        table = pl.concat([table, carried[per_row]], how="horizontal")
    return table
