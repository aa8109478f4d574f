"""Read Databento MBP-1/MBP-10 files (CSV, DBN) into the snapshots of docs/semantics.md section 2.

CSV files are read column-wise with polars, only the columns the backtest needs, as text;
values are converted in bulk, so that a value that cannot be parsed is located (file, line,
column) instead of being silently turned into a missing value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np
import polars as pl

from sor.core.defaults import DEFAULT_MAX_TS_DISTANCE_H
from sor.core.domain import (
    MAX_PRICE_NANOS,
    MAX_PUBLISHER_ID,
    MAX_SIZE,
    NANOS_PER_DOLLAR,
    NANOS_PER_HOUR,
    SNAPSHOT_DTYPE,
)
from sor.core.errors import DataError
from sor.core.market import MarketData
from sor.core.paths import check_input_file, file_sha256
from sor.data import csv_scan
from sor.data.instruments import check_one_instrument, instrument_key

if TYPE_CHECKING:
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger(__name__)

TIMESTAMP_COLUMNS = ("ts_event",)
INTEGER_COLUMNS = ("publisher_id", "ask_sz_00", "bid_sz_00")
PRICE_COLUMNS = ("ask_px_00", "bid_px_00")
REQUIRED_COLUMNS = ("ts_event", "publisher_id", "ask_px_00", "ask_sz_00")
OPTIONAL_COLUMNS = ("bid_px_00", "bid_sz_00")

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
_REASONS = {"ts_event": "bad_timestamp", "ts_recv": "bad_timestamp",
            "publisher_id": "bad_publisher_id",
            "action": "bad_action", "side": "bad_side", "flags": "bad_flags",
            "order_id": "bad_order_id"}  # fmt: skip
_CODES = ("action", "side")  # one-character codes, not numbers
_DBN_SUFFIXES = (".dbn", ".dbn.zst")
_MAX_REPORTED = 5
_SNIFF_ROWS = 100
_UNDEFINED_FIXED_PRICE = 2**63 - 1  # Databento's null price in fixed-point form
_FIXED_PRICE_DIGITS = 7  # $0.001 in nano-dollars; no bare-integer dollar price is this long
_FIRST_ISO_YEAR, _END_ISO_YEAR = "1678-", "2262-"  # ISO times that fit int64 nanoseconds
_WRAPPED_TS = np.iinfo(np.int64).min  # stands for a time past int64: always out of range
_BOOK_SIZES = ("ask_sz_00", "bid_sz_00")
_MAX_BOOK_SIZE = min(MAX_SIZE, int(np.iinfo(SNAPSHOT_DTYPE["ask_sz"]).max))
"""Largest top-of-book size a snapshot holds: a larger one is a bad value, never wrapped."""
PARSED = "_parsed_"
"""Prefix of the parsed copy of a column (:meth:`CsvParsing.with_parsed`)."""
_SKIP_HINT = "use --skip-bad-rows to skip and count such rows"
OUT_OF_RANGE = "timestamp_out_of_range"
"""The report's reason for a row whose ``ts_event`` is out of range."""


@dataclass(frozen=True)
class CsvFormat:
    """How a Databento CSV writes timestamps and prices (its encoding options).

    Attributes
    ----------
    integer_ts
        ``ts_event`` as integer nanoseconds (without ``pretty_ts``), not ISO-8601.
    fixed_prices
        Prices as integer nano-dollars (without ``pretty_px``), not decimal dollars.
    """

    integer_ts: bool = False
    fixed_prices: bool = False


_BATCH_ROWS = 250_000

EARLIEST_TS_NS = 631_152_000_000_000_000
"""1990-01-01T00:00:00Z: no market-by-price data is older; an earlier ``ts_event`` is bad."""
DEFAULT_MAX_TS_DISTANCE_NS = round(DEFAULT_MAX_TS_DISTANCE_H * NANOS_PER_HOUR)
"""How far (one day) a ``ts_event`` may lie from the median of the input's before it is bad."""


