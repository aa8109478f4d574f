"""The stats report of one file: the facts per venue and overall, as JSON-ready values."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sor.core.domain import NANOS_PER_DOLLAR, NANOS_PER_SECOND
from sor.core.errors import DataError
from sor.data.reader import DEFAULT_MAX_TS_DISTANCE_NS, file_sha256, format_timestamp
from sor.stats.book import read_book
from sor.stats.facts import Facts, Settings, overall_facts, venue_facts

SIGNIFICANT = 6
"""Significant digits of every real number in the report."""


@dataclass(frozen=True)
class Stats:
    """The report (JSON-ready) and the points of each OFI regression nearest 10 s."""

    report: dict[str, Any]
    ofi_points: dict[str, tuple[np.ndarray, np.ndarray]]


def file_stats(
    path: str | Path,
    settings: Settings | None = None,
    *,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
) -> Stats:
    """Return the stylized facts of a Databento MBP file, per venue and overall.

    Raises
    ------
    DataError
        The file cannot be read (:func:`sor.stats.book.read_book`) or has no rows.
    """
    settings = settings or Settings()
    book, rows_read = read_book(
        path, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns
    )
    if len(book) == 0:
        raise DataError("no rows to describe", path=str(path))
    t0, t1 = int(book.ts.min()), int(book.ts.max())
    rows = len(book)
    per_venue: dict[str, Facts] = {}
    for venue in np.unique(book.venue):
        per_venue[str(int(venue))] = venue_facts(book.of_venue(int(venue)), settings, t0, t1)
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
        "venues": {venue: _clean(facts.values) for venue, facts in per_venue.items()},
        "overall": _clean(overall.values),
    }
    points = {venue: facts.ofi_points for venue, facts in per_venue.items()}
    points["overall"] = overall.ofi_points
    return Stats(report=report, ofi_points={k: v for k, v in points.items() if v is not None})


def _settings(settings: Settings) -> dict[str, Any]:
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
