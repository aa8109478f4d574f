"""Where a day file's times lie, scanned without reading it whole.

``sor evaluate --orders`` leaves unread the days that hold none of the blotter's orders
(docs/evaluate.md): a scan of one column tells that for far less than a read, which parses
every column, checks every row and builds the snapshots.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from sor.core.errors import DataError
from sor.data.orderlevel import SourceOptions


def time_span(path: Path, source: SourceOptions | None = None) -> tuple[int, int] | None:
    """Return the earliest and latest ``ts_event`` (ns since the epoch) of the rows of the
    day file ``path``, bad rows included: a span at least as wide as the window a read of
    the file keeps.

    None where the times cannot be scanned so (a LOBSTER file, whose times count from its
    date's midnight; a file the scan cannot read; no time that parses): such a day is read
    whole.
    """
    from sor.data.orderlevel import input_kind
    from sor.data.reader import CsvParsing, is_dbn

    try:
        if input_kind(path, source) == "lobster":
            return None
        if is_dbn(path):
            from sor.data.dbn import event_times

            times = event_times(path)
            return (int(times.min()), int(times.max())) if len(times) else None
        lines = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True)
        if "ts_event" not in lines.collect_schema():
            return None
        # the reader's own parse of ts_event: the kept rows' times are among these
        parsed = CsvParsing.of(path).parse("ts_event")
        bounds = lines.select(parsed.min().alias("first"), parsed.max().alias("last")).collect()
    except (DataError, OSError, pl.exceptions.PolarsError):
        return None
    first, last = bounds.row(0)
    return None if first is None or last is None else (int(first), int(last))