def timestamps_out_of_range(
    ts_ns: np.ndarray, max_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS
) -> np.ndarray:
    """Return the mask of ``ts_ns`` values that cannot be the input's times.

    A value is out of range before 1990 or farther than ``max_distance_ns`` from the median
    of the values (a robust centre: a few wrong rows cannot move it; on long inputs the
    median of an evenly strided sample of 100,001 values, to keep memory flat). Such a row would
    stretch the replay over years: every time-driven loop (buckets, decisions) would run
    for the span instead of the rows.
    """
    ts = np.asarray(ts_ns, dtype=np.int64)
    if not len(ts):
        return np.zeros(0, dtype=bool)
    sample = ts[:: max(1, len(ts) // 100_000)]
    sample = sample[sample >= EARLIEST_TS_NS]
    centre = int(np.median(sample)) if len(sample) else 0
    low = max(EARLIEST_TS_NS, centre - max_distance_ns)
    high = centre + max_distance_ns
    out: np.ndarray = (ts < low) | (ts > high)
    return out


def read_market(
    path: str | Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
    source: SourceOptions | None = None,
) -> MarketData:
    """Read a Databento MBP file and build the kept snapshots of the window.

    Parameters
    ----------
    path
        A Databento MBP-1 or MBP-10 CSV, or a DBN file (``.dbn``, ``.dbn.zst``); or an
        order-level file (Databento MBO, LOBSTER: :mod:`sor.data.orderlevel`), whose
        snapshots are those of its rebuilt events.
    start_ns, end_ns
        Inclusive window bounds on ``ts_event`` in ns; None means unbounded.
    skip_bad_rows
        Drop bad rows and count them per reason instead of failing.
    max_ts_distance_ns
        How far (ns) a CSV row's ``ts_event`` may lie from the median of the file's before
        the row is bad (:func:`timestamps_out_of_range`).
    source
        How to read a LOBSTER file (its orderbook file, its venue).

    Raises
    ------
    DataError
        The file is missing or unreadable, is not a Databento MBP file, lacks a column, or
        holds a bad row (unless ``skip_bad_rows``): a line that is not UTF-8 or has not the
        header's fields, a value that cannot be parsed or lies outside Databento's type for
        it, or a timestamp out of range.
    """
    file = Path(path)
    check_input_file(file)
    from sor.data.orderlevel import input_kind

    if input_kind(file, source) != "mbp":
        return _order_level_market(
            file, start_ns, end_ns, skip_bad_rows, max_ts_distance_ns, source
        )
    skipped: dict[str, int] = {}
    if is_dbn(file):
        typed, rows_read, skipped = _read_dbn(
            file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns
        )
    else:
        typed, rows_read, skipped = _read_csv(
            file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns
        )
    snapshots, in_window = _snapshots(typed, start_ns=start_ns, end_ns=end_ns)
    return MarketData(
        snapshots=snapshots,
        source=str(file),
        sha256=file_sha256(file),
        rows_read=rows_read,
        rows_in_window=in_window,
        skipped=skipped,
    )


def _order_level_market(
    file: Path,
    start_ns: int | None,
    end_ns: int | None,
    skip_bad_rows: bool,
    max_ts_distance_ns: int,
    source: SourceOptions | None,
) -> MarketData:
    """The snapshots of an order-level file: those of its events in the window."""
    from sor.data.events import snapshots_from_events  # it imports this module
    from sor.data.orderlevel import read_order_level

    data = read_order_level(
        file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns, options=source
    )
    events = data.window(start_ns, end_ns)
    return MarketData(
        snapshots=snapshots_from_events(events),
        source=str(file),
        sha256=file_sha256(file),
        rows_read=data.rows_read,
        rows_in_window=len(events),
        skipped=dict(data.skipped),
    )


def build_snapshots(
    columns: Mapping[str, np.ndarray],
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[np.ndarray, int]:
    """Window, deduplicate and order raw rows (docs/semantics.md section 2).

    ``columns`` holds equal-length arrays in file order: ``ts_event`` (ns), ``publisher_id``,
    ``ask_px``/``bid_px`` (nano-dollars, 0 when invalid) and ``ask_sz``/``bid_sz``.
    Returns the snapshots and the number of rows inside the window.
    """
    return _snapshots(dict(columns), start_ns=start_ns, end_ns=end_ns)


def _snapshots(
    columns: dict[str, np.ndarray], *, start_ns: int | None, end_ns: int | None
) -> tuple[np.ndarray, int]:
    """Apply the window, sort by ts_event stably and keep the first row per venue and time.

    Memory matters here (files of tens of millions of rows): temporaries are index arrays
    only, and each column is released from ``columns`` once gathered into the result.
    """
    ts = np.asarray(columns["ts_event"], dtype=np.int64)
    if start_ns is None and end_ns is None:
        in_window = len(ts)
        order = np.argsort(ts, kind="stable")
    else:
        lo = np.iinfo(np.int64).min if start_ns is None else start_ns
        hi = np.iinfo(np.int64).max if end_ns is None else end_ns
        rows = np.flatnonzero((ts >= lo) & (ts <= hi))
        in_window = len(rows)
        order = rows[np.argsort(ts[rows], kind="stable")]
        del rows
    order = order[_first_per_venue(ts, np.asarray(columns["publisher_id"]), order)]
    snapshots = np.empty(len(order), dtype=SNAPSHOT_DTYPE)
    del ts
    for name in SNAPSHOT_DTYPE.names or ():
        snapshots[name] = np.asarray(columns.pop(name))[order]
    return snapshots, in_window


@numba.njit(cache=True)
def _first_per_venue(ts: np.ndarray, publisher: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Mask, along ``order`` (rows sorted by ts), the first row of each venue per ts."""
    keep = np.ones(len(order), dtype=np.bool_)
    block = 0
    for i in range(1, len(order)):
        if ts[order[i]] != ts[order[i - 1]]:
            block = i
            continue
        for j in range(block, i):
            if keep[j] and publisher[order[j]] == publisher[order[i]]:
                keep[i] = False
                break
    return keep


def _read_csv(
    path: Path, *, skip_bad_rows: bool, max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """Return the snapshot columns of the CSV's good rows, the rows read and the skips
    (:func:`read_csv_columns`)."""

    def select(parsing: CsvParsing, wanted: list[str]) -> list[pl.Expr]:
        return [
            pl.col(PARSED + "ts_event").fill_null(0).alias("ts_event"),
            pl.col(PARSED + "publisher_id")
            .cast(pl.Int32, strict=False)
            .fill_null(0)
            .alias("publisher_id"),
            parsing.nanos("ask_px_00", wanted, preparsed=True).alias("ask_px"),
            parsing.size("ask_sz_00", wanted, preparsed=True)
            .cast(pl.Int32, strict=False)
            .fill_null(0)
            .alias("ask_sz"),
            parsing.nanos("bid_px_00", wanted, preparsed=True).alias("bid_px"),
            parsing.size("bid_sz_00", wanted, preparsed=True)
            .cast(pl.Int32, strict=False)
            .fill_null(0)
            .alias("bid_sz"),
        ]

    typed, rows_read, skipped = read_csv_columns(
        path,
        REQUIRED_COLUMNS,
        OPTIONAL_COLUMNS,
        select,
        skip_bad_rows=skip_bad_rows,
        max_ts_distance_ns=max_ts_distance_ns,
        why="expected a Databento MBP-1 or MBP-10 CSV",
    )
    if not typed:  # a header and no rows
        typed = {
            name: np.zeros(0, dtype=SNAPSHOT_DTYPE[name]) for name in SNAPSHOT_DTYPE.names or ()
        }
    return typed, rows_read, skipped


def read_csv_columns(
    path: Path,
    required: tuple[str, ...],
    optional: tuple[str, ...],
    select: Callable[[CsvParsing, list[str]], list[pl.Expr]],
    *,
    skip_bad_rows: bool,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
    why: str,
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """Return columns of the CSV's good rows (file order), the rows read and the skips.

    ``select(parsing, wanted)`` gives the output columns as expressions over the ``wanted`` columns
    (``required`` and those of ``optional`` in the header), each parsed once under
    ``PARSED + name``; it must yield ``ts_event`` (ns). The head is checked first
    (:func:`csv_header`, ``why`` saying what a missing column means), then one pass over the
    bytes flags the lines that are not rows (:func:`sor.data.csv_scan.scan_lines`), then one
    streaming parse flags the values that do not parse or lie outside Databento's types;
    last, the timestamps far from the others are flagged. Without ``skip_bad_rows`` a bad
    row is an error as soon as it is found: the first line that is not a row (before any
    value is parsed, so that a huge one is not), else the first bad value, else the first
    timestamp out of range. An empty dict means a header and no rows."""
    header = csv_header(path, required, why)
    wanted = [name for name in (*required, *optional) if name in header]
    lines = csv_scan.scan_lines(path, len(header), stop_at_first=not skip_bad_rows)
    key = instrument_key(header)
    named = [
        *wanted,
        *(["instrument_id"] if key is not None and "instrument_id" not in wanted else []),
    ]
    raw = csv_text(path, named, lines)
    if not skip_bad_rows and len(lines.bad_rows):
        raise line_error(path, lines, header, 0)
    parsing = CsvParsing.of(path)
    query = parsing.with_parsed(raw, wanted).select(
        *select(parsing, wanted),
        parsing.first_bad(wanted, preparsed=True).alias("_bad"),
        *([] if key is None else [key.alias("_instrument")]),
    )
    # Batches are copied into columns sized from the file up front, so the peak stays near
    # the size of the result (joining a list of batches would need twice that).
    columns = _Columns(path)
    instrument = None
    try:
        for batch in query.collect_batches(chunk_size=_BATCH_ROWS, engine="streaming"):
            flagged = batch["_bad"] > 0
            if not skip_bad_rows and flagged.any():
                first = columns.rows + int(flagged.arg_true()[0])
                raise_first_bad(path, raw, wanted, before=first + 1, parsing=parsing)
                raise AssertionError("unreachable: a flagged row has no bad value")
            if key is not None:
                # a bad row's fields may name anything: only the rows kept must agree
                good = ~flagged.to_numpy()
                at = lines.bad_rows - columns.rows
                good[at[(at >= 0) & (at < batch.height)]] = False
                keys = batch["_instrument"].to_numpy()[good]
                instrument = check_one_instrument(path, keys, instrument)
                batch = batch.drop("_instrument")
            columns.append(batch)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read as CSV: {exc}", path=str(path)) from exc
    typed = columns.result()
    codes = typed.pop("_bad", np.zeros(0, dtype=np.int8))
    rows_read = len(codes)
    check_row_count(path, lines, rows_read)
    broken = lines.mask(rows_read)
    outside = timestamp_outliers(typed.get("ts_event"), broken | (codes > 0), max_ts_distance_ns)
    if not skip_bad_rows and outside.any():
        raise_out_of_range(path, raw, int(np.argmax(outside)), max_ts_distance_ns)
    skipped = count_bad_rows(lines, codes[~broken], wanted, int(np.count_nonzero(outside)))
    if skipped:
        log.warning("skipped %d bad row(s) in %s: %s", sum(skipped.values()), path, skipped)
        keep = ~(broken | (codes > 0) | outside)
        typed = {name: values[keep] for name, values in typed.items()}
    return typed, rows_read, skipped


def csv_text(path: Path, wanted: list[str], lines: csv_scan.LineScan) -> pl.LazyFrame:
    """Scan the ``wanted`` columns of the CSV as text, one row per line (see
    :mod:`sor.data.csv_scan`): quotes are not special, lines with too many fields are cut
    (they are flagged by ``lines``), and bytes that are not UTF-8 are replaced when
    ``lines`` found some or did not look at every line."""
    lossy = not lines.complete or csv_scan.BAD_ENCODING in lines.kinds
    return pl.scan_csv(
        path,
        infer_schema=False,
        schema_overrides=dict.fromkeys(wanted, pl.String),
        quote_char=None,
        truncate_ragged_lines=True,
        encoding="utf8-lossy" if lossy else "utf8",
    ).select(wanted)


def check_row_count(path: Path, lines: csv_scan.LineScan, rows: int) -> None:
    """Fail unless the parse saw the rows the line scan saw, so that flags fall on rows."""
    if lines.complete and rows != lines.rows:
        raise DataError(
            f"cannot read as CSV: {rows} rows parsed from {lines.rows} lines", path=str(path)
        )


def timestamp_outliers(
    ts: np.ndarray | None, excluded: np.ndarray, max_distance_ns: int
) -> np.ndarray:
    """Return the mask of rows not ``excluded`` whose ``ts`` is out of range (see
    :func:`timestamps_out_of_range`, applied to the rows not excluded)."""
    if ts is None:
        return np.zeros(len(excluded), dtype=bool)
    kept = np.flatnonzero(~excluded)
    out = np.zeros(len(ts), dtype=bool)
    out[kept[timestamps_out_of_range(ts[kept], max_distance_ns)]] = True
    return out


def count_bad_rows(
    lines: csv_scan.LineScan, codes: np.ndarray, wanted: list[str], outside: int
) -> dict[str, int]:
    """Count the bad rows per reason: lines that are not rows, then the first bad value of
    the others (``codes`` from :meth:`CsvParsing.first_bad`), then timestamps out of range."""
    skipped = lines.counts()
    per_code = np.bincount(codes, minlength=len(wanted) + 1)
    for name, count in zip(wanted, per_code[1:], strict=True):
        if count:
            reason = bad_reason(name)
            skipped[reason] = skipped.get(reason, 0) + int(count)
    if outside:
        skipped[OUT_OF_RANGE] = outside
    return skipped


class _Columns:
    """Growable numpy columns filled batch by batch.

    Sized once from an estimate of the file's row count (its size over the mean length of
    its first lines, plus a margin); they grow only if the estimate falls short.
    """

    def __init__(self, path: Path) -> None:
        with path.open("rb") as handle:
            sample = handle.read(1 << 20)
        lines = max(1, sample.count(b"\n"))
        self.capacity = int(path.stat().st_size / (len(sample) / lines) * 1.02) + 16
        self.rows = 0
        self.data: dict[str, np.ndarray] = {}

    def append(self, batch: pl.DataFrame) -> None:
        """Copy one batch in."""
        n = batch.height
        if not self.data:
            self.data = {
                name: np.empty(max(self.capacity, n), dtype=batch[name].to_numpy().dtype)
                for name in batch.columns
            }
        size = len(next(iter(self.data.values())))
        if self.rows + n > size:
            grown = max(self.rows + n, size + size // 4)
            self.data = {name: np.resize(values, grown) for name, values in self.data.items()}
        for name in batch.columns:
            self.data[name][self.rows : self.rows + n] = batch[name].to_numpy()
        self.rows += n

    def result(self) -> dict[str, np.ndarray]:
        """Return the filled columns, trimmed to the rows read."""
        return {name: values[: self.rows] for name, values in self.data.items()}


def sniff_format(path: Path) -> CsvFormat:
    """Tell from the first data rows how the CSV writes timestamps and prices.

    Integer ``ts_event`` means nanoseconds. Prices are fixed-point nano-dollars when every
    price written in those rows is a bare integer and one has seven digits or more: any
    price from a tenth of a cent up has seven digits in nano-dollars, while decimal dollars
    written without a point (a hand-made file) stay below a million dollars. Databento's
    own decimal form always has a point.
    """
    try:
        head = csv_scan.read_head(path)
    except DataError:
        return CsvFormat()  # the full read reports the problem
    rows = head.rows()
    prices = [name for name in ("price", *PRICE_COLUMNS) if name in head.columns]
    first = rows[0].get("ts_event") if rows else None
    texts = [t.strip() for row in rows for name in prices if (t := row[name]).strip()]
    return CsvFormat(
        integer_ts=first is not None and first.strip().isdigit(),
        fixed_prices=bool(texts)
        and all(t.isdigit() for t in texts)
        and any(len(t) >= _FIXED_PRICE_DIGITS for t in texts),
    )


def csv_header(path: Path, required: tuple[str, ...], why: str) -> list[str]:
    """Check the CSV's head (:func:`sor.data.csv_scan.read_head`, in bounded time and
    memory) and return its column names.

    Raises
    ------
    DataError
        The head is not that of a Databento MBP CSV, or a ``required`` column is missing.
    """
    header = csv_scan.read_head(path).columns
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; {why}", path=str(path), column=missing[0]
        )
    return header


def _nonblank(name: str) -> pl.Expr:
    return pl.col(name).is_not_null() & (pl.col(name).str.strip_chars() != "")


def bad_reason(column: str) -> str:
    """Return the report's reason for an unparseable value in ``column``."""
    if column in _REASONS:
        return _REASONS[column]
    return "bad_price" if column == "price" or "_px_" in column else "bad_size"


def _largest(name: str) -> int | None:
    """Return the largest value ``name`` may hold, or None when it is not bounded above."""
    if name == "publisher_id":
        return MAX_PUBLISHER_ID
    if name == "price" or "_px_" in name:
        return MAX_PRICE_NANOS
    if name in _BOOK_SIZES:
        return _MAX_BOOK_SIZE
    if name == "size" or "_sz_" in name:
        return MAX_SIZE
    return None


@dataclass(frozen=True)
class CsvParsing:
    """The polars expressions that parse a CSV's text columns, for one file's format.

    Every reader of Databento CSV text (the snapshots here, the events of
    :mod:`sor.data.events`) builds its expressions from one of these, made by
    :meth:`of` from the file, so that how a value parses is stated where it is used.
    """

    format: CsvFormat = field(default_factory=CsvFormat)

    @classmethod
    def of(cls, path: Path) -> CsvParsing:
        """Return the parsing of ``path``'s format (:func:`sniff_format`)."""
        return cls(sniff_format(path))

    def parse(self, name: str) -> pl.Expr:
        raw = pl.col(name).str.strip_chars()
        if name in ("ts_event", "ts_recv"):
            # Databento writes ISO-8601 with pretty_ts, integer nanoseconds without it
            if self.format.integer_ts:
                return raw.cast(pl.Int64, strict=False)
            ns = raw.str.to_datetime(_ISO_FORMAT, time_unit="ns", strict=False).dt.epoch("ns")
            # polars wraps a time past int64 nanoseconds (years before 1678 or after 2261)
            # around into a valid-looking one: such a time becomes one that is out of range
            representable = (raw >= _FIRST_ISO_YEAR) & (raw < _END_ISO_YEAR)
            return (
                pl.when(ns.is_null() | representable)
                .then(ns)
                .otherwise(pl.lit(_WRAPPED_TS, dtype=pl.Int64))
            )
        if name in _CODES:
            # one printable ASCII character: a longer one would be cut to its first
            return pl.when(raw.str.contains(r"^[!-~]$")).then(raw)
        if name == "order_id":
            # an unsigned 64-bit id, kept as the int64 of the same bits
            return raw.cast(pl.UInt64, strict=False).reinterpret(signed=True)
        if name in PRICE_COLUMNS or "_px_" in name or name == "price":
            # decimal dollars with pretty_px, integer nano-dollars without it
            return raw.cast(pl.Int64 if self.format.fixed_prices else pl.Float64, strict=False)
        return raw.cast(pl.Int64, strict=False)

    def with_parsed(self, lazy: pl.LazyFrame, names: list[str]) -> pl.LazyFrame:
        """Add each column of ``names`` parsed (:meth:`parse`) beside its text, so that
        the expressions given ``preparsed=True`` parse each value once, not once per use."""
        return lazy.with_columns(self.parse(name).alias(PARSED + name) for name in names)

    def _parsed(self, name: str, preparsed: bool) -> pl.Expr:
        return pl.col(PARSED + name) if preparsed else self.parse(name)

    def nanos(self, name: str, wanted: list[str], *, preparsed: bool = False) -> pl.Expr:
        """Dollar prices as nano-dollars; missing, non-finite or non-positive prices become 0,
        which means "no liquidity on that side" (prices above ``MAX_PRICE_NANOS`` are bad
        values, flagged by :meth:`bad`, and 0 here)."""
        if name not in wanted:
            return pl.lit(0, dtype=pl.Int64)
        price = self._parsed(name, preparsed)
        if self.format.fixed_prices:
            valid = price.is_not_null() & (price > 0) & (price <= MAX_PRICE_NANOS)
            return pl.when(valid).then(price).otherwise(0).cast(pl.Int64)
        nanos = (price * NANOS_PER_DOLLAR).round(0)
        valid = price.is_not_null() & price.is_finite() & (price > 0) & (nanos <= MAX_PRICE_NANOS)
        # the value from the decimal text itself: a float holds a price such as 2e9 $ only to
        # about 256 nano-dollars; the float serves to classify it and for forms the decimal
        # cast does not take
        exact = pl.col(name).str.strip_chars().cast(pl.Decimal(38, 9), strict=False)
        exact_nanos = (exact * NANOS_PER_DOLLAR).cast(pl.Int64, strict=False)
        return (
            pl.when(valid)
            .then(pl.coalesce(exact_nanos, nanos.cast(pl.Int64)))
            .otherwise(0)
            .cast(pl.Int64)
        )

    def size(self, name: str, wanted: list[str], *, preparsed: bool = False) -> pl.Expr:
        """Sizes as integers; a missing or non-positive size becomes 0 ("no liquidity"), as
        does a size too large (a bad value, flagged by :meth:`bad`)."""
        if name not in wanted:
            return pl.lit(0, dtype=pl.Int64)
        size = self._parsed(name, preparsed)
        return pl.when((size > 0) & (size <= _largest(name))).then(size).otherwise(0)

    def bad(self, name: str, *, preparsed: bool = False) -> pl.Expr:
        """A value is bad when text is present but does not parse, or lies outside Databento's
        type for it (a negative venue, a venue, size or price too large); a blank is bad only
        where the value is required for every row (timestamp, venue). A non-positive or
        non-finite price or size is not bad: it means "no liquidity"."""
        parsed = self._parsed(name, preparsed)
        bad = parsed.is_null()
        if name not in ("ts_event", "publisher_id"):
            bad = bad & _nonblank(name)
        largest = _largest(name)
        if largest is None:
            return bad
        if name == "price" or "_px_" in name:
            if self.format.fixed_prices:
                return bad | ((parsed > largest) & (parsed != _UNDEFINED_FIXED_PRICE))
            return bad | (parsed.is_finite() & ((parsed * NANOS_PER_DOLLAR).round(0) > largest))
        if name == "publisher_id":
            return bad | (parsed < 0) | (parsed > largest)
        return bad | (parsed > largest)

    def first_bad(self, wanted: list[str], *, preparsed: bool = False) -> pl.Expr:
        """The 1-based position in ``wanted`` of a row's first bad value, 0 when none is bad."""
        code = pl.lit(0, dtype=pl.Int8)
        for position, name in reversed(list(enumerate(wanted, start=1))):
            code = (
                pl.when(self.bad(name, preparsed=preparsed))
                .then(pl.lit(position, dtype=pl.Int8))
                .otherwise(code)
            )
        return code


def raise_first_bad(
    path: Path, raw: pl.LazyFrame, wanted: list[str], *, before: int, parsing: CsvParsing
) -> None:
    """Raise the error of the first row among the first ``before`` rows of ``raw`` (text of
    the ``wanted`` columns) with a bad value; return when there is none."""
    located = (
        raw.head(before)
        .with_row_index("_row")
        .filter(pl.any_horizontal(*[parsing.bad(name) for name in wanted]))
        .head(1)
        .collect()
    )
    if not located.height:
        return
    row = located.row(0, named=True)
    line = int(row["_row"]) + 2  # one header line, lines counted from 1
    for name in wanted:
        value = row[name]
        frame = pl.DataFrame({name: [value]}, schema={name: pl.String})
        bad, parsed = frame.select(
            parsing.bad(name).alias("b"), parsing.parse(name).alias("p")
        ).row(0)
        if bad:
            raise DataError(
                f"{_bad_value(name, value, parsed)}; {_SKIP_HINT}",
                path=str(path),
                line=line,
                column=name,
            )
    raise AssertionError("unreachable: a flagged row has no bad column")


def _bad_value(name: str, value: str | None, parsed: float | None) -> str:
    """Say what is wrong with ``value`` (text) of column ``name``, ``parsed`` its number."""
    shown = "an empty value" if value is None or not value.strip() else repr(value)
    what = "timestamp" if name == "ts_event" else bad_reason(name).removeprefix("bad_")
    if parsed is None:
        hint = " (expected ISO-8601 like 2024-08-01T13:36:32.491911683Z)" * (name == "ts_event")
        article = "an" if what[0] in "aeiou" else "a"
        return f"cannot parse {shown} as {article} {what.replace('_', ' ')}{hint}"
    largest = _largest(name)
    if name == "publisher_id":
        return f"publisher_id {shown} is outside Databento's range 0 to {largest}"
    if name == "price" or "_px_" in name:
        dollars = f"{MAX_PRICE_NANOS // NANOS_PER_DOLLAR}.{MAX_PRICE_NANOS % NANOS_PER_DOLLAR:09d}"
        return f"price {shown} is above the largest price, {dollars} $"
    if name in _BOOK_SIZES:
        return f"size {shown} is above {largest}, the largest top-of-book size a snapshot holds"
    return f"size {shown} is above {largest}, the largest size Databento writes"


def raise_out_of_range(path: Path, raw: pl.LazyFrame, row: int, max_distance_ns: int) -> None:
    """Raise the error of a row whose timestamp is out of range (see
    :func:`timestamps_out_of_range`)."""
    value = raw.select("ts_event").slice(row, 1).collect().item()
    hours = max_distance_ns / 3.6e12
    raise DataError(
        f"timestamp {value!r} is out of range: before 1990 or more than {hours:g} hours from "
        f"the median of the file's timestamps; {_SKIP_HINT}",
        path=str(path),
        line=row + 2,
        column="ts_event",
    )


def line_error(path: Path, lines: csv_scan.LineScan, header: list[str], at: int) -> DataError:
    """Return the error of the ``at``-th line flagged by :func:`sor.data.csv_scan.scan_lines`."""
    kind, detail = int(lines.kinds[at]), int(lines.details[at])
    line = int(lines.bad_rows[at]) + 2
    if kind == csv_scan.BAD_ENCODING:
        column = header[detail] if detail < len(header) else None
        return DataError(
            f"bytes that are not UTF-8 text; {_SKIP_HINT}", path=str(path), line=line,
            column=column,
        )  # fmt: skip
    return DataError(
        f"{detail} field(s) where the header has {len(header)}; {_SKIP_HINT}",
        path=str(path),
        line=line,
    )


def is_dbn(path: Path) -> bool:
    """Whether ``path`` names a DBN file (``.dbn``, ``.dbn.zst``) rather than a CSV."""
    return path.name.endswith(_DBN_SUFFIXES)


def dbn_prices(values: np.ndarray) -> np.ndarray:
    """DBN fixed-point prices as nano-dollars, 0 where the price is undefined."""
    prices = values.astype(np.int64, copy=False)
    out: np.ndarray = np.where((prices > 0) & (prices != np.iinfo(np.int64).max), prices, 0)
    return out


def _read_dbn(
    path: Path, *, skip_bad_rows: bool, max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """Return the typed good records of a DBN file, the records read and the skips
    (:func:`sor.data.dbn.read_dbn` says which records are bad)."""
    from sor.data.dbn import read_dbn

    dbn = read_dbn(path, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns)
    typed = {
        "ts_event": dbn.column("ts_event"),
        "publisher_id": dbn.column("publisher_id"),
        "ask_px": dbn_prices(dbn.column("ask_px_00")),
        "ask_sz": dbn.column("ask_sz_00"),
        "bid_px": dbn_prices(dbn.column("bid_px_00")),
        "bid_sz": dbn.column("bid_sz_00"),
    }
    return typed, dbn.rows_read, dbn.skipped
