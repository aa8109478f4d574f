"""The evaluation report, ``evaluation.json`` (docs/evaluate.md): deterministic, one object.

Days are put in time order per instrument, walk-forward choices made per instrument, and
every aggregate taken over the scored days (those after each instrument's first K).
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sor import __version__
from sor.core.errors import SorError
from sor.core.intervals import CONFIDENCE, MIN_CLUSTERS, cluster_bootstrap_mean
from sor.core.types import Side
from sor.evaluation.tasks import DayOutcome, parameter_sets
from sor.evaluation.walkforward import walk_forward
from sor.report.builder import Money, side_entry
from sor.static.backtest import BacktestConfig

log = logging.getLogger("sor")


def walk_forward_rule(side: Side) -> str:
    """The walk-forward rule in words, for the report: a sell chooses on the most proceeds."""
    cash = "the most total_cash (proceeds)" if side is Side.SELL else "the least total_cash"
    return (
        "per instrument, for each day after its first train_days: the parameter set with the "
        f"fewest unfilled shares summed over the train_days days before it, then {cash} "
        "summed over them, then the earliest in grid order"
    )


def better(side: Side | str) -> str:
    """What positive savings mean, in words: a buy paid less, a sell received more (the
    side as a report names it, or typed)."""
    return "received more than" if Side.parse(side) is Side.SELL else "paid less than"


@dataclass(frozen=True)
class RunRecord:
    """What the report records of the run besides the days."""

    config: BacktestConfig
    horizons_s: tuple[float, ...] | None
    ck_settings: dict[str, Any] | None
    train_days: int
    seed: int
    resamples: int


class Day(Protocol):
    """What orders and tells days apart: a day of one order, or of a blotter's orders."""

    @property
    def source(self) -> str: ...
    @property
    def instrument(self) -> str | None: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def window(self) -> dict[str, str]: ...


D = TypeVar("D", bound=Day)


@dataclass(frozen=True)
class ScoredDay:
    """A day in its series, with its walk-forward choice (None: a training day only)."""

    outcome: DayOutcome
    chosen: int | None
    trained_on: tuple[int, ...]


def series_of(outcome: Day) -> str:
    """The series a day belongs to: its instrument's id (``38`` for ``38/AAPL``, a DBN day
    read whole or split from a file of several), whatever the format; empty when the input
    does not say it."""
    return (outcome.instrument or "").split("/", 1)[0]


def day_of(outcome: Day) -> str:
    """The trading date of a day: the UTC date its window starts on."""
    return outcome.window["start"][:10]


def order_days(outcomes: Sequence[D]) -> list[D]:
    """Sort days by instrument id, then window start, then input (a stable, total order)."""
    return sorted(outcomes, key=lambda o: (series_of(o), o.window["start"], o.source))


def distinct_days(outcomes: Sequence[D]) -> tuple[list[D], list[str]]:
    """Drop the days whose input repeats an earlier one's content (the same SHA-256: one
    file given twice, a copy, a link); return the days kept and the inputs dropped.

    Raises
    ------
    SorError
        Two different inputs hold the same instrument on the same date: a day would be
        counted twice, and trained on itself.
    """
    kept: list[D] = []
    dropped: list[str] = []
    seen: dict[tuple[str, str | None], D] = {}
    days: dict[tuple[str, str], D] = {}
    for outcome in outcomes:
        key = (series_of(outcome), outcome.sha256)
        if outcome.sha256 is not None and key in seen:
            dropped.append(outcome.source)
            continue
        seen[key] = outcome
        when = (series_of(outcome), day_of(outcome))
        if when in days:
            other = days[when]
            name = outcome.instrument or "the same instrument"
            raise SorError(
                f"{other.source} and {outcome.source} both hold {name} on {when[1]}: give one "
                "file per instrument and day"
            )
        days[when] = outcome
        kept.append(outcome)
    return kept, dropped


