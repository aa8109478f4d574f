"""The report of ``sor evaluate --orders`` (docs/evaluate.md, "Over a blotter").

Each order is routed on the day whose data holds its time. Each day's parameter set is
chosen on the orders of the ``train_days`` days before it (days holding orders), then
scored on that day's orders one by one against the baselines; the mean over the scored
orders carries an interval that resamples the orders of one trading date together, and
the cost analysis of :mod:`sor.report.tca` is taken over the same orders.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sor.core.domain import StrategyResult
from sor.core.errors import DataError, SorError
from sor.core.intervals import CONFIDENCE, MIN_CLUSTERS
from sor.core.search import best_index
from sor.core.timestamps import format_timestamp
from sor.core.types import Side
from sor.data.blotter import OPEN_END, Blotter
from sor.evaluation.report import (
    RunRecord,
    _run,
    _spread,
    dated_aggregate,
    day_of,
    distinct_days,
    order_days,
    series_of,
)
from sor.evaluation.tasks import NO_TIME, OrdersDay, parameter_sets
from sor.evaluation.walkforward import walk_forward
from sor.report.builder import Money, savings_bps, summary
from sor.report.markouts import MARKOUT_HORIZONS_S, SNAPSHOT_MID
from sor.report.tca import (
    BEST_QUOTE,
    SIZE_LABELS,
    OrderRow,
    _breakdown,
    _strategy_figures,
    hour_of,
    shortfall_bps,
    size_bucket,
)

log = logging.getLogger("sor")

BASELINES = (BEST_QUOTE, "twap", "vwap")
"""The baselines the savings are aggregated against: the best quote stands for the best
ask of a buy and the best bid of a sell."""

WALK_FORWARD_RULE = (
    "for each day holding orders after the first train_days such days: the parameter set "
    "with the fewest unfilled shares summed over the orders of the train_days days before "
    "it, then the least cash paid for their buys minus proceeds of their sells, then the "
    "earliest in grid order (the rule of sor backtest --orders over those days' orders)"
)
ORDERS_RULE = (
    "each order is routed on the day whose data (its first to its last row) holds the "
    "order's time, on its own window [time, end] (an order without an end ends with its "
    "day), by the router under every parameter set and by every baseline; a day holding no "
    "order is not read, and neither trains nor is scored"
)


@dataclass(frozen=True)
class _Order:
    """One routed order: its row in the blotter, its day and its place in the day's arrays."""

    index: int
    day: int
    at: int


def build_orders_evaluation(
    outcomes: Sequence[OrdersDay], blotter: Blotter, settings: RunRecord, *, skip_bad_rows: bool
) -> dict[str, Any]:
    """Build the report object of a blotter's evaluation; the same outcomes, blotter and
    settings give the same object.

    Raises
    ------
    DataError
        An order's time falls in no day's data, or in two days' (naming its line).
    SorError
        The days hold several instruments, or too few days hold orders to score one.
    """
    routed = [o for o in outcomes if len(o.orders)]
    distinct, dropped = distinct_days(routed)
    for source in dropped:
        log.warning("%s repeats an earlier input's content: counted once", source)
    days = order_days(distinct)
    _check_one_instrument(days)
    skipped = _placed(days, outcomes, blotter, skip_bad_rows)
    keys = [_choice_keys(day, blotter) for day in days]
    chosen = walk_forward(keys, settings.train_days)
    best = [best_index(k) for k in keys]
    if all(c is None for c in chosen):
        k = settings.train_days
        raise SorError(
            f"--train-days {k} needs at least {k + 1} days holding orders of {blotter.path} "
            f"to score one out of sample; {len(days)} day(s) hold any"
        )
    orders = [
        _Order(int(k), d, at) for d, day in enumerate(days) for at, k in enumerate(day.orders)
    ]
    picked = [(o, c) for o in orders if (c := chosen[o.day]) is not None]
    scored = [o for o, _ in picked]
    in_sample = [_savings(days[o.day], o, blotter, best[o.day]) for o in scored]
    out_of_sample = [_savings(days[o.day], o, blotter, c) for o, c in picked]
    dates = [day_of(days[o.day]) for o in scored]
    sets = parameter_sets(settings.config, settings.horizons_s)
    scored_days = [d for d in range(len(days)) if chosen[d] is not None]
    return {
        "summary": {
            "days": len(days),
            "scored_days": len(scored_days),
            "train_days": settings.train_days,
            "orders": len(orders),
            "scored_orders": len(scored),
            "days_without_orders": len(outcomes) - len(routed),
            "skipped_orders": dict(sorted(skipped.items())),
            "savings_vs_baselines_bps": {
                name: {
                    "in_sample": _aggregate([s[name] for s in in_sample], dates, settings),
                    "out_of_sample": _aggregate([s[name] for s in out_of_sample], dates, settings),
                }
                for name in BASELINES
            },
        },
        "parameters": {
            "sets": sets,
            "out_of_sample": _spread([c for c in chosen if c is not None], sets),
            "in_sample": _spread([best[d] for d in scored_days], sets),
        },
        "days": [
            _day(number, day, blotter, sets, best[number], chosen[number], settings.train_days)
            for number, day in enumerate(days)
        ],
        "orders": [
            _order(o, days[o.day], blotter, best[o.day], chosen[o.day])
            for o in sorted(orders, key=lambda o: o.index)
        ],
        "tca": _tca(days, scored, blotter, chosen),
        "method": {
            "orders": ORDERS_RULE,
            "walk_forward": WALK_FORWARD_RULE,
            "in_sample": "each day's own best set over its orders (the choice of sor backtest "
            "--data DAY --orders ITS_ORDERS)",
            "aggregates": "over the orders of the scored days, each order's savings paired "
            "(the same order on the same market); an order whose savings are null is left out",
            "bootstrap": {
                "kind": "percentile",
                "statistic": "mean of the orders' savings",
                "clusters": "trading dates (UTC): the orders of one date share its price path "
                "and are resampled together",
                "min_clusters": MIN_CLUSTERS,
                "resamples": settings.resamples,
                "confidence": CONFIDENCE,
                "seed": settings.seed,
                "generator": "numpy.random.default_rng(seed).integers, one resample after "
                "the other; the same seed for every interval",
            },
            "win": "an order's savings > 0 (the router paid less than the baseline on a buy, "
            "received more on a sell)",
        },
        "run": {
            **{k: v for k, v in _run(settings).items() if k != "order_size"},
            "orders_file": str(blotter.path),
            "orders_read": len(blotter),
        },
    }


