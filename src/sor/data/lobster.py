"""Read LOBSTER files (a message file and its orderbook file) as order-level events.

LOBSTER (lobsterdata.com) writes one Nasdaq instrument-day as two header-less CSV files of
the same number of rows: messages (``Time`` in seconds after midnight New York time,
``Type``, ``Order ID``, ``Size``, ``Price`` in dollars times 10,000, ``Direction``) and the
book after each message (per level: ask price, ask size, bid price, bid size; an empty
level shows the dummy prices +-9999999999). Neither names the date, the venue or the
instrument: the date and ticker come from the file name, LOBSTER's
``TICKER_DATE_START_END_message_LEVEL.csv``; the venue is ``publisher_id`` 2 (Nasdaq)
unless given.

Each message becomes events of one venue carrying its book (docs/orderlevel.md):

- 1 (a limit order submitted): an add, with the book after it;
- 2 and 3 (a partial cancel, a deletion): a cancel of that size, with the book after it;
- 4 (a visible order executed): a trade (the aggressor is the other side) and a fill of
  the resting order, both with the book before, then the cancel that takes the filled
  shares off the order, with the book after: as Databento's MBO sends every fill;
- 5 (a hidden order executed): a trade that changes no displayed order, marked
  ``CUT_HIDDEN`` (its price and size in ``cut_px``, ``cut_size``): the exact queue and the
  models fill a resting order from it by price and display priority;
- 6 (a cross trade): a trade without an aggressor side (``N``);
- 7 (a trading halt): no event.

Orders resting before the file starts, or placed while their price lay beyond the file's
levels, have no submission message: their volume shows only in the orderbook file, and
their cancels and executions carry ids never seen. Their cuts carry the priority stamp -1:
no place in the queue is known for them (the exact queue counts them ahead of a resting
order while any share is, since a fill always takes the front of the queue first).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import numba
import numpy as np
import polars as pl

from sor.core.errors import DataError
from sor.core.paths import check_input_file
from sor.data.events import (
    CUT_CANCEL,
    CUT_FILL,
    CUT_HIDDEN,
    EVENT_DTYPE,
    F_LAST,
    LEVELS,
    ORDER_LEVEL_PART,
)
from sor.data.orderbook import table_size

log = logging.getLogger(__name__)

NASDAQ = 2
"""Databento's ``publisher_id`` of Nasdaq (XNAS.ITCH): LOBSTER's venue by default."""
NAME = re.compile(
    r"^(?P<ticker>[A-Za-z0-9.^-]+)_(?P<date>\d{4}-\d{2}-\d{2})_(?P<start>\d+)_(?P<end>\d+)"
    r"_(?P<kind>message|orderbook)_(?P<levels>\d+)\.csv$"
)
"""LOBSTER's file name: ticker, date, start and end (ms after midnight), kind, levels."""
DUMMY_PRICE = 9_999_999_999
"""The price LOBSTER writes for an empty level (negative on the bid side)."""
NANOS_PER_LOBSTER_TICK = 100_000
"""LOBSTER prices are dollars times 10,000: one unit is 100,000 nano-dollars."""
_COLUMNS = ("time", "type", "order_id", "size", "price", "direction")
_SKIP_HINT = "use --skip-bad-rows to skip and count such rows"


@dataclass(frozen=True)
class LobsterName:
    """What a LOBSTER file name says: ticker, date, the levels of its book, and the
    message and orderbook files."""

    ticker: str
    day: date
    levels: int
    message: Path
    orderbook: Path


def lobster_name(path: Path, book: Path | None = None) -> LobsterName | None:
    """Return what the LOBSTER name of ``path`` says, or None when ``path`` is not named as
    a LOBSTER message file (an orderbook file given as the data is named, to say what to
    give instead)."""
    match = NAME.match(path.name)
    if match is None:
        return None
    if match["kind"] == "orderbook":
        raise DataError(
            "this is a LOBSTER orderbook file: give its message file as the data (the "
            "orderbook file is found beside it)",
            path=str(path),
        )
    try:
        day = date.fromisoformat(match["date"])
    except ValueError as exc:
        raise DataError(
            f"the file name's date {match['date']!r} is not a date", path=str(path)
        ) from exc
    levels = int(match["levels"])
    if book is None:
        book = path.with_name(path.name.replace("_message_", "_orderbook_"))
    return LobsterName(match["ticker"], day, levels, path, book)


