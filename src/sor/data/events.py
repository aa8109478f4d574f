"""Every row of a Databento MBP file as an event, for the queue-aware simulator (model ck).

Unlike the snapshots of docs/semantics.md, nothing is deduplicated: trades and cancellations at
the bid are what move a resting order's queue position, so every row counts. Rows are
ordered by ``ts_event`` with a stable sort (file order among equal values).

Databento's conventions (docs/ck.md, "Queue simulator rules"): an add, cancel or modify row
carries the venue's book after its event, a trade or fill row the book *before* the trade
(the trade's effect shows on the venue's next row); a venue's book is complete only after
a record whose ``flags`` include ``F_LAST``. :func:`complete_books` marks those rows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from sor.core.errors import DataError
from sor.core.paths import check_input_file
from sor.data.csv_scan import scan_lines
from sor.data.instruments import check_one_instrument, instrument_key
from sor.data.reader import (
    DEFAULT_MAX_TS_DISTANCE_NS,
    OPTIONAL_COLUMNS,
    PARSED,
    REQUIRED_COLUMNS,
    CsvParsing,
    build_snapshots,
    check_row_count,
    count_bad_rows,
    csv_header,
    csv_text,
    dbn_prices,
    is_dbn,
    line_error,
    raise_first_bad,
    raise_out_of_range,
    timestamp_outliers,
)

if TYPE_CHECKING:
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger(__name__)

SNAPSHOT_FIELDS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
"""The columns whose unparseable values make :func:`sor.data.reader.read_market` skip a row."""

LEVELS = 10
F_LAST = 128
"""The ``flags`` bit of the last record of an event: the venue's book is complete after it."""

EVENT_DTYPE = np.dtype(
    [
        ("ts_event", np.int64),
        ("publisher_id", np.int32),
        ("action", "S1"),  # A add, C cancel, T trade, F fill, M modify, R clear
        ("side", "S1"),  # B bid, A ask, N none; for trades the aggressor: A = a sell
        ("flags", np.uint8),  # F_LAST (128) marks the last record of an event
        ("price", np.int64),  # nano-dollars
        ("size", np.int64),
        ("bid_px", np.int64, (LEVELS,)),  # 0 where the level is absent
        ("bid_sz", np.int64, (LEVELS,)),
        ("ask_px", np.int64, (LEVELS,)),
        ("ask_sz", np.int64, (LEVELS,)),
        # order-level input only (sor.data.orderlevel); 0 on MBP rows
        ("source", np.uint8),  # MBP, ORDER_LEVEL (order ids, full depth) or TOP_OF_BOOK
        ("seq", np.int64),  # the record's place in its file: a priority stamp
        ("cut", np.uint8),  # what left a resting order's place: CUT_CANCEL, _FILL, _REQUEUE
        ("cut_px", np.int64),  # that order's price before the record (nano-dollars)
        ("cut_prio", np.int64),  # that order's priority stamp before the record
        ("cut_size", np.int64),  # the shares that left its place
    ]
)
MBP, ORDER_LEVEL, TOP_OF_BOOK, ORDER_LEVEL_PART = 0, 1, 2, 3
"""``source`` of a row: an MBP file's row; a venue rebuilt from its orders, whose ids give
every order's place in its queue; a top-of-book venue sent as order records (no queue); a
venue whose order messages cover only the levels its file shows (LOBSTER): ids give the
queue there, but orders beyond them come and go unseen."""
CUT_NONE, CUT_CANCEL, CUT_FILL, CUT_REQUEUE, CUT_HIDDEN = 0, 1, 2, 3, 4
"""``cut`` of a row of an ``ORDER_LEVEL`` venue: nothing left a resting order's place; shares
were cancelled (a cancel, or a modify cutting the size); shares were filled (the size cut
that follows a fill); the whole order left its place for the back of a queue (a modify that
moves the price or raises the size), where it rests again with the row's price and size
and the row's ``seq`` as its priority; a trade against an order no one saw (LOBSTER's
hidden executions: ``cut_px`` and ``cut_size`` are the trade's price and size, the row's
side its aggressor), which leaves every displayed order's place as it was."""


def complete_books(events: np.ndarray) -> np.ndarray:
    """Return the mask of the rows whose book is the venue's complete book.

    A row's book is complete when its ``flags`` carry ``F_LAST`` and it is not a trade or
    fill row (whose book is the one before the trade: the trade's effect shows on the next
    row). Only these books are the venue's state; the others are moments inside an event.
    """
    last = (events["flags"] & F_LAST) != 0
    trade = (events["action"] == b"T") | (events["action"] == b"F")
    mask: np.ndarray = last & ~trade
    return mask