def drawn_blotter(outcomes: Sequence[OrdersDay]) -> tuple[Blotter, list[OrdersDay]]:
    """Join the orders each day drew (``--arrivals``) into one blotter, and point each
    day's orders into it; return the blotter and the days.

    The blotter holds the days' orders in the days' order (:func:`order_days`; a day
    whose input repeats an earlier one's content drew the same orders, held once),
    each day's in time order, numbered from 1 (``id``) and from line 2 as a file of them
    reads: written out (``--orders-out``), ``--orders`` reads back the same orders. An
    order routed with an order horizon carries its end.
    """
    import dataclasses

    import polars as pl

    from sor.data.arrivals import ARRIVALS

    distinct, _ = distinct_days([o for o in outcomes if o.drawn is not None])
    offsets: dict[tuple[str, str | None], int] = {}
    parts: list[Blotter] = []
    count = 0
    for day in order_days(distinct):
        assert day.drawn is not None
        offsets[series_of(day), day.sha256] = count
        parts.append(day.drawn)
        count += len(day.drawn)
    blotter = Blotter(
        path=ARRIVALS, ids=tuple(str(k + 1) for k in range(count)),
        time_ns=np.concatenate([p.time_ns for p in parts] or [np.zeros(0, dtype=np.int64)]),
        end_ns=np.concatenate([p.end_ns for p in parts] or [np.zeros(0, dtype=np.int64)]),
        sides=tuple(side for p in parts for side in p.sides),
        sizes=np.concatenate([p.sizes for p in parts] or [np.zeros(0, dtype=np.int64)]),
        lines=tuple(range(2, count + 2)), carried=pl.DataFrame(),
    )  # fmt: skip
    days = []
    for day in outcomes:
        if day.drawn is not None:  # a repeated day's draw is its first's: the same orders
            offset = offsets[series_of(day), day.sha256]
            day = dataclasses.replace(
                day, orders=day.orders + offset, drawn=None,
                skipped=tuple((k + offset, reason) for k, reason in day.skipped),
            )  # fmt: skip
        days.append(day)
    return blotter, days


def _check_one_instrument(days: Sequence[OrdersDay]) -> None:
    """Refuse days of several instruments: a blotter's orders name none."""
    labels = dict.fromkeys(series_of(day) for day in days)
    if len(labels) > 1:
        named = dict.fromkeys(day.instrument or "no instrument_id" for day in days)
        raise SorError(
            f"--orders: the days hold more than one instrument ({', '.join(named)}), and a "
            "blotter's orders name none: evaluate one instrument's days"
        )


