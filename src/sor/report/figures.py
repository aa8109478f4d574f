"""The results figures: what each strategy cost against the arrival mid, when it bought while
the mid moved, how the mid moved after its fills (markouts), where it bought, and (model
ck) how the router's cost varies with its parameters against the passive and static
baselines.

Every cost is in basis points of the arrival mid, the NBBO mid once every venue has quoted
(SEMANTICS.md's implementation shortfall): ``(avg_fill_px - arrival_mid) / arrival_mid *
1e4``, fees (and rebates) included; positive is a cost.
"""

from __future__ import annotations

import gzip
import io
import os
import textwrap
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.colors import Normalize
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, StrMethodFormatter

from sor.ck.backtest import CkResult
from sor.ck.queue import DISPLAYED
from sor.core.domain import VENUE_NAMES, StrategyResult
from sor.core.types import Side
from sor.report.builder import savings_bps, static_markouts
from sor.report.ck_report import ck_markouts
from sor.report.markouts import TopOfBook
from sor.static.backtest import BacktestResult

COLORS = {
    "router": "#1f77b4",
    "best_ask": "#ff7f0e",
    "best_bid": "#ff7f0e",
    "twap": "#2ca02c",
    "vwap": "#d62728",
    "passive": "#8c564b",
    "static": "#9467bd",
}
MARKERS = {"router": "o", "best_ask": "s", "best_bid": "s", "twap": "^", "vwap": "v"}
ARBITRARY = "parameters (choice arbitrary: every set gives the same result)"
COST_NOTE = "bps of the arrival mid, fees included; positive = cost (paid above the mid)"
SELL_COST_NOTE = "bps of the arrival mid, fees included; positive = cost (proceeds below the mid)"
_THOUSANDS = StrMethodFormatter("{x:,.0f}")
# Fixed metadata per format: the same inputs give the same bytes (no version, no date).
_METADATA: dict[str, dict[str, Any]] = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
    "svg": {"Creator": None, "Date": None},
    "svgz": {"Creator": None, "Date": None},
    "ps": {"Creator": "sor"},
    "eps": {"Creator": "sor"},
}


def cost_bps(
    avg_fill_px: float | None, arrival_mid: float | None, sell: bool = False
) -> float | None:
    """Return ``(avg_fill_px - arrival_mid) / arrival_mid * 1e4`` (bps), None if undefined;
    for a sell ``(arrival_mid - avg_fill_px) / arrival_mid * 1e4``: a cost is positive."""
    if avg_fill_px is None or not arrival_mid:
        return None
    if sell:
        return (arrival_mid - avg_fill_px) / arrival_mid * 10_000
    return (avg_fill_px - arrival_mid) / arrival_mid * 10_000


