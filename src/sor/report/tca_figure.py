"""The figure of a blotter's backtest (``sor backtest --orders``): the router's paired saving
per order against each baseline with the report's mean and interval, and each strategy's
cost against the order's size over the displayed depth and against the time of day.

Drawn from the report (docs/report.md, "tca") and its per-order table
(:func:`sor.report.tca.orders_table`): every mean it marks is the report's. Costs are the
implementation shortfall against each order's arrival mid in bps, fees included, positive
= a cost.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.dates import MINUTELY, SECONDLY, AutoDateLocator, DateFormatter
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from sor.core.defaults import DEFAULT_SEED
from sor.core.timestamps import parse_timestamp
from sor.report.figures import COLORS, MARKERS, _save, _title, parameters_title
from sor.report.tca import BEST_QUOTE, SIZE_BUCKETS, size_bucket

STRATEGIES = ("router", BEST_QUOTE, "twap", "vwap")
"""The strategies as the report names them, the router first."""
BASELINES = STRATEGIES[1:]
NANOS_PER_DAY = 86_400 * 10**9
COST_LABEL = "shortfall against the arrival mid (bps, fees included; positive = cost)"
FEW_ORDERS = 50
"""Up to this many orders, each order's points are drawn large and opaque."""
_REASON_WIDTH = 60
"""Characters per line of panel (a)'s note under its axis."""


def write_tca_plot(report: Mapping[str, Any], table: pl.DataFrame, path: str | Path) -> Path:
    """Draw the blotter's figure (:func:`tca_figure`) to ``path`` (format from the suffix,
    PNG without one; the same inputs give the same bytes); return the path."""
    return _save(tca_figure(report, table), path)


def tca_figure(report: Mapping[str, Any], table: pl.DataFrame) -> Figure:
    """Return the figure of a blotter's backtest (not registered with pyplot: nothing to
    close) from its report and per-order table.

    Panels: (a) the router's paired saving per order against each baseline (bps), with the
    report's mean and its 95 % interval, or the report's reason for none; (b) each
    strategy's cost per order against the order's size over the displayed depth at its
    arrival (log scale), with the report's share-weighted mean per size bucket; (c) each
    strategy's cost per order against its arrival time of day (UTC).
    """
    tca = report["tca"]
    orders = _orders(table)
    fig = Figure(figsize=(18, 7.5), layout="constrained")
    fig.suptitle(_tca_title(report, orders), fontsize=12)
    ax_save, ax_size, ax_time = fig.subplots(1, 3, width_ratios=(1, 1.25, 1.25))
    ax_time.sharey(ax_size)
    _savings_panel(ax_save, tca, orders)
    _size_panel(ax_size, tca, orders)
    _time_panel(ax_time, orders)
    return fig


def _orders(table: pl.DataFrame) -> pl.DataFrame:
    """The per-order table with the report's strategy names (the best quote's is one for
    both sides), each order's size over the displayed depth (null where none was shown)
    and its arrival in ns."""
    times = [parse_timestamp(text) for text in table.get_column("time")]
    return table.with_columns(
        pl.col("strategy").replace({"best_ask": BEST_QUOTE, "best_bid": BEST_QUOTE}),
        pl.when(pl.col("displayed_depth") > 0)
        .then(pl.col("size") / pl.col("displayed_depth"))
        .alias("depth_share"),
        pl.Series("arrival_ns", times, dtype=pl.Int64),
    )  # fmt: skip


def _tca_title(report: Mapping[str, Any], orders: pl.DataFrame) -> str:
    """Name the input, the model, the side mix, the orders and the chosen parameters."""
    tca = report["tca"]
    sides = orders.filter(pl.col("strategy") == "router").get_column("side").to_list()
    buys, sells = sides.count("buy"), sides.count("sell")
    mix = ", ".join(
        f"{count:,} {name}{'s' if count != 1 else ''}"
        for count, name in ((buys, "buy"), (sells, "sell"))
        if count
    )
    parameters = tca["parameters"]
    head = (
        f"{Path(report['run']['input']).name}: {tca['orders']:,} parent orders ({mix}), "
        f"{report['run']['model']} router, "
        f"{parameters_title(parameters['chosen'], parameters['choice_is_arbitrary'])} "
        "(one set for every order)"
    )
    return _title(head, "cost = implementation shortfall against each order's arrival mid, "
                        "fees included, positive = cost")  # fmt: skip


