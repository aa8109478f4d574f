"""Hold one file's stylized facts to another's: ``sor stats --compare REAL GENERATED``.

Each fact of each venue (matched by publisher id) and of the whole file is set beside the
real file's, with the generated/real ratio and the difference, and passes or fails against
its tolerance (docs/stats.md, "Comparing two files"). The tolerances are
:data:`TOLERANCES`, here alone; the report writes them out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sor.stylized.facts import VOLATILITY_INTERVAL_S

PASS, FAIL, NOT_COMPARED = "pass", "FAIL", "not compared"
"""The result of one fact of one venue."""

FILL_SIZE = 100
"""Shares of each order of the fill study."""
FILL_HORIZONS_S = (2.0, 10.0, 60.0)
"""Seconds after which the fill study's orders are cancelled."""
OFI_INTERVAL_S = 10.0
"""The OFI regression whose R^2 is compared."""
MARKOUT_HORIZON_S = 10.0
"""The trade markout compared."""
AUTOCORRELATION_LAG = 1
"""The trade-sign autocorrelation compared."""


@dataclass(frozen=True)
class Tolerance:
    """How near the generated value must lie to the real one; any of the bounds given will
    do.

    Attributes
    ----------
    relative
        ``|generated / real - 1| <= relative`` (both 0 also).
    absolute
        ``|generated - real| <= absolute``.
    factor
        Of the same sign (both 0 also), and ``1 / factor <= generated / real <= factor``.
    """

    relative: float | None = None
    absolute: float | None = None
    factor: float | None = None

    @property
    def shown(self) -> Literal["ratio", "difference"]:
        """What the table's and figure's headline number is: the ratio where the bound is
        relative, the difference where it is absolute only."""
        return "difference" if self.relative is None and self.factor is None else "ratio"

    def passes(self, real: float, generated: float) -> bool:
        """Whether ``generated`` lies within this tolerance of ``real``."""
        ok = False
        if self.absolute is not None:
            ok |= abs(generated - real) <= self.absolute + 1e-12
        if self.relative is not None:  # a real 0 is met by 0 alone, as under a factor
            ok |= (
                generated == 0
                if real == 0
                else abs(generated / real - 1.0) <= self.relative + 1e-12
            )
        if self.factor is not None:
            if real == 0 or generated == 0:
                ok |= real == generated
            elif (real > 0) == (generated > 0):
                ratio = generated / real
                ok |= 1.0 / self.factor - 1e-12 <= ratio <= self.factor + 1e-12
        return ok

    def band(self, real: float) -> tuple[float, float] | None:
        """The passing range of the shown number (:attr:`shown`) for a real value ``real``
        (None: no range, a real value of 0 under a ratio)."""
        if self.shown == "difference":
            limit = self.absolute or 0.0
            return -limit, limit
        if real == 0:
            return None
        if self.factor is not None:
            return 1.0 / self.factor, self.factor
        width = self.relative or 0.0
        if self.absolute is not None:
            width = max(width, self.absolute / abs(real))
        return 1.0 - width, 1.0 + width

    def record(self) -> dict[str, float]:
        """The tolerance as the report writes it."""
        bounds = {"relative": self.relative, "absolute": self.absolute, "factor": self.factor}
        return {name: value for name, value in bounds.items() if value is not None}

    def text(self) -> str:
        """The tolerance in a few characters, for the table."""
        parts = []
        if self.relative is not None:
            parts.append(f"±{self.relative:.0%}")
        if self.absolute is not None:
            parts.append(f"±{self.absolute:g}")
        if self.factor is not None:
            parts.append(f"x{self.factor:g} same sign")
        return " or ".join(parts)


TOLERANCES: dict[str, Tolerance] = {
    "messages_per_s": Tolerance(relative=0.10),
    "trades_per_s": Tolerance(relative=0.10),
    "median_spread_ticks": Tolerance(relative=0.20, absolute=1.0),
    "best_size": Tolerance(relative=0.25),
    "queue_turnover_s": Tolerance(relative=0.25),
    f"trade_sign_autocorrelation_{AUTOCORRELATION_LAG}": Tolerance(absolute=0.1),
    f"ofi_r2_{OFI_INTERVAL_S:g}s": Tolerance(absolute=0.1),
    f"markout_bps_{MARKOUT_HORIZON_S:g}s": Tolerance(factor=2.0),
    f"volatility_bps_{VOLATILITY_INTERVAL_S:g}s": Tolerance(relative=0.25),
    **{f"p_any_fill_{h:g}s": Tolerance(absolute=0.05) for h in FILL_HORIZONS_S},
}
"""Every fact compared and its tolerance, in the order the report lists them."""