def nbbo_mid(snapshots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each distinct ``ts_event`` (ns) and the NBBO mid after it ($, NaN if one-sided).

    A venue's quote is that of its last row at or before the time; a zero price is no quote.
    """
    ts = snapshots["ts_event"]
    if len(ts) == 0:
        return ts[:0].copy(), np.zeros(0)
    times = ts[np.concatenate(([True], ts[1:] != ts[:-1]))]
    return times, TopOfBook.of_snapshots(snapshots).mids_at(times)


def arrival_mid(snapshots: np.ndarray) -> tuple[int | None, float | None]:
    """Return the arrival time (ns: every venue has a row) and the NBBO mid then ($).

    The snapshot counterpart of :func:`sor.ck.router.arrival`; None when there are no
    rows, or no two-sided quote at that time.
    """
    if len(snapshots) == 0:
        return None, None
    first_rows = np.unique(snapshots["publisher_id"], return_index=True)[1]
    arrival_ns = int(snapshots["ts_event"][first_rows.max()])
    times, mids = nbbo_mid(snapshots)
    mid = float(mids[int(np.searchsorted(times, arrival_ns))])
    return arrival_ns, None if np.isnan(mid) else mid


def static_costs_bps(result: BacktestResult) -> dict[str, float | None]:
    """Return each strategy's cost against the arrival mid of the snapshots (bps)."""
    mid = arrival_mid(result.data.snapshots)[1]
    sell = result.config.side is Side.SELL
    return {name: cost_bps(s.avg_fill_px, mid, sell) for name, s in _strategies(result).items()}


def ck_costs_bps(result: CkResult) -> dict[str, float | None]:
    """Return each strategy's cost against the arrival mid of the events (bps)."""
    mid = result.arrival_mid_px
    return {
        name: cost_bps(o.avg_fill_px, mid, result.sell) for name, o in result.strategies.items()
    }


def drift_bps(arrival_mid_px: float | None, end_mid_px: float | None) -> float | None:
    """Return the mid's move from arrival to the window's end, ``(end_mid_px -
    arrival_mid_px) / arrival_mid_px * 1e4`` (bps, positive: the mid rose), None if
    undefined."""
    if arrival_mid_px is None or end_mid_px is None or np.isnan(end_mid_px):
        return None
    return (end_mid_px - arrival_mid_px) / arrival_mid_px * 10_000


def drift_line(drift: float | None) -> str:
    """Say what one price path can and cannot show: the mid's move over the window (bps),
    of which a saving against twap or vwap of about its size is mostly made."""
    if drift is None:
        return (
            "One price path: its drift is undefined (no two-sided quote at arrival or at the end)"
        )
    moved = "did not move" if round(drift, 2) == 0 else (
        f"{'rose' if drift > 0 else 'fell'} {abs(drift):.2f} bps")  # fmt: skip
    return (
        f"One price path: the mid {moved} over the window (arrival to end); a saving against "
        "twap or vwap of that size is mostly this drift"
    )


def ck_grid_bps(result: CkResult, horizon_s: float) -> tuple[list[float], list[float], np.ndarray]:
    """Return the ``lambda_under`` values, the ``theta_queue`` values and the router's cost
    (bps) per cell ``[theta, under]`` at ``horizon_s``, the least over ``lambda_over``."""
    rows = [row for row in result.search if row.horizon_s == horizon_s]
    unders = sorted({row.parameters.lambda_under for row in rows})
    thetas = sorted({row.parameters.theta_queue for row in rows})
    grid = np.full((len(thetas), len(unders)), np.nan)
    for row in rows:
        bps = cost_bps(row.outcome.avg_fill_px, result.arrival_mid_px, result.sell)
        if bps is not None:
            cell = (thetas.index(row.parameters.theta_queue),
                    unders.index(row.parameters.lambda_under))  # fmt: skip
            grid[cell] = np.nanmin([grid[cell], bps])
    return unders, thetas, grid


def parameters_title(parameters: Mapping[str, Any], arbitrary: bool, tied: int = 1) -> str:
    """Return the title's parameter phrase: "best parameters ..." unless the choice is
    arbitrary (every parameter set gave the same result), saying so where ``tied`` sets
    share the best result."""
    values = ", ".join(f"{key}={value:g}" for key, value in parameters.items())
    if arbitrary:
        return f"{ARBITRARY}: {values}"
    if tied > 1:
        return f"chosen parameters ({tied} sets tie at the best; the earliest): {values}"
    return f"best parameters: {values}"


def comparison(router_vs: Mapping[str, float | None], sell: bool = False) -> str:
    """Say how much more or less the router costs than each baseline (for a sell: how much
    higher or lower it sold), from the report's ``savings_vs_baselines_bps`` (positive: the
    router did better)."""
    better, worse = ("higher", "lower") if sell else ("less", "more")
    parts = []
    for name, saving in router_vs.items():
        if saving is None:
            parts.append(f"no comparison with {name}")
        elif round(saving, 2) == 0:
            parts.append(f"the same as {name}")
        else:
            parts.append(f"{abs(saving):.2f} bps {better if saving > 0 else worse} than {name}")
    return ("router sold " if sell else "router costs ") + ", ".join(parts)


def write_plot(result: BacktestResult, path: str | Path) -> Path:
    """Draw the static model's figure (:func:`static_figure`) to ``path``; return the path."""
    return _save(static_figure(result), path)


def write_ck_plot(result: CkResult, path: str | Path) -> Path:
    """Draw the model-ck figure (:func:`ck_figure`) to ``path``; return the path."""
    return _save(ck_figure(result), path)


def static_figure(result: BacktestResult) -> Figure:
    """Return the static model's figure (not registered with pyplot: nothing to close).

    Panels: the NBBO mid with every fill and the shares bought over time (with a close-up of
    the first seconds when some strategy is done by then), each strategy's cost against the
    arrival mid (bps), the markouts of its fills and where each bought.
    """
    strategies = _strategies(result)
    sell = result.config.side is Side.SELL
    arrival_ns, mid = arrival_mid(result.data.snapshots)
    times, mids = nbbo_mid(result.data.snapshots)
    fig = Figure(figsize=(17, 12.5), layout="constrained")
    fig.suptitle(_static_title(result, arrival_ns, mid), fontsize=12)
    close_up = _close_up_end(result, strategies)
    grid = fig.add_gridspec(3, 2, height_ratios=(3, 1.7, 3), width_ratios=(2.4, 1))
    span = slice(0, 1) if close_up is not None else slice(0, 2)
    ax_mid = fig.add_subplot(grid[0, span])
    ax_shares = fig.add_subplot(grid[1, span], sharex=ax_mid)
    window = (result.window_start_ns, result.window_end_ns)
    _mid_panel(ax_mid, times, mids, strategies, mid, window)
    _shares_panel(ax_shares, result, strategies, window, sell=sell)
    ax_mid.set_title("NBBO mid and each strategy's fills (marker area proportional to shares)")
    if close_up is not None:
        ax_zoom = fig.add_subplot(grid[0, 1])
        ax_zoom_shares = fig.add_subplot(grid[1, 1], sharex=ax_zoom)
        zoom = (result.window_start_ns, close_up)
        _mid_panel(ax_zoom, times, mids, strategies, mid, zoom, legend=False)
        _shares_panel(ax_zoom_shares, result, strategies, zoom, legend=False, sell=sell)
        ax_zoom.set_title("Close-up: the first seconds")
    bottom = grid[2, :].subgridspec(1, 3, width_ratios=(1.2, 0.9, 1))
    ax_cost, ax_marks, ax_venue = (fig.add_subplot(bottom[k]) for k in range(3))
    _markout_panel(ax_marks, static_markouts(result))
    _cost_bars(ax_cost, static_costs_bps(result), sell)
    side = result.config.side
    saved = {n: savings_bps(s, result.router, side) for n, s in result.baselines.items()}
    ax_cost.set_xlabel(_wrap(comparison(saved, sell), _STATIC_CAPTION_WIDTH), fontsize=10)
    _venue_panel(ax_venue, result, strategies, sell)
    return fig


def ck_figure(result: CkResult) -> Figure:
    """Return the model-ck figure of a backtest (:func:`sor.ck.backtest.run_ck_backtest`).

    Panels: each strategy's cost against the arrival mid (bps), the share filled passively,
    the markouts of each strategy's fills, and per horizon a heat map of the router's cost over ``lambda_under`` and
    ``theta_queue`` with the cells where passive does better hatched.
    """
    horizons = sorted({row.horizon_s for row in result.search})
    fig = Figure(figsize=(max(15, 5 * len(horizons) + 1.5), 11), layout="constrained")
    top, bottom = np.asarray(fig.subfigures(2, 1, height_ratios=(1, 1.15))).ravel()
    ax_cost, ax_passive, ax_marks = top.subplots(1, 3, width_ratios=(2, 1, 1.2))
    heat_axes = np.atleast_1d(bottom.subplots(1, len(horizons)))
    fig.suptitle(_ck_title(result), fontsize=12)

    costs = ck_costs_bps(result)
    _cost_bars(ax_cost, costs, result.sell)
    side = result.config.side
    saved = {n: savings_bps(o, result.router, side) for n, o in result.baselines.items()}
    ax_cost.set_xlabel(_wrap(comparison(saved, result.sell), _CK_CAPTION_WIDTH), fontsize=10)
    _passive_panel(ax_passive, result)
    _markout_panel(ax_marks, ck_markouts(result))
    _heat_maps(bottom, list(heat_axes), result, horizons, costs)
    return fig


def _strategies(result: BacktestResult) -> dict[str, StrategyResult]:
    return {"router": result.router, **result.baselines}


def _static_title(result: BacktestResult, arrival_ns: int | None, mid: float | None) -> str:
    params = result.best_parameters.as_dict()
    head = (
        f"{Path(result.data.source).name}: {result.config.side} "
        f"{result.config.order_size:,} shares, "
        f"{result.config.model} router, "
        f"{parameters_title(params, result.search_is_arbitrary, len(result.tied_at_best))}"
    )
    end_mid = TopOfBook.of_snapshots(result.data.snapshots).mids_at(
        np.array([result.window_end_ns])
    )[0]
    return _title(head, _arrival_phrase(arrival_ns, mid), drift_line(drift_bps(mid, end_mid)))


def _ck_title(result: CkResult) -> str:
    config = result.config
    crossing = (
        f", {result.crossing_fill_name} crossing fills"
        if result.settings.crossing_fill != DISPLAYED
        else ""
    )
    head = (
        f"{Path(result.data.source).name}: {config.side} {config.order_size:,} shares, "
        "ck router "
        f"({result.queue_model_name} queue{crossing}), "
        + parameters_title(
            result.best_row.as_dict(), result.search_is_arbitrary, len(result.tied_at_best)
        )
    )
    mid = result.arrival_mid_px
    arrival = "arrival mid " + (f"${mid:,.4f}" if mid is not None else "undefined")
    end_mid = result.book.mids_at(np.array([result.window_end_ns]))[0]
    return _title(
        head,
        f"{arrival} (NBBO mid once every venue has quoted)",
        drift_line(drift_bps(mid, end_mid)),
    )


def _title(*lines: str) -> str:
    """Join the title's lines, each broken at spaces to fit the figure's width (a generated
    input's name alone runs to 70 characters)."""
    return "\n".join(textwrap.fill(line, _TITLE_WIDTH) for line in lines)


def _arrival_phrase(arrival_ns: int | None, mid: float | None) -> str:
    if arrival_ns is None or mid is None:
        return "arrival mid undefined (no two-sided quote once every venue has quoted)"
    when = np.datetime_as_string(np.datetime64(arrival_ns, "ns"), unit="ms")
    return f"arrival mid ${mid:,.4f} at {when.replace('T', ' ')} UTC (every venue has quoted)"


def _close_up_end(result: BacktestResult, strategies: Mapping[str, StrategyResult]) -> int | None:
    """Return when the last strategy done within the window's first 5 % was done (ns, padded
    by a fifth), or None when none was: a close-up then shows what the full axis squeezes."""
    start, end = result.window_start_ns, result.window_end_ns
    early = [
        s.completion_ts
        for s in strategies.values()
        if s.completion_ts is not None and s.completion_ts - start <= (end - start) / 20
    ]
    if not early or end <= start:
        return None
    return min(end, max(early) + max((max(early) - start) // 5, 1_000_000))


def _mid_panel(
    ax: Axes,
    times: np.ndarray,
    mids: np.ndarray,
    strategies: Mapping[str, StrategyResult],
    mid: float | None,
    window: tuple[int, int],
    *,
    legend: bool = True,
) -> None:
    """Draw the NBBO mid over ``window`` (ns) with the fills in it; ``legend`` and the
    y-axis label only when asked (a close-up beside the full panel shares them)."""
    inside = (times >= window[0]) & (times <= window[1])
    # the quote in force at the window's start, then every change: a step line needs no more
    first = max(int(np.searchsorted(times, window[0], side="right")) - 1, 0)
    inside[first] = True
    keep = inside & np.concatenate(([True], mids[1:] != mids[:-1]))
    keep[first] = True
    last = int(np.flatnonzero(inside)[-1])
    keep[last] = True
    # held from the window's start (clipped) to its end
    shown_t = np.concatenate((np.maximum(times[keep], window[0]), [window[1]]))
    shown_mid = np.concatenate((mids[keep], mids[last : last + 1]))
    ax.plot(_dates(shown_t), shown_mid, drawstyle="steps-post", color="0.35", linewidth=0.9,
            label="NBBO mid", zorder=1)  # fmt: skip
    if mid is not None:
        # beneath the mid line: where the mid has not moved, the mid shows
        ax.axhline(mid, color="0.2", linestyle=":", linewidth=1, label="arrival mid", zorder=0.5)
    largest = max((f.quantity for s in strategies.values() for f in s.fills), default=1)
    for name, strategy in strategies.items():
        fills = [f for f in strategy.fills if window[0] <= f.ts_event <= window[1]]
        if fills:
            ax.scatter(_dates(np.array([f.ts_event for f in fills], dtype=np.int64)),
                       [f.price for f in fills], s=[15 + 185 * f.quantity / largest for f in fills],
                       marker=MARKERS.get(name, "o"), color=COLORS[name], alpha=0.6,
                       edgecolors="black", linewidths=0.4, label=f"{name} fills",
                       zorder=2)  # fmt: skip
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: _dollars(x, ax.get_yticks())))
    if legend:
        ax.set_ylabel("price ($/share, fills before fees)")
        shown = ax.legend(loc="upper left", fontsize=9, ncols=3)
        for handle in shown.legend_handles:
            if isinstance(handle, PathCollection):
                handle.set_sizes([40])  # the legend names the strategy; sizes vary on the plot
    ax.grid(alpha=0.3)
    _set_time_limits(ax, window)
    ax.margins(y=0.08)
    _time_axis(ax)
    ax.tick_params(labelbottom=False)


def _shares_panel(
    ax: Axes,
    result: BacktestResult,
    strategies: Mapping[str, StrategyResult],
    window: tuple[int, int],
    *,
    legend: bool = True,
    sell: bool = False,
) -> None:
    """Draw each strategy's shares bought (or sold) so far over ``window`` (ns)."""
    start, end = result.window_start_ns, result.window_end_ns
    for name, strategy in strategies.items():
        ts = np.array([start, *(f.ts_event for f in strategy.fills), end], dtype=np.int64)
        shares = np.cumsum([0, *(f.quantity for f in strategy.fills), 0])
        ax.step(_dates(ts), shares, where="post", label=name, color=COLORS[name],
                marker=MARKERS.get(name), markersize=3)  # fmt: skip
    ax.axhline(result.config.order_size, color="grey", linestyle=":", linewidth=1)
    ax.set_title(f"Shares {'sold' if sell else 'bought'} so far", fontsize=11)
    ax.set_xlabel("time (UTC)")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    if legend:
        ax.set_ylabel("shares")
        ax.legend(loc="lower right", fontsize=9, ncols=len(strategies))
    ax.grid(alpha=0.3)
    _set_time_limits(ax, window)
    _time_axis(ax)


def _cost_bars(ax: Axes, costs: Mapping[str, float | None], sell: bool = False) -> None:
    names = list(costs)
    values = [0.0 if value is None else value for value in costs.values()]
    bars = ax.bar(names, values, color=[COLORS.get(n, "grey") for n in names])
    for bar, name in zip(bars, names, strict=True):
        value = costs[name]
        text = "no fill" if value is None else f"costs\n{value:.2f} bps"
        ax.annotate(text, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    xytext=(0, 3 if bar.get_height() >= 0 else -3), textcoords="offset points",
                    ha="center", va="bottom" if bar.get_height() >= 0 else "top",
                    fontsize=9)  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.8)
    low, high = min(0.0, *values), max(0.0, *values)
    pad = max(high - low, 1.0) * 0.2
    ax.set_ylim(low - (pad if low < 0 else 0), high + pad)
    ax.set_ylabel("cost against the arrival mid (bps)")
    ax.set_title(f"Cost per strategy\n({SELL_COST_NOTE if sell else COST_NOTE})", fontsize=11)
    ax.grid(axis="y", alpha=0.3)


