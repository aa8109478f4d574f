"""The short human summary of a single order's backtest (``sor backtest``, either model),
written to stderr beside the JSON report: one row per strategy, read from the report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sor.report.builder import UNFILLED

NO_VALUE = "-"
"""A figure the report gives as null, or that does not apply (the router against itself)."""


def backtest_summary(report: Mapping[str, Any]) -> str:
    """Return the summary of a single order's report as text lines (no final newline).

    A headline names the order; then, per strategy (the router first, then the baselines
    in the report's order), its average price ($ a share, fees and rebates included), its
    fill rate, its cost against the arrival mid where the report has one (bps, positive =
    a cost: model ck's ``implementation_shortfall_bps``) and the router's saving against it
    (bps, positive = the router did better). The notes saying why a strategy ended short
    follow, as the report words them.
    """
    run = report["run"]
    size = run["order_size"]
    strategies = report["strategies"]
    figures = {"router": report["optimized"], **report["baselines"]}
    with_cost = any("implementation_shortfall_bps" in entry for entry in strategies.values())
    cost_head = f"  {'cost bps':>8}" if with_cost else ""
    lines = [
        f"{run.get('side', 'buy')} {size:,} shares, model {run['model']}, in bps: "
        + ("cost > 0 is paid against the arrival mid, " if with_cost else "")
        + "saving > 0 the router did better",
        f"{'strategy':<10}  {'avg price $':>12}  {'fill rate':>9}{cost_head}  "
        f"{'router saves bps':>16}",
    ]
    savings = report["savings_vs_baselines_bps"]
    for name, entry in figures.items():
        price = entry["avg_fill_px"]
        cost = (
            f"  {_signed(strategies[name].get('implementation_shortfall_bps')):>8}"
            if with_cost
            else ""
        )
        lines.append(
            f"{name:<10}  {NO_VALUE if price is None else f'{price:,.4f}':>12}  "
            f"{entry['total_fill'] / size * 100:>7.1f} %{cost}  "
            f"{_signed(savings.get(name)):>16}"
        )
    lines += [note for note in report["notes"] if note.startswith(UNFILLED)]
    return "\n".join(lines)


def _signed(value: float | None) -> str:
    return NO_VALUE if value is None else f"{value:+.2f}"
