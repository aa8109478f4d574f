"""A blotter of parent orders (``--orders``): one order a row, read and checked whole.

Columns: ``time`` (ISO-8601 or integer ns since the epoch), ``side`` (buy or sell), ``size``
(shares, a positive multiple of 100), and optionally ``end`` (the order's last moment, else
the end of the data), ``id`` (else the row number); any other column is carried through to
the per-order results. A bad value is reported by file, line and column, or, with
``--skip-bad-rows``, its row is left out and counted per reason (:data:`REASONS`).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

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

REASONS = (
    "missing_value", "bad_time", "bad_end", "end_before_time", "unknown_side", "bad_size",
    "duplicate_id", "time_outside_data", "end_after_data", "empty_window",
)  # fmt: skip
"""Why an order is bad, as ``--skip-bad-rows`` counts it: an empty value, a time or end that
cannot be parsed, an end before its time, an unknown side, a size that is not a positive
multiple of 100 shares, an id already given (the first order keeps it), a time outside the
data, an end after it, a window without a snapshot."""

EMPTY_WINDOW = "no snapshot of the data falls in the order's window from time to end"
"""The start of the message of an order whose window holds no snapshot."""

MAX_NS = 2**63 - 1
"""The latest time a blotter may give, ns since the epoch: an int64 (in the year 2262); the
earliest is the epoch itself."""

_FIRST_ROW_LINE = 2
"""The line of the first order: line 1 is the header."""

_EXPECTED = {
    "time": "give an ISO-8601 time or ns since the epoch",
    "side": "give buy or sell",
    "size": "give the order's shares, a positive multiple of 100",
    "id": "give every order an id, or drop the column",
}
"""What an empty value of each column should have held."""

T = TypeVar("T")


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
        :data:`OPEN_END` where the blotter gives none, the data's end (or the arrival plus
        the order horizon) once :meth:`within` has placed the orders on the data.
    sides
        Each order's side.
    sizes
        Each order's shares.
    lines
        The line of the file each order is on, for messages.
    carried
        The columns other than the blotter's own, one row per order, as read (text).
    skipped
        The bad orders left out (``--skip-bad-rows``), counted per reason (:data:`REASONS`).
    """

    path: Path
    ids: tuple[str, ...]
    time_ns: np.ndarray
    end_ns: np.ndarray
    sides: tuple[Side, ...]
    sizes: np.ndarray
    lines: tuple[int, ...]
    carried: pl.DataFrame = field(repr=False)
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def within(
        self,
        first_ns: int,
        last_ns: int,
        *,
        horizon_ns: int | None = None,
        times: np.ndarray | None = None,
        skip_bad_rows: bool = False,
    ) -> Blotter:
        """Return the orders on data spanning ``[first_ns, last_ns]`` (ns, inclusive): an
        order without an end ends ``horizon_ns`` after its time, at most with the data (with
        the data where ``horizon_ns`` is None).

        ``times`` are the data's snapshot times (ns, sorted): where given, an order whose
        window holds none of them is bad too. With ``skip_bad_rows`` a bad order is left
        out and counted in :attr:`skipped` instead.

        Raises
        ------
        DataError
            An order's time lies outside the data, its end after the data's end, or its
            window holds no snapshot (the first such order, by file, line and column); or
            ``skip_bad_rows`` left no order.
        """
        ends, faults = self.placement(first_ns, last_ns, horizon_ns=horizon_ns, times=times)
        bad = faults != ""
        if not bad.any():
            return dataclasses.replace(self, end_ns=ends)
        if not skip_bad_rows:
            k = int(np.flatnonzero(bad)[0])
            start = format_timestamp(int(self.time_ns[k]))
            if faults[k] == "time_outside_data":
                span = f"{format_timestamp(first_ns)} to {format_timestamp(last_ns)}"
                raise self._error(k, "time", f"{start} lies outside the data ({span})")
            if faults[k] == "end_after_data":
                raise self._error(k, "end", f"{format_timestamp(int(self.end_ns[k]))} is after "
                                  f"the data's end {format_timestamp(last_ns)}")  # fmt: skip
            window = f"{start} to {format_timestamp(int(ends[k]))}"
            raise self._error(k, "time", f"{EMPTY_WINDOW} ({window}); --skip-bad-rows leaves "
                              "such an order out")  # fmt: skip
        return dataclasses.replace(self, end_ns=ends).kept(~bad, faults[bad].tolist())

    def placement(
        self,
        first_ns: int,
        last_ns: int,
        *,
        horizon_ns: int | None = None,
        times: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return each order's end on data spanning ``[first_ns, last_ns]`` (as
        :meth:`within` places it) and its fault: empty for a good order, else
        ``time_outside_data``, ``end_after_data`` or (with ``times``, the data's sorted
        snapshot times) ``empty_window``."""
        start, end = self.time_ns, self.end_ns
        outside = (start < first_ns) | (start > last_ns)
        late = ~outside & (end != OPEN_END) & (end > last_ns)
        placed = np.clip(start, first_ns, last_ns)
        # the room left before the data's end caps the horizon: no int64 overflow
        open_end = (
            last_ns if horizon_ns is None else placed + np.minimum(horizon_ns, last_ns - placed)
        )
        ends = np.where(end == OPEN_END, open_end, end)
        empty = np.zeros(len(self), dtype=bool)
        if times is not None:
            lo = np.searchsorted(times, placed, side="left")
            hi = np.searchsorted(times, ends, side="right")
            empty = ~outside & ~late & (lo >= hi)
        faults = np.where(outside, "time_outside_data", np.where(
            late, "end_after_data", np.where(empty, "empty_window", "")))  # fmt: skip
        return ends, faults

    def kept(self, keep: np.ndarray, reasons: list[str]) -> Blotter:
        """Return the orders where ``keep`` holds, the others counted in :attr:`skipped`
        under their ``reasons`` (one per order left out, in order).

        Raises
        ------
        DataError
            No order is left.
        """
        rows = np.flatnonzero(keep)
        skipped = _counted(self.path, self.skipped, reasons, left=len(rows))
        return dataclasses.replace(self.at(rows), skipped=skipped)

    def at(self, rows: np.ndarray) -> Blotter:
        """Return the orders at ``rows`` (indices, in order), their skips as counted."""
        return dataclasses.replace(
            self,
            ids=tuple(self.ids[k] for k in rows),
            time_ns=self.time_ns[rows],
            end_ns=self.end_ns[rows],
            sides=tuple(self.sides[k] for k in rows),
            sizes=self.sizes[rows],
            lines=tuple(self.lines[k] for k in rows),
            carried=self.carried[rows] if self.carried.width else self.carried,
        )

    def table(self) -> pl.DataFrame:
        """Return the orders as a blotter file holds them, which :func:`read_blotter` reads
        back to the same orders: ``id``, ``time`` (ISO-8601 to the nanosecond), ``side``,
        ``size``, ``end`` where an order has one (empty where it has none), then the
        carried columns."""
        columns: dict[str, list[str]] = {
            "id": list(self.ids),
            "time": [format_timestamp(int(t)) for t in self.time_ns],
            "side": [side.text for side in self.sides],
            "size": [str(int(size)) for size in self.sizes],
        }
        if (self.end_ns != OPEN_END).any():
            columns["end"] = [
                "" if end == OPEN_END else format_timestamp(int(end)) for end in self.end_ns
            ]
        table = pl.DataFrame(columns, schema={name: pl.String for name in columns})
        return pl.concat([table, self.carried], how="horizontal") if self.carried.width else table

    def _error(self, order: int, column: str, message: str) -> DataError:
        return DataError(message, path=str(self.path), line=self.lines[order], column=column)


class _BadValue(ValueError):
    """A bad value of a blotter's row: its column, its reason (:data:`REASONS`), the message."""

    def __init__(self, column: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.reason = reason


def read_blotter(path: str | Path, *, skip_bad_rows: bool = False) -> Blotter:
    """Read and check the blotter at ``path``, before the market is read; an order without
    an end has :data:`OPEN_END` until :meth:`Blotter.within` gives it the data's.

    With ``skip_bad_rows`` a row with a bad value is left out and counted per reason
    (:attr:`Blotter.skipped`, :data:`REASONS`) instead; a missing column is still an error.

    Raises
    ------
    DataError
        The file is missing or unreadable, holds no order, lacks a column or repeats one,
        or has a bad value: an empty one, a time that cannot be parsed, an end before its time, an
        unknown side, a size that is not a positive multiple of 100 shares, a repeated id.
        The message names the file, the line and the column of the first bad value, row
        by row. With ``skip_bad_rows``: when no row is left.
    """
    file = Path(path)
    check_input_file(file)
    try:
        # every column as text: the values are checked here, each error located
        table = pl.read_csv(file, infer_schema=False)
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV blotter: {exc}", path=str(file)) from None
    repeated = _repeated_column(file)
    if repeated is not None:
        raise DataError(
            "the header repeats this column; give each column once",
            path=str(file), line=1, column=repeated,
        )  # fmt: skip
    for name in REQUIRED:
        if name not in table.columns:
            raise DataError(
                "missing; a blotter has the columns time, side and size "
                "(and optionally end and id)",
                path=str(file), line=1, column=name,
            )  # fmt: skip
    if table.height == 0:
        raise DataError("no order: the blotter has a header and no rows", path=str(file))
    own = [name for name in (*REQUIRED, *OPTIONAL) if name in table.columns]
    text = {name: table.get_column(name).to_list() for name in own}
    times: list[int] = []
    ends: list[int] = []
    sides: list[Side] = []
    sizes: list[int] = []
    ids: list[str] = []
    keep = np.zeros(table.height, dtype=bool)
    reasons: list[str] = []
    seen: dict[str, int] = {}  # each kept id's row
    for row in range(table.height):
        try:
            order = _order({name: (values[row] or "").strip() for name, values in text.items()})
            name = order[4] if order[4] is not None else str(row + 1)
            if name in seen:
                raise _BadValue("id", "duplicate_id", f"{name!r} repeats the id of line "
                                f"{seen[name] + _FIRST_ROW_LINE}")  # fmt: skip
        except _BadValue as bad:
            if not skip_bad_rows:
                raise DataError(str(bad), path=str(file), line=row + _FIRST_ROW_LINE,
                                column=bad.column) from None  # fmt: skip
            reasons.append(bad.reason)
            continue
        seen[name] = row
        keep[row] = True
        times.append(order[0])
        ends.append(order[1])
        sides.append(order[2])
        sizes.append(order[3])
        ids.append(name)
    skipped = _counted(file, {}, reasons, left=len(ids))
    rows = np.flatnonzero(keep)
    return Blotter(
        path=file,
        ids=tuple(ids),
        time_ns=np.array(times, dtype=np.int64),
        end_ns=np.array(ends, dtype=np.int64),
        sides=tuple(sides),
        sizes=np.array(sizes, dtype=np.int64),
        lines=tuple(int(row) + _FIRST_ROW_LINE for row in rows),
        carried=table.drop(own)[rows] if table.width > len(own) else pl.DataFrame(),
        skipped=skipped,
    )


def _repeated_column(file: Path) -> str | None:
    """The first column the header of ``file`` (a CSV polars has read) names twice, else
    None: polars renames the second (``side_duplicated_0``), which would be carried."""
    with file.open(encoding="utf-8-sig", newline="") as lines:
        header = next(csv.reader(lines), [])
    seen: set[str] = set()
    for name in header:
        if name in seen:
            return name
        seen.add(name)
    return None


def _counted(
    path: Path, skipped: dict[str, int], reasons: list[str], *, left: int
) -> dict[str, int]:
    """Return ``skipped`` with the orders left out for ``reasons`` (one each) counted;
    ``left`` orders remain.

    Raises
    ------
    DataError
        No order remains.
    """
    if not reasons:
        return skipped
    counts = dict(skipped)
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    if left == 0:
        raise DataError(
            f"no order left to route: every order is bad ({skipped_text(counts)})",
            path=str(path),
        )
    return dict(sorted(counts.items()))


def skipped_text(skipped: dict[str, int]) -> str:
    """The orders left out per reason, as messages give them: ``bad_size 2, unknown_side 1``."""
    return ", ".join(f"{reason} {count}" for reason, count in sorted(skipped.items()))


def _order(values: dict[str, str]) -> tuple[int, int, Side, int, str | None]:
    """Parse one row's ``values`` (stripped text by column): its time, end (:data:`OPEN_END`
    for none), side, size and id (None without the column).

    Raises
    ------
    _BadValue
        The first bad value, in the order time, end, side, size, id.
    """
    for name in (*REQUIRED, *(["id"] if "id" in values else [])):
        if not values[name]:
            raise _BadValue(name, "missing_value", f"empty; {_EXPECTED[name]}")
    time = _parsed("time", "bad_time", _moment, values["time"])
    end = OPEN_END
    if values.get("end"):
        end = _parsed("end", "bad_end", _moment, values["end"])
        if end < time:
            raise _BadValue("end", "end_before_time", f"{format_timestamp(end)} is before "
                            f"the order's time {format_timestamp(time)}")  # fmt: skip
    side = _parsed("side", "unknown_side", _side, values["side"])
    size = _parsed("size", "bad_size", _size, values["size"])
    return time, end, side, size, values.get("id")


def _parsed(column: str, reason: str, parse: Callable[[str], T], raw: str) -> T:
    """Parse ``raw``; a ``ValueError`` becomes the column's bad value under ``reason``."""
    try:
        return parse(raw)
    except ValueError as exc:
        raise _BadValue(column, reason, str(exc)) from None


def _moment(raw: str) -> int:
    """Parse a time: integer ns since the epoch, or ISO-8601 (UTC unless an offset is given)."""
    moment = int(raw) if raw.isdigit() else parse_timestamp(raw)
    if not 0 <= moment <= MAX_NS:
        raise ValueError(f"{raw} lies outside 1970 to 2262, the times ns since the epoch hold")
    return moment


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
