"""Read the top of the book of every row of an MBP file, compactly, for ``sor stats``.

The rows are read by the project's readers (:func:`sor.data.reader.read_csv_columns` for
CSV, :func:`sor.data.dbn.read_dbn` for DBN) with their bad-row policy; only what the facts
need is kept, in small types (38 bytes a row), so that ten million rows fit in memory
with room to compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from sor.core.errors import DataError
from sor.data.reader import (
    DEFAULT_MAX_TS_DISTANCE_NS,
    PARSED,
    CsvParsing,
    is_dbn,
    read_csv_columns,
)

COLUMNS = ("ts_event", "publisher_id", "action", "side", "bid_px_00", "bid_sz_00",
           "ask_px_00", "ask_sz_00")  # fmt: skip
"""The columns ``sor stats`` reads: every one is needed."""


@dataclass(frozen=True)
class Book:
    """The top of the book after every row, grouped by venue (ascending), in file order
    within a venue.

    Attributes
    ----------
    ts
        ``ts_event``, ns since the epoch.
    venue
        ``publisher_id``.
    trade
        Whether the row is a trade (action ``T``).
    sign
        The aggressor of a trade: +1 a buy (side ``B``), -1 a sell (``A``), 0 otherwise.
    bid_px, ask_px
        Best prices, nano-dollars; 0 when the side is empty.
    bid_sz, ask_sz
        Best sizes, shares.
    """

    ts: np.ndarray
    venue: np.ndarray
    trade: np.ndarray
    sign: np.ndarray
    bid_px: np.ndarray
    ask_px: np.ndarray
    bid_sz: np.ndarray
    ask_sz: np.ndarray

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, rows: np.ndarray | slice) -> Book:
        """Return the rows ``rows`` (indices, a mask or a slice), in that order."""
        return Book(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))

    def of_venue(self, publisher_id: int) -> Book:
        """Return the rows of one venue sorted by ``ts_event`` (file order among equal
        times), as :func:`sor.data.events.read_events` orders rows: views into these when
        the venue's rows are in time order already."""
        lo, hi = np.searchsorted(self.venue, [publisher_id, publisher_id + 1])
        part = self.take(slice(int(lo), int(hi)))
        ts = part.ts
        if len(ts) > 1 and not np.all(ts[1:] >= ts[:-1]):
            return part.take(np.argsort(ts, kind="stable"))
        return part


def read_book(
    path: str | Path,
    *,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
) -> tuple[Book, int]:
    """Read every row's top of book from a Databento MBP-1/MBP-10 CSV or DBN file.

    Returns the rows kept, grouped by venue (file order within a venue: see
    :meth:`Book.of_venue`), and the number of rows read.

    Raises
    ------
    DataError
        The file is missing, is not a Databento MBP file, lacks a column, or holds a bad
        row (unless ``skip_bad_rows``, when bad rows are dropped as the backtest drops them).
    """
    file = Path(path)
    if not file.is_file():
        raise DataError("no such data file", path=str(file))
    from sor.core.kernels import ensure_compiled

    ensure_compiled()
    if is_dbn(file):
        columns, rows_read = _read_dbn(file, skip_bad_rows, max_ts_distance_ns)
    else:
        columns, rows_read = _read_csv(file, skip_bad_rows, max_ts_distance_ns)
    venue = columns["publisher_id"]
    if len(venue) > 1 and not np.all(venue[1:] >= venue[:-1]):
        order = np.argsort(venue, kind="stable")
        for name in list(columns):  # one column at a time: the old one is freed at once
            columns[name] = columns[name][order]
        del order
    return Book(
        ts=columns["ts_event"], venue=columns["publisher_id"], trade=columns["trade"],
        sign=columns["sign"], bid_px=columns["bid_px"], ask_px=columns["ask_px"],
        bid_sz=columns["bid_sz"], ask_sz=columns["ask_sz"],
    ), rows_read  # fmt: skip


def _read_csv(
    file: Path, skip_bad_rows: bool, max_ts_distance_ns: int
) -> tuple[dict[str, np.ndarray], int]:
    def select(parsing: CsvParsing, wanted: list[str]) -> list[pl.Expr]:
        action = pl.col(PARSED + "action")
        side = pl.col(PARSED + "side")
        return [
            pl.col(PARSED + "ts_event").fill_null(0).alias("ts_event"),
            pl.col(PARSED + "publisher_id").cast(pl.Int32, strict=False).fill_null(0)
            .alias("publisher_id"),
            (action == "T").fill_null(False).alias("trade"),
            pl.when(side == "B").then(1).when(side == "A").then(-1).otherwise(0)
            .cast(pl.Int8).alias("sign"),
            parsing.nanos("bid_px_00", wanted, preparsed=True).alias("bid_px"),
            parsing.nanos("ask_px_00", wanted, preparsed=True).alias("ask_px"),
            _size(parsing, "bid_sz_00", wanted).alias("bid_sz"),
            _size(parsing, "ask_sz_00", wanted).alias("ask_sz"),
        ]  # fmt: skip

    columns, rows_read, _ = read_csv_columns(
        file, COLUMNS, (), select, skip_bad_rows=skip_bad_rows,
        max_ts_distance_ns=max_ts_distance_ns, why="sor stats needs them",
    )  # fmt: skip
    if not columns:
        columns = _empty()
    return columns, rows_read


def _size(parsing: CsvParsing, name: str, wanted: list[str]) -> pl.Expr:
    return parsing.size(name, wanted, preparsed=True).cast(pl.Int32, strict=False).fill_null(0)


def _read_dbn(
    file: Path, skip_bad_rows: bool, max_ts_distance_ns: int
) -> tuple[dict[str, np.ndarray], int]:
    from sor.data.dbn import read_dbn
    from sor.data.reader import dbn_prices

    records = read_dbn(file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns)
    action = records.column("action", "S1")
    side = records.column("side", "S1")
    sign = np.where(side == b"B", 1, np.where(side == b"A", -1, 0)).astype(np.int8)
    columns = {
        "ts_event": records.column("ts_event"),
        "publisher_id": records.column("publisher_id", np.int32),
        "trade": action == b"T",
        "sign": sign,
        "bid_px": dbn_prices(records.column("bid_px_00")),
        "ask_px": dbn_prices(records.column("ask_px_00")),
        "bid_sz": records.column("bid_sz_00", np.int32),
        "ask_sz": records.column("ask_sz_00", np.int32),
    }
    return columns, records.rows_read


def _empty() -> dict[str, np.ndarray]:
    kinds = {"ts_event": np.int64, "publisher_id": np.int32, "trade": np.bool_,
             "sign": np.int8, "bid_px": np.int64, "ask_px": np.int64, "bid_sz": np.int32,
             "ask_sz": np.int32}  # fmt: skip
    return {name: np.zeros(0, dtype=kind) for name, kind in kinds.items()}
