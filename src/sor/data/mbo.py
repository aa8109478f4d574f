"""Read Databento MBO files (DBN or CSV) and rebuild every venue's book from its orders.

The records are read and checked as the MBP readers check rows (:mod:`sor.data.dbn` for
DBN, :func:`sor.data.reader.read_csv_columns` for CSV: framing, values, timestamps, one
instrument), then :func:`sor.data.orderbook.rebuild` applies them venue by venue in file
order and writes one event per record: the contract is in that module and in
docs/orderlevel.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from sor.core.domain import MAX_PUBLISHER_ID
from sor.core.errors import DataError
from sor.data.events import EVENT_DTYPE, LEVELS
from sor.data.orderbook import (
    BAD_MESSAGES,
    BAD_REASONS,
    F_TOB,
    levels_shape,
    rebuild,
    table_size,
)
from sor.data.reader import (
    DEFAULT_MAX_TS_DISTANCE_NS,
    PARSED,
    CsvParsing,
    dbn_prices,
    is_dbn,
    read_csv_columns,
)

log = logging.getLogger(__name__)

MBO_COLUMNS = ("ts_event", "publisher_id", "action", "side", "price", "size", "order_id")
"""The columns an MBO CSV must have."""
MBO_OPTIONAL = ("flags", "ts_recv", "instrument_id", "ts_in_delta", "sequence")
"""The columns kept where present (``sor convert`` writes them back)."""
_CODES = {name: ord(name) for name in "ACMRTFNB"}
_SKIP_HINT = "use --skip-bad-rows to skip and count such records"


@dataclass(frozen=True)
class MboRecords:
    """The checked records of one MBO file, in file order.

    ``columns`` holds ``ts_event``, ``publisher_id``, ``action`` and ``side`` (ASCII
    codes), ``price`` (nano-dollars, 0 where undefined), ``size``, ``order_id``, ``flags``
    and, where the file has them, ``ts_recv``, ``instrument_id``, ``ts_in_delta``,
    ``sequence``. :meth:`error` names record ``i`` in a message (a CSV line, a DBN
    record number).
    """

    path: Path
    columns: dict[str, np.ndarray]
    rows_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    csv: bool = True

    def __len__(self) -> int:
        return len(self.columns["ts_event"])

    def error(self, i: int, message: str) -> DataError:
        """The error of record ``i``: at its line (CSV), or its record number (DBN)."""
        if self.csv:
            return DataError(message, path=str(self.path), line=i + 2)
        return DataError(f"record {i + 1}: {message}", path=str(self.path))


def is_mbo_csv(header: list[str]) -> bool:
    """Whether a CSV header is Databento MBO's: order ids and no book levels."""
    return "order_id" in header and "bid_px_00" not in header


def read_mbo_records(
    path: Path, *, skip_bad_rows: bool, max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS
) -> MboRecords:
    """Read and check the records of a Databento MBO file (DBN or CSV).

    Raises
    ------
    DataError
        The file is not Databento MBO, lacks a column, or holds a bad record (unless
        ``skip_bad_rows``).
    """
    if is_dbn(path):
        return _read_dbn(path, skip_bad_rows, max_ts_distance_ns)
    return _read_csv(path, skip_bad_rows, max_ts_distance_ns)


def _read_dbn(path: Path, skip_bad_rows: bool, max_ts_distance_ns: int) -> MboRecords:
    from sor.data.dbn import read_dbn

    records = read_dbn(path, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns)
    if records.schema != "mbo":
        raise DataError(f"DBN schema is {records.schema!r}; expected mbo", path=str(path))
    columns = {
        "ts_event": records.column("ts_event"),
        "publisher_id": records.column("publisher_id", np.int32),
        "action": records.column("action", "S1").view(np.uint8),
        "side": records.column("side", "S1").view(np.uint8),
        "price": dbn_prices(records.column("price")),
        "size": records.column("size"),
        "order_id": records.column("order_id", np.uint64).view(np.int64),
        "flags": records.column("flags", np.uint8),
        "ts_recv": records.column("ts_recv"),
        "instrument_id": records.column("instrument_id"),
        "ts_in_delta": records.column("ts_in_delta"),
        "sequence": records.column("sequence"),
    }
    return MboRecords(path, columns, records.rows_read, dict(records.skipped), csv=False)


def _read_csv(path: Path, skip_bad_rows: bool, max_ts_distance_ns: int) -> MboRecords:
    def code(name: str) -> pl.Expr:
        return (
            pl.col(PARSED + name)
            .replace_strict(_CODES, default=0, return_dtype=pl.UInt8)
            .fill_null(0)
            .alias(name)
        )

    def select(parsing: CsvParsing, wanted: list[str]) -> list[pl.Expr]:
        exprs = [
            pl.col(PARSED + "ts_event").fill_null(0).alias("ts_event"),
            pl.col(PARSED + "publisher_id").cast(pl.Int32, strict=False).fill_null(0)
            .alias("publisher_id"),
            code("action"),
            code("side"),
            parsing.nanos("price", wanted, preparsed=True).alias("price"),
            # a negative size is kept as it is: the rebuild calls it a bad record
            pl.col(PARSED + "size").fill_null(0).alias("size"),
            pl.col(PARSED + "order_id").fill_null(0).alias("order_id"),
        ]  # fmt: skip
        for name in MBO_OPTIONAL:
            if name in wanted:
                value = pl.col(PARSED + name)
                if name == "flags":
                    value = value.clip(0, 255).cast(pl.UInt8)
                exprs.append(value.fill_null(0).alias(name))
        return exprs

    columns, rows_read, skipped = read_csv_columns(
        path, MBO_COLUMNS, MBO_OPTIONAL, select, skip_bad_rows=skip_bad_rows,
        max_ts_distance_ns=max_ts_distance_ns, why="expected a Databento MBO CSV",
    )  # fmt: skip
    if not columns:
        columns = {name: np.zeros(0, np.int64) for name in MBO_COLUMNS}
    if "flags" not in columns:
        # without flags every record ends its event
        columns["flags"] = np.full(len(columns["ts_event"]), 128, np.uint8)
    return MboRecords(path, columns, rows_read, skipped)