def _savings_panel(ax: Axes, tca: Mapping[str, Any], orders: pl.DataFrame) -> None:
    """Draw each order's paired saving per baseline, jittered across its column, with the
    report's mean (and its interval, where the report gives one)."""
    savings = tca["router_savings_bps"]
    # a fixed seed: the same orders spread the same way, so the figure's bytes repeat
    rng = np.random.default_rng(DEFAULT_SEED)
    labels: list[str] = []
    reasons: dict[str, list[str]] = {}  # why no interval -> the baselines it holds for
    for x, name in enumerate(BASELINES):
        values = (
            orders.filter(pl.col("strategy") == name)
            .get_column("router_saving_bps")
            .drop_nulls()
            .to_numpy()
        )
        color = _color(name)
        ax.scatter(x + rng.uniform(-0.28, 0.28, len(values)), values, color=color,
                   edgecolors="none", zorder=2, **_point_style(tca["orders"]))  # fmt: skip
        entry = savings[name]
        labels.append(_saving_label(name, entry))
        if entry["mean"] is None:
            continue
        low_high = entry["ci95"]
        if low_high is not None:
            low, high = low_high
            ax.errorbar(x, entry["mean"], yerr=[[entry["mean"] - low], [high - entry["mean"]]],
                        fmt="D", color="black", markersize=8, capsize=8, linewidth=2,
                        zorder=3)  # fmt: skip
        else:
            ax.plot(x, entry["mean"], "D", color="black", markersize=8, zorder=3)
            reasons.setdefault(entry["no_interval"], []).append(name)
    ax.axhline(0, color="black", linewidth=0.8, zorder=1)
    ax.set_xticks(range(len(BASELINES)), labels, fontsize=9)
    ax.set_xlim(-0.6, len(BASELINES) - 0.4)
    ax.set_ylabel("router's saving on the same order (bps; positive = router did better)")
    ax.set_title("(a) Router's paired saving per order against each baseline\n"
                 "(diamond: mean over the orders; bar: 95 % interval)", fontsize=11)  # fmt: skip
    ax.set_xlabel(_reasons_note(reasons, tca["intervals"]), fontsize=9)
    ax.grid(axis="y", alpha=0.3)


def _saving_label(name: str, entry: Mapping[str, Any]) -> str:
    """The tick label of a baseline's column: its mean, interval and share won."""
    if entry["mean"] is None:
        return f"{name}\nno order filled\nby both"
    interval = (
        "95 %: [{:+.2f}, {:+.2f}]".format(*entry["ci95"])
        if entry["ci95"] is not None
        else "no interval"
    )
    return (f"{name}\nmean {entry['mean']:+.2f} bps\n{interval}\n"
            f"won {entry['won'] * 100:.0f} % of {entry['orders']:,}")  # fmt: skip


def _reasons_note(reasons: Mapping[str, Sequence[str]], intervals: Mapping[str, Any]) -> str:
    """Say why a baseline has no interval (the report's reason), or how the intervals
    were drawn."""
    if not reasons:
        return textwrap.fill(
            f"95 % intervals: cluster bootstrap by {intervals['clusters']}, "
            f"{intervals['count']:,} clusters",
            _REASON_WIDTH,
        )
    if len(reasons) == 1:
        return textwrap.fill("no interval: " + next(iter(reasons)), _REASON_WIDTH)
    return "\n".join(
        textwrap.fill(f"no interval for {', '.join(names)}: {reason}", _REASON_WIDTH)
        for reason, names in reasons.items()
    )


