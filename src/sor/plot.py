"""The results figure: average price per strategy, fills and cost over time, venue mix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.dates import DateFormatter
from matplotlib.ticker import MaxNLocator

from sor.backtest import BacktestResult
from sor.domain import VENUE_NAMES, StrategyResult
from sor.report import savings_bps

COLORS = {"router": "#1f77b4", "best_ask": "#ff7f0e", "twap": "#2ca02c", "vwap": "#d62728"}


def _times(ts_ns: np.ndarray) -> np.ndarray:
    return np.asarray(ts_ns, dtype="datetime64[ns]")


def _cumulative(
    result: StrategyResult, start_ns: int, end_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return times, cumulative shares and cumulative dollars from the window start to its end."""
    ts = np.array([start_ns, *(f.ts_event for f in result.fills), end_ns], dtype=np.int64)
    qty = np.array([0, *(f.quantity for f in result.fills), 0], dtype=np.int64)
    cash = np.array([0.0, *(f.quantity * (f.price + f.fee) for f in result.fills), 0.0])
    return ts, np.cumsum(qty), np.cumsum(cash)


def write_plot(result: BacktestResult, path: str | Path) -> Path:
    """Draw the four-panel results figure to ``path`` (PNG) and return the path."""
    strategies = {"router": result.router, **result.baselines}
    fig, axes = plt.subplots(2, 2, figsize=(14, 9), constrained_layout=True)
    ax_price, ax_fill, ax_cost, ax_venue = axes.ravel()
    params = result.best_parameters
    fig.suptitle(
        f"{Path(result.data.source).name}: buy {result.config.order_size:,} shares "
        f"({result.config.model} router, lambda_over={params.lambda_over}, "
        f"lambda_under={params.lambda_under}, theta_queue={params.theta_queue})",
        fontsize=12,
    )

    names = list(strategies)
    averages = [strategies[n].avg_fill_px for n in names]
    shown = [a if a is not None else np.nan for a in averages]
    bars = ax_price.bar(names, shown, color=[COLORS[n] for n in names])
    finite = [a for a in averages if a is not None]
    if finite:
        low, high = min(finite), max(finite)
        pad = max((high - low) * 0.6, 0.005)
        ax_price.set_ylim(low - pad, high + pad)
    for name, bar, avg in zip(names, bars, averages, strict=True):
        label = "no fill" if avg is None else f"${avg:,.4f}"
        if name != "router" and avg is not None:
            saving = savings_bps(strategies[name], result.router)
            if saving is not None:
                label += f"\nrouter saves\n{saving:+.2f} bps"
        ax_price.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height() if avg else 0),
            ha="center",
            va="bottom",
            fontsize=9,
        )
    ax_price.set_ylabel("average fill price, fees included ($/share)")
    ax_price.set_title("Average fill price by strategy (lower is better)")
    ax_price.ticklabel_format(axis="y", useOffset=False)

    for name, strategy in strategies.items():
        ts, shares, cash = _cumulative(strategy, result.window_start_ns, result.window_end_ns)
        when = _times(ts)
        ax_fill.step(when, shares, where="post", label=name, color=COLORS[name])
        ax_cost.step(when, cash, where="post", label=name, color=COLORS[name])
    for axis, ylabel, title in (
        (ax_fill, "shares bought", "Cumulative filled shares"),
        (ax_cost, "dollars spent, fees included", "Cumulative cost"),
    ):
        axis.set_xlabel("ts_event (UTC)")
        axis.set_ylabel(ylabel)
        axis.set_title(title)
        axis.xaxis.set_major_locator(MaxNLocator(6))
        axis.xaxis.set_major_formatter(DateFormatter("%H:%M:%S"))
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right")
    ax_fill.axhline(result.config.order_size, color="grey", linestyle=":", linewidth=1)
    ax_cost.ticklabel_format(axis="y", useOffset=False, style="plain")

    venues = list(result.venues)
    bottom = np.zeros(len(names))
    cmap = plt.get_cmap("tab10")
    for k, venue in enumerate(venues):
        shares = np.array(
            [sum(f.quantity for f in strategies[n].fills if f.publisher_id == venue) for n in names]
        )
        name = VENUE_NAMES.get(venue, "")
        ax_venue.bar(
            names, shares, bottom=bottom, label=f"{venue} {name}".strip(), color=cmap(k % 10)
        )
        bottom += shares
    ax_venue.set_ylabel("shares")
    ax_venue.set_title("Where each strategy bought (by publisher_id)")
    ax_venue.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))

    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_ck_plot(report: dict[str, Any], path: str | Path) -> Path:
    """Draw the model-ck figure: price per strategy, passive share, and a heat map of the
    router's average price against ``lambda_under`` and ``theta_queue``."""
    fig, (ax_price, ax_passive, ax_heat) = plt.subplots(
        1, 3, figsize=(19, 5.5), constrained_layout=True, width_ratios=(1.5, 1, 1.3)
    )
    best = report["best_parameters"]
    fig.suptitle(
        f"{Path(str(report['run']['input'])).name}: buy {report['run']['order_size']:,} shares, "
        f"ck router (T={best['horizon_s']:g} s, lambda_under={best['lambda_under']}, "
        f"theta_queue={best['theta_queue']}, {report['run']['queue_model']} queue)"
    )
    details = report["strategies"]
    names = list(details)
    summaries = {"router": report["optimized"], **report["baselines"]}
    averages = [summaries[n]["avg_fill_px"] for n in names]
    finite = [a for a in averages if a is not None]
    colors = plt.get_cmap("tab10")
    ax_price.bar(names, [a if a is not None else np.nan for a in averages],
                 color=[colors(i) for i in range(len(names))])  # fmt: skip
    if finite:
        pad = max((max(finite) - min(finite)) * 0.6, 0.005)
        ax_price.set_ylim(min(finite) - pad, max(finite) + pad)
    for i, avg in enumerate(averages):
        if avg is not None:
            shortfall = details[names[i]]["implementation_shortfall_bps"]
            text = f"${avg:,.4f}" + (f"\nIS {shortfall:+.2f} bps" if shortfall is not None else "")
            ax_price.annotate(text, (i, avg), ha="center", va="bottom", fontsize=8)
    ax_price.set_title("Average fill price, fees and rebates included (lower is better)")
    ax_price.ticklabel_format(axis="y", useOffset=False)
    ax_passive.bar(names, [details[n]["passive_share"] or 0.0 for n in names],
                   color=[colors(i) for i in range(len(names))])  # fmt: skip
    ax_passive.set_ylim(0, 1)
    ax_passive.set_title("Share filled passively")

    table = report["search"]["table"]
    unders = sorted({row["lambda_under"] for row in table})
    thetas = sorted({row["theta_queue"] for row in table})
    grid = np.full((len(thetas), len(unders)), np.nan)
    for row in table:
        i, j = thetas.index(row["theta_queue"]), unders.index(row["lambda_under"])
        if row["avg_fill_px"] is not None:
            grid[i, j] = np.nanmin([grid[i, j], row["avg_fill_px"]])
    finite_cells = grid[~np.isnan(grid)]
    low = float(finite_cells.min()) if finite_cells.size else 0.0
    high = float(finite_cells.max()) if finite_cells.size else 1.0
    # at least a hundredth of a cent of range: differences below that are noise, not signal
    image = ax_heat.imshow(
        grid, origin="lower", cmap="viridis_r", aspect="auto", vmin=low,
        vmax=low + max(high - low, 1e-4),
    )  # fmt: skip
    ax_heat.set_xticks(range(len(unders)), [f"{u:g}" for u in unders])
    ax_heat.set_yticks(range(len(thetas)), [f"{t:g}" for t in thetas])
    ax_heat.set_xlabel("lambda_under ($/share)")
    ax_heat.set_ylabel("theta_queue ($/share)")
    ax_heat.set_title("Router avg price, best over lambda_over and T")
    for i in range(len(thetas)):
        for j in range(len(unders)):
            if not np.isnan(grid[i, j]):
                # viridis_r is dark at the top of its range: light text there
                dark = float(image.norm(grid[i, j])) > 0.6
                ax_heat.annotate(f"{grid[i, j]:.4f}", (j, i), ha="center", va="center",
                                 color="white" if dark else "black", fontsize=8)  # fmt: skip
    fig.colorbar(image, ax=ax_heat, label="$/share", format="%.5f")
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
