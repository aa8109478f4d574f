"""Read Databento MBP-1/MBP-10 files (CSV, DBN) into the snapshots of SEMANTICS.md section 1.

CSV files are read column-wise with polars, only the columns the backtest needs, as text;
values are converted in bulk, so that a value that cannot be parsed is located (file, line,
column) instead of being silently turned into a missing value.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np
import polars as pl

from sor.domain import NANOS_PER_DOLLAR, SNAPSHOT_DTYPE
from sor.errors import DataError

log = logging.getLogger(__name__)

TIMESTAMP_COLUMNS = ("ts_event",)
INTEGER_COLUMNS = ("publisher_id", "ask_sz_00", "bid_sz_00")
PRICE_COLUMNS = ("ask_px_00", "bid_px_00")
REQUIRED_COLUMNS = ("ts_event", "publisher_id", "ask_px_00", "ask_sz_00")
OPTIONAL_COLUMNS = ("bid_px_00", "bid_sz_00")

_ISO_FORMAT = "%Y-%m-%dT%H:%M:%S%.fZ"
_REASONS = {"ts_event": "bad_timestamp", "publisher_id": "bad_publisher_id"}
_DBN_SUFFIXES = (".dbn", ".dbn.zst")
_MAX_REPORTED = 5
_SNIFF_ROWS = 100
_UNDEFINED_FIXED_PRICE = 2**63 - 1  # Databento's null price in fixed-point form
_FIXED_PRICE_DIGITS = 7  # $0.001 in nano-dollars; no bare-integer dollar price is this long


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


_FORMAT: ContextVar[CsvFormat] = ContextVar("csv_format", default=CsvFormat())  # noqa: B039 (frozen)
"""The format of the file being read, decided once per file from its first rows."""
_BATCH_ROWS = 250_000

EARLIEST_TS_NS = 631_152_000_000_000_000
"""1990-01-01T00:00:00Z: no market-by-price data is older; an earlier ``ts_event`` is bad."""
DEFAULT_MAX_TS_DISTANCE_NS = 86_400 * 1_000_000_000
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


@dataclass(frozen=True)
class MarketData:
    """The kept venue rows of one input, in processing order.

    Attributes
    ----------
    snapshots
        Structured array of ``SNAPSHOT_DTYPE``: the first row of each venue at each
        ``ts_event``, sorted by ``ts_event`` with file order kept among equal values.
    source
        Where the rows came from (a path or a Kafka topic), for the report.
    sha256
        Hex SHA-256 of the input file, when the input is a file.
    rows_read
        Data rows read from the input, before windowing.
    rows_in_window
        Rows whose ``ts_event`` lies in the window, before keeping one per venue and time.
    skipped
        Rows dropped because they could not be parsed, counted per reason.
    events
        Every row of the window as ``EVENT_DTYPE`` (model ck), when the input carried them
        (an event stream); None otherwise (files are read for events on demand).
    """

    snapshots: np.ndarray
    source: str
    sha256: str | None = None
    rows_read: int = 0
    rows_in_window: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    events: np.ndarray | None = None

    @property
    def venues(self) -> np.ndarray:
        """Distinct publisher ids in ascending order."""
        return np.unique(self.snapshots["publisher_id"])

    @property
    def first_ts(self) -> int | None:
        """First kept ``ts_event`` in ns, or None when nothing was kept."""
        return int(self.snapshots["ts_event"][0]) if len(self.snapshots) else None

    @property
    def last_ts(self) -> int | None:
        """Last kept ``ts_event`` in ns, or None when nothing was kept."""
        return int(self.snapshots["ts_event"][-1]) if len(self.snapshots) else None


def parse_timestamp(text: str) -> int:
    """Parse an ISO-8601 timestamp (UTC unless an offset is given) to ns since the epoch.

    Accepts a date, a date and time, fractional seconds down to nanoseconds, and a ``Z`` or
    ``+HH:MM`` suffix, e.g. ``2024-08-01T13:36:32.491911683Z``.
    """
    raw = text.strip()
    body, fraction = raw, ""
    if "." in raw:
        body, rest = raw.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, suffix = rest[:digits], rest[digits:]
        body += suffix
        if not fraction or len(fraction) > 9:
            raise ValueError(f"invalid timestamp {text!r}: bad fractional seconds")
    try:
        moment = datetime.fromisoformat(body.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"invalid timestamp {text!r}: expected ISO-8601 such as 2024-08-01T13:36:32.5Z"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = moment - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = whole.days * 86_400 + whole.seconds
    return seconds * 1_000_000_000 + whole.microseconds * 1_000 + int(fraction.ljust(9, "0") or 0)


def format_timestamp(ts_ns: int) -> str:
    """Format ns since the epoch as Databento does: ``2024-08-01T13:36:32.491911683Z``."""
    seconds, nanos = divmod(int(ts_ns), 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_market(
    path: str | Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    skip_bad_rows: bool = False,
) -> MarketData:
    """Read a Databento MBP file and build the kept snapshots of the window.

    Parameters
    ----------
    path
        A Databento MBP-1 or MBP-10 CSV, or a DBN file (``.dbn``, ``.dbn.zst``).
    start_ns, end_ns
        Inclusive window bounds on ``ts_event`` in ns; None means unbounded.
    skip_bad_rows
        Drop rows that cannot be parsed and count them per reason instead of failing.

    Raises
    ------
    DataError
        The file is missing or unreadable, lacks a column, or holds a value that cannot be
        parsed (unless ``skip_bad_rows``).
    """
    file = Path(path)
    if not file.is_file():
        raise DataError("no such data file", path=str(file))
    skipped: dict[str, int] = {}
    if is_dbn(file):
        typed, rows_read, skipped = _read_dbn(file, skip_bad_rows=skip_bad_rows)
    else:
        with csv_format(file):
            typed, rows_read, skipped = _read_csv(file, skip_bad_rows=skip_bad_rows)
    snapshots, in_window = _snapshots(typed, start_ns=start_ns, end_ns=end_ns)
    return MarketData(
        snapshots=snapshots,
        source=str(file),
        sha256=file_sha256(file),
        rows_read=rows_read,
        rows_in_window=in_window,
        skipped=skipped,
    )


def build_snapshots(
    columns: Mapping[str, np.ndarray],
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[np.ndarray, int]:
    """Window, deduplicate and order raw rows (SEMANTICS.md section 1).

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
    path: Path, *, skip_bad_rows: bool
) -> tuple[dict[str, np.ndarray], int, dict[str, int]]:
    """Return the typed rows (bad rows removed), the number of rows read and the skips.

    One streaming pass parses the needed columns and flags unparseable rows; only when a
    row is bad does a second pass locate it (error) or count the reasons (skip)."""
    header = csv_header(path, REQUIRED_COLUMNS, "expected a Databento MBP-1 or MBP-10 CSV")
    wanted = [name for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS) if name in header]
    raw = pl.scan_csv(
        path, infer_schema=False, schema_overrides=dict.fromkeys(wanted, pl.String)
    ).select(wanted)
    bad = {name: bad_expr(name) for name in wanted}
    query = raw.select(
        _parse_expr("ts_event").alias("ts_event"),
        _parse_expr("publisher_id").cast(pl.Int32, strict=False).alias("publisher_id"),
        _nanos_expr("ask_px_00", wanted).alias("ask_px"),
        size_expr("ask_sz_00", wanted).cast(pl.Int32, strict=False).alias("ask_sz"),
        _nanos_expr("bid_px_00", wanted).alias("bid_px"),
        size_expr("bid_sz_00", wanted).cast(pl.Int32, strict=False).alias("bid_sz"),
        pl.any_horizontal(*bad.values()).alias("_bad"),
    )
    # Batches are copied into columns sized from the file up front, so the peak stays near
    # the size of the result (joining a list of batches would need twice that).
    columns = _Columns(path)
    try:
        for batch in query.collect_batches(chunk_size=_BATCH_ROWS, engine="streaming"):
            columns.append(batch)
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read as CSV: {exc}", path=str(path)) from exc
    typed = columns.result()
    flags = typed.pop("_bad", np.zeros(0, dtype=bool))
    rows_read = len(flags)
    skipped: dict[str, int] = {}
    bad_rows = int(np.count_nonzero(flags))
    if bad_rows:
        if not skip_bad_rows:
            raise_first_bad(path, raw, wanted)
        # a row is counted once, under the first bad column in the order of ``wanted``
        seen = pl.lit(False)
        reasons = []
        for name in wanted:
            reasons.append((bad[name] & ~seen).sum().alias(name))
            seen = seen | bad[name]
        per_column = raw.select(reasons).collect(engine="streaming").row(0, named=True)
        for name, value in per_column.items():
            if value:
                reason = bad_reason(name)
                skipped[reason] = skipped.get(reason, 0) + int(value)
        log.warning("skipped %d unparseable row(s) in %s: %s", bad_rows, path, skipped)
        typed = {name: values[~flags] for name, values in typed.items()}
    if not typed:  # a header and no rows
        typed = {
            name: np.zeros(0, dtype=SNAPSHOT_DTYPE[name]) for name in SNAPSHOT_DTYPE.names or ()
        }
    return typed, rows_read, skipped


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
        header = pl.read_csv(path, n_rows=0, infer_schema=False).columns
        prices = [name for name in ("price", *PRICE_COLUMNS) if name in header]
        rows = pl.read_csv(
            path, n_rows=_SNIFF_ROWS, infer_schema=False, columns=["ts_event", *prices]
        )
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError):
        return CsvFormat()  # the full read reports the problem
    first = rows["ts_event"][0] if rows.height else None
    texts = [t.strip() for name in prices for t in rows[name].drop_nulls() if t.strip()]
    return CsvFormat(
        integer_ts=isinstance(first, str) and first.strip().isdigit(),
        fixed_prices=bool(texts)
        and all(t.isdigit() for t in texts)
        and any(len(t) >= _FIXED_PRICE_DIGITS for t in texts),
    )