def _size_panel(ax: Axes, tca: Mapping[str, Any], orders: pl.DataFrame) -> None:
    """Draw each strategy's cost per order against its size over the displayed depth (log
    scale), and the report's share-weighted mean per size bucket at the geometric mean of
    the bucket's orders' shares of depth."""
    shown = orders.filter(pl.col("depth_share").is_not_null())
    buckets = tca["breakdown"]["size"]
    router = shown.filter(pl.col("strategy") == "router")
    labels = [size_bucket(s, d) for s, d in router.select("size", "displayed_depth").iter_rows()]
    shares = router.get_column("depth_share").to_numpy()
    of = np.array(labels)
    centres = {
        label: float(np.exp(np.mean(np.log(shares[of == label]))))
        for label in dict.fromkeys(labels)
    }
    order = sorted(centres, key=centres.__getitem__)
    for name in STRATEGIES:
        mine = shown.filter(pl.col("strategy") == name, pl.col("shortfall_bps").is_not_null())
        color = _color(name)
        ax.scatter(mine.get_column("depth_share"), mine.get_column("shortfall_bps"),
                   marker=_marker(name), color=color, edgecolors="none", zorder=2,
                   **_point_style(tca["orders"]))  # fmt: skip
        means = [(centres[b], buckets[b]["shortfall_bps"][name]) for b in order
                 if buckets.get(b, {}).get("shortfall_bps", {}).get(name) is not None]  # fmt: skip
        if means:
            ax.plot(*zip(*means, strict=True), marker=_marker(name), markersize=9,
                    color=color, markeredgecolor="black", linewidth=1.5, zorder=3)  # fmt: skip
    ax.set_xscale("log")
    # 1, 2 and 5 per decade, in plain numbers: a blotter's sizes often span less than one
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())
    if router.height:
        low, high = float(shares.min()), float(shares.max())
        ax.set_xlim(low / 1.5, high * 1.5)
    else:
        ax.set_xlim(0.1, 10)
    for edge in SIZE_BUCKETS:
        ax.axvline(edge, color="0.5", linestyle=":", linewidth=1, zorder=1)
    ax.axhline(0, color="black", linewidth=0.8, zorder=1)
    missing = orders.filter(pl.col("strategy") == "router", pl.col("depth_share").is_null())
    note = (
        f"; {missing.height:,} order{'s' if missing.height != 1 else ''} with no depth shown "
        "left out"
        if missing.height
        else ""
    )
    # two lines: one would run past the panel into its neighbour
    ax.set_xlabel("order size / shares displayed at arrival on the side it takes (log scale)\n"
                  f"dotted: the size buckets' edges{note}", fontsize=9)  # fmt: skip
    ax.set_ylabel(COST_LABEL)
    ax.set_title("(b) Cost against order size\n(large markers: share-weighted mean per size "
                 "bucket)", fontsize=11)  # fmt: skip
    ax.legend(handles=_legend_handles(), loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def _time_panel(ax: Axes, orders: pl.DataFrame) -> None:
    """Draw each strategy's cost per order against its arrival time of day (UTC); orders of
    several days share the axis."""
    arrivals = orders.get_column("arrival_ns").to_numpy()
    days = len(np.unique(arrivals // NANOS_PER_DAY))
    for name in STRATEGIES:
        mine = orders.filter(pl.col("strategy") == name, pl.col("shortfall_bps").is_not_null())
        ax.scatter(_time_of_day(mine.get_column("arrival_ns").to_numpy()),
                   mine.get_column("shortfall_bps"), marker=_marker(name),
                   color=_color(name), edgecolors="none", zorder=2,
                   **_point_style(orders.get_column("id").n_unique()))  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.8, zorder=1)
    shown = _time_of_day(arrivals)
    if len(shown):
        span = max(shown.max() - shown.min(), np.timedelta64(60, "s"))
        ax.set_xlim(shown.min() - span / 20, shown.max() + span / 20)
        locator = AutoDateLocator(minticks=4, maxticks=7)
        # two-minute and two-second steps too: a nine-minute market gets five ticks, not two
        locator.intervald[MINUTELY] = locator.intervald[SECONDLY] = [1, 2, 5, 10, 15, 30]
        ax.xaxis.set_major_locator(locator)
        seconds = span < np.timedelta64(2, "h")
        ax.xaxis.set_major_formatter(DateFormatter("%H:%M:%S" if seconds else "%H:%M"))
        # eight characters a label: slanted, seven of them fit the panel's width
        ax.tick_params(axis="x", labelrotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    overlaid = f"; the orders of {days:,} days overlaid" if days > 1 else ""
    ax.set_xlabel(f"arrival time of day (UTC{overlaid})")
    ax.tick_params(axis="y", labelleft=False)
    ax.set_title("(c) Cost against time of day\n(one point per order and strategy)",
                 fontsize=11)  # fmt: skip
    ax.legend(handles=_legend_handles(means=False), loc="best", fontsize=8)
    ax.grid(alpha=0.3)


def _time_of_day(arrivals_ns: np.ndarray) -> np.ndarray:
    """The time of day of each arrival, as a moment of 1970-01-01 (a date axis reads it)."""
    return np.asarray(arrivals_ns % NANOS_PER_DAY, dtype="datetime64[ns]")


def _point_style(orders: int) -> dict[str, Any]:
    """Marker area (pt^2) and opacity of the per-order points: a few orders drawn large
    and plain, many drawn small and faint so that their overlap shows where they crowd."""
    return {"s": 36, "alpha": 0.8} if orders <= FEW_ORDERS else {"s": 14, "alpha": 0.4}


def _color(name: str) -> str:
    """A strategy's colour in the single-order figure (the best quote's: the best ask's)."""
    return COLORS["best_ask" if name == BEST_QUOTE else name]


def _marker(name: str) -> str:
    return MARKERS["best_ask" if name == BEST_QUOTE else name]


def _legend_handles(means: bool = True) -> list[Line2D]:
    handles = [
        Line2D([], [], marker=_marker(name), color=_color(name), linestyle="none", label=name)
        for name in STRATEGIES
    ]
    if means:
        handles.append(Line2D([], [], marker="o", color="0.6", markeredgecolor="black",
                              markersize=9, label="share-weighted mean of a bucket"))  # fmt: skip
    return handles