def _placed(
    days: Sequence[OrdersDay], outcomes: Sequence[OrdersDay], blotter: Blotter, skip: bool
) -> Counter[str]:
    """Check that every order of ``blotter`` was routed on one day, or left out by
    ``--skip-bad-rows`` (``skip``); return the orders left out per reason.

    Raises
    ------
    DataError
        An order's time falls in two days' data, or (without ``skip``) in none.
    """
    owner: dict[int, str] = {}
    for day in days:
        for k in day.orders.tolist():
            if k in owner:
                raise DataError(
                    f"{format_timestamp(int(blotter.time_ns[k]))} falls in the data of two "
                    f"days, {owner[k]} and {day.source}",
                    path=str(blotter.path), line=blotter.lines[k], column="time",
                )  # fmt: skip
            owner[k] = day.source
    reasons = {k: reason for outcome in outcomes for k, reason in outcome.skipped}
    for k in range(len(blotter)):
        if k in owner or k in reasons:
            continue
        if not skip:
            raise DataError(
                f"{format_timestamp(int(blotter.time_ns[k]))} falls in no day's data (an "
                "order is routed on the day whose first to last row holds its time)",
                path=str(blotter.path), line=blotter.lines[k], column="time",
            )  # fmt: skip
        reasons[k] = "time_outside_data"
    if reasons and len(reasons) == len(blotter):
        raise DataError("no order is left in the days' data (--skip-bad-rows left out "
                        f"{len(reasons)})", path=str(blotter.path))  # fmt: skip
    return Counter(reasons.values())


def _choice_keys(day: OrdersDay, blotter: Blotter) -> list[tuple[int, int]]:
    """Per parameter set, what the choice minimises over the day's orders: unfilled shares,
    then the cash paid for the buys minus the proceeds of the sells (nano-dollars)."""
    sizes = blotter.sizes[day.orders]
    signs = np.array([blotter.sides[k].sign for k in day.orders.tolist()], dtype=np.int64)
    unfilled = (sizes[:, None] - day.search[:, :, 0]).sum(axis=0)
    cash = (signs[:, None] * day.search[:, :, 1]).sum(axis=0)
    return [(int(u), int(c)) for u, c in zip(unfilled, cash, strict=True)]


def _result(name: str, size: int, figures: np.ndarray) -> StrategyResult:
    """An outcome of :class:`OrdersDay`'s arrays as the report's functions read it."""
    fill, cash, done = (int(v) for v in figures)
    return StrategyResult(name, size, fill, cash, None if done == NO_TIME else done)


def _strategies(
    day: OrdersDay, order: _Order, blotter: Blotter, chosen: int
) -> dict[str, StrategyResult]:
    """The order's outcome per strategy: the router's under the set ``chosen``, then each
    baseline under its single-order name."""
    size = int(blotter.sizes[order.index])
    side = blotter.sides[order.index]
    return {
        "router": _result("router", size, day.search[order.at, chosen]),
        **{
            name: _result(name, size, day.baselines[order.at, b])
            for b, name in enumerate(side.baselines)
        },
    }


def _savings(
    day: OrdersDay, order: _Order, blotter: Blotter, chosen: int
) -> dict[str, float | None]:
    """The router's savings on the order under the set ``chosen``, per aggregated baseline."""
    strategies = _strategies(day, order, blotter, chosen)
    side = blotter.sides[order.index]
    router = strategies.pop("router")
    return {
        aggregate: savings_bps(value, router, side)
        for aggregate, value in zip(BASELINES, strategies.values(), strict=True)
    }


def _aggregate(
    values: Sequence[float | None], dates: Sequence[str], settings: RunRecord
) -> dict[str, Any]:
    """The orders' savings aggregated over their trading dates (as days' are)."""
    return dated_aggregate(values, dates, settings, unit="order")


def _mean(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.mean(known)) if known else None


def _day_savings(
    day: OrdersDay, number: int, blotter: Blotter, chosen: int
) -> dict[str, float | None]:
    """The mean of the savings of the day's orders under the set ``chosen``."""
    savings = [
        _savings(day, _Order(int(k), number, at), blotter, chosen)
        for at, k in enumerate(day.orders.tolist())
    ]
    return {name: _mean([s[name] for s in savings]) for name in BASELINES}


def _day(
    number: int,
    day: OrdersDay,
    blotter: Blotter,
    sets: Sequence[dict[str, float]],
    best: int,
    chosen: int | None,
    train_days: int,
) -> dict[str, Any]:
    keys = _choice_keys(day, blotter)
    search = day.search[:, :, :2]
    record: dict[str, Any] = {
        "day": number,
        "input": day.source,
        "instrument": day.instrument,
        "input_sha256": day.sha256,
        "window": day.window,
        "orders": len(day.orders),
        "best_parameters": sets[best],
        "choice_is_arbitrary": bool((search == search[:, :1]).all()),
        "savings_vs_baselines_bps": _day_savings(day, number, blotter, best),
        "out_of_sample": None,
    }
    if chosen is not None:
        record["out_of_sample"] = {
            "trained_on": list(range(number - train_days, number)),
            "set": chosen,
            "parameters": sets[chosen],
            "savings_vs_baselines_bps": _day_savings(day, number, blotter, chosen),
        }
    record["search"] = [{"unfilled": u, "net_cash": Money(c)} for u, c in keys]
    return record