def _venue_panel(
    ax: Axes, result: BacktestResult, strategies: Mapping[str, StrategyResult], sell: bool = False
) -> None:
    names = list(strategies)
    bottom = np.zeros(len(names))
    cmap = plt.get_cmap("tab10")
    for k, venue in enumerate(result.venues):
        shares = np.array(
            [sum(f.quantity for f in strategies[n].fills if f.publisher_id == venue) for n in names]
        )
        label = f"{venue} {VENUE_NAMES.get(venue, '')}".strip()
        ax.bar(names, shares, bottom=bottom, label=label, color=cmap(k % 10))
        bottom += shares
    ax.set_ylabel("shares")
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.set_title(
        f"Where each strategy {'sold' if sell else 'bought'} (by publisher_id)", fontsize=11
    )
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="venue")


MARKOUT_TITLE = "Markouts of the fills"


def _markout_panel(ax: Axes, markouts: Mapping[str, Any]) -> None:
    """Draw each strategy's share-weighted markout against the horizon (a report's
    ``markouts``); a horizon that measures no fill leaves a gap."""
    horizons = markouts["horizons_s"]
    for name, entry in markouts["strategies"].items():
        values = [entry["markout_bps"][str(h)] for h in horizons]
        ax.plot(range(len(horizons)), [np.nan if v is None else v for v in values],
                marker=MARKERS.get(name, "o"), color=COLORS.get(name, "grey"), label=name)  # fmt: skip
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(horizons)), [f"{h} s" for h in horizons])
    ax.set_xlabel("time after the fill")
    ax.set_ylabel("mid move against the order (bps)")
    ax.set_title(f"{MARKOUT_TITLE}\n(share-weighted; positive = cost)", fontsize=11)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def _passive_panel(ax: Axes, result: CkResult) -> None:
    names = list(result.strategies)
    shares = [o.passive_share or 0.0 for o in result.strategies.values()]
    bars = ax.bar(names, shares, color=[COLORS.get(n, "grey") for n in names])
    for bar, share in zip(bars, shares, strict=True):
        ax.annotate(f"{share:.0%}", (bar.get_x() + bar.get_width() / 2, share),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=9)  # fmt: skip
    ax.set_ylim(0, 1.12)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0%}"))
    ax.set_ylabel("shares filled by resting orders")
    ax.set_title("Share filled passively", fontsize=11)
    ax.tick_params(axis="x", labelrotation=30)
    ax.grid(axis="y", alpha=0.3)


