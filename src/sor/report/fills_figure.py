"""The fill study's figure: fill probability and markout against the horizon, per venue."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from sor.core.domain import VENUE_NAMES
from sor.core.uncertainty import MIN_UNITS, Z_95
from sor.report.figures import _save

MARKOUT_SHOWN_S = "10"
"""The markout horizon the right panel shows (seconds, as the report's key)."""

DODGE = 1.04
"""The factor between neighbouring venues' horizons on the log axis, so bars stay apart."""


def fills_figure(report: dict[str, Any]) -> Figure:
    """Draw, per venue, the probability of any fill and of a full fill (left) and the
    10-second markout of the fills (right) against the order's horizon: one row of panels
    per order size."""
    run = report["run"]
    if "sizes" in report:
        studies = [(int(size), part["venues"]) for size, part in report["sizes"].items()]
    else:
        studies = [(run["size"], report["venues"])]
    fig, axes = plt.subplots(len(studies), 2, figsize=(11, 4.2 * len(studies)),
                             layout="constrained", squeeze=False)  # fmt: skip
    for (size, venues), (left, right) in zip(studies, axes, strict=True):
        for i, (venue, by_horizon) in enumerate(venues.items()):
            horizons = sorted(by_horizon, key=float)
            # each venue a little aside (log axis) so that its bars do not hide another's
            dodge = DODGE ** (i - (len(venues) - 1) / 2)
            x = [float(h) * dodge for h in horizons]
            name = VENUE_NAMES.get(int(venue), venue)
            cells = [by_horizon[h] for h in horizons]
            line = left.errorbar(x, *_probability(cells, "p_any_fill"), marker="o", capsize=3,
                                 label=f"{name} ({venue})")[0]  # fmt: skip
            left.errorbar(x, *_probability(cells, "p_full_fill"), marker="o", capsize=3,
                          linestyle="--", color=line.get_color())  # fmt: skip
            right.errorbar(x, *_markout(cells), marker="o", capsize=3, color=line.get_color(),
                           label=f"{name} ({venue})")  # fmt: skip
        _horizon_axis(left, run)
        _horizon_axis(right, run)
        left.set_ylim(-0.02, 1.02)
        left.set_ylabel(
            "probability (solid: any fill; dashed: full fill)\n"
            f"bars: Wilson 95 % (none under {MIN_UNITS} orders)"
        )
        left.set_title(f"{size}-share {run['side']} orders every {run['every_s']:g} s")
        right.axhline(0, color="0.3", linewidth=0.8)
        right.set_ylabel(
            f"{MARKOUT_SHOWN_S}-s markout of the fills, bps (positive = cost)\n"
            f"bars: 1.96 standard errors (none under {MIN_UNITS} filled orders)"
        )
        right.set_title(f"{run['queue_model']} queue, latency {run['latency_us']:g} us"
                        f"{_rules(run)}")  # fmt: skip
        left.legend(fontsize=8)
    return fig


def _probability(cells: list[dict[str, Any]], key: str) -> tuple[list[float], list[list[float]]]:
    """A probability per cell and its Wilson interval as error bars below and above (NaN
    where the cell has none)."""
    values = [_number(c[key]) for c in cells]
    ends = [c.get(f"{key}_95") or (math.nan, math.nan) for c in cells]
    return values, [[v - lo for v, (lo, _) in zip(values, ends, strict=True)],
                    [hi - v for v, (_, hi) in zip(values, ends, strict=True)]]  # fmt: skip


def _markout(cells: list[dict[str, Any]]) -> tuple[list[float], list[float]]:
    """The shown markout per cell and 1.96 standard errors of it (NaN where none)."""
    values = [_number(c["markout_bps"][MARKOUT_SHOWN_S]) for c in cells]
    errors = [Z_95 * _number(c.get("markout_se_bps", {}).get(MARKOUT_SHOWN_S)) for c in cells]
    return values, errors


def _number(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _horizon_axis(ax: Any, run: dict[str, Any]) -> None:
    ax.set_xscale("log")
    ax.set_xticks(run["horizons_s"], [f"{h:g}" for h in run["horizons_s"]])
    ax.minorticks_off()
    ax.set_xlabel("horizon, s (the order is cancelled after it)")
    ax.grid(alpha=0.3)


def _rules(run: dict[str, Any]) -> str:
    """The fill rules of the run that are not the default, for a title."""
    rules = [f"{run[key]} {key.split('_')[0]} fills" for key in ("crossing_fill", "trade_fill")
             if key in run]  # fmt: skip
    return "".join(f", {rule}" for rule in rules)


COMPARE_STYLE = {"fifo": ("black", "-"), "conservative": ("tab:blue", "--"),
                 "probabilistic": ("tab:orange", ":")}  # fmt: skip


def compare_figure(report: dict[str, Any]) -> Figure:
    """Draw, per venue with order ids and order size, the mean filled fraction (left) and
    the probability of a full fill (right) against the horizon, FIFO's beside each model's;
    the legend gives each model's share of orders filled as FIFO fills them, per horizon."""
    run = report["run"]
    panels = [(venue, size, cells) for venue, by_size in report["compare"].items()
              for size, cells in by_size.items()]  # fmt: skip
    fig, axes = plt.subplots(max(1, len(panels)), 2, figsize=(11, 3.8 * max(1, len(panels))),
                             layout="constrained", squeeze=False)  # fmt: skip
    for (venue, size, cells), (left, right) in zip(panels, axes, strict=False):
        horizons = sorted(cells, key=float)
        for i, model in enumerate(run["models"]):
            # each model a little aside (log axis) so that its bars do not hide another's
            x = [float(h) * DODGE ** (i - (len(run["models"]) - 1) / 2) for h in horizons]
            color, style = COMPARE_STYLE.get(model, ("0.5", "-"))
            same = [cells[h][model].get("identical_quantity") for h in horizons]
            label = (
                model
                if model == "fifo"
                else (
                    f"{model} (same as FIFO: "
                    + ", ".join("-" if v is None else f"{100 * v:.1f} %" for v in same)
                    + ")"
                )
            )
            for ax, key in ((left, "mean_filled_fraction"), (right, "p_full_fill")):
                values = [_number(cells[h][model][key]) for h in horizons]
                bars = _paired_bars([cells[h][model] for h in horizons], key)
                ax.errorbar(x, values, yerr=bars, marker="o", capsize=3, color=color,
                            linestyle=style, label=label)  # fmt: skip
        name = VENUE_NAMES.get(int(venue), venue)
        for ax, what in ((left, "mean filled fraction"), (right, "probability of a full fill")):
            _horizon_axis(ax, run)
            ax.set_ylabel(f"{what}\nbars: paired 95 % interval of model - FIFO,\nabout the "
                          f"model (none under {MIN_UNITS} orders)", fontsize=9)  # fmt: skip
            ax.set_ylim(bottom=0)
            ax.set_title(f"{name} ({venue}): {size}-share {run['side']} orders every "
                         f"{run['every_s']:g} s{_rules(run)}")  # fmt: skip
        left.legend(fontsize=7)
    return fig


def _paired_bars(stats: list[dict[str, Any]], key: str) -> list[list[float]] | None:
    """A model's paired interval of its difference from FIFO's ``key`` as error bars below
    and above its value (NaN where a cell has none); None for FIFO, which has no bar."""
    if not stats or f"{key}_diff" not in stats[0]:
        return None
    below, above = [], []
    for cell in stats:
        ends = cell.get(f"{key}_diff_95")
        if ends is None or cell.get(f"{key}_diff") is None:
            below.append(math.nan)
            above.append(math.nan)
            continue
        # the interval of the difference, carried to the model's value: FIFO's value lies
        # inside the bar exactly when the interval holds 0
        below.append(max(0.0, cell[f"{key}_diff"] - ends[0]))
        above.append(max(0.0, ends[1] - cell[f"{key}_diff"]))
    return [below, above]


def write_compare_plot(report: dict[str, Any], path: str | Path) -> Path:
    """Draw :func:`compare_figure` to ``path``; return the path."""
    return _write(compare_figure, report, path)


def write_fills_plot(report: dict[str, Any], path: str | Path) -> Path:
    """Draw :func:`fills_figure` to ``path``; return the path."""
    return _write(fills_figure, report, path)


def _write(
    draw: Callable[[dict[str, Any]], Figure], report: dict[str, Any], path: str | Path
) -> Path:
    fig = draw(report)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)
