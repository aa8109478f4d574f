"""The evaluation's figure, ``evaluation.png``: savings per day, their distribution with the
bootstrap interval, and in-sample against out-of-sample, for every baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sor.evaluation.report import better
from sor.report.figures import COLORS, _save


def write_evaluation_plot(report: dict[str, Any], path: str | Path) -> Path:
    """Draw :func:`evaluation_figure` of ``report`` (``evaluation.json``'s object) to
    ``path`` (format from the suffix, PNG without one); return the path."""
    return _save(evaluation_figure(report), path)


def evaluation_figure(report: dict[str, Any]) -> Figure:
    """Build the three panels of the figure from the report object."""
    summary = report["summary"]["savings_vs_baselines_bps"]
    scored = [day for day in report["days"] if day["out_of_sample"] is not None]
    # constrained: each gap only as tall as what it holds (the day labels under the first
    # panel would otherwise widen every gap alike)
    fig = Figure(figsize=(10, 11), layout="constrained")
    per_day, spread, sides = fig.subplots(3, 1, height_ratios=[3, 2, 2])
    run = report["run"]
    # over a blotter a day's point is the mean of its orders', and the interval the orders'
    orders = "orders_file" in run
    _per_day(per_day, scored, list(summary))
    _distribution(spread, scored, summary)
    _sides(sides, summary)
    if orders:
        per_day.set_title("Mean savings of each day's orders")
        spread.set_title(
            "Out-of-sample days (each its orders' mean), the mean over orders and its 95 % "
            "interval" + _why(summary)
        )
    verdict = (
        "did better than the baseline (paid less on a buy, received more on a sell)"
        if orders
        else f"{better(run.get('side', 'buy'))} the baseline"
    )
    fig.suptitle(
        f"sor evaluate, model {run['model']}: {report['summary']['scored_days']} days scored "
        f"out of sample after {report['summary']['train_days']} training days\n"
        f"savings in bps; positive: the router {verdict}"
    )
    return fig


def _label(day: dict[str, Any]) -> str:
    return day["window"]["start"][:10] + (f" {day['instrument']}" if day["instrument"] else "")


def _per_day(ax: Axes, days: list[dict[str, Any]], baselines: list[str]) -> None:
    x = list(range(len(days)))
    for name in baselines:
        color = COLORS.get(name, "#333333")
        oos = [_nan(d["out_of_sample"]["savings_vs_baselines_bps"][name]) for d in days]
        ins = [_nan(d["savings_vs_baselines_bps"][name]) for d in days]
        ax.plot(x, oos, marker="o", color=color, label=f"vs {name}, out of sample")
        ax.plot(x, ins, linestyle=":", marker=".", color=color, label=f"vs {name}, in sample")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, [_label(d) for d in days], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("savings, bps")
    ax.set_title("Savings per day")
    ax.legend(fontsize=7, ncol=2)


def _distribution(ax: Axes, days: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    for k, (name, sides) in enumerate(summary.items()):
        color = COLORS.get(name, "#333333")
        values = [d["out_of_sample"]["savings_vs_baselines_bps"][name] for d in days]
        known = [v for v in values if v is not None]
        # spread the dots across their slot by rank, a deterministic jitter
        offsets = [-0.25 + 0.5 * i / max(1, len(known) - 1) for i in range(len(known))]
        ax.scatter([k + o for o in offsets], known, color=color, alpha=0.5, s=14)
        _interval(ax, k + 0.35, sides["out_of_sample"], color)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(summary)), [f"vs {name}" for name in summary])
    ax.set_ylabel("savings, bps")
    ax.set_title("Out-of-sample days, their mean and 95 % bootstrap interval" + _why(summary))


def _sides(ax: Axes, summary: dict[str, Any]) -> None:
    for k, (name, sides) in enumerate(summary.items()):
        color = COLORS.get(name, "#333333")
        _interval(ax, k - 0.12, sides["in_sample"], color, hollow=True)
        _interval(ax, k + 0.12, sides["out_of_sample"], color)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(summary)), [f"vs {name}" for name in summary])
    ax.set_ylabel("mean savings, bps")
    ax.set_title(
        "In sample (hollow, left) against out of sample (filled, right), 95 % intervals"
        + _why(summary)
    )


def _why(summary: dict[str, Any]) -> str:
    """A second title line where a mean has no interval (a cross marks it), saying why."""
    why = next((s["out_of_sample"]["no_interval"] for s in summary.values()
                if s["out_of_sample"]["no_interval"]), None)  # fmt: skip
    return f"\nx: no interval ({why})" if why else ""


def _interval(
    ax: Axes, x: float, figures: dict[str, Any], color: str, *, hollow: bool = False
) -> None:
    """Draw a mean as a point and its interval as an error bar (nothing without days; the
    point alone, with a cross, where too few trading dates give no interval)."""
    if figures["mean"] is None:
        return
    mean = figures["mean"]
    face = "white" if hollow else color
    if figures["ci95"] is None:
        ax.plot([x], [mean], marker="X", color=color, markerfacecolor=face, linestyle="none")
        return
    low, high = figures["ci95"]
    ax.errorbar(
        [x], [mean], yerr=[[mean - low], [high - mean]], fmt="o", color=color, capsize=4,
        markerfacecolor=face,
    )  # fmt: skip


def _nan(value: float | None) -> float:
    return float("nan") if value is None else value