def score(days: Sequence[DayOutcome], train_days: int) -> list[ScoredDay]:
    """Make the walk-forward choice of every day of ``days`` (ordered by
    :func:`order_days`), each instrument on its own days."""
    scored: list[ScoredDay] = []
    first = 0
    while first < len(days):
        last = first
        while last < len(days) and series_of(days[last]) == series_of(days[first]):
            last += 1
        series = days[first:last]
        table = [o.choice_keys for o in series]
        for d, chosen in enumerate(walk_forward(table, train_days)):
            trained = tuple(range(first + d - train_days, first + d)) if chosen is not None else ()
            scored.append(ScoredDay(series[d], chosen, trained))
        first = last
    return scored


def savings(
    baseline_px: float | None, router_px: float | None, side: Side = Side.BUY
) -> float | None:
    """``(baseline - router) / baseline * 10_000`` for a buy, ``(router - baseline) /
    baseline * 10_000`` for a sell (positive: the router did better), as ``sor backtest``."""
    if baseline_px is None or router_px is None:
        return None
    gain = router_px - baseline_px if side is Side.SELL else baseline_px - router_px
    return gain / baseline_px * 10_000


def oos_savings(day: ScoredDay) -> dict[str, float | None]:
    """The savings of the day's walk-forward choice against each scored baseline."""
    assert day.chosen is not None
    price = day.outcome.avg_fill_px[day.chosen]
    side = day.outcome.side
    return {name: savings(px, price, side) for name, px in day.outcome.baseline_px.items()}


def build_evaluation(outcomes: Sequence[DayOutcome], settings: RunRecord) -> dict[str, Any]:
    """Build the report object; the same outcomes and settings give the same object."""
    distinct, dropped = distinct_days(outcomes)
    for source in dropped:
        log.warning("%s repeats an earlier input's content: counted once", source)
    days = score(order_days(distinct), settings.train_days)
    sets = parameter_sets(settings.config, settings.horizons_s)
    scored = [d for d in days if d.chosen is not None]
    if not scored:
        most = max(Counter(series_of(d.outcome) for d in days).values(), default=0)
        raise SorError(
            f"nothing to score out of sample: each instrument needs more than --train-days "
            f"{settings.train_days} days, and the most any has is {most}"
        )
    baselines = list(days[0].outcome.baseline_px) if days else []
    return {
        "summary": {
            "days": len(days),
            "scored_days": len(scored),
            "train_days": settings.train_days,
            "savings_vs_baselines_bps": {
                name: {
                    "in_sample": _aggregate(
                        [d.outcome.head["savings_vs_baselines_bps"][name] for d in scored],
                        scored,
                        settings,
                    ),
                    "out_of_sample": _aggregate(
                        [oos_savings(d)[name] for d in scored], scored, settings
                    ),
                }
                for name in baselines
            },
        },
        "parameters": {
            "sets": sets,
            "out_of_sample": _spread([d.chosen for d in scored if d.chosen is not None], sets),
            "in_sample": _spread([d.outcome.best for d in scored], sets),
        },
        "days": [_day(number, day, sets) for number, day in enumerate(days)],
        "method": {
            "walk_forward": walk_forward_rule(settings.config.side),
            "in_sample": "each day's own best set (the choice of `sor backtest` on that day)",
            "aggregates": "over the scored days; a day whose savings are null is left out",
            "bootstrap": {
                "kind": "percentile",
                "statistic": "mean of the daily savings",
                "clusters": "trading dates (UTC): days of several instruments on one date "
                "share that date's market and are resampled together",
                "min_clusters": MIN_CLUSTERS,
                "resamples": settings.resamples,
                "confidence": CONFIDENCE,
                "seed": settings.seed,
                "generator": "numpy.random.default_rng(seed).integers, one resample after "
                "the other; the same seed for every interval",
            },
            "win": f"a day's savings > 0 (the router {better(settings.config.side)} the baseline)",
        },
        "run": _run(settings),
    }