FACT_HELP = {
    "messages_per_s": "rows per second",
    "trades_per_s": "trade events per second",
    "median_spread_ticks": "time-weighted median spread, ticks",
    "best_size": "mean of the time-weighted best bid and ask sizes, shares",
    "queue_turnover_s": "mean of the bid's and the ask's queue turnover time, s",
    f"trade_sign_autocorrelation_{AUTOCORRELATION_LAG}": "lag-1 trade-sign autocorrelation",
    f"ofi_r2_{OFI_INTERVAL_S:g}s": "R^2 of the OFI regression over 10-s intervals",
    f"markout_bps_{MARKOUT_HORIZON_S:g}s": "mean 10-s trade markout, bps",
    f"volatility_bps_{VOLATILITY_INTERVAL_S:g}s": "root mean square of the mid's 60-s "
    "changes, bps",
    **{f"p_any_fill_{h:g}s": f"P(any fill) of {FILL_SIZE}-share orders resting at the best "
       f"bid, cancelled after {h:g} s" for h in FILL_HORIZONS_S},
}  # fmt: skip
"""What each compared fact is, as the report says."""

FillShares = Mapping[str, tuple[int, int]]
"""A venue's fill study: horizon (``f"{h:g}"``) to (orders placed, orders with any fill)."""


def venue_values(
    facts: Mapping[str, Any], fills: FillShares | None, fill_reason: str | None = None
) -> dict[str, tuple[float | None, str | None]]:
    """Read the compared facts of one venue (or the whole file) from its ``sor stats`` facts
    and its fill study: each fact's value, or None and why it is undefined."""
    out: dict[str, tuple[float | None, str | None]] = {}
    out["messages_per_s"] = _given(facts["messages_per_s"], "a span of 0 s")
    out["trades_per_s"] = _given(facts["trades_per_s"], "a span of 0 s")
    out["median_spread_ticks"] = _given(
        facts["spread_ticks"].get("median"), "never quoted on both sides"
    )
    out["best_size"] = _mean(facts["best_size"], "never quoted on both sides")
    out["queue_turnover_s"] = _mean(
        facts["queue_turnover_s"], "a side never quoted, or no share left it"
    )
    lag = str(AUTOCORRELATION_LAG)
    signs = facts["trade_sign_autocorrelation"]
    out[f"trade_sign_autocorrelation_{lag}"] = _given(
        signs.get(lag), "fewer than 4 trade events, or one sign only"
    )
    key = f"{OFI_INTERVAL_S:g}"
    ofi = facts["ofi"].get(key)
    out[f"ofi_r2_{key}s"] = (
        (None, f"--intervals lacks {key} s")
        if ofi is None
        else _given(ofi["r2"], "fewer than three intervals, or no OFI or mid variation")
    )
    key = f"{MARKOUT_HORIZON_S:g}"
    markouts = facts["markout_bps"]
    out[f"markout_bps_{key}s"] = (
        (None, f"--horizons lacks {key} s")
        if key not in markouts
        else _given(markouts[key], "no signed trade with a quoted mid and the horizon inside")
    )
    key = f"{VOLATILITY_INTERVAL_S:g}"
    out[f"volatility_bps_{key}s"] = _given(
        facts["volatility_bps"][key], "fewer than two whole 60-s intervals with a mid"
    )
    for h in FILL_HORIZONS_S:
        key = f"{h:g}"
        if fills is None:
            out[f"p_any_fill_{key}s"] = (None, fill_reason or "no fill study")
            continue
        orders, filled = fills.get(key, (0, 0))
        out[f"p_any_fill_{key}s"] = (filled / orders, None) if orders else (None, "no order placed")
    return out


def compare_values(
    real: Mapping[str, tuple[float | None, str | None]],
    generated: Mapping[str, tuple[float | None, str | None]],
) -> dict[str, dict[str, Any]]:
    """Set each fact of ``generated`` beside ``real``'s (both from :func:`venue_values`)."""
    out = {}
    for name, tolerance in TOLERANCES.items():
        (r, r_why), (g, g_why) = real[name], generated[name]
        entry: dict[str, Any] = {
            "real": _round(r), "generated": _round(g),
            "ratio": _round(g / r) if r is not None and g is not None and r != 0 else None,
            "difference": _round(g - r) if r is not None and g is not None else None,
            "tolerance": tolerance.record(),
        }  # fmt: skip
        if r is None or g is None:
            why = [f"{side}: {reason}" for side, value, reason in
                   (("real", r, r_why), ("generated", g, g_why)) if value is None]  # fmt: skip
            entry["result"] = NOT_COMPARED
            entry["reason"] = "; ".join(why)
        else:
            entry["result"] = PASS if tolerance.passes(r, g) else FAIL
        out[name] = entry
    return out


