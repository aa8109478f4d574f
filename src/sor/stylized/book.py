"""Read the top of the book of every row of an MBP file, compactly, for ``sor stats``.

The rows are read by the project's readers (:func:`sor.data.reader.read_csv_columns` for
CSV, :func:`sor.data.dbn.read_dbn` for DBN) with their bad-row policy; only what the facts
need is kept, in small types (38 bytes a row), so that ten million rows fit in memory
with room to compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba
import numpy as np
import polars as pl

from sor.core.paths import check_input_file
from sor.data.reader import (
    DEFAULT_MAX_TS_DISTANCE_NS,
    PARSED,
    CsvParsing,
    is_dbn,
    read_csv_columns,
)

if TYPE_CHECKING:
    from sor.data.orderlevel import SourceOptions

COLUMNS = ("ts_event", "publisher_id", "action", "side", "bid_px_00", "bid_sz_00",
           "ask_px_00", "ask_sz_00")  # fmt: skip
"""The columns ``sor stats`` reads: every one is needed."""
OPTIONAL = ("price",)
"""Read where present: a trade's price classifies it when it has no aggressor side."""
SIGNED, QUOTE_RULE, TICK_RULE, UNSIGNED = 0, 1, 2, 3
"""How a trade's sign was found: the data's aggressor side, the quote rule against the
book before the trade, the tick rule (at the mid, or without a two-sided book), or not
at all."""


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
    price
        The row's price (a trade's), nano-dollars; 0 where absent.
    how
        For a trade, how its sign was found (``SIGNED``, ``QUOTE_RULE``, ``TICK_RULE``,
        ``UNSIGNED``): :func:`classify` fills the sign of trades without an aggressor.
    """

    ts: np.ndarray
    venue: np.ndarray
    trade: np.ndarray
    sign: np.ndarray
    bid_px: np.ndarray
    ask_px: np.ndarray
    bid_sz: np.ndarray
    ask_sz: np.ndarray
    price: np.ndarray
    how: np.ndarray

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
    start_ns: int | None = None,
    end_ns: int | None = None,
    source: SourceOptions | None = None,
) -> tuple[Book, int]:
    """Read every row's top of book from a Databento MBP-1/MBP-10 CSV or DBN file, or the
    events of an order-level file (:mod:`sor.data.orderlevel`), within ``[start_ns,
    end_ns]``.

    Returns the rows kept, grouped by venue (file order within a venue: see
    :meth:`Book.of_venue`), with the trades that have no aggressor side classified
    (:func:`classify`), and the number of rows read.

    Raises
    ------
    DataError
        The file is missing, is not a Databento MBP file, lacks a column, or holds a bad
        row (unless ``skip_bad_rows``, when bad rows are dropped as the backtest drops them).
    """
    file = Path(path)
    check_input_file(file)
    from sor.data.orderlevel import input_kind

    if input_kind(file, source) != "mbp":
        columns, rows_read = _read_order_level(file, skip_bad_rows, max_ts_distance_ns, source)
    elif is_dbn(file):
        columns, rows_read = _read_dbn(file, skip_bad_rows, max_ts_distance_ns)
    else:
        columns, rows_read = _read_csv(file, skip_bad_rows, max_ts_distance_ns)
    if start_ns is not None or end_ns is not None:
        ts = columns["ts_event"]
        inside = (ts >= (start_ns if start_ns is not None else ts.min() if len(ts) else 0)) & (
            ts <= (end_ns if end_ns is not None else ts.max() if len(ts) else 0)
        )
        columns = {name: values[inside] for name, values in columns.items()}
    venue = columns["publisher_id"]
    if len(venue) > 1 and not np.all(venue[1:] >= venue[:-1]):
        order = np.argsort(venue, kind="stable")
        for name in list(columns):  # one column at a time: the old one is freed at once
            columns[name] = columns[name][order]
        del order
    book = Book(
        ts=columns["ts_event"], venue=columns["publisher_id"], trade=columns["trade"],
        sign=columns["sign"], bid_px=columns["bid_px"], ask_px=columns["ask_px"],
        bid_sz=columns["bid_sz"], ask_sz=columns["ask_sz"], price=columns["price"],
        how=np.where(columns["trade"], SIGNED, 0).astype(np.int8),
    )  # fmt: skip
    for publisher in np.unique(book.venue):
        lo, hi = np.searchsorted(book.venue, [publisher, publisher + 1])
        order = lo + np.argsort(book.ts[lo:hi], kind="stable")
        classify(book, order)
    return book, rows_read


def classify(book: Book, rows: np.ndarray) -> None:
    """Sign the trades among ``rows`` (one venue's, in time order) that have no aggressor
    side, in place: the quote rule against the book before the trade (the trade row's: a
    price above the mid is a buy, below a sell), the tick rule at the mid or without a
    two-sided book (a price above the venue's last different trade price is a buy, below a
    sell); ``how`` says which rule signed each, or that none could."""
    _classify(rows, book.trade, book.sign, book.price, book.bid_px, book.ask_px, book.how)


@numba.njit(cache=True, nogil=True)
def _classify(rows, trade, sign, price, bid_px, ask_px, how):
    last = 0  # the last trade price different from the one before it
    tick = 0  # the sign of that last price change
    for r in rows:
        if not trade[r]:
            continue
        p = price[r]
        if sign[r] == 0 and p <= 0:
            how[r] = UNSIGNED
        elif sign[r] == 0:
            bid, ask = bid_px[r], ask_px[r]
            if bid > 0 and ask > bid and 2 * p != bid + ask:
                sign[r] = 1 if 2 * p > bid + ask else -1
                how[r] = QUOTE_RULE
            elif tick != 0 or (last > 0 and p != last):
                sign[r] = (1 if p > last else -1) if p != last else tick
                how[r] = TICK_RULE
            else:
                how[r] = UNSIGNED
        if p > 0 and p != last:
            if last > 0:
                tick = 1 if p > last else -1
            last = p


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
            parsing.nanos("price", wanted, preparsed=True).alias("price"),
        ]  # fmt: skip

    columns, rows_read, _ = read_csv_columns(
        file, COLUMNS, OPTIONAL, select, skip_bad_rows=skip_bad_rows,
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
        "price": dbn_prices(records.column("price")),
    }
    return columns, records.rows_read


def _read_order_level(
    file: Path, skip_bad_rows: bool, max_ts_distance_ns: int, source: SourceOptions | None
) -> tuple[dict[str, np.ndarray], int]:
    """The top of book of an order-level file's events (:mod:`sor.data.orderlevel`)."""
    from sor.data.orderlevel import read_order_level

    data = read_order_level(
        file, skip_bad_rows=skip_bad_rows, max_ts_distance_ns=max_ts_distance_ns, options=source
    )
    events = data.events
    side = events["side"]
    columns = {
        "ts_event": events["ts_event"].copy(),
        "publisher_id": events["publisher_id"].astype(np.int32),
        "trade": events["action"] == b"T",
        "sign": np.where(side == b"B", 1, np.where(side == b"A", -1, 0)).astype(np.int8),
        "bid_px": events["bid_px"][:, 0].copy(),
        "ask_px": events["ask_px"][:, 0].copy(),
        "bid_sz": events["bid_sz"][:, 0].astype(np.int32),
        "ask_sz": events["ask_sz"][:, 0].astype(np.int32),
        "price": events["price"].copy(),
    }
    return columns, data.rows_read


def _empty() -> dict[str, np.ndarray]:
    kinds = {"ts_event": np.int64, "publisher_id": np.int32, "trade": np.bool_,
             "sign": np.int8, "bid_px": np.int64, "ask_px": np.int64, "bid_sz": np.int32,
             "ask_sz": np.int32, "price": np.int64}  # fmt: skip
    return {name: np.zeros(0, dtype=kind) for name, kind in kinds.items()}
