"""A blotter of parent orders (``--orders``): one order a row, read and checked whole.

Columns: ``time`` (ISO-8601 or integer ns since the epoch), ``side`` (buy or sell), ``size``
(shares, a positive multiple of 100), and optionally ``end`` (the order's last moment, else
the end of the data), ``id`` (else the row number); any other column is carried through to
the per-order results. A bad value is reported by file, line and column.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from sor.core.domain import MAX_ORDER_SIZE, STEP
from sor.core.errors import ConfigError, DataError
from sor.core.paths import check_input_file
from sor.core.timestamps import format_timestamp, parse_timestamp
from sor.core.types import Side

REQUIRED = ("time", "side", "size")
"""The columns every blotter has."""

OPTIONAL = ("end", "id")
"""The columns a blotter may have; the rest are carried through."""

OPEN_END = -1
"""The end of an order that gives none, until the data's end is known."""

_FIRST_ROW_LINE = 2
"""The line of the first order: line 1 is the header."""

_Located = Callable[[int, str, str], DataError]
"""Builds the error of a row's column from its message."""


@dataclass(frozen=True)
class Blotter:
    """The checked orders of a blotter, in file order.

    Attributes
    ----------
    path
        The file read.
    ids
        Each order's id: its ``id`` column, else its row number (1 for the first order).
    time_ns, end_ns
        Each order's arrival and last moment, ns since the epoch; ``end_ns`` is
        :data:`OPEN_END` where the blotter gives none, the data's end once
        :meth:`within` has placed the orders on the data.
    sides
        Each order's side.
    sizes
        Each order's shares.
    lines
        The line of the file each order is on, for messages.
    carried
        The columns other than the blotter's own, one row per order, as read (text).
    """

    path: Path
    ids: tuple[str, ...]
    time_ns: np.ndarray
    end_ns: np.ndarray
    sides: tuple[Side, ...]
    sizes: np.ndarray
    lines: tuple[int, ...]
    carried: pl.DataFrame = field(repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def within(self, first_ns: int, last_ns: int) -> Blotter:
        """Return the orders on data spanning ``[first_ns, last_ns]`` (ns, inclusive): an
        order without an end ends with the data.

        Raises
        ------
        DataError
            An order's time lies outside the data, or its end after the data's end.
        """
        for k, (start, end) in enumerate(zip(self.time_ns, self.end_ns, strict=True)):
            if not first_ns <= start <= last_ns:
                span = f"{format_timestamp(first_ns)} to {format_timestamp(last_ns)}"
                raise DataError(f"{format_timestamp(start)} lies outside the data ({span})",
                                path=str(self.path), line=self.lines[k], column="time")  # fmt: skip
            if end > last_ns:
                raise DataError(f"{format_timestamp(end)} is after the data's end "
                                f"{format_timestamp(last_ns)}", path=str(self.path),
                                line=self.lines[k], column="end")  # fmt: skip
        ends = np.where(self.end_ns == OPEN_END, last_ns, self.end_ns)
        return dataclasses.replace(self, end_ns=ends)


def read_blotter(path: str | Path) -> Blotter:
    """Read and check the blotter at ``path``, before the market is read; an order without
    an end has :data:`OPEN_END` until :meth:`Blotter.within` gives it the data's.

    Raises
    ------
    DataError
        The file is missing or unreadable, holds no order, lacks a column, or has a bad
        value: a time that cannot be parsed, an end before its time, an unknown side, a size
        that is not a positive multiple of 100 shares, a repeated id. The message names the
        file, the line and the column.
    """
    file = Path(path)
    check_input_file(file)
    try:
        # every column as text: the values are checked here, each error located
        table = pl.read_csv(file, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV blotter: {exc}", path=str(file)) from None
    for name in REQUIRED:
        if name not in table.columns:
            raise DataError(
                "missing; a blotter has the columns time, side and size "
                "(and optionally end and id)",
                path=str(file), line=1, column=name,
            )  # fmt: skip
    if table.height == 0:
        raise DataError("no order: the blotter has a header and no rows", path=str(file))

    def error(row: int, column: str, message: str) -> DataError:
        return DataError(message, path=str(file), line=row + _FIRST_ROW_LINE, column=column)

    def text(column: str) -> list[str | None]:
        return table.get_column(column).to_list()

    def parsed(column: str, parse: Callable[[str], Any]) -> list[Any]:
        values = []
        for row, value in enumerate(text(column)):
            try:
                values.append(parse((value or "").strip()))
            except ValueError as exc:
                raise error(row, column, str(exc)) from None
        return values

    times: list[int] = parsed("time", _moment)
    ends = [OPEN_END] * table.height
    if "end" in table.columns:
        for row, moment in enumerate(parsed("end", lambda raw: _moment(raw) if raw else None)):
            if moment is None:
                continue  # the end of the data
            if moment < times[row]:
                raise error(row, "end", f"{format_timestamp(moment)} is before the order's time "
                            f"{format_timestamp(times[row])}")  # fmt: skip
            ends[row] = moment
    sides: list[Side] = parsed("side", _side)
    sizes: list[int] = parsed("size", _size)
    ids = _ids(text("id") if "id" in table.columns else None, table.height, error)
    carried = table.drop([name for name in (*REQUIRED, *OPTIONAL) if name in table.columns])
    return Blotter(
        path=file,
        ids=tuple(ids),
        time_ns=np.array(times, dtype=np.int64),
        end_ns=np.array(ends, dtype=np.int64),
        sides=tuple(sides),
        sizes=np.array(sizes, dtype=np.int64),
        lines=tuple(range(_FIRST_ROW_LINE, _FIRST_ROW_LINE + table.height)),
        carried=carried,
    )


def _moment(raw: str) -> int:
    """Parse a time: integer ns since the epoch, or ISO-8601 (UTC unless an offset is given)."""
    if not raw:
        raise ValueError("empty; give an ISO-8601 time or ns since the epoch")
    if raw.isdigit():
        return int(raw)
    return parse_timestamp(raw)


def _side(raw: str) -> Side:
    """Parse a side: buy or sell."""
    try:
        return Side.parse(raw.lower())
    except (ConfigError, ValueError):
        raise ValueError(f"unknown side {raw!r}; use buy or sell") from None


def _size(raw: str) -> int:
    """Parse a size: a positive whole multiple of 100 shares, as ``--order-size``."""
    try:
        shares = int(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a whole number of shares") from None
    if shares <= 0 or shares % STEP:
        raise ValueError(f"order size must be a positive multiple of {STEP} shares, got {shares}")
    if shares > MAX_ORDER_SIZE:
        raise ValueError(f"order size must be at most {MAX_ORDER_SIZE:,} shares, got {shares}")
    return shares


def _ids(values: list[str | None] | None, count: int, error: _Located) -> list[str]:
    """Each order's id (its row number where the column is absent); no id twice."""
    if values is None:
        return [str(row + 1) for row in range(count)]
    seen: dict[str, int] = {}
    ids = []
    for row, value in enumerate(values):
        name = (value or "").strip()
        if not name:
            raise error(row, "id", "empty; give every order an id, or drop the column")
        if name in seen:
            raise error(
                row, "id", f"{name!r} repeats the id of line {seen[name] + _FIRST_ROW_LINE}"
            )
        seen[name] = row
        ids.append(name)
    return ids