def compare_reports(
    real: Mapping[str, Any],
    generated: Mapping[str, Any],
    real_fills: Mapping[str, FillShares] | None,
    generated_fills: Mapping[str, FillShares] | None,
    fill_reasons: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """Compare two ``sor stats`` reports and their fill studies (venue, or ``overall``, to
    :data:`FillShares`; None where no study ran, ``fill_reasons`` saying why): per matched
    venue and overall, with the venues of one file only listed as unmatched."""
    matched = sorted(set(real["venues"]) & set(generated["venues"]), key=int)

    def values(report: Mapping[str, Any], fills: Any, venue: str, why: str | None) -> Any:
        facts = report["overall"] if venue == "overall" else report["venues"][venue]
        mine = None if fills is None else fills.get(venue, {})
        return venue_values(facts, mine, why)

    scopes = {}
    for venue in [*matched, "overall"]:
        scopes[venue] = compare_values(
            values(real, real_fills, venue, fill_reasons[0]),
            values(generated, generated_fills, venue, fill_reasons[1]),
        )
    counts = {PASS: 0, FAIL: 0, NOT_COMPARED: 0}
    failed = []
    for venue, facts in scopes.items():
        for name, entry in facts.items():
            counts[entry["result"]] += 1
            if entry["result"] == FAIL:
                failed.append(f"{name} ({venue})")
    return {
        "passed": not failed,
        "counts": {"pass": counts[PASS], "fail": counts[FAIL],
                   "not_compared": counts[NOT_COMPARED]},
        "failed": failed,
        "tolerances": {name: t.record() for name, t in TOLERANCES.items()},
        "facts": FACT_HELP,
        "unmatched": {
            "real_only": sorted(set(real["venues"]) - set(generated["venues"]), key=int),
            "generated_only": sorted(set(generated["venues"]) - set(real["venues"]), key=int),
        },
        "venues": {venue: scopes[venue] for venue in matched},
        "overall": scopes["overall"],
    }  # fmt: skip


def table(comparison: Mapping[str, Any]) -> str:
    """The comparison as a table, one line per fact and venue: real, generated, ratio (or
    difference), tolerance and result."""
    head = (f"{'fact':<30} {'venue':>7} {'real':>11} {'generated':>11} {'ratio/diff':>12} "
            f"{'tolerance':>18}  result")  # fmt: skip
    lines = [head]
    scopes = {**comparison["venues"], "overall": comparison["overall"]}
    for name, tolerance in TOLERANCES.items():
        for venue, facts in scopes.items():
            entry = facts[name]
            shown = entry[tolerance.shown]
            number = "" if shown is None else (
                f"x{shown:.3f}" if tolerance.shown == "ratio" else f"{shown:+.3f}")  # fmt: skip
            result = entry["result"]
            if result == NOT_COMPARED:
                result += f" ({entry['reason']})"
            lines.append(
                f"{name:<30} {venue:>7} {_cell(entry['real']):>11} "
                f"{_cell(entry['generated']):>11} {number:>12} {tolerance.text():>18}  {result}"
            )
    unmatched = comparison["unmatched"]
    for side in ("real_only", "generated_only"):
        if unmatched[side]:
            where = side.replace("_only", "")
            lines.append(f"venues in the {where} file only (not compared): "
                         + ", ".join(unmatched[side]))  # fmt: skip
    counts = comparison["counts"]
    lines.append(f"{counts['pass']} pass, {counts['fail']} FAIL, "
                 f"{counts['not_compared']} not compared")  # fmt: skip
    return "\n".join(lines)


def _given(value: Any, reason: str) -> tuple[float | None, str | None]:
    return (None, f"undefined ({reason})") if value is None else (float(value), None)


def _mean(sides: Mapping[str, Any], reason: str) -> tuple[float | None, str | None]:
    if sides["bid"] is None or sides["ask"] is None:
        return None, f"undefined ({reason})"
    return (sides["bid"] + sides["ask"]) / 2.0, None


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _cell(value: float | None) -> str:
    return "null" if value is None else f"{value:.6g}"