def _heat_maps(
    fig: Figure,
    axes: Sequence[Axes],
    result: CkResult,
    horizons: Sequence[float],
    costs: Mapping[str, float | None],
) -> None:
    grids = [ck_grid_bps(result, h) for h in horizons]
    passive, static = costs.get("passive"), costs.get("static")
    norm = _heat_norm([g for _, _, g in grids], passive)
    overs = sorted({row.parameters.lambda_over for row in result.search})
    over = (
        f"best over lambda_over in {{{', '.join(f'{o:g}' for o in overs)}}}"
        if len(overs) > 1
        else f"lambda_over={overs[0]:g}"
    )
    image = None
    tied = result.tied_at_best
    for ax, horizon, (unders, thetas, grid) in zip(axes, horizons, grids, strict=True):
        image = ax.imshow(grid, origin="lower", cmap="RdBu_r", norm=norm, aspect="auto")
        _label_cells(ax, grid, passive)
        for k in tied:
            row = result.search[k]
            if row.horizon_s != horizon:
                continue
            j = unders.index(row.parameters.lambda_under)
            i = thetas.index(row.parameters.theta_queue)
            chosen = k == result.best
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black",
                                   linewidth=2.5 if chosen else 1.5,
                                   linestyle="-" if chosen else "--", clip_on=False))  # fmt: skip
        ax.set_xticks(range(len(unders)), [f"{u:g}" for u in unders])
        ax.set_yticks(range(len(thetas)), [f"{t:g}" for t in thetas])
        ax.set_xlabel("lambda_under ($/share)")
        ax.set_ylabel("theta_queue ($/share)")
        ax.set_title(f"T = {horizon:g} s, {over}", fontsize=11)
    fig.suptitle(
        "Router cost against the arrival mid (bps) per parameter set. "
        f"Baselines: passive {_bps(passive)} (run at the chosen set), static {_bps(static)}.\n"
        "Hatched: the router costs more than passive; framed: the chosen set"
        + (f"; dashed: the {len(tied) - 1} other sets tied with it." if len(tied) > 1 else "."),
        fontsize=11,
    )
    if image is not None:
        bar = fig.colorbar(image, ax=list(axes), format="%.2f", shrink=0.9)
        bar.set_label(
            "router cost (bps; blue: sold higher than passive, red: lower)"
            if result.sell
            else "router cost (bps; blue: cheaper than passive, red: dearer)"
        )
        for value, name in ((passive, "passive"), (static, "static")):
            if value is not None and 0.0 <= float(norm(value)) <= 1.0:
                bar.ax.axhline(value, color="black", linewidth=1.5)
                bar.ax.annotate(name, (-0.15, value), xycoords=("axes fraction", "data"),
                                ha="right", va="center", fontsize=9)  # fmt: skip


