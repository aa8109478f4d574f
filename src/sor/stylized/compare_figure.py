"""The figure of ``sor stats --compare``: per fact, each venue's generated/real ratio (or
difference) with its tolerance band shaded and failing points marked."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from sor.core.domain import VENUE_NAMES
from sor.report.figures import _save
from sor.stylized.compare import FAIL, NOT_COMPARED, PASS, TOLERANCES, Tolerance

COLUMNS = 3


def write_compare_plot(comparison: Mapping[str, Any], path: str | Path) -> Path:
    """Draw the figure of ``comparison`` into ``path`` (format from the suffix, PNG
    without)."""
    fig = compare_figure(comparison)
    try:
        return _save(fig, path)
    finally:
        plt.close(fig)


def compare_figure(comparison: Mapping[str, Any]) -> Figure:
    """Return one panel per compared fact, and one saying how to read them."""
    names = list(TOLERANCES)
    rows = (len(names) + 1 + COLUMNS - 1) // COLUMNS
    fig, axes = plt.subplots(rows, COLUMNS, figsize=(13, 3.1 * rows))
    flat = list(axes.ravel())
    counts = comparison["counts"]
    real = Path(comparison["real"]["file"]).name
    generated = Path(comparison["generated"]["file"]).name
    title = (f"{generated} (generated) against {real} (real): {counts['pass']} pass, "
             f"{counts['fail']} FAIL, {counts['not_compared']} not compared")  # fmt: skip
    fig.suptitle("\n".join(textwrap.wrap(title, 110)), fontsize=11)
    scopes = {**comparison["venues"], "overall": comparison["overall"]}
    for ax, name in zip(flat, names, strict=False):
        _panel(ax, name, TOLERANCES[name], scopes)
    _key(flat[len(names)], comparison)
    for ax in flat[len(names) + 1 :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def _label(venue: str) -> str:
    if venue == "overall":
        return "all"
    return f"{VENUE_NAMES.get(int(venue), venue)}\n({venue})"


def _panel(
    ax: Axes, name: str, tolerance: Tolerance, scopes: Mapping[str, Mapping[str, Any]]
) -> None:
    shown = tolerance.shown
    ax.set_title(f"{name} ({tolerance.text()})", fontsize=9)
    ax.set_ylabel("generated / real" if shown == "ratio" else "generated - real", fontsize=8)
    ax.axhline(1.0 if shown == "ratio" else 0.0, color="grey", linewidth=0.8)
    labels = []
    values = []
    for x, (venue, facts) in enumerate(scopes.items()):
        labels.append(_label(venue))
        entry = facts[name]
        value = entry[shown]
        band = None if entry["real"] is None else tolerance.band(entry["real"])
        if band is not None:
            ax.fill_between([x - 0.35, x + 0.35], band[0], band[1], color="#2ca02c", alpha=0.2,
                            linewidth=0)  # fmt: skip
            values += list(band)
        if entry["result"] == NOT_COMPARED or value is None:
            # no ratio to a real 0: the result said in words (a generated 0 passes)
            text = (
                "not\ncompared"
                if entry["result"] == NOT_COMPARED
                else f"{entry['result']}\n(real 0)"
            )
            ax.text(x, 0.5, text, transform=ax.get_xaxis_transform(), ha="center",
                    va="center", fontsize=7, color="0.4")  # fmt: skip
            continue
        values.append(value)
        if entry["result"] == PASS:
            ax.plot([x], [value], "o", color="#2ca02c", markersize=6)
        else:
            ax.plot([x], [value], "X", color="#d62728", markersize=9)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.tick_params(axis="y", labelsize=7)
    # a ratio far from 1 would flatten the band on a linear axis
    positive = [v for v in values if v > 0]
    if (
        shown == "ratio"
        and positive
        and len(positive) == len(values)
        and (max(values) / min(values) > 10)
    ):
        ax.set_yscale("log")
    ax.margins(y=0.15)


def _key(ax: Axes, comparison: Mapping[str, Any]) -> None:
    ax.axis("off")
    handles = [
        Patch(color="#2ca02c", alpha=0.2, label="tolerance band"),
        Line2D([], [], marker="o", color="#2ca02c", linestyle="", label=PASS),
        Line2D([], [], marker="X", color="#d62728", linestyle="", markersize=9, label=FAIL),
    ]
    ax.legend(handles=handles, loc="upper left", fontsize=8, frameon=False)
    notes = []
    for side in ("real_only", "generated_only"):
        venues = comparison["unmatched"][side]
        if venues:
            notes.append(f"in the {side.replace('_only', '')} file only: " + ", ".join(venues))
    queue = {
        side: comparison[side]["fill_study"].get("queue_model", "none")
        for side in ("real", "generated")
    }
    notes.append(f"fill study queue model: real {queue['real']}, "
                 f"generated {queue['generated']}")  # fmt: skip
    text = "\n".join(line for note in notes for line in textwrap.wrap(note, 45))
    ax.text(0.0, 0.45, text, transform=ax.transAxes, ha="left", va="top", fontsize=8)
