"""The JSON report of docs/semantics.md section 8: deterministic, one object, stable key order."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from sor import __version__
from sor.core.domain import NANOS_PER_DOLLAR, STEP, StrategyResult, VenueCosts
from sor.core.search import TIE_RULE
from sor.core.timestamps import format_timestamp
from sor.core.types import Side
from sor.report.markouts import SNAPSHOT_MID, FillLog, TopOfBook, markouts_section
from sor.static.backtest import BacktestResult, Unfilled

VWAP_NOTE = (
    "vwap weights its 60-second buckets by the displayed ask size of the whole window, "
    "which is known only in hindsight"
)
SELL_VWAP_NOTE = VWAP_NOTE.replace("ask size", "bid size")
BUY_RULE = "fewest unfilled shares, then least total_cash, then earliest in grid order"
SELL_RULE = "fewest unfilled shares, then most total_cash, then earliest in grid order"
UNFILLED = "unfilled: "
"""How a note saying why a strategy ended short begins; the run's summary repeats those."""
SWEEPS_SHORT = "the displayed {quotes} they swept did not add up to the order"
STATIC_NOTE = (
    "under the static allocator every candidate split is fully executable, so the "
    "penalties (lambda_over, lambda_under, theta_queue) never change the chosen split"
)


class Money(float):
    """A dollar amount known exactly in nano-dollars.

    It is the nearest float wherever a float is used, and ``dumps`` writes its exact
    decimal digits: a float holds 1e12 $ only to about 1e-4 $, the report to 1e-9 $.
    """

    nanos: int

    def __new__(cls, nanos: int) -> Money:
        value = super().__new__(cls, nanos / NANOS_PER_DOLLAR)
        value.nanos = int(nanos)
        return value

    def __reduce__(self) -> tuple[type[Money], tuple[int]]:
        """Pickle by nano-dollars (a float's default would pass the dollars as nanos)."""
        return Money, (self.nanos,)

    def decimal(self) -> str:
        """Exact decimal text, with a JSON number's syntax (``12.5``, ``-3.0``)."""
        whole, part = divmod(abs(self.nanos), NANOS_PER_DOLLAR)
        digits = f"{part:09d}".rstrip("0") or "0"
        return f"{'-' if self.nanos < 0 else ''}{whole}.{digits}"


_MONEY_MARK = "\x00money:"
_MONEY_TEXT = re.compile(r'"\\u0000money:(-?[0-9]+\.[0-9]+)"')


def _marked(value: Any) -> Any:
    if isinstance(value, Money):
        return _MONEY_MARK + value.decimal()
    if isinstance(value, dict):
        return {key: _marked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(item) for item in value]
    return value


class Figures(Protocol):
    """What the report reads of a strategy's outcome, in either model."""

    @property
    def total_cash_nanos(self) -> int: ...

    @property
    def total_fill(self) -> int: ...

    @property
    def avg_fill_px(self) -> float | None: ...


def summary(result: Figures) -> dict[str, Any]:
    """Return the three figures of docs/semantics.md section 8 for one strategy."""
    return {
        "total_cash": Money(result.total_cash_nanos),
        "avg_fill_px": result.avg_fill_px,
        "total_fill": result.total_fill,
    }


def savings_bps(baseline: Figures, router: Figures, side: Side = Side.BUY) -> float | None:
    """Return ``(avg_b - avg_router) / avg_b * 10_000`` for a buy and
    ``(avg_router - avg_b) / avg_b * 10_000`` for a sell (positive = the router did
    better), or None when either is undefined."""
    base, ours = baseline.avg_fill_px, router.avg_fill_px
    if base is None or ours is None:
        return None
    if side is Side.SELL:
        return (ours - base) / base * 10_000
    return (base - ours) / base * 10_000


def completion(unfilled: int, completion_ns: int | None) -> dict[str, Any]:
    """Return a strategy's ``unfilled`` shares and ``completion_time``, in either model."""
    return {
        "unfilled": unfilled,
        "completion_time": (format_timestamp(completion_ns) if completion_ns is not None else None),
    }


def tie_entry(tied: Sequence[int]) -> dict[str, Any]:
    """The search's ``tied_at_best``: how many sets share the best result, and the rule that
    chose among them."""
    return {"sets": len(tied), "rule": TIE_RULE}


def tie_note(tied: Sequence[int], sets: int) -> list[str]:
    """A note where some but not all sets tie at the best result (all: the choice is
    arbitrary, said by its own note)."""
    if not 1 < len(tied) < sets:
        return []
    return [
        f"{len(tied)} of {sets} parameter sets tie at the best result (the same shares and "
        f"cash): best_parameters is {TIE_RULE}, not better than the others"
    ]


def router_unfilled_note(unfilled: Unfilled, order_size: int, side: Side) -> str:
    """The note on a static router that ended short: the rule it follows, and the largest
    displayed total of the window against the remainder it needed."""
    verb, quotes = ("sold", "bids") if side is Side.SELL else ("bought", "asks")
    largest, lots = unfilled.largest_displayed, unfilled.largest_in_lots
    in_lots = f" ({lots:,} in whole lots)" if lots != largest else ""
    smaller = f", or an order of at most {lots:,} shares," if lots >= STEP else ""
    return (
        f"{UNFILLED}the router {verb} {order_size - unfilled.remainder:,} of {order_size:,} "
        f"shares: the static rule sends an order only when one timestamp's displayed {quotes} "
        f"take the whole remainder in lots of {STEP} shares, and the most the window "
        f"displayed at once was {largest:,} shares{in_lots} against the "
        f"{unfilled.remainder:,} it needed; --model ck{smaller} would trade"
    )