_CSV_NEEDED = ("ts_event", "publisher_id", "action", "side", "price", "size", "bid_px_00",
               "bid_sz_00", "ask_px_00", "ask_sz_00")  # fmt: skip
"""The columns every event of a CSV is read from: the record's fields and the top level."""
_TRADE_FIELDS = ("action", "side", "price", "size")
"""The record's fields a trade print is read from: a CSV of quotes alone has none."""


def _csv_frame(
    file: Path, start_ns: int, end_ns: int, skip_bad_rows: bool, max_ts_distance_ns: int
) -> pl.DataFrame:
    """The window's rows of a CSV with the columns of :func:`_to_events`."""
    needed = _CSV_NEEDED
    header = csv_header(file, needed, "every event of the book is read from them")
    levels = [k for k in range(LEVELS) if f"ask_px_{k:02d}" in header]
    deeper = [f"{side}_{n}_{k:02d}" for k in levels[1:] for side in ("bid", "ask")
              for n in ("px", "sz") if f"{side}_{n}_{k:02d}" in header]  # fmt: skip
    wanted = [*needed, *(["flags"] if "flags" in header else []), *deeper]
    return _csv_rows(
        file, header, wanted, levels, (start_ns, end_ns), skip_bad_rows, max_ts_distance_ns
    )


def _csv_rows(
    file: Path,
    header: list[str],
    wanted: list[str],
    levels: list[int],
    window: tuple[int, int],
    skip_bad_rows: bool,
    max_ts_distance_ns: int,
) -> pl.DataFrame:
    """Parse the window's rows; apply the reader's bad-row policy (see :func:`read_events`).

    One streaming pass parses every value once: it keeps every row's timestamp and
    bad-value flags, to find the rows the snapshots drop (a bad row anywhere counts, and the
    timestamps out of range are judged against the whole file's), and the values of the
    window's rows only, so that memory follows the window, not the file."""
    parsing = CsvParsing.of(file)
    lines = scan_lines(file, len(header), stop_at_first=not skip_bad_rows)
    key = instrument_key(header)
    raw = csv_text(file, [*wanted, *(["instrument_id"] if key is not None else [])], lines)
    dropped = [name for name in wanted if name in SNAPSHOT_FIELDS]
    absent = [name for name in wanted if name not in SNAPSHOT_FIELDS]
    if not skip_bad_rows and len(lines.bad_rows):
        raise line_error(file, lines, header, 0)
    query = (
        parsing.with_parsed(raw, wanted)
        .with_row_index("_row")
        .select(
            "_row",
            pl.col(f"{PARSED}ts_event").fill_null(0).alias("_ts"),
            parsing.first_bad(dropped, preparsed=True).alias("_dropped"),
            pl.any_horizontal(
                pl.lit(False), *[parsing.bad(name, preparsed=True) for name in absent]
            ).alias("_absent"),
            (pl.lit(-1) if key is None else key).alias("_instrument"),
            *_values(parsing, wanted, levels),
        )
    )
    flags: dict[str, list[np.ndarray]] = {name: [] for name in _FLAGS}
    parts = []
    try:
        for batch in query.collect_batches(chunk_size=_BATCH_ROWS, engine="streaming"):
            for name in _FLAGS:
                flags[name].append(batch[name].to_numpy())
            parts.append(batch.filter(pl.col("_ts").is_between(*window)).drop(*_FLAGS))
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read as CSV: {exc}", path=str(file)) from exc
    ts, codes, absents, instrument = (
        np.concatenate(flags[name]) if flags[name] else np.zeros(0, np.int64) for name in _FLAGS
    )
    check_row_count(file, lines, len(ts))
    absent_values = int(np.count_nonzero(absents))
    if not skip_bad_rows and (codes.any() or absent_values):
        raise_first_bad(file, raw, wanted, before=len(ts), parsing=parsing)
    broken = lines.mask(len(ts))
    outside = timestamp_outliers(ts, broken | (codes > 0), max_ts_distance_ns)
    if not skip_bad_rows and outside.any():
        raise_out_of_range(file, raw, int(np.argmax(outside)), max_ts_distance_ns)
    drop = broken | (codes > 0) | outside
    check_one_instrument(file, instrument[~drop], None)
    if drop.any():
        skipped = count_bad_rows(lines, codes[~broken], dropped, int(np.count_nonzero(outside)))
        log.warning("%s: %d bad row(s) skipped as the snapshots skip them: %s", file,
                    int(np.count_nonzero(drop)), skipped)  # fmt: skip
    if absent_values:
        log.warning("%s: %d row(s) with a bad action, side, trade or deeper-level value kept, "
                    "the value read as absent", file, absent_values)  # fmt: skip
    # the batches stay apart (no copy into one block): each column is copied out once, later
    frame = pl.concat(parts, rechunk=False) if parts else query.head(0).drop(*_FLAGS).collect()
    del parts
    kept = ~drop[frame["_row"].to_numpy()]
    return frame.filter(pl.Series(kept)).drop("_row")