def _aggregate(
    values: Sequence[float | None], days: Sequence[ScoredDay], settings: RunRecord
) -> dict[str, Any]:
    """The daily savings' aggregate over ``days`` (:func:`dated_aggregate`)."""
    return dated_aggregate(values, [day_of(d.outcome) for d in days], settings, unit="day")


def dated_aggregate(
    values: Sequence[float | None], dates: Sequence[str], settings: RunRecord, *, unit: str
) -> dict[str, Any]:
    """The mean of savings (one per ``unit``: a day, an order), its interval clustered by
    trading date (none from fewer than :data:`MIN_CLUSTERS` dates: ``no_interval`` says
    why), and the share won; null values are left out."""
    known = [(v, date) for v, date in zip(values, dates, strict=True) if v is not None]
    interval = cluster_bootstrap_mean(
        [v for v, _ in known], [date for _, date in known], seed=settings.seed,
        resamples=settings.resamples, unit=unit, cluster="trading date",
    )  # fmt: skip
    return {
        "mean": interval.mean,
        "ci95": None if interval.low is None else [interval.low, interval.high],
        f"{unit}s": interval.units,
        "dates": interval.clusters,
        "no_interval": interval.why,
        "win_share": sum(v > 0 for v, _ in known) / len(known) if known else None,
    }


def _spread(chosen: Sequence[int], sets: Sequence[dict[str, float]]) -> dict[str, Any]:
    """How the chosen set moved over the days: which sets, how often, how many switches."""
    counts = {j: chosen.count(j) for j in sorted(set(chosen))}
    names = list(sets[0]) if sets else []
    return {
        "chosen": [{"set": j, **sets[j], "days": n} for j, n in counts.items()],
        "distinct": len(counts),
        "switches": sum(a != b for a, b in itertools.pairwise(chosen)),
        "range": {
            name: [min(sets[j][name] for j in chosen), max(sets[j][name] for j in chosen)]
            for name in names
            if chosen
        },
    }


def _day(number: int, day: ScoredDay, sets: Sequence[dict[str, float]]) -> dict[str, Any]:
    o = day.outcome
    record: dict[str, Any] = {
        "day": number,
        "input": o.source,
        "instrument": o.instrument,
        "input_sha256": o.sha256,
        "window": o.window,
        **o.head,
        "choice_is_arbitrary": o.arbitrary,
        "out_of_sample": None,
    }
    if day.chosen is not None:
        j = day.chosen
        record["out_of_sample"] = {
            "trained_on": list(day.trained_on),
            "set": j,
            "parameters": sets[j],
            "optimized": {
                "total_cash": Money(o.cash_nanos[j]),
                "avg_fill_px": o.avg_fill_px[j],
                "unfilled": o.unfilled[j],
            },
            "savings_vs_baselines_bps": oos_savings(day),
        }
    record["search"] = [
        {"unfilled": u, "total_cash": Money(c)}
        for u, c in zip(o.unfilled, o.cash_nanos, strict=True)
    ]
    return record


def _run(settings: RunRecord) -> dict[str, Any]:
    config = settings.config
    costs = config.costs
    return {
        **side_entry(config.side),  # as sor backtest's
        "version": __version__,
        "model": config.model,
        "order_size": config.order_size,
        "costs": {
            "fee": costs.default_fee,
            "rebate": costs.default_rebate,
            "fees": {str(v): f for v, f in costs.fees},
            "rebates": {str(v): r for v, r in costs.rebates},
        },
        "grid": {
            "lambda_over": list(config.grid.lambda_over),
            "lambda_under": list(config.grid.lambda_under),
            "theta_queue": list(config.grid.theta_queue),
        },
        "horizons_s": list(settings.horizons_s) if settings.horizons_s else None,
        "ck": settings.ck_settings,
    }