def unfilled_note(left: Mapping[str, int], order_size: int, reason: str) -> list[str]:
    """A note naming each strategy's shares left at the window's end, and why (none where
    every strategy of ``left`` completed)."""
    parts = ", ".join(f"{name} {shares:,}" for name, shares in left.items() if shares > 0)
    if not parts:
        return []
    return [f"{UNFILLED}of the {order_size:,} shares, left at the window's end: {parts}; {reason}"]


def _details(result: StrategyResult) -> dict[str, Any]:
    return {**completion(result.unfilled, result.completion_ts), "fills": len(result.fills)}


def build_report(result: BacktestResult) -> dict[str, Any]:
    """Build the report object; the same inputs always give the same object."""
    config, data, router = result.config, result.data, result.router
    sell = config.side is Side.SELL
    names = config.side.baselines
    strategies = {"router": router, **result.baselines}
    notes = [SELL_VWAP_NOTE if sell else VWAP_NOTE, STATIC_NOTE]
    if result.search_is_arbitrary:
        notes.append(
            "every parameter set gave the same result: the best_parameters choice is arbitrary "
            "(the first set in grid order)"
        )
    notes += tie_note(result.tied_at_best, len(result.search))
    if result.unfilled is not None:
        notes.append(router_unfilled_note(result.unfilled, config.order_size, config.side))
    notes += unfilled_note(
        {name: value.unfilled for name, value in result.baselines.items()},
        config.order_size,
        SWEEPS_SHORT.format(quotes="bids" if sell else "asks"),
    )
    return assemble(
        config.side,
        best_parameters=result.best_parameters.as_dict(),
        optimized=summary(router),
        baselines={name: summary(result.baselines[name]) for name in names},
        savings_vs_baselines_bps={
            name: savings_bps(result.baselines[name], router, config.side) for name in names
        },
        strategies={name: _details(value) for name, value in strategies.items()},
        search={
            "parameter_sets": len(result.search),
            "choice_is_arbitrary": result.search_is_arbitrary,
            "tied_at_best": tie_entry(result.tied_at_best),
            "rule": SELL_RULE if sell else BUY_RULE,
            "table": [
                {
                    **row.parameters.as_dict(),
                    "total_cash": Money(row.result.total_cash_nanos),
                    "total_fill": row.result.total_fill,
                    "avg_fill_px": row.result.avg_fill_px,
                }
                for row in result.search
            ],
        },
        run={
            "version": __version__,
            "model": config.model,
            "input": data.source,
            "input_sha256": data.sha256,
            "seed": config.seed,
            "order_size": config.order_size,
            "window": report_window(result.window_start_ns, result.window_end_ns),
            "rows_read": data.rows_read,
            "rows_in_window": data.rows_in_window,
            "snapshots": len(data.snapshots),
            "timestamps": result.n_timestamps,
            "skipped_rows": dict(sorted(data.skipped.items())),
            "venues": venue_costs(config.costs, result.venues),
            "grid": {
                "lambda_over": list(config.grid.lambda_over),
                "lambda_under": list(config.grid.lambda_under),
                "theta_queue": list(config.grid.theta_queue),
            },
        },
        notes=notes,
        markouts=static_markouts(result),
    )


def assemble(
    side: Side,
    *,
    best_parameters: dict[str, float],
    optimized: dict[str, Any],
    baselines: dict[str, Any],
    savings_vs_baselines_bps: dict[str, float | None],
    strategies: dict[str, Any],
    search: dict[str, Any],
    run: dict[str, Any],
    notes: list[str],
    markouts: dict[str, Any],
) -> dict[str, Any]:
    """Return a backtest report of either model from its sections, in the report's one key
    order (docs/report.md).

    ``run`` opens with :func:`side_entry`, and ``markouts`` comes last: both were added
    after the rest, and where they stand the keys before them read as they always have.
    """
    return {
        "best_parameters": best_parameters,
        "optimized": optimized,
        "baselines": baselines,
        "savings_vs_baselines_bps": savings_vs_baselines_bps,
        "strategies": strategies,
        "search": search,
        "run": {**side_entry(side), **run},
        "notes": notes,
        "markouts": markouts,
    }


def side_entry(side: Side) -> dict[str, str]:
    """Return the entry a report's ``run`` object opens with: ``side`` for a sell, nothing
    for a buy, whose reports carry no side and so read as they did before sells existed."""
    return {"side": side.text} if side is Side.SELL else {}


def report_window(start_ns: int, end_ns: int) -> dict[str, str]:
    """Return the report's ``run.window``: its inclusive bounds as timestamps."""
    return {"start": format_timestamp(start_ns), "end": format_timestamp(end_ns)}


def venue_costs(costs: VenueCosts, venues: Iterable[int]) -> dict[str, dict[str, float]]:
    """Return the report's ``run.venues``: each venue's taker fee and maker rebate ($/share)."""
    return {str(v): {"fee": costs.fee(v), "rebate": costs.rebate(v)} for v in venues}


def static_markouts(result: BacktestResult) -> dict[str, Any]:
    """Return the report's ``markouts`` of the static model: every strategy's fills against
    the NBBO mid of the snapshots it routed on."""
    strategies = {"router": result.router, **result.baselines}
    return markouts_section(
        SNAPSHOT_MID,
        TopOfBook.of_snapshots(result.data.snapshots),
        result.config.side.sign,
        {name: FillLog.of_fills(value.fills) for name, value in strategies.items()},
    )


def dumps(report: dict[str, Any]) -> str:
    """Serialise the report; byte-identical for identical reports. Money is written with
    its exact decimal digits (a path cannot hold the NUL of the mark, so no text collides)."""
    text = json.dumps(_marked(report), indent=2, allow_nan=False)
    return _MONEY_TEXT.sub(r"\1", text) + "\n"