def _heat_norm(grids: Sequence[np.ndarray], passive: float | None) -> Normalize:
    """Centre the colour scale on passive's cost, so a cell's hue says which side it is, and
    keep it symmetric, so the depth of a hue reads the same in bps on both sides."""
    cells = np.concatenate([g[~np.isnan(g)] for g in grids]) if grids else np.zeros(0)
    centre = passive if passive is not None else float(np.median(cells)) if cells.size else 0.0
    # at least 0.01 bps each side: an empty or flat scale has no colours
    reach = max(float(np.abs(cells - centre).max()) if cells.size else 0.0, 0.01)
    return Normalize(vmin=centre - reach, vmax=centre + reach)


def _label_cells(ax: Axes, grid: np.ndarray, passive: float | None) -> None:
    for i, j in np.ndindex(grid.shape):
        value = grid[i, j]
        if np.isnan(value):
            ax.annotate("no fill", (j, i), ha="center", va="center", fontsize=9)
            continue
        if passive is not None and round(float(value), 2) > round(passive, 2):
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//",
                                   edgecolor="0.25", linewidth=0))  # fmt: skip
        # a light box keeps the number legible over any hue and the hatching
        ax.annotate(f"{value:.2f}", (j, i), ha="center", va="center", fontsize=10,
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                          "alpha": 0.8})  # fmt: skip