def input_files(path: Path | None, book: Path | None = None) -> list[Path]:
    """The files a read of ``path`` takes: ``path``, and for a LOBSTER message file its
    orderbook file (``book``, or the one its name points at), so that no output is written
    over either. None (a stream, not a file): ``book`` alone, if given."""
    if path is None:
        return [book] if book is not None else []
    try:
        named = lobster_name(path, book)
    except DataError:
        named = None  # not readable as LOBSTER: the reader says why
    return [path] if named is None else [path, named.orderbook]


def looks_like_lobster(path: Path) -> bool:
    """Whether the first line of ``path`` is six numbers without a header, as in a LOBSTER
    message file."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(4096).decode("ascii", "replace").strip()
    except OSError:
        return False
    fields = first.split(",")
    return len(fields) == 6 and all(re.fullmatch(r"-?\d+(\.\d+)?", f) for f in fields)


def midnight_ns(day: date) -> int:
    """Midnight of ``day`` in New York, ns since the epoch (UTC)."""
    from zoneinfo import ZoneInfo

    try:
        zone = ZoneInfo("America/New_York")
    except Exception as exc:  # no time-zone database on this machine
        raise DataError(
            f"cannot place LOBSTER times: no America/New_York time zone ({exc})"
        ) from exc
    moment = datetime(day.year, day.month, day.day, tzinfo=zone)
    return int(moment.timestamp()) * 1_000_000_000


@dataclass(frozen=True)
class LobsterData:
    """The events of a LOBSTER file pair (``EVENT_DTYPE``, in time order), the rows read,
    the bad rows skipped per reason, and what the pass noticed (halts; cancels and
    executions larger than the order the book shows, clamped)."""

    events: np.ndarray
    rows_read: int
    skipped: dict[str, int] = field(default_factory=dict)
    name: LobsterName | None = None
    halts: int = 0
    mismatches: int = 0


def read_lobster(
    path: Path,
    *,
    book: Path | None = None,
    publisher: int = NASDAQ,
    skip_bad_rows: bool = False,
) -> LobsterData:
    """Read a LOBSTER message file and its orderbook file as events of venue ``publisher``.

    Raises
    ------
    DataError
        The name does not say the date (and no book is given), the orderbook file is
        missing or of another length, or a row is bad (unless ``skip_bad_rows``): a value
        that does not parse, a type outside 1 to 7, a negative size, a direction other
        than 1 or -1, a time before the previous row's.
    """
    name = lobster_name(path, book)
    if name is None:
        raise DataError(
            "a LOBSTER message file is named TICKER_DATE_START_END_message_LEVEL.csv: the "
            "date comes from the name (rename the file as LOBSTER names it)",
            path=str(path),
        )
    if not name.orderbook.exists() and not name.orderbook.is_symlink():
        raise DataError(
            f"the LOBSTER orderbook file {name.orderbook.name} is not beside the message "
            "file: give it with --lobster-book",
            path=str(path),
        )
    check_input_file(name.orderbook)  # a FIFO, a directory, a dangling link: said so
    messages = _read_messages(path)
    levels = _read_book(name.orderbook)
    if len(levels) != len(messages):
        raise DataError(
            f"the orderbook file has {len(levels)} rows and the message file {len(messages)}: "
            "they must be the same day's pair",
            path=str(name.orderbook),
        )
    depth = levels.width // 4
    if depth < 1 or levels.width % 4:
        raise DataError(
            f"an orderbook row has {levels.width} fields: 4 per level expected",
            path=str(name.orderbook),
        )
    rows = len(messages)
    book_values: np.ndarray = (
        levels.to_numpy().astype(np.int64, copy=False)
        if rows
        else np.zeros((0, 4 * depth), np.int64)
    )
    code, faults = _bad_rows(messages, levels, midnight_ns(name.day))
    bad = code > 0
    if bad.any():
        first = int(np.argmax(bad))
        if not skip_bad_rows:
            where, what, _ = faults[int(code[first]) - 1]
            raise DataError(f"{what}; {_SKIP_HINT}", path=str(where if where else path),
                            line=first + 1)  # fmt: skip
    skipped: dict[str, int] = {}
    for c, count in zip(*np.unique(code[bad], return_counts=True), strict=True):
        reason = faults[int(c) - 1][2]
        skipped[reason] = skipped.get(reason, 0) + int(count)
    keep = ~bad
    ts = _times(messages, midnight_ns(name.day))[keep]
    kind = messages["type"].to_numpy()[keep].astype(np.int64)
    order_id = messages["order_id"].to_numpy()[keep].astype(np.int64)
    size = messages["size"].to_numpy()[keep].astype(np.int64)
    price = messages["price"].to_numpy()[keep].astype(np.int64) * NANOS_PER_LOBSTER_TICK
    direction = messages["direction"].to_numpy()[keep].astype(np.int64)
    book_values = book_values[keep]
    # a time before the previous kept row's is bad too
    back = np.zeros(len(ts), bool)
    if len(ts) > 1:
        back[1:] = ts[1:] < np.maximum.accumulate(ts)[:-1]
    if back.any():
        first = int(np.flatnonzero(keep)[np.argmax(back)])
        if not skip_bad_rows:
            raise DataError(f"the time is before the previous row's; {_SKIP_HINT}",
                            path=str(path), line=first + 1, column="time")  # fmt: skip
        skipped["out_of_time_order"] = int(back.sum())
        ts, kind, order_id, size, price, direction, book_values = (
            a[~back] for a in (ts, kind, order_id, size, price, direction, book_values)
        )
    if skipped:
        log.warning("%s: %d bad row(s) skipped: %s", path, sum(skipped.values()), skipped)
    ask_px = book_values[:, 0::4]
    ask_sz = book_values[:, 1::4]
    bid_px = book_values[:, 2::4]
    bid_sz = book_values[:, 3::4]
    ask_px = np.where((ask_px > 0) & (ask_px < DUMMY_PRICE), ask_px * NANOS_PER_LOBSTER_TICK, 0)
    bid_px = np.where((bid_px > 0) & (bid_px < DUMMY_PRICE), bid_px * NANOS_PER_LOBSTER_TICK, 0)
    ask_sz = np.where(ask_px > 0, ask_sz, 0)
    bid_sz = np.where(bid_px > 0, bid_sz, 0)
    shown = min(depth, LEVELS)
    n_events = int(len(kind) + 2 * np.count_nonzero(kind == 4) - np.count_nonzero(kind == 7))
    events = np.zeros(n_events, EVENT_DTYPE)
    capacity, shift = table_size(int(np.count_nonzero(kind == 1)) + 2 * len(kind) // 8 + 64)
    written, mismatches = _events(
        ts, kind, order_id, size, price, direction,
        np.ascontiguousarray(bid_px[:, :shown]), np.ascontiguousarray(bid_sz[:, :shown]),
        np.ascontiguousarray(ask_px[:, :shown]), np.ascontiguousarray(ask_sz[:, :shown]),
        capacity, shift, events["ts_event"], events["action"].view(np.uint8),
        events["side"].view(np.uint8), events["flags"], events["price"], events["size"],
        events["bid_px"], events["bid_sz"], events["ask_px"], events["ask_sz"],
        events["seq"], events["cut"], events["cut_px"], events["cut_prio"], events["cut_size"],
    )  # fmt: skip
    assert written == n_events
    events["publisher_id"] = publisher
    events["source"] = ORDER_LEVEL_PART
    if mismatches:
        log.info("%s: %d cancel(s) or execution(s) larger than the order or block the book "
                 "shows, clamped", path, mismatches)  # fmt: skip
    return LobsterData(events, rows, skipped, name, int(np.count_nonzero(kind == 7)), mismatches)


def _read_messages(path: Path) -> pl.DataFrame:
    """The message file's six columns as text (time) and integers (null where a value does
    not parse)."""
    try:
        raw = pl.read_csv(
            path, has_header=False, new_columns=list(_COLUMNS), infer_schema=False,
            truncate_ragged_lines=True,
        )  # fmt: skip
    except pl.exceptions.NoDataError:
        return pl.DataFrame(
            {name: [] for name in _COLUMNS}, schema=dict.fromkeys(_COLUMNS, pl.String)
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read as a LOBSTER message file: {exc}", path=str(path)) from exc
    if raw.width != len(_COLUMNS):
        raise DataError(
            f"a LOBSTER message row has {len(_COLUMNS)} fields, this file {raw.width}",
            path=str(path),
        )
    return raw.with_columns(
        pl.col("time").str.strip_chars(),
        *[pl.col(n).str.strip_chars().cast(pl.Int64, strict=False) for n in _COLUMNS[1:]],
    )


def _read_book(path: Path) -> pl.DataFrame:
    """The orderbook file's columns as integers (null where a value does not parse)."""
    try:
        raw = pl.read_csv(path, has_header=False, infer_schema=False, truncate_ragged_lines=True)
    except pl.exceptions.NoDataError:
        return pl.DataFrame()
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"cannot read as a LOBSTER orderbook file: {exc}", path=str(path)) from exc
    return raw.select(pl.all().str.strip_chars().cast(pl.Int64, strict=False))