@contextmanager
def csv_format(path: Path) -> Iterator[CsvFormat]:
    """Read ``path``'s format (:func:`sniff_format`) and parse with it within the block."""
    found = sniff_format(path)
    token = _FORMAT.set(found)
    try:
        yield found
    finally:
        _FORMAT.reset(token)


def csv_header(path: Path, required: tuple[str, ...], why: str) -> list[str]:
    """Return the CSV's column names; raise ``DataError`` naming any ``required`` one missing."""
    try:
        header = pl.read_csv(path, n_rows=0, infer_schema=False).columns
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read as CSV: {exc}", path=str(path)) from exc
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; {why}", path=str(path), column=missing[0]
        )
    return header


def _nonblank(name: str) -> pl.Expr:
    return pl.col(name).is_not_null() & (pl.col(name).str.strip_chars() != "")


def _parse_expr(name: str) -> pl.Expr:
    raw = pl.col(name).str.strip_chars()
    if name == "ts_event":
        # Databento writes ISO-8601 with pretty_ts, integer nanoseconds without it
        if _FORMAT.get().integer_ts:
            return raw.cast(pl.Int64, strict=False)
        return raw.str.to_datetime(_ISO_FORMAT, time_unit="ns", strict=False).dt.epoch("ns")
    if name in PRICE_COLUMNS or "_px_" in name or name == "price":
        # decimal dollars with pretty_px, integer nano-dollars without it
        return raw.cast(pl.Int64 if _FORMAT.get().fixed_prices else pl.Float64, strict=False)
    return raw.cast(pl.Int64, strict=False)