def _dollars(value: float, ticks: np.ndarray) -> str:
    """Format a price tick with as many decimals as the tick spacing needs (at least 2)."""
    steps = np.diff(np.sort(ticks))
    step = float(steps[steps > 0].min()) if (steps > 0).any() else 1.0
    decimals = min(max(2, -int(np.floor(np.log10(step) + 1e-9))), 9)
    return f"${value:,.{decimals}f}"


_TITLE_WIDTH = 150
"""Characters per line of a figure's title at its font size: the narrowest figure (15 in)
holds about 160."""


def _bps(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f} bps"


def _wrap(text: str, width: int) -> str:
    """Break a comma-separated sentence at its commas into lines of at most ``width``
    characters (an item longer than that keeps a line of its own)."""
    lines: list[str] = []
    for item in text.split(", "):
        if lines and len(lines[-1]) + len(item) + 2 <= width:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return ",\n".join(lines)


_STATIC_CAPTION_WIDTH = 72
"""Characters per line under the static figure's cost panel (about 6 in at 10 pt): a
centred caption wider than its panel ran off the figure's left edge."""
_CK_CAPTION_WIDTH = 90
"""Characters per line under the ck figure's cost panel (about 7 in at 10 pt)."""


def _dates(ts_ns: np.ndarray) -> np.ndarray:
    return np.asarray(ts_ns, dtype="datetime64[ns]")


