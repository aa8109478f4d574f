"""Plain-Python references for the order-level tests (tests/unit/test_orderlevel_reference.py).

Written from the rules alone, not from sor's kernels: orders in dicts, one explicit queue
(a list of order ids, first in priority first) per side and price, slow and obvious.

* :func:`rebuild_books`: every venue's book after each Databento MBO record.
* :func:`fifo_orders`: the exact FIFO queue of resting limit buys (``--queue-model fifo``),
  with our order as a marker inside the queue of its price.
* :func:`lobster_messages`, :func:`lobster_books`: a LOBSTER file pair, as the events that
  sor should make of it.

Anything the rules do not cover (an unknown order, a cut larger than the order, a
duplicate add, a clear under our resting order...) raises ``ValueError`` rather than
guessing: the randomized flows of the tests stay within the rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

LEVELS = 10
F_TOB = 64  # the flags bit of a top-of-book venue's add
ME = "me"  # our order's place in a queue of order ids

Book = tuple[list[int], list[int], list[int], list[int]]
"""bid_px, bid_sz, ask_px, ask_sz: LEVELS each, best first, 0 where absent."""


class Record(NamedTuple):
    """One MBO record: price in nano-dollars (0 when undefined); action and side letters."""

    ts: int
    venue: int
    action: str
    side: str
    price: int
    size: int
    oid: int
    flags: int


def records_of(columns: Mapping) -> list[Record]:
    """The records of an ``MboRecords.columns`` mapping (action and side as ASCII codes)."""
    names = ("ts_event", "publisher_id", "action", "side", "price", "size", "order_id", "flags")
    ts, venue, action, side, price, size, oid, flags = (columns[n].tolist() for n in names)
    return [
        Record(*row[:2], chr(row[2]), chr(row[3]), *row[4:])
        for row in zip(ts, venue, action, side, price, size, oid, flags, strict=True)
    ]


def top_of_book_venues(records: Sequence[Record]) -> set[int]:
    """The venues any of whose adds carries ``F_TOB``."""
    return {r.venue for r in records if r.action == "A" and r.flags & F_TOB}


def event_order(records: Sequence[Record]) -> list[int]:
    """The records' indices sorted by time, file order among equal times (Python's sort is
    stable)."""
    return sorted(range(len(records)), key=lambda i: records[i].ts)


def _empty_book() -> Book:
    return [0] * LEVELS, [0] * LEVELS, [0] * LEVELS, [0] * LEVELS


class VenueBook:
    """One full-depth venue: its orders and a queue per (side, price).

    A record is first turned into elementary changes (:meth:`ops`), then each change is
    applied (:meth:`do`), so that the FIFO reference can look at the book just before each
    change. The changes:

    * ``("add", id, side, price, size)``: join the back of the queue of (side, price);
    * ``("cut", id, shares, is_fill)``: the order loses shares, keeping its place; it leaves
      the book at 0. ``is_fill``: the cut is a fill's (the cancel after a fill);
    * ``("requeue", id, price, size)``: the order leaves its place for the back of the queue
      of its new price, with its new size;
    * ``("clear",)``: every order leaves.
    """

    def __init__(self) -> None:
        self.orders: dict[int, tuple[str, int, int]] = {}  # id -> side, price, size
        self.queues: dict[str, dict[int, list]] = {"B": {}, "A": {}}
        self.pending: tuple[int, int] | None = None  # a fill (id, shares) awaiting its cut

    def copy(self) -> VenueBook:
        other = VenueBook()
        other.orders = dict(self.orders)
        other.queues = {s: {p: list(q) for p, q in qs.items()} for s, qs in self.queues.items()}
        other.pending = self.pending
        return other

    def order(self, oid: int) -> tuple[str, int, int]:
        if oid not in self.orders:
            raise ValueError(f"unknown order {oid}")
        return self.orders[oid]

    def ops(self, rec: Record) -> list[tuple]:
        """The changes of one record, in order; a fill's cut still pending comes first when
        this record is not the cancel or modify of the filled order."""
        out: list[tuple] = []
        fill_cut = self.pending is not None and rec.action in "CM" and rec.oid == self.pending[0]
        if self.pending is not None and not fill_cut:
            out.append(("cut", self.pending[0], self.pending[1], True))
        self.pending = None
        if rec.action == "A":
            if rec.side not in "BA" or rec.price <= 0 or rec.size <= 0:
                raise ValueError(f"bad add {rec}")
            out.append(("add", rec.oid, rec.side, rec.price, rec.size))
        elif rec.action == "C":
            self.order(rec.oid)
            out.append(("cut", rec.oid, rec.size, fill_cut))
        elif rec.action == "M":
            _, price, size = self.order(rec.oid)
            if rec.size == 0:
                out.append(("cut", rec.oid, size, fill_cut))
            elif rec.price != price or rec.size > size:
                out.append(("requeue", rec.oid, rec.price, rec.size))
            elif rec.size < size:
                out.append(("cut", rec.oid, size - rec.size, fill_cut))
        elif rec.action == "F":
            self.order(rec.oid)
            self.pending = (rec.oid, rec.size)
        elif rec.action == "R":
            out.append(("clear",))
        elif rec.action not in "TN":
            raise ValueError(f"unknown action {rec}")
        return out

    def do(self, op: tuple) -> None:
        kind = op[0]
        if kind == "add":
            _, oid, side, price, size = op
            if oid in self.orders:
                raise ValueError(f"duplicate add of order {oid}")
            self.orders[oid] = (side, price, size)
            self.queues[side].setdefault(price, []).append(oid)
        elif kind == "cut":
            _, oid, shares, _ = op
            side, price, size = self.order(oid)
            if shares > size or shares < 0:
                raise ValueError(f"cut of {shares} from order {oid} of {size}")
            if shares == size:
                self._leave(oid)
                del self.orders[oid]
            else:
                self.orders[oid] = (side, price, size - shares)
        elif kind == "requeue":
            _, oid, price, size = op
            side, _, _ = self.order(oid)
            self._leave(oid)
            self.orders[oid] = (side, price, size)
            self.queues[side].setdefault(price, []).append(oid)
        elif kind == "clear":
            if any(ME in q for q in self.queues["B"].values()):
                raise ValueError("a clear under our resting order: no rule for it")
            self.orders.clear()
            self.queues = {"B": {}, "A": {}}
        else:
            raise ValueError(f"unknown change {op}")

    def _leave(self, oid: int) -> None:
        side, price, _ = self.orders[oid]
        queue = self.queues[side][price]
        queue.remove(oid)
        if not queue:
            del self.queues[side][price]

    def apply(self, rec: Record) -> None:
        for op in self.ops(rec):
            self.do(op)

    def side_levels(self, side: str) -> list[tuple[int, int]]:
        """(price, shares) of the side's best LEVELS levels, best first."""
        out = []
        for price in sorted(self.queues[side], reverse=side == "B"):
            shares = sum(self.orders[i][2] for i in self.queues[side][price] if i != ME)
            if shares:
                out.append((price, shares))
                if len(out) == LEVELS:
                    break
        return out

    def best_bid(self) -> int | None:
        levels = self.side_levels("B")
        return levels[0][0] if levels else None

    def book(self) -> Book:
        return _book_of(self.side_levels("B"), self.side_levels("A"))