def _figures(value: StrategyResult, mid: float, side: Side) -> dict[str, Any]:
    return {**summary(value), "shortfall_bps": shortfall_bps(value.avg_fill_px, mid, side)}


def _routed(day: OrdersDay, order: _Order, blotter: Blotter, chosen: int) -> dict[str, Any]:
    """The router's figures on the order under the set ``chosen``, and its savings."""
    strategies = _strategies(day, order, blotter, chosen)
    side = blotter.sides[order.index]
    router = strategies.pop("router")
    return {
        "set": chosen,
        "router": _figures(router, float(day.arrival_mid[order.at]), side),
        "savings_vs_baselines_bps": {
            name: savings_bps(value, router, side) for name, value in strategies.items()
        },
    }


def _order(
    order: _Order, day: OrdersDay, blotter: Blotter, best: int, chosen: int | None
) -> dict[str, Any]:
    k = order.index
    side = blotter.sides[k]
    end = int(blotter.end_ns[k]) if day.ends is None else int(day.ends[order.at])
    mid = float(day.arrival_mid[order.at])
    baselines = _strategies(day, order, blotter, best)
    del baselines["router"]
    carried = blotter.carried
    return {
        "id": blotter.ids[k],
        "line": blotter.lines[k],
        "day": order.day,
        "time": format_timestamp(int(blotter.time_ns[k])),
        "end": day.window["end"] if end == OPEN_END else format_timestamp(end),
        "side": side.text,
        "size": int(blotter.sizes[k]),
        "arrival_mid": mid if np.isfinite(mid) else None,
        "displayed_depth": int(day.depth[order.at]),
        "carried": carried.row(k, named=True) if carried.width else {},
        "baselines": {name: _figures(value, mid, side) for name, value in baselines.items()},
        "in_sample": _routed(day, order, blotter, best),
        "out_of_sample": None if chosen is None else _routed(day, order, blotter, chosen),
    }


def _order_markouts(day: OrdersDay, at: int, chosen: int) -> list[list[float]]:
    """The markouts of the day's order ``at`` per strategy (the router under the set
    ``chosen``, then each baseline), per horizon; NaN where the day measured none."""
    if day.markouts is None or day.baseline_markouts is None:
        return [[float("nan")] * len(MARKOUT_HORIZONS_S)] * 4
    return [day.markouts[at, chosen].tolist(), *day.baseline_markouts[at].tolist()]


def _tca(
    days: Sequence[OrdersDay],
    scored: Sequence[_Order],
    blotter: Blotter,
    chosen: Sequence[int | None],
) -> dict[str, Any]:
    """The cost analysis of the scored orders (docs/report.md, "tca"), the router under
    its walk-forward choice."""
    rows: list[OrderRow] = []
    for j, order in enumerate(scored):
        day, side = days[order.day], blotter.sides[order.index]
        set_ = chosen[order.day]
        assert set_ is not None
        strategies = _strategies(day, order, blotter, set_)
        router = strategies["router"]
        mid = float(day.arrival_mid[order.at])
        vwap = float("nan") if day.vwap is None else float(day.vwap[order.at])
        marks = _order_markouts(day, order.at, set_)
        rows += [
            OrderRow(
                order=j, strategy=name, value=value,
                shortfall=shortfall_bps(value.avg_fill_px, mid, side),
                saving=None if name == "router" else savings_bps(value, router, side),
                versus_vwap=shortfall_bps(value.avg_fill_px, vwap, side),
                markouts=dict(zip(MARKOUT_HORIZONS_S, mark, strict=True)),
            )
            for (name, value), mark in zip(strategies.items(), marks, strict=True)
        ]  # fmt: skip
    names = ("router", *BASELINES)
    times = np.array([blotter.time_ns[o.index] for o in scored], dtype=np.int64)
    buckets = [
        size_bucket(int(blotter.sizes[o.index]), int(days[o.day].depth[o.at])) for o in scored
    ]
    return {
        "orders": len(scored),
        "arrival_mid": SNAPSHOT_MID,
        "router": "under each order's day's walk-forward choice (out of sample)",
        "strategies": {
            name: _strategy_figures([r for r in rows if r.name == name], times) for name in names
        },
        "breakdown": {
            "size": _breakdown(rows, buckets, names, SIZE_LABELS),
            "side": _breakdown(rows, [blotter.sides[o.index].text for o in scored], names),
            "time_of_day": _breakdown(rows, [hour_of(int(t)) for t in times], names),
        },
    }