def _set_time_limits(ax: Axes, window: tuple[int, int]) -> None:
    left, right = _dates(np.array(window, dtype=np.int64))
    ax.set_xlim(left, right)


def _time_axis(ax: Axes) -> None:
    locator = AutoDateLocator(minticks=5, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, show_offset=True))


def _save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` (format from the suffix, PNG without one) with fixed metadata."""
    out = Path(path)
    fmt = out.suffix.lower().lstrip(".") or "png"
    # a fixed salt keeps SVG ids the same from run to run
    with plt.rc_context({"svg.hashsalt": "sor"}), _fixed_postscript_date(fmt):
        if fmt in ("ps", "eps"):
            # through a file object: PostScript would otherwise title itself with the file
            # name, which is a temporary one under the CLI
            # PostScript has no transparency: the markers come out opaque, still legible
            with out.open("wb") as stream, warnings.catch_warnings():
                warnings.filterwarnings("ignore", "The PostScript backend does not support")
                fig.savefig(stream, dpi=110, format=fmt, metadata=_METADATA[fmt])
        elif fmt == "svgz":
            # compressed here: matplotlib's gzip header would carry the time of writing
            svg = io.BytesIO()
            fig.savefig(svg, dpi=110, format="svg", metadata=_METADATA[fmt])
            out.write_bytes(gzip.compress(svg.getvalue(), mtime=0))
        else:
            fig.savefig(out, dpi=110, metadata=_METADATA.get(fmt))
    return out


@contextmanager
def _fixed_postscript_date(fmt: str) -> Iterator[None]:
    """Date PostScript output at the epoch (it reads SOURCE_DATE_EPOCH, else the clock)."""
    if fmt not in ("ps", "eps"):
        yield
        return
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before
