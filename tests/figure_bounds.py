"""Checks of a drawn figure: every text it shows lies inside it, and no legend covers a bar.

A figure is drawn as it is written (at 110 dpi) before its texts are measured; a tick label
whose tick falls outside its axis's view is not drawn and is not measured.
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backend_bases import RendererBase
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text


def draw(figure: Figure) -> RendererBase:
    """Draw ``figure`` at the resolution it is written with; return the renderer."""
    figure.set_dpi(110)
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return canvas.get_renderer()


def _undrawn_tick_labels(figure: Figure) -> set[int]:
    """The ids of the tick labels whose tick lies outside its axis's view (not drawn)."""
    hidden: set[int] = set()
    for ax in figure.axes:
        axes: list[Axis] = [ax.xaxis, ax.yaxis]
        for axis in axes:
            low, high = sorted(axis.get_view_interval())
            slack = (high - low) * 1e-9
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                loc = tick.get_loc()
                if loc is None or not low - slack <= loc <= high + slack:
                    hidden.update((id(tick.label1), id(tick.label2)))
    return hidden


def texts_outside(figure: Figure) -> list[str]:
    """Return each shown text of ``figure`` whose box reaches past the figure's edge."""
    renderer = draw(figure)
    hidden = _undrawn_tick_labels(figure)
    outside = []
    for text in figure.findobj(Text):
        if not text.get_visible() or not text.get_text() or id(text) in hidden:
            continue
        box = text.get_window_extent(renderer)
        frame = figure.bbox
        if not (frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
                and box.y1 <= frame.y1):  # fmt: skip
            outside.append(text.get_text())
    return outside


def shown_texts(figure: Figure) -> list[str]:
    """Return every shown text of ``figure`` (drawn first)."""
    draw(figure)
    hidden = _undrawn_tick_labels(figure)
    return [t.get_text() for t in figure.findobj(Text)
            if t.get_visible() and t.get_text() and id(t) not in hidden]  # fmt: skip


def legend_covers_a_bar(ax: Axes) -> bool:
    """Say whether the legend of ``ax`` overlaps one of its bars (drawn first)."""
    legend = ax.get_legend()
    assert legend is not None
    renderer = draw(ax.get_figure(root=True))  # type: ignore[arg-type]
    box = legend.get_window_extent(renderer)
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() != 0]
    assert bars, "no bar to cover"
    return any(box.overlaps(bar.get_window_extent(renderer)) for bar in bars)


def vertical_gaps(figure: Figure, axes: list[Axes]) -> np.ndarray:
    """Return the blank height between each two panels of ``axes`` (top to bottom), as a
    fraction of the figure's height: from one panel's lowest text to the next one's title."""
    renderer = draw(figure)
    boxes = [box for ax in axes if (box := ax.get_tightbbox(renderer)) is not None]
    return np.array([(upper.y0 - lower.y1) / figure.bbox.height
                     for upper, lower in itertools.pairwise(boxes)])  # fmt: skip
