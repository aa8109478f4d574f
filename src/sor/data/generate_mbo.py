"""The generated market order by order: each venue's rows as Databento MBO records.

The generator's venues keep their books level by level (:mod:`sor.data.generate`); this
module keeps each level as a FIFO queue of orders with ids and turns every row of a venue
into the records of the orders it moves, so that rebuilding the books from the records
(:mod:`sor.data.mbo`, ``sor convert``) gives the rows' books exactly. The rules
(docs/generate.md, "Order by order"):

- **Start.** Each venue's book before its first row is sent as a snapshot: adds flagged
  ``F_SNAPSHOT`` (32; the last also ``F_LAST``) at the window's start, sequence 0.
- **Groups.** The records of one row share its ``ts_event``, ``ts_in_delta`` and
  ``sequence`` (as the records of one venue message do in Databento's files); the last
  carries the row's ``flags``, the others 0. The row's own record comes last, except for a
  trade, whose ``T`` comes before its fills.
- **Add** of ``q`` at a price already quoted: one new order of ``q`` at the back of the queue.
- **Cancellation** of ``q``: orders of the level drawn uniformly (the venue's own seeded
  stream) lose shares until ``q`` have gone; the last one drawn may keep some (a partial
  cancel, which keeps its place).
- **Trade** of ``q``: a ``T`` record (the aggressor's side, order id 0), then the queue's
  front orders are filled in turn, each with an ``F`` and the ``C`` that cuts it, as
  Databento sends fills.
- **Levels that come or go** (the book following the efficient price, an exhausted touch,
  an emptied level refilled, levels entering the ten-level view from below): a level that
  leaves the book is cancelled order by order, front first; a new level arrives as new
  orders, as many as the row's count for it (at most one per share; round lots where the
  size allows), their sizes split at uniformly drawn points. These records come before the
  row's own. The book never holds more than the ten levels a side the rows show.
- Order ids count from 1 at each venue.

Only the order counts (``bid_ct``, ``ask_ct``) differ from the rows': the rows' counts are
drawn, the records' are the orders the queues hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np
import polars as pl

from sor.core.errors import ConfigError

MBO_RTYPE = 0xA0
"""Databento's ``rtype`` of an MBO record (160)."""
F_LAST = 128
F_SNAPSHOT = 32
MBO_CSV_COLUMNS = ["ts_recv", "ts_event", "rtype", "publisher_id", "instrument_id", "action",
                   "side", "price", "size", "channel_id", "order_id", "flags", "ts_in_delta",
                   "sequence", "symbol"]  # fmt: skip
"""The columns of Databento's MBO CSV, in its order."""
RECORD_FIELDS = ("ts_event", "ts_in_delta", "action", "side", "price", "size", "order_id",
                 "flags", "sequence")  # fmt: skip
"""The per-record arrays :meth:`VenueOrders.records` returns (prices in cents)."""

_A, _C, _T, _F = ord("A"), ord("C"), ord("T"), ord("F")
_SIDE_CODE = (ord("B"), ord("A"), ord("N"))
_ADD, _CANCEL, _TRADE = 0, 1, 2  # the kernel's actions
_BID, _ASK = 0, 1


def output_format(out: Path) -> str:
    """Return how to write the MBO file ``out``: ``"csv"``, ``"dbn"`` or ``"dbn.zst"``.

    Raises
    ------
    ConfigError
        ``out`` has none of these suffixes.
    """
    for suffix in (".dbn.zst", ".dbn", ".csv"):
        if out.name.endswith(suffix):
            return suffix.lstrip(".")
    raise ConfigError(f"--out: name a .csv, .dbn or .dbn.zst file for MBO, got {out.name!r}")


