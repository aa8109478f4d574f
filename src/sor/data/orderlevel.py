"""Order-level input (Databento MBO, LOBSTER) beside the MBP files: which kind a file is,
and its events.

Every command that reads market data asks :func:`input_kind` first. An order-level file
is rebuilt into per-venue books once (:mod:`sor.data.mbo`, :mod:`sor.data.lobster`): its
events are exactly what an MBP-10 file of the same rows would give
(``sor convert`` writes that file), with what the exact queue needs besides. The
snapshots of the static model are the events' (first row of each venue at each
``ts_event``), so the static contract applies unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from sor.core.errors import DataError
from sor.data.reader import DEFAULT_MAX_TS_DISTANCE_NS, is_dbn

log = logging.getLogger(__name__)

InputKind = Literal["mbp", "mbo", "lobster"]


@dataclass(frozen=True)
class SourceOptions:
    """How to read a LOBSTER file: its orderbook file (else found beside it by LOBSTER's
    naming) and the ``publisher_id`` of its venue (else Nasdaq's, 2)."""

    lobster_book: Path | None = None
    publisher: int | None = None


def input_kind(path: Path, options: SourceOptions | None = None) -> InputKind:
    """Tell an MBP file (CSV or DBN) from an order-level one: a DBN file by the schema its
    metadata names, a CSV by its header (``order_id`` without book levels: MBO), a LOBSTER
    message file by its name, by ``--lobster-book``, or by a first line of six numbers
    without a header.

    Raises
    ------
    DataError
        A DBN file of a schema ``sor`` does not read.
    """
    from sor.data.lobster import lobster_name, looks_like_lobster

    if is_dbn(path):
        from sor.data.dbn import dbn_schema

        try:
            return "mbo" if dbn_schema(path) == "mbo" else "mbp"
        except DataError:
            return "mbp"  # the DBN reader says what is wrong with the file
    if (options is not None and options.lobster_book is not None) or lobster_name(path):
        return "lobster"
    if looks_like_lobster(path):
        return "lobster"
    from sor.data import csv_scan
    from sor.data.mbo import is_mbo_csv

    try:
        header = csv_scan.read_head(path).columns
    except DataError:
        return "mbp"  # the MBP reader says what is wrong with the file
    return "mbo" if is_mbo_csv(header) else "mbp"


@dataclass(frozen=True)
class OrderLevelData:
    """A whole order-level file's events (``EVENT_DTYPE``, in ``ts_event`` order), the
    records or rows read, the bad ones skipped per reason, and, when asked for, the order
    counts per level and the record each event came from (for ``sor convert``)."""

    events: np.ndarray
    rows_read: int
    kind: InputKind
    skipped: dict[str, int] = field(default_factory=dict)
    bid_ct: np.ndarray | None = None
    ask_ct: np.ndarray | None = None
    records: dict[str, np.ndarray] | None = None

    def window(self, start_ns: int | None, end_ns: int | None) -> np.ndarray:
        """The events with ``start_ns <= ts_event <= end_ns`` (None: unbounded)."""
        ts = self.events["ts_event"]
        lo = 0 if start_ns is None else int(np.searchsorted(ts, start_ns, side="left"))
        hi = len(ts) if end_ns is None else int(np.searchsorted(ts, end_ns, side="right"))
        return self.events[lo:hi]


_cache: dict[tuple[object, ...], OrderLevelData] = {}


def read_order_level(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
    options: SourceOptions | None = None,
    details: bool = False,
) -> OrderLevelData:
    """Read an order-level file whole and rebuild its venues' books (the book at a
    window's start needs every record before it); ``details`` keeps the order counts and
    the records' own fields for ``sor convert``.

    The last file read is kept, so that a command reading the snapshots and then the
    events of one file rebuilds it once.

    Raises
    ------
    DataError
        The file is not readable as its kind, or holds a bad record (unless
        ``skip_bad_rows``).
    """
    options = options or SourceOptions()
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, skip_bad_rows,
           max_ts_distance_ns, options, details)  # fmt: skip
    if key in _cache:
        return _cache[key]
    kind = input_kind(path, options)
    if kind == "mbo":
        data = _read_mbo(path, skip_bad_rows, max_ts_distance_ns, details)
    elif kind == "lobster":
        data = _read_lobster(path, skip_bad_rows, options)
    else:
        raise DataError("not an order-level file (Databento MBO or LOBSTER)", path=str(path))
    _cache.clear()
    _cache[key] = data
    return data


def _read_mbo(
    path: Path, skip_bad_rows: bool, max_ts_distance_ns: int, details: bool
) -> OrderLevelData:
    from sor.data.mbo import read_mbo_records, rebuild_events

    records = read_mbo_records(
        path, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns
    )
    rebuilt = rebuild_events(records, skip_bad_rows=skip_bad_rows, counts=details)
    kept = None
    if details:
        kept = {name: values[rebuilt.record] for name, values in records.columns.items()}
    return OrderLevelData(
        events=rebuilt.events,
        rows_read=records.rows_read,
        kind="mbo",
        skipped=rebuilt.skipped,
        bid_ct=rebuilt.bid_ct,
        ask_ct=rebuilt.ask_ct,
        records=kept,
    )


def _read_lobster(path: Path, skip_bad_rows: bool, options: SourceOptions) -> OrderLevelData:
    from sor.data.lobster import NASDAQ, read_lobster

    publisher = NASDAQ if options.publisher is None else options.publisher
    data = read_lobster(
        path, book=options.lobster_book, publisher=publisher, skip_bad_rows=skip_bad_rows
    )
    return OrderLevelData(
        events=data.events, rows_read=data.rows_read, kind="lobster", skipped=data.skipped
    )