_TIME = re.compile(r"^\d{1,6}(\.\d{1,30})?$")
"""Seconds after midnight. LOBSTER writes up to nine decimals, but its files also hold
times printed from binary floating point (``43002.632812672004``): they are rounded to the
nearest nanosecond."""


def _times(messages: pl.DataFrame, midnight: int) -> np.ndarray:
    """The messages' times, ns since the epoch, from the exact decimal text (0 where the
    text is not a time)."""
    text = messages["time"].fill_null("")
    valid = text.str.contains(_TIME.pattern)
    parts = text.str.split_exact(".", 1)
    seconds = parts.struct.field("field_0").cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    tenths = (
        parts.struct.field("field_1").fill_null("").str.slice(0, 10).str.pad_end(10, "0")
        .cast(pl.Int64, strict=False).fill_null(0).to_numpy()
    )  # fmt: skip
    nanos = (tenths + 5) // 10  # to the nearest nanosecond, half up
    ts = midnight + seconds * 1_000_000_000 + nanos
    return np.where(valid.to_numpy(), ts, 0).astype(np.int64)


def _bad_rows(
    messages: pl.DataFrame, levels: pl.DataFrame, midnight: int
) -> tuple[np.ndarray, list[tuple[Path | None, str, str]]]:
    """Mark the rows whose values break LOBSTER's format (the time order is checked after):
    each row's code, 0 for a good row, else one plus the index of its first fault among
    the faults returned, each (which file, what, the report's reason)."""
    n = messages.height
    code = np.zeros(n, np.uint8)
    faults: list[tuple[Path | None, str, str]] = []
    if not n:
        return code, faults

    def mark(mask: np.ndarray, text: str, reason: str, where: Path | None = None) -> None:
        faults.append((where, text, reason))
        code[mask & (code == 0)] = len(faults)

    time_ok = messages["time"].fill_null("").str.contains(_TIME.pattern).to_numpy()
    mark(~time_ok, "column time: not seconds after midnight", "bad_timestamp")
    kind = messages["type"].to_numpy()
    kind_ok = (
        ~np.isnan(kind.astype(float))
        & (np.nan_to_num(kind.astype(float)) >= 1)
        & (np.nan_to_num(kind.astype(float)) <= 7)
    )
    mark(~kind_ok, "column type: not a LOBSTER event type (1 to 7)", "bad_action")
    halt = kind_ok & (np.nan_to_num(kind.astype(float)) == 7)
    for name, reason in (
        ("order_id", "bad_order_id"),
        ("size", "bad_size"),
        ("price", "bad_price"),
    ):
        values = messages[name].to_numpy().astype(float)
        mark(np.isnan(values), f"column {name}: not an integer", reason)
    size = np.nan_to_num(messages["size"].to_numpy().astype(float))
    mark(size < 0, "column size: negative", "bad_size")
    price = np.nan_to_num(messages["price"].to_numpy().astype(float))
    mark(~halt & (price <= 0), "column price: not a positive price", "bad_price")
    direction = np.nan_to_num(messages["direction"].to_numpy().astype(float))
    mark(~halt & (direction != 1) & (direction != -1), "column direction: neither 1 nor -1",
         "bad_side")  # fmt: skip
    if levels.width:
        broken = np.zeros(n, bool)
        for column in levels.columns:
            broken |= levels[column].is_null().to_numpy()
        mark(broken, "a value of the orderbook row is not an integer", "bad_book")
    del midnight
    return code, faults