class VenueOrders:
    """One venue's queues of orders, fed the venue's rows in order (see the module).

    ``book`` is the venue's book before its first row: best bid and ask (cents) and the
    sizes and counts of its ten levels a side; ``seed`` seeds the venue's own stream of
    draws (which orders a cancellation takes, how a new level splits into orders).
    """

    def __init__(
        self,
        seed: np.random.SeedSequence,
        start_ns: int,
        best_bid: int,
        best_ask: int,
        book: Iterable[np.ndarray],
        level_ticks: int = 1,
    ) -> None:
        bid_sz, bid_ct, ask_sz, ask_ct = (np.asarray(a).tolist() for a in book)
        self.gap = level_ticks  # ticks between the venue's levels
        self.rng = np.random.default_rng(seed)
        self.next_id = 1
        # per side: price (cents) -> queue of [order id, shares], front first; and totals
        self.queues: tuple[dict[int, list[list[int]]], dict[int, list[list[int]]]] = ({}, {})
        self.totals: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._out: list[tuple[int, int, int, int, int, int]] = []
        for side, best, sizes, counts in ((_BID, best_bid, bid_sz, bid_ct),
                                          (_ASK, best_ask, ask_sz, ask_ct)):  # fmt: skip
            step = -level_ticks if side == _BID else level_ticks
            for i, (size, count) in enumerate(zip(sizes, counts, strict=True)):
                if size > 0:
                    self._new_level(side, best + step * i, size, count)
        # each side's levels as the last row showed them, while the queues hold exactly
        # those (None: not known, the queues are compared level by level)
        self.view: list[tuple[int, list[int]] | None] = [(best_bid, bid_sz), (best_ask, ask_sz)]
        snapshot = self._take()
        self.snapshot = {
            "ts_event": np.full(len(snapshot), start_ns, np.int64),
            "ts_in_delta": np.zeros(len(snapshot), np.int64),
            **_columns(snapshot),
            "flags": np.full(len(snapshot), F_SNAPSHOT, np.int64),
            "sequence": np.zeros(len(snapshot), np.int64),
        }
        if len(snapshot):
            self.snapshot["flags"][-1] |= F_LAST

    # -- the queues ------------------------------------------------------------------------

    def _emit(self, action: int, side: int, price: int, size: int, order_id: int) -> None:
        self._out.append((action, _SIDE_CODE[side], price, size, order_id, 0))

    def _take(self) -> list[tuple[int, int, int, int, int, int]]:
        out, self._out = self._out, []
        return out

    def _add_order(self, side: int, price: int, size: int) -> None:
        order_id = self.next_id
        self.next_id += 1
        self.queues[side].setdefault(price, []).append([order_id, size])
        self.totals[side][price] = self.totals[side].get(price, 0) + size
        self._emit(_A, side, price, size, order_id)

    def _new_level(self, side: int, price: int, size: int, count: int) -> None:
        """New orders making ``size`` at ``price``: ``count`` of them (1 to ``size``),
        round lots when the size allows, split at uniformly drawn points."""
        count = max(1, min(int(count), size))
        unit = 100 if size % 100 == 0 and size // 100 >= count else 1
        lots = size // unit
        if count == 1:
            parts = [lots]
        else:
            cuts = np.sort(self.rng.choice(lots - 1, count - 1, replace=False) + 1)
            parts = np.diff(np.concatenate(([0], cuts, [lots]))).tolist()
        for part in parts:
            self._add_order(side, price, int(part) * unit)

    def _cut(self, side: int, price: int, amount: int) -> None:
        """Cancel ``amount`` shares at ``price``, from orders drawn uniformly."""
        queue = self.queues[side][price]
        self.totals[side][price] -= amount
        while amount > 0:
            j = int(self.rng.integers(len(queue)))
            order = queue[j]
            take = min(order[1], amount)
            self._emit(_C, side, price, take, order[0])
            order[1] -= take
            amount -= take
            if order[1] == 0:
                del queue[j]
        if not queue:
            del self.queues[side][price]
            del self.totals[side][price]

    def _remove_level(self, side: int, price: int) -> None:
        for order_id, size in self.queues[side].pop(price):
            self._emit(_C, side, price, size, order_id)
        del self.totals[side][price]

    def _fill(self, side: int, price: int, amount: int) -> None:
        """Fill ``amount`` shares at ``price`` from the front of its queue: F, then C."""
        queue = self.queues[side].get(price)
        if queue is None or self.totals[side][price] < amount:
            raise RuntimeError(f"a generated trade of {amount} at {price} finds too few shares")
        self.totals[side][price] -= amount
        while amount > 0:
            order = queue[0]
            take = min(order[1], amount)
            self._emit(_F, side, price, take, order[0])
            self._emit(_C, side, price, take, order[0])
            order[1] -= take
            amount -= take
            if order[1] == 0:
                queue.pop(0)
        if not queue:
            del self.queues[side][price]
            del self.totals[side][price]

    def _target(
        self, shown: tuple[int, list[int]], counts: list[int], side: int
    ) -> tuple[dict[int, int], dict[int, int]]:
        """A row's levels of one side as price -> shares, and price -> orders."""
        best, sizes = shown
        step = -self.gap if side == _BID else self.gap
        levels = {best + step * i: z for i, z in enumerate(sizes) if z > 0}
        return levels, {best + step * i: c for i, c in enumerate(counts)}

    def _reconcile(self, side: int, target: dict[int, int], counts: dict[int, int]) -> None:
        """Bring one side's queues to ``target`` (price -> shares): levels gone are
        cancelled, new levels arrive as new orders, a level grown gets one order, a level
        shrunk is cut."""
        totals = self.totals[side]
        for price in [p for p in totals if p not in target]:
            self._remove_level(side, price)
        for price, size in target.items():
            have = totals.get(price, 0)
            if have == size:
                continue
            if have == 0:
                self._new_level(side, price, size, counts.get(price, 1))
            elif size > have:
                self._add_order(side, price, size - have)
            else:
                self._cut(side, price, have - size)

    # -- the rows --------------------------------------------------------------------------

    def records(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The records of a venue's next ``rows`` (the kernel's arrays, in its order)."""
        action = rows["action"].tolist()
        side = rows["side"].tolist()
        price = rows["price"].tolist()
        size = rows["size"].tolist()
        flags = rows["flags"].tolist()
        best = (rows["best_bid"].tolist(), rows["best_ask"].tolist())
        sizes = (rows["bid_sz"].tolist(), rows["ask_sz"].tolist())
        counts = (rows["bid_ct"].tolist(), rows["ask_ct"].tolist())
        out: list[tuple[int, int, int, int, int, int]] = []
        group: list[int] = []
        view = self.view
        for n in range(len(action)):
            a, p, q = action[n], price[n], size[n]
            shown = [(best[0][n], sizes[0][n]), (best[1][n], sizes[1][n])]
            if a == _TRADE:
                resting = _BID if side[n] == _ASK else _ASK  # a sell hits the bid
                for s in (_BID, _ASK):  # the row's book is the one before the trade
                    if view[s] != shown[s]:
                        self._reconcile(s, *self._target(shown[s], counts[s][n], s))
                    view[s] = shown[s]
                self._emit(_T, side[n], p, q, 0)
                if p == shown[resting][0]:  # not a hidden trade inside the spread
                    self._fill(resting, p, q)
                    view[resting] = None  # the next row shows the trade's effect
            else:
                s = side[n]
                if view[1 - s] != shown[1 - s]:
                    self._reconcile(1 - s, *self._target(shown[1 - s], counts[1 - s][n], 1 - s))
                view[1 - s] = shown[1 - s]
                delta = q if a == _CANCEL else -q
                if not _only_changed(view[s], shown[s], s, p, delta, self.gap):
                    goal, count = self._target(shown[s], counts[s][n], s)
                    # the levels as they must stand before the row's own event
                    before = goal.get(p, 0) + delta
                    if before > 0:
                        goal[p] = before
                    else:
                        goal.pop(p, None)
                    self._reconcile(s, goal, count)
                if a == _CANCEL:
                    self._cut(s, p, q)
                else:
                    self._add_order(s, p, q)
                view[s] = shown[s]
            made = self._take()
            last = list(made[-1])
            last[5] = flags[n]
            made[-1] = (last[0], last[1], last[2], last[3], last[4], last[5])
            out.extend(made)
            group.extend([n] * len(made))
        at = np.asarray(group, np.int64)
        return {
            "ts_event": rows["ts_event"][at],
            "ts_in_delta": rows["ts_in_delta"][at],
            **_columns(out),
            "sequence": rows["sequence"][at],
        }


def _only_changed(
    view: tuple[int, list[int]] | None,
    shown: tuple[int, list[int]],
    side: int,
    price: int,
    delta: int,
    gap: int,
) -> bool:
    """Whether the levels ``view`` differ from ``shown`` by ``delta`` shares at ``price``
    alone (``delta`` added to the shown level gives the viewed one); levels lie ``gap``
    ticks apart."""
    if view is None or view[0] != shown[0]:
        return False
    away = (price - shown[0]) * (-1 if side == _BID else 1)
    if away % gap:
        return False
    i = away // gap
    old, new = view[1], shown[1]
    if not 0 <= i < len(new) or new[i] + delta != old[i] or new[i] == 0:
        return False
    return old[:i] == new[:i] and old[i + 1 :] == new[i + 1 :]


def _columns(records: list[tuple[int, int, int, int, int, int]]) -> dict[str, np.ndarray]:
    table = np.asarray(records, np.int64).reshape(-1, 6)
    return {
        "action": table[:, 0].astype(np.uint8),
        "side": table[:, 1].astype(np.uint8),
        "price": table[:, 2],
        "size": table[:, 3],
        "order_id": table[:, 4],
        "flags": table[:, 5],
    }


def no_records() -> dict[str, np.ndarray]:
    """The records of a file without any."""
    return {name: np.zeros(0, np.int64) for name in (*RECORD_FIELDS, "publisher_id")}


def mbo_frame(records: dict[str, np.ndarray], instrument: int, symbol: str) -> pl.DataFrame:
    """The records as Databento's MBO CSV: its columns, ISO-8601 times with nanoseconds,
    prices in shortest decimal form."""
    ts_event = records["ts_event"]
    n = len(ts_event)
    iso = "%Y-%m-%dT%H:%M:%S%.9fZ"
    letters = np.array([chr(c) for c in range(128)])
    frame = pl.DataFrame({
        "ts_recv": pl.Series(ts_event + records["ts_in_delta"]).cast(pl.Datetime("ns")),
        "ts_event": pl.Series(ts_event).cast(pl.Datetime("ns")),
        "rtype": np.full(n, MBO_RTYPE, np.int64),
        "publisher_id": records["publisher_id"],
        "instrument_id": np.full(n, instrument, np.int64),
        "action": letters[records["action"].astype(np.int64)],
        "side": letters[records["side"].astype(np.int64)],
        "price": records["price"] / 100.0,
        "size": records["size"],
        "channel_id": np.zeros(n, np.int64),
        "order_id": records["order_id"],
        "flags": records["flags"],
        "ts_in_delta": records["ts_in_delta"],
        "sequence": records["sequence"],
    })  # fmt: skip
    return frame.with_columns(
        pl.col("ts_recv").dt.strftime(iso),
        pl.col("ts_event").dt.strftime(iso),
        pl.lit(symbol).alias("symbol"),
    ).select(MBO_CSV_COLUMNS)


def dbn_metadata(start_ns: int, symbol: str) -> bytes:
    """The metadata that opens a DBN file of MBO records of ``symbol``."""
    import databento_dbn

    metadata = databento_dbn.Metadata(
        dataset="",
        start=start_ns,
        stype_in=databento_dbn.SType.from_str("raw_symbol"),
        stype_out=databento_dbn.SType.from_str("instrument_id"),
        schema=databento_dbn.Schema.from_str("mbo"),
        symbols=[symbol],
    )
    return bytes(metadata.encode())


def dbn_records(records: dict[str, np.ndarray], instrument: int) -> bytes:
    """The records in DBN's MBO layout (56 bytes each; prices in nano-dollars)."""
    from sor.data.dbn import record_dtype

    dtype = record_dtype("mbo")
    out = np.zeros(len(records["ts_event"]), dtype)
    out["length"] = dtype.itemsize // 4
    out["rtype"] = MBO_RTYPE
    out["publisher_id"] = records["publisher_id"]
    out["instrument_id"] = instrument
    out["ts_event"] = records["ts_event"]
    out["order_id"] = records["order_id"]
    out["price"] = records["price"] * 10_000_000
    out["size"] = records["size"]
    out["flags"] = records["flags"]
    out["action"] = records["action"].astype(np.uint8).view("S1")
    out["side"] = records["side"].astype(np.uint8).view("S1")
    out["ts_recv"] = records["ts_event"] + records["ts_in_delta"]
    out["ts_in_delta"] = records["ts_in_delta"]
    out["sequence"] = records["sequence"]
    return out.tobytes()


def open_writer(handle: BinaryIO, form: str) -> BinaryIO:
    """``handle``, or a zstd stream into it for ``form == "dbn.zst"`` (close it to end the
    frame)."""
    if form != "dbn.zst":
        return handle
    import zstandard

    return cast(BinaryIO, zstandard.ZstdCompressor().stream_writer(handle, closefd=False))