class TopOfBook:
    """A top-of-book venue: each add replaces its side with one level (or empties it)."""

    def __init__(self) -> None:
        self.sides: dict[str, list[tuple[int, int]]] = {"B": [], "A": []}

    def apply(self, rec: Record) -> None:
        if rec.action == "A":
            empty = rec.price == 0 or rec.size == 0
            self.sides[rec.side] = [] if empty else [(rec.price, rec.size)]
        elif rec.action not in "TN":
            raise ValueError(f"no rule for {rec.action!r} on a top-of-book venue")

    def book(self) -> Book:
        return _book_of(self.sides["B"], self.sides["A"])


def _book_of(bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> Book:
    book = _empty_book()
    for k, (price, size) in enumerate(bids[:LEVELS]):
        book[0][k], book[1][k] = price, size
    for k, (price, size) in enumerate(asks[:LEVELS]):
        book[2][k], book[3][k] = price, size
    return book


def rebuild_books(records: Sequence[Record]) -> list[Book]:
    """Each record's venue book after the record, in file order."""
    tob = top_of_book_venues(records)
    venues: dict[int, VenueBook | TopOfBook] = {}
    last_ts: dict[int, int] = {}
    out = []
    for rec in records:
        if rec.ts < last_ts.get(rec.venue, rec.ts):
            raise ValueError(f"time goes back at venue {rec.venue}: {rec}")
        last_ts[rec.venue] = rec.ts
        if rec.venue not in venues:
            venues[rec.venue] = TopOfBook() if rec.venue in tob else VenueBook()
        book = venues[rec.venue]
        book.apply(rec)
        out.append(book.book())
    return out


AT_PRICE, THROUGH, CROSSED = "at price", "through", "crossed"


@dataclass
class FifoResult:
    """What one resting buy got: placed (the venue showed a bid), its price, the shares
    ahead when it joined, shares filled and each fill (time, shares, kind)."""

    placed: bool
    price: int = 0
    ahead: int = 0
    filled: int = 0
    fills: list[tuple[int, int, str]] = field(default_factory=list)


def fifo_orders(
    records: Sequence[Record], venue: int, orders: Sequence[tuple[int, int, int]]
) -> list[FifoResult]:
    """Run each order (place_ns, cancel_ns, shares) alone through the FIFO queue of ``venue``
    (a full-depth venue): it joins the back of the queue at the best bid once every record
    with ``ts <= place_ns`` is applied, and takes the fills of the records with
    ``place_ns < ts <= cancel_ns``."""
    if venue in top_of_book_venues(records):
        raise ValueError("the FIFO queue needs a full-depth venue")
    mine = [r for r in records if r.venue == venue]
    if any(b.ts < a.ts for a, b in pairwise(mine)):
        raise ValueError("time goes back")
    results: list[FifoResult] = [FifoResult(False) for _ in orders]
    book = VenueBook()
    applied = 0
    for i in sorted(range(len(orders)), key=lambda i: orders[i][0]):
        place, cancel, qty = orders[i]
        while applied < len(mine) and mine[applied].ts <= place:
            book.apply(mine[applied])
            applied += 1
        results[i] = _one_order(book.copy(), mine[applied:], cancel, qty)
    return results


def _one_order(book: VenueBook, later: Sequence[Record], cancel: int, qty: int) -> FifoResult:
    price = book.best_bid()
    if price is None:
        return FifoResult(False)
    queue = book.queues["B"][price]
    result = FifoResult(True, price, sum(book.orders[i][2] for i in queue))
    queue.append(ME)
    left = qty
    # A fill's shares leave with the cancel (or modify) of the filled order that follows
    # it; a fill that no such record follows (an "orphan") takes them at its own time.
    # An orphan before our arrival took them before us.
    done = book.pending[0] if book.pending and _orphan(book.pending[0], later, 0) else None
    for k, rec in enumerate(later):
        if rec.ts > cancel or not left:
            break
        for op in book.ops(rec):
            if op[0] == "cut" and op[3] and op[1] == done:
                done = None  # an orphan's cut: offered at the fill
            else:
                shares, kind = _offer(book, op, price)
                take = min(left, shares)
                if take > 0:
                    left -= take
                    result.fills.append((rec.ts, take, kind))
            book.do(op)
        if rec.action == "F" and _orphan(rec.oid, later, k + 1):
            shares, kind = _offer(book, ("cut", rec.oid, rec.size, True), price)
            take = min(left, shares)
            if take > 0:
                left -= take
                result.fills.append((rec.ts, take, kind))
            done = rec.oid
    result.filled = qty - left
    return result


def _orphan(oid: int, later: Sequence[Record], k: int) -> bool:
    """Whether the venue's record ``later[k]`` is not the cancel or modify of ``oid`` (the
    fill before it is then an orphan)."""
    return k >= len(later) or later[k].action not in "CM" or later[k].oid != oid


def _offer(book: VenueBook, op: tuple, price: int) -> tuple[int, str]:
    """The shares that a change offers our buy resting at ``price``, before it applies."""
    if op[0] == "add":
        _, _, side, px, size = op
        if side == "A" and px <= price:
            return size, CROSSED
    elif op[0] == "requeue":
        _, oid, px, size = op
        side, old_px, old_size = book.order(oid)
        if side == "A" and px <= price:
            return size - (old_size if old_px == px else 0), CROSSED
    elif op[0] == "cut" and op[3]:  # shares filled
        _, oid, shares, _ = op
        side, px, _ = book.order(oid)
        if side == "B" and px < price:
            return shares, THROUGH
        if side == "B" and px == price:
            queue = book.queues["B"][price]
            if queue.index(oid) > queue.index(ME):  # behind us
                return shares, AT_PRICE
    return 0, ""


# LOBSTER ----------------------------------------------------------------------------------

LOBSTER_DUMMY = 9_999_999_999
NANOS_PER_TICK = 100_000  # a LOBSTER price is dollars * 10,000


class LobsterMessage(NamedTuple):
    ts: int  # ns since the epoch
    type: int
    oid: int
    size: int
    price: int  # nano-dollars
    direction: int  # 1 buy, -1 sell


def lobster_messages(path: Path, midnight_ns: int) -> list[LobsterMessage]:
    """The rows of a LOBSTER message file; ``midnight_ns`` is the day's New York midnight."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        time, kind, oid, size, price, direction = line.split(",")
        seconds, _, fraction = time.partition(".")
        ns = int(seconds) * 10**9 + int((fraction + "0" * 9)[:9])
        out.append(
            LobsterMessage(
                midnight_ns + ns, int(kind), int(oid), int(size),
                int(price) * NANOS_PER_TICK, int(direction),
            )
        )  # fmt: skip
    return out


def lobster_books(path: Path) -> list[Book]:
    """The rows of a LOBSTER orderbook file (per level: ask price, ask size, bid price, bid
    size) as books; a dummy price (an empty level) reads as 0."""
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        values = [int(v) for v in line.split(",")]
        book = _empty_book()
        for k in range(len(values) // 4):
            ask_px, ask_sz, bid_px, bid_sz = values[4 * k : 4 * k + 4]
            book[2][k] = 0 if abs(ask_px) == LOBSTER_DUMMY else ask_px * NANOS_PER_TICK
            book[3][k] = ask_sz
            book[0][k] = 0 if abs(bid_px) == LOBSTER_DUMMY else bid_px * NANOS_PER_TICK
            book[1][k] = bid_sz
        out.append(book)
    return out


def lobster_actions(kind: int) -> str:
    """The actions of the events of one message of type ``kind``: a submission adds, a
    cancel or deletion cancels, a visible execution trades, fills and cuts the order, a
    hidden execution or cross trade only trades, a halt makes no event."""
    return {1: "A", 2: "C", 3: "C", 4: "TFC", 5: "T", 6: "T", 7: ""}[kind]
