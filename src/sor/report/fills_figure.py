"""The fill study's figure: fill probability and markout against the horizon, per venue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from sor.core.domain import VENUE_NAMES
from sor.report.figures import _save

MARKOUT_SHOWN_S = "10"
"""The markout horizon the right panel shows (seconds, as the report's key)."""


def fills_figure(report: dict[str, Any]) -> Figure:
    """Draw, per venue, the probability of any fill and of a full fill (left) and the
    10-second markout of the fills (right) against the order's horizon."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    for venue, by_horizon in report["venues"].items():
        horizons = sorted(by_horizon, key=float)
        x = [float(h) for h in horizons]
        name = VENUE_NAMES.get(int(venue), venue)
        line = left.plot(x, [by_horizon[h]["p_any_fill"] for h in horizons], marker="o",
                         label=f"{name} ({venue})")[0]  # fmt: skip
        left.plot(x, [by_horizon[h]["p_full_fill"] for h in horizons], marker="o",
                  linestyle="--", color=line.get_color())  # fmt: skip
        marks = [by_horizon[h]["markout_bps"][MARKOUT_SHOWN_S] for h in horizons]
        right.plot(x, [float("nan") if m is None else m for m in marks], marker="o",
                   color=line.get_color(), label=f"{name} ({venue})")  # fmt: skip
    run = report["run"]
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(run["horizons_s"], [f"{h:g}" for h in run["horizons_s"]])
        ax.minorticks_off()
        ax.set_xlabel("horizon, s (the order is cancelled after it)")
        ax.grid(alpha=0.3)
    left.set_ylim(-0.02, 1.02)
    left.set_ylabel("probability (solid: any fill; dashed: full fill)")
    left.set_title(f"{run['size']}-share {run['side']} orders every {run['every_s']:g} s")
    right.axhline(0, color="0.3", linewidth=0.8)
    right.set_ylabel(f"{MARKOUT_SHOWN_S}-s markout of the fills, bps (positive = cost)")
    crossing = f", {run['crossing_fill']} crossing fills" if "crossing_fill" in run else ""
    right.set_title(f"{run['queue_model']} queue, latency {run['latency_us']:g} us{crossing}")
    left.legend(fontsize=8)
    return fig


def write_fills_plot(report: dict[str, Any], path: str | Path) -> Path:
    """Draw :func:`fills_figure` to ``path``; return the path."""
    fig = fills_figure(report)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