_BUY, _SELL = ord("B"), ord("A")


@numba.njit(cache=True, nogil=True)
def _find_or_slot(keys, owners, state, key, owner, shift):
    mask = len(keys) - 1
    h = (np.uint64(key) ^ (np.uint64(owner) << np.uint64(48))) * np.uint64(0x9E3779B97F4A7C15)
    i = np.int64(h >> np.uint64(shift))
    free = -1
    while True:
        s = state[i]
        if s == 0:
            return i if free < 0 else free, False
        if keys[i] == key and owners[i] == owner:
            if s == 1:
                return i, True
            if free < 0:
                free = i
        elif s == 2 and free < 0:
            free = i
        i = (i + 1) & mask


@numba.njit(cache=True, nogil=True)
def _events(
    ts, kind, order_id, size, price, direction, bid_px, bid_sz, ask_px, ask_sz, capacity,
    shift, out_ts, out_action, out_side, out_flags, out_price, out_size,
    out_bid_px, out_bid_sz, out_ask_px, out_ask_sz, out_seq, out_cut, out_cut_px,
    out_cut_prio, out_cut_size,
):  # fmt: skip
    """Write the events of the messages (see the module); return how many and the cuts
    clamped to what the order held. A cut of an order the file never announced has
    priority stamp -1: no place is known for it."""
    o_key = np.zeros(capacity, np.int64)
    o_own = np.zeros(capacity, np.int32)
    o_state = np.zeros(capacity, np.uint8)
    o_side = np.zeros(capacity, np.uint8)
    o_px = np.zeros(capacity, np.int64)
    o_size = np.zeros(capacity, np.int64)
    o_prio = np.zeros(capacity, np.int64)
    n = len(ts)
    out = 0
    mismatches = 0
    for i in range(n):
        k = kind[i]
        if k == 7:
            continue
        side = _BUY if direction[i] == 1 else _SELL  # the resting order's side
        before = i - 1 if i > 0 else 0
        if k == 4:
            # the trade and the fill carry the book before the execution
            for j in range(2):
                _write(out, ts[i], ord("T") if j == 0 else ord("F"),
                       (_SELL if side == _BUY else _BUY) if j == 0 else side, 0, price[i],
                       size[i], bid_px, bid_sz, ask_px, ask_sz, before, out_ts, out_action,
                       out_side, out_flags, out_price, out_size, out_bid_px, out_bid_sz,
                       out_ask_px, out_ask_sz)  # fmt: skip
                out_seq[out] = out
                out += 1
        if k == 1:
            slot, found = _find_or_slot(o_key, o_own, o_state, order_id[i], 0, shift)
            o_key[slot] = order_id[i]
            o_own[slot] = 0
            o_state[slot] = 1
            o_side[slot] = side
            o_px[slot] = price[i]
            o_size[slot] = size[i] if not found else o_size[slot] + size[i]
            if not found:
                o_prio[slot] = out
            _write(out, ts[i], ord("A"), side, F_LAST, price[i], size[i], bid_px, bid_sz,
                   ask_px, ask_sz, i, out_ts, out_action, out_side, out_flags, out_price,
                   out_size, out_bid_px, out_bid_sz, out_ask_px, out_ask_sz)  # fmt: skip
        elif k == 2 or k == 3 or k == 4:
            slot, found = _find_or_slot(o_key, o_own, o_state, order_id[i], 0, shift)
            if found:
                at = o_px[slot]
                prio = o_prio[slot]
                taken = min(size[i], o_size[slot])
                if taken < size[i]:
                    mismatches += 1
                o_size[slot] -= taken
                if o_size[slot] <= 0 or k == 3:
                    o_state[slot] = 2
            else:
                at = price[i]
                prio = -1
            _write(out, ts[i], ord("C"), side, F_LAST, at, size[i], bid_px, bid_sz, ask_px,
                   ask_sz, i, out_ts, out_action, out_side, out_flags, out_price, out_size,
                   out_bid_px, out_bid_sz, out_ask_px, out_ask_sz)  # fmt: skip
            out_cut[out] = CUT_FILL if k == 4 else CUT_CANCEL
            out_cut_px[out] = at
            out_cut_prio[out] = prio
            out_cut_size[out] = size[i]
        else:
            aggressor = (_SELL if side == _BUY else _BUY) if k == 5 else ord("N")
            _write(out, ts[i], ord("T"), aggressor, F_LAST, price[i], size[i], bid_px,
                   bid_sz, ask_px, ask_sz, i, out_ts, out_action, out_side, out_flags,
                   out_price, out_size, out_bid_px, out_bid_sz, out_ask_px, out_ask_sz)  # fmt: skip
            if k == 5:  # the seller (or buyer) met no displayed order: the exact queue's
                out_cut[out] = CUT_HIDDEN  # resting orders at or past its price come first
                out_cut_px[out] = price[i]
                out_cut_prio[out] = -1
                out_cut_size[out] = size[i]
        out_seq[out] = out
        out += 1
    return out, mismatches


@numba.njit(cache=True, nogil=True)
def _write(
    out, ts, action, side, flags, price, size, bid_px, bid_sz, ask_px, ask_sz, row, out_ts,
    out_action, out_side, out_flags, out_price, out_size, out_bid_px, out_bid_sz, out_ask_px,
    out_ask_sz,
):  # fmt: skip
    out_ts[out] = ts
    out_action[out] = action
    out_side[out] = side
    out_flags[out] = flags
    out_price[out] = price
    out_size[out] = size
    for j in range(bid_px.shape[1]):
        out_bid_px[out, j] = bid_px[row, j]
        out_bid_sz[out, j] = bid_sz[row, j]
        out_ask_px[out, j] = ask_px[row, j]
        out_ask_sz[out, j] = ask_sz[row, j]