_BATCH_ROWS = 50_000
"""Rows per batch of the parse: an event row has some fifty columns, and smaller batches
keep the parse's peak memory near the window's events (250,000 rows cost a third more)."""
_FLAGS = ("_ts", "_dropped", "_absent", "_instrument")
"""Per-row columns of the parse kept for every row, not only the window's."""


def _values(parsing: CsvParsing, wanted: list[str], levels: list[int]) -> list[pl.Expr]:
    """The columns of :func:`_to_events`, from the parsed copies of ``wanted``."""

    def parsed(name: str) -> pl.Expr:
        return pl.col(PARSED + name)

    return [
        parsed("ts_event").alias("ts_event"),
        parsed("publisher_id").cast(pl.Int32, strict=False).alias("publisher_id"),
        parsed("action").fill_null("").alias("action"),
        parsed("side").fill_null("").alias("side"),
        parsing.nanos("price", wanted, preparsed=True).alias("price"),
        parsing.size("size", wanted, preparsed=True).alias("size"),
        _flags_expr(wanted).alias("flags"),
        *[
            expr(f"{side}_{n}_{k:02d}", wanted, preparsed=True).alias(f"{side}_{n}_{k}")
            for k in levels
            for side in ("bid", "ask")
            for n, expr in (("px", parsing.nanos), ("sz", parsing.size))
        ],
    ]


def _flags_expr(wanted: list[str]) -> pl.Expr:
    """The ``flags`` column, from its parsed copy; a file without one, or a bad value,
    reads as ``F_LAST`` (each row a complete book), the only reading that keeps every
    book."""
    if "flags" not in wanted:
        return pl.lit(F_LAST, dtype=pl.UInt8)
    flags = pl.col(PARSED + "flags")
    valid = flags.is_not_null() & (flags >= 0) & (flags <= 255)
    return pl.when(valid).then(flags).otherwise(F_LAST).cast(pl.UInt8)


def _dbn_frame(
    file: Path,
    start_ns: int,
    end_ns: int,
    skip_bad_rows: bool,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
) -> pl.DataFrame:
    """The window's good records of a DBN file with the columns of :func:`_to_events`; a
    bad record (:func:`sor.data.dbn.read_dbn`) is skipped as the snapshots skip it."""
    from sor.data.dbn import read_dbn

    records = read_dbn(file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns)
    ts = records.column("ts_event")
    keep = (ts >= start_ns) & (ts <= end_ns)

    def column(name: str, dtype: type | str = np.int64) -> np.ndarray:
        return records.column(name, dtype)[keep]

    columns: dict[str, np.ndarray] = {
        "ts_event": ts[keep],
        "publisher_id": column("publisher_id", np.int32),
        "action": column("action", str),
        "side": column("side", str),
        "flags": column("flags", np.uint8),
        "price": dbn_prices(column("price")),
        "size": column("size"),
    }
    for k in range(records.levels):
        for side in ("bid", "ask"):
            columns[f"{side}_px_{k}"] = dbn_prices(column(f"{side}_px_{k:02d}"))
            columns[f"{side}_sz_{k}"] = column(f"{side}_sz_{k:02d}")
    return pl.DataFrame(columns)


def _to_events(frame: pl.DataFrame) -> np.ndarray:
    """Stable-sort the rows by ``ts_event`` into ``EVENT_DTYPE`` (absent levels stay 0)."""
    order = np.argsort(frame["ts_event"].to_numpy(), kind="stable")
    events = np.zeros(frame.height, dtype=EVENT_DTYPE)
    for name in ("ts_event", "publisher_id", "flags", "price", "size"):
        events[name] = frame[name].to_numpy()[order]
    for name in ("action", "side"):
        events[name] = frame[name].to_numpy().astype("S1")[order]
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        for k in range(LEVELS):
            if f"{name}_{k}" in frame.columns:
                events[name][:, k] = frame[f"{name}_{k}"].to_numpy()[order]
    return events