@dataclass(frozen=True)
class Rebuilt:
    """The events of an order-level file (``EVENT_DTYPE``, sorted by ``ts_event`` with file
    order kept among equal times), and for each the index of the record it came from;
    ``bid_ct``/``ask_ct`` (order counts per level) when asked for; bad records skipped,
    per reason."""

    events: np.ndarray
    record: np.ndarray
    skipped: dict[str, int]
    bid_ct: np.ndarray | None = None
    ask_ct: np.ndarray | None = None


def rebuild_events(records: MboRecords, *, skip_bad_rows: bool, counts: bool = False) -> Rebuilt:
    """Rebuild every venue's book from ``records`` and return one event per good record.

    Raises
    ------
    DataError
        A record cannot apply (an unknown order, a duplicate add, a cut larger than the
        order, a time before the venue's previous record, an add without price or size, a
        negative size) and ``skip_bad_rows`` is false: the message names file, record and
        reason.
    """
    col = records.columns
    n = len(records)
    publisher = col["publisher_id"].astype(np.int32, copy=False)
    # each publisher's index among the file's, ascending, by a table over Databento's range
    seen = np.zeros(MAX_PUBLISHER_ID + 1, np.bool_)
    seen[publisher] = True
    publishers = np.flatnonzero(seen)
    index = np.zeros(MAX_PUBLISHER_ID + 1, np.int32)
    index[publishers] = np.arange(len(publishers), dtype=np.int32)
    venue = index[publisher]
    action = np.ascontiguousarray(col["action"], np.uint8)
    tob = np.zeros(len(publishers), np.bool_)
    adds = action == ord("A")
    np.logical_or.at(tob, venue[adds], (col["flags"][adds] & F_TOB) != 0)
    adds_and_moves = int(np.count_nonzero(adds | (action == ord("M"))))
    capacity, shift = table_size(adds_and_moves)
    ts = col["ts_event"].astype(np.int64, copy=False)
    # each record's row among the events sorted by ts_event (stable: file order among
    # equal times): the pass writes every event in its place, no copy afterwards
    order = np.argsort(ts, kind="stable")
    dest = np.empty(n, np.int64)
    dest[order] = np.arange(n, dtype=np.int64)
    events = np.empty(n, EVENT_DTYPE)
    bid_ct = np.zeros(levels_shape(n, counts), np.int64)
    ask_ct = np.zeros(levels_shape(n, counts), np.int64)
    # (the counts are written at each event's row too)
    bad = np.zeros(n, np.uint8)
    size = col["size"].astype(np.int64)
    written, first_bad = rebuild(
        ts, venue, publisher, action, np.ascontiguousarray(col["side"], np.uint8),
        col["price"].astype(np.int64, copy=False), size,
        col["order_id"].astype(np.int64, copy=False), col["flags"].astype(np.uint8, copy=False),
        tob, skip_bad_rows, capacity, shift, dest, events["ts_event"], events["publisher_id"],
        events["action"].view(np.uint8), events["side"].view(np.uint8), events["flags"],
        events["price"], events["size"], events["seq"], events["source"], events["cut"],
        events["cut_px"], events["cut_prio"], events["cut_size"], events["bid_px"],
        events["bid_sz"], events["ask_px"], events["ask_sz"], bid_ct, ask_ct, bad,
    )  # fmt: skip
    if first_bad >= 0:
        raise records.error(
            first_bad, f"the record {BAD_MESSAGES[int(bad[first_bad])]}; {_SKIP_HINT}"
        )
    skipped = {
        BAD_REASONS[int(c)]: int(k)
        for c, k in zip(*np.unique(bad[bad > 0], return_counts=True), strict=True)
    }
    for reason, count in records.skipped.items():
        skipped[reason] = skipped.get(reason, 0) + count
    if skipped:
        log.warning("%s: %d bad record(s) skipped: %s", records.path, sum(skipped.values()),
                    skipped)  # fmt: skip
    if written < n:  # bad records skipped: their rows hold nothing
        good = bad[order] == 0
        events, order = events[good], order[good]
        bid_ct, ask_ct = (bid_ct[good], ask_ct[good]) if counts else (bid_ct, ask_ct)
    return Rebuilt(
        events=events,
        record=order,
        skipped=skipped,
        bid_ct=bid_ct if counts else None,
        ask_ct=ask_ct if counts else None,
    )


def empty_events() -> np.ndarray:
    """No events, in ``EVENT_DTYPE``."""
    return np.zeros(0, EVENT_DTYPE)


__all__ = ["LEVELS", "MboRecords", "Rebuilt", "read_mbo_records", "rebuild_events"]
