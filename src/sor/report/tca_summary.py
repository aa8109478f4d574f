"""The short human summary of a blotter's backtest (``sor backtest --orders``), written to
stderr beside the JSON report: one row per strategy, read from the report's ``tca``."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

MARKS = string.ascii_lowercase
"""The marks of the reasons for no interval, one per distinct reason (at most one per
baseline)."""
NO_VALUE = "-"
"""A figure the report gives as null, or that does not apply (the router against itself)."""


def tca_summary(report: Mapping[str, Any]) -> str:
    """Return the summary of a blotter's report as text lines (no final newline).

    Per strategy: its orders (every strategy routes every order), fill rate and share-weighted shortfall against the arrival mid
    (bps, positive = a cost); on each baseline's row the router's mean paired saving against
    it (bps, positive = the router did better), its 95 % interval or ``no interval`` with a
    mark whose reason (the report's ``no_interval``) follows the table, and the share of
    orders the router won of those both filled (the saving's orders). A last line says how the intervals are clustered.
    """
    tca = report["tca"]
    savings = tca["router_savings_bps"]
    reasons: dict[str, str] = {}  # reason -> its mark, in order of first use
    head = (f"{'strategy':<10}  {'orders':>6}  {'fill rate':>9}  {'shortfall bps':>13}  "
            f"{'router saves bps':>16}  {'router won':>18}  95 % interval of the saving")  # fmt: skip
    lines = [_headline(tca), head]
    for name, figures in tca["strategies"].items():
        saving = savings.get(name)
        mean = won = interval = NO_VALUE
        if saving is not None:
            mean = _signed(saving["mean"])
            # of the orders both filled: a router that fills few is judged on few
            won = f"{_percent(saving['won'])} of {saving['orders']:,}"
            if saving["ci95"] is not None:
                interval = "[{}, {}]".format(*(_signed(end) for end in saving["ci95"]))
            elif saving["no_interval"] is not None:
                mark = reasons.setdefault(saving["no_interval"], f"({MARKS[len(reasons)]})")
                interval = f"no interval {mark}"
        lines.append(
            f"{name:<10}  {tca['orders']:>6,}  {_percent(figures['fill_rate']):>9}  "
            f"{_signed(figures['shortfall_bps']):>13}  {mean:>16}  {won:>18}  {interval}"
        )
    lines += [f"{mark} {reason}" for reason, mark in reasons.items()]
    lines.append(_clusters_line(tca["intervals"]))
    return "\n".join(lines)


def _headline(tca: Mapping[str, Any]) -> str:
    sides = tca["breakdown"]["side"]
    mix = ", ".join(f"{group['orders']:,} {side}" for side, group in sides.items())
    return (
        f"{tca['orders']:,} orders ({mix}), bps of the arrival mid: shortfall > 0 is a cost, "
        "saving > 0 the router did better"
    )


def _clusters_line(intervals: Mapping[str, Any]) -> str:
    count = intervals["count"]
    return (
        f"intervals: clustered by {intervals['clusters']}, {count:,} "
        f"cluster{'s' if count != 1 else ''}; {intervals['min_clusters']:,} needed"
    )


def _signed(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:+.2f}"


def _percent(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value * 100:.1f} %"