def read_events(
    path: str | Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
    source: SourceOptions | None = None,
) -> np.ndarray:
    """Read every row of the window as ``EVENT_DTYPE``, in ``ts_event`` order.

    ``path`` is a Databento MBP-1/MBP-10 CSV or DBN file (``.dbn``, ``.dbn.zst``); both give
    the same events for the same records. An order-level file (Databento MBO, LOBSTER) gives
    the events of its venues' rebuilt books (:mod:`sor.data.orderlevel`; ``source`` says
    how to read a LOBSTER file). Bad rows follow
    :func:`sor.data.reader.read_market`: a bad row is an error naming file, line and
    column, unless ``skip_bad_rows``; then a row that the snapshots skip (a line that is
    not UTF-8 or has not the header's fields, a bad timestamp, venue, or top-of-book price
    or size, a timestamp more than ``max_ts_distance_ns`` from the file's median) is
    skipped here too, so that the snapshots of the events are the reader's, and a bad trade
    price or size or deeper ask level is read as absent (0), a bad action or side (not one
    printable ASCII character) as absent (empty), its row kept.

    Raises
    ------
    DataError
        The file is missing, is not a Databento MBP file, lacks a needed column, or holds a
        bad row (unless ``skip_bad_rows``).
    """
    file = Path(path)
    check_input_file(file)
    from sor.data.orderlevel import input_kind, read_order_level

    if input_kind(file, source) != "mbp":
        data = read_order_level(
            file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns,
            options=source,
        )  # fmt: skip
        return data.window(start_ns, end_ns)
    lo = start_ns if start_ns is not None else -(2**62)
    hi = end_ns if end_ns is not None else 2**62
    if is_dbn(file):
        frame = _dbn_frame(file, lo, hi, skip_bad_rows, max_ts_distance_ns)
    else:
        frame = _csv_frame(file, lo, hi, skip_bad_rows, max_ts_distance_ns)
    return _to_events(frame)


TRADE_DTYPE = np.dtype(
    [
        ("ts_event", np.int64),
        ("publisher_id", np.int32),
        ("price", np.int64),  # nano-dollars
        ("size", np.int64),
    ]
)
"""One trade print of the market: an event of action ``T`` with a price and a size."""


def trades_of(events: np.ndarray) -> np.ndarray:
    """Return the trades among ``events`` (action ``T``, a positive price and size), in
    their order. A fill (``F``) is the resting side of a trade already printed: not
    counted again."""
    keep = (events["action"] == b"T") & (events["price"] > 0) & (events["size"] > 0)
    trades = np.empty(int(np.count_nonzero(keep)), dtype=TRADE_DTYPE)
    for name in TRADE_DTYPE.names or ():
        trades[name] = events[name][keep]
    return trades


def read_trades(
    path: str | Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
    source: SourceOptions | None = None,
) -> np.ndarray:
    """Read the trades of the window (:func:`trades_of` of :func:`read_events`' rows), in
    ``ts_event`` order. A CSV is parsed for its record fields and top level only: the
    trades are those of the same rows, at a fraction of the cost of every level; a CSV of
    quotes alone (no ``action``, ``side``, ``price`` or ``size`` column) has none."""
    file = Path(path)
    check_input_file(file)
    from sor.data.orderlevel import input_kind

    if input_kind(file, source) != "mbp" or is_dbn(file):
        return trades_of(
            read_events(file, start_ns=start_ns, end_ns=end_ns, skip_bad_rows=skip_bad_rows,
                        max_ts_distance_ns=max_ts_distance_ns, source=source)
        )  # fmt: skip
    lo = start_ns if start_ns is not None else -(2**62)
    hi = end_ns if end_ns is not None else 2**62
    header = csv_header(file, ("ts_event",), "a blotter's interval VWAP needs them")
    absent = [name for name in _TRADE_FIELDS if name not in header]
    if absent:  # quotes alone, as a single-order backtest reads them: no print to weigh
        log.warning("%s has no column %s: no trade print, the interval VWAP is null",
                    file, ", ".join(absent))  # fmt: skip
        return np.empty(0, dtype=TRADE_DTYPE)
    header = csv_header(file, _CSV_NEEDED, "a blotter's interval VWAP needs them")
    wanted = [*_CSV_NEEDED, *(["flags"] if "flags" in header else [])]
    frame = _csv_rows(file, header, wanted, [0], (lo, hi), skip_bad_rows, max_ts_distance_ns)
    return trades_of(_to_events(frame.filter(pl.col("action") == "T")))


def snapshots_from_events(events: np.ndarray) -> np.ndarray:
    """Return the snapshots of docs/semantics.md (first row of each venue at each ``ts_event``)
    of events in :func:`read_events` order: what :func:`sor.data.reader.read_market` keeps
    from the same rows."""
    columns = {
        "ts_event": events["ts_event"],
        "publisher_id": events["publisher_id"],
        "ask_px": events["ask_px"][:, 0],
        "ask_sz": events["ask_sz"][:, 0],
        "bid_px": events["bid_px"][:, 0],
        "bid_sz": events["bid_sz"][:, 0],
    }
    snapshots, _ = build_snapshots(columns)
    return snapshots
