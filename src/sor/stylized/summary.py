"""The stats report of one file: the facts per venue and overall, as JSON-ready values."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sor.core.domain import NANOS_PER_DOLLAR, NANOS_PER_SECOND
from sor.core.errors import DataError
from sor.core.paths import file_sha256
from sor.core.timestamps import format_timestamp
from sor.core.uncertainty import MIN_UNITS
from sor.data.reader import DEFAULT_MAX_TS_DISTANCE_NS
from sor.stylized.book import QUOTE_RULE, SIGNED, TICK_RULE, UNSIGNED, Book, read_book
from sor.stylized.facts import Facts, FactSettings, overall_facts, venue_facts

if TYPE_CHECKING:
    from sor.data.orderlevel import SourceOptions

SIGNIFICANT = 6
"""Significant digits of every real number in the report."""


@dataclass(frozen=True)
class Stats:
    """The report (JSON-ready) and the points of each OFI regression nearest 10 s."""

    report: dict[str, Any]
    ofi_points: dict[str, tuple[np.ndarray, np.ndarray]]


UNCERTAINTY = {
    "markout_se_bps": "standard error of the mean markout, the trades of each block of time "
    "as long as the horizon one unit (markout_blocks counts them: trade signs persist and "
    f"nearby markouts share the mid's moves); null from fewer than {MIN_UNITS} blocks",
    "ofi": "each R^2 rests on the number of intervals beside it",
}
"""How the report's uncertainty is stated, as its ``uncertainty`` says."""


def file_stats(
    path: str | Path,
    settings: FactSettings | None = None,
    *,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
    start_ns: int | None = None,
    end_ns: int | None = None,
    source: SourceOptions | None = None,
) -> Stats:
    """Return the stylized facts of a Databento MBP file (or an order-level one's events)
    within ``[start_ns, end_ns]``, per venue and overall.

    Raises
    ------
    DataError
        The file cannot be read (:func:`sor.stylized.book.read_book`) or has no rows.
    """
    book, rows_read = read_book(
        path, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns,
        start_ns=start_ns, end_ns=end_ns, source=source,
    )  # fmt: skip
    return book_stats(book, path, rows_read, settings)


def book_stats(
    book: Book, path: str | Path, rows_read: int, settings: FactSettings | None = None
) -> Stats:
    """Return the stylized facts of ``book``, the rows kept of the file ``path``
    (:func:`file_stats` after its read; ``rows_read`` rows were read).

    Raises
    ------
    DataError
        ``book`` has no rows.
    """
    settings = settings or FactSettings()
    if len(book) == 0:
        raise DataError("no rows to describe", path=str(path))
    t0, t1 = int(book.ts.min()), int(book.ts.max())
    rows = len(book)
    per_venue: dict[str, Facts] = {}
    signed: dict[str, dict[str, int]] = {}
    for venue in np.unique(book.venue):
        part = book.of_venue(int(venue))
        per_venue[str(int(venue))] = venue_facts(part, settings, t0, t1)
        signed[str(int(venue))] = _signs(part)
    del book  # the venues' facts keep what the overall ones need
    overall = overall_facts(list(per_venue.values()), settings, t0, t1)
    report = {
        "file": str(path),
        "sha256": file_sha256(Path(path)),
        "rows_read": rows_read,
        "rows": rows,
        "start": format_timestamp(t0),
        "end": format_timestamp(t1),
        "seconds": (t1 - t0) / NANOS_PER_SECOND,
        "settings": _settings(settings),
        "uncertainty": UNCERTAINTY,
        "venues": {
            venue: {**_clean(facts.values), "trade_signs": signed[venue]}
            for venue, facts in per_venue.items()
        },
        "overall": {
            **_clean(overall.values),
            "trade_signs": {k: sum(s[k] for s in signed.values()) for k in _SIGN_KEYS},
        },
    }
    points = {venue: facts.ofi_points for venue, facts in per_venue.items()}
    points["overall"] = overall.ofi_points
    return Stats(report=report, ofi_points={k: v for k, v in points.items() if v is not None})


_SIGN_KEYS = ("from_data", "quote_rule", "tick_rule", "unsigned")


def _signs(book: Book) -> dict[str, int]:
    """How many of the venue's trade rows had an aggressor side, were signed by the quote
    or the tick rule, or could not be signed (:func:`sor.stylized.book.classify`)."""
    how = book.how[book.trade]
    counts = np.bincount(how, minlength=UNSIGNED + 1)
    return {key: int(counts[code]) for key, code in zip(
        _SIGN_KEYS, (SIGNED, QUOTE_RULE, TICK_RULE, UNSIGNED), strict=True)}  # fmt: skip


def _settings(settings: FactSettings) -> dict[str, Any]:
    values = asdict(settings)
    values["tick"] = values.pop("tick_nanos") / NANOS_PER_DOLLAR
    values["intervals_s"] = list(settings.intervals_s)
    values["horizons_s"] = list(settings.horizons_s)
    return values


def _clean(value: Any) -> Any:
    """Round reals to ``SIGNIFICANT`` digits and turn NaN into None, recursively."""
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, float | np.floating):
        number = float(value)
        return float(f"{number:.{SIGNIFICANT}g}") if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    return value