def _nanos_expr(name: str, wanted: list[str]) -> pl.Expr:
    """Dollar prices as nano-dollars; missing, non-finite or non-positive prices become 0,
    which means "no liquidity on that side"."""
    if name not in wanted:
        return pl.lit(0, dtype=pl.Int64)
    price = _parse_expr(name)
    if _FORMAT.get().fixed_prices:
        valid = price.is_not_null() & (price > 0) & (price < _UNDEFINED_FIXED_PRICE)
        return pl.when(valid).then(price).otherwise(0).cast(pl.Int64)
    valid = price.is_not_null() & price.is_finite() & (price > 0) & (price < 9e9)
    return pl.when(valid).then((price * NANOS_PER_DOLLAR).round(0)).otherwise(0).cast(pl.Int64)


def size_expr(name: str, wanted: list[str]) -> pl.Expr:
    if name not in wanted:
        return pl.lit(0, dtype=pl.Int64)
    return _parse_expr(name).fill_null(0)


def bad_reason(column: str) -> str:
    """Return the report's reason for an unparseable value in ``column``."""
    if column in _REASONS:
        return _REASONS[column]
    return "bad_price" if column == "price" or "_px_" in column else "bad_size"


def bad_expr(name: str) -> pl.Expr:
    """A value is bad when text is present but does not parse; a blank is bad only where
    the value is required for every row (timestamp, venue)."""
    parsed_null = _parse_expr(name).is_null()
    if name in ("ts_event", "publisher_id"):
        return parsed_null
    return parsed_null & _nonblank(name)


def raise_first_bad(path: Path, lazy: pl.LazyFrame, wanted: list[str]) -> None:
    located = (
        lazy.with_row_index("_row")
        .filter(pl.any_horizontal(*[bad_expr(name) for name in wanted]))
        .head(_MAX_REPORTED)
        .collect()
    )
    row = located.row(0, named=True)
    line = int(row["_row"]) + 2  # one header line, lines counted from 1
    for name in wanted:
        value = row[name]
        check = pl.DataFrame({name: [value]}, schema={name: pl.String}).select(bad_expr(name))
        if check.item():
            what = "timestamp" if name == "ts_event" else bad_reason(name).removeprefix("bad_")
            shown = "an empty value" if value is None or not value.strip() else repr(value)
            hint = (
                " (expected ISO-8601 like 2024-08-01T13:36:32.491911683Z)"
                if name == "ts_event"
                else ""
            )
            more = "+" if located.height == _MAX_REPORTED else ""
            raise DataError(
                f"cannot parse {shown} as a {what.replace('_', ' ')}{hint}; "
                f"{located.height}{more} bad row(s) found, use --skip-bad-rows to count "
                "and skip them",
                path=str(path),
                line=line,
                column=name,
            )
    raise AssertionError("unreachable: a flagged row has no bad column")


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
