"""The figure of ``sor stats``: trade-sign persistence, the OFI regression, markouts, rates.

Every panel shows each venue (thin lines) and the whole file (thick, black), so that a user
can set a generated market beside a real one.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sor.core.domain import VENUE_NAMES
from sor.core.uncertainty import MIN_UNITS, Z_95
from sor.report.figures import _save
from sor.stylized.summary import Stats


def write_stats_plot(stats: Stats, path: str | Path) -> Path:
    """Draw the figure of ``stats`` into ``path`` (format from the suffix, PNG without)."""
    fig = stats_figure(stats)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def stats_figure(stats: Stats) -> Figure:
    """Return the four-panel figure of a stats report."""
    report = stats.report
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5))
    fig.suptitle(f"Stylized facts of {Path(report['file']).name}: {report['rows']:,} rows, "
                 f"{report['seconds']:,.0f} s, {len(report['venues'])} venue(s)")  # fmt: skip
    series = {**{_label(v): f for v, f in report["venues"].items()}, "all": report["overall"]}
    _autocorrelation(axes[0, 0], series)
    _ofi(axes[0, 1], stats)
    _markouts(axes[1, 0], series)
    _rates(axes[1, 1], report["venues"])
    fig.tight_layout()
    return fig


def _label(venue: str) -> str:
    return f"{VENUE_NAMES.get(int(venue), venue)} ({venue})"


def _style(name: str) -> dict[str, Any]:
    if name == "all":
        return {"color": "black", "linewidth": 2.4, "zorder": 3}
    return {"linewidth": 1.0, "alpha": 0.8}


def _autocorrelation(ax: Axes, series: Mapping[str, Mapping[str, Any]]) -> None:
    ax.set_xlabel("lag (trade events)")
    ax.set_ylabel("autocorrelation of trade signs")
    ax.set_title("Trade-sign persistence")
    drawn = False
    for name, facts in series.items():
        values = facts["trade_sign_autocorrelation"]
        lags = [int(k) for k, v in values.items() if v is not None]
        if lags:
            ax.plot(lags, [values[str(k)] for k in lags], marker="o", markersize=3,
                    label=name, **_style(name))  # fmt: skip
            drawn = True
    if not drawn:
        _note(ax, "no autocorrelation: too few trade events (lag + 3), or one sign only")
        return
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.legend(fontsize=7, ncol=2)


def _ofi(ax: Axes, stats: Stats) -> None:
    points = stats.ofi_points.get("overall")
    intervals = stats.report["settings"]["intervals_s"]
    seconds = min(intervals, key=lambda s: abs(s - 10.0))
    fit = stats.report["overall"]["ofi"][f"{seconds:g}"]
    ax.set_title(f"Mid change against OFI, {seconds:g} s intervals, all venues")
    ax.set_xlabel("OFI, shares")
    ax.set_ylabel("NBBO mid change, ticks")
    if points is None or not len(points[0]):
        _note(ax, "no interval: the file is shorter than one, or both sides are never quoted")
        return
    flow, change = points
    ax.scatter(flow, change, s=10, alpha=0.6, color="#1f77b4")
    if fit["slope"] is None:
        _note(ax, "no slope: fewer than three intervals, or no order-flow imbalance", y=0.9)
        return
    xs = np.array([flow.min(), flow.max()])
    intercept = change.mean() - fit["slope"] * flow.mean()
    # R² is undefined (null) when the mid never moves: the slope is then exactly 0
    r2 = "" if fit["r2"] is None else f", R² {fit['r2']:.2f} over {fit['intervals']} intervals"
    ax.plot(xs, intercept + fit["slope"] * xs, color="black",
            label=f"slope {fit['slope']:.3g} ticks/share{r2}")  # fmt: skip
    ax.legend(fontsize=8)


def _markouts(ax: Axes, series: Mapping[str, Mapping[str, Any]]) -> None:
    ax.set_ylabel("mid move after a trade, bps, in its direction")
    ax.set_title("Trade markouts (positive: the price went on the aggressor's way)")
    drawn = False
    bare: dict[str, int] = {}  # horizon without a bar -> the fewest blocks behind its mean
    for i, (name, facts) in enumerate(series.items()):
        values, errors = facts["markout_bps"], facts.get("markout_se_bps", {})
        horizons = [k for k, v in values.items() if v is not None]
        if not horizons:
            continue
        # each series a little aside (log axis) so that its bars do not hide another's
        dodge = DODGE ** (i - (len(series) - 1) / 2)
        half = [_half_width(errors.get(k)) for k in horizons]
        ax.errorbar([float(k) * dodge for k in horizons], [values[k] for k in horizons],
                    yerr=half, marker="o", markersize=3, capsize=2, label=name,
                    **_style(name))  # fmt: skip
        for k, width in zip(horizons, half, strict=True):
            if np.isnan(width):
                blocks = facts.get("markout_blocks", {}).get(k, 0)
                bare[k] = min(bare.get(k, blocks), blocks)
        drawn = True
    ax.set_xlabel("horizon, s" + (f"\n{_bars_note(bare)}" if drawn else ""), fontsize=9)
    if not drawn:
        _note(ax, "no markout: no signed trade with a quoted mid before it and a horizon "
              "inside the file")  # fmt: skip
        return
    ax.axhline(0.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")  # only with points: a log axis cannot hold an empty range
    ax.legend(fontsize=7, ncol=2)


DODGE = 1.03
"""The factor between neighbouring series' horizons on the markout panel's log axis."""


def _half_width(standard_error: float | None) -> float:
    """A markout's error bar above and below: 1.96 standard errors (NaN, no bar, without)."""
    return np.nan if standard_error is None else Z_95 * standard_error


def _bars_note(bare: Mapping[str, int]) -> str:
    """What the markout bars are, and at which horizons some have none and why."""
    text = "bars: 1.96 standard errors (units: blocks of time as long as the horizon)"
    if not bare:
        return text
    where = ", ".join(f"{float(k):g} s ({bare[k]})" for k in sorted(bare, key=float))
    return f"{text}\nno bar where fewer than {MIN_UNITS} blocks hold a trade: {where}"


def _rates(ax: Axes, venues: Mapping[str, Mapping[str, Any]]) -> None:
    names = [_label(v) for v in venues]
    x = np.arange(len(names))
    messages = [f["messages_per_s"] or 0.0 for f in venues.values()]
    trades = [f["trades_per_s"] or 0.0 for f in venues.values()]
    ax.bar(x - 0.2, messages, width=0.4, label="messages/s")
    ax.bar(x + 0.2, trades, width=0.4, label="trades/s")
    ax.set_xticks(x, names, rotation=20, fontsize=8)
    ax.set_ylabel("per second")
    ax.set_title("Message and trade rates per venue")
    if all(f["messages_per_s"] is None for f in venues.values()):
        _note(ax, "no rate: every row has one timestamp (a span of 0 s)")
        return
    # headroom above the tallest bar: the legend sits there, covering none
    ax.margins(y=0.2)
    ax.legend(fontsize=8, ncols=2, loc="upper center")


def _note(ax: Axes, text: str, y: float = 0.5) -> None:
    """Say on an empty (or partly empty) panel why it holds nothing to draw."""
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            wrap=True, color="0.3")  # fmt: skip
