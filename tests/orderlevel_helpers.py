"""Order-level records written by hand, as the readers would read them, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sor.data.mbo import MboRecords, rebuild_events

D = 1_000_000_000  # one dollar in nano-dollars
T0 = 1_712_151_000_000_000_000  # 2024-04-03T13:30:00Z
MBO_HEADER = ("ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,price,size,"
              "channel_id,order_id,flags,ts_in_delta,sequence,symbol")  # fmt: skip


def mbo_records(*rows: tuple, venue: int = 39) -> MboRecords:
    """Records of (ts, action, side, price $, size, order id[, flags[, venue]]): flags
    default to F_LAST (each record ends its event); ``venue`` is the publisher id."""
    n = len(rows)
    columns: dict[str, np.ndarray] = {
        "ts_event": np.zeros(n, np.int64),
        "publisher_id": np.full(n, venue, np.int32),
        "action": np.zeros(n, np.uint8),
        "side": np.zeros(n, np.uint8),
        "price": np.zeros(n, np.int64),
        "size": np.zeros(n, np.int64),
        "order_id": np.zeros(n, np.int64),
        "flags": np.full(n, 128, np.uint8),
    }
    for i, (ts, action, side, price, size, order_id, *rest) in enumerate(rows):
        columns["ts_event"][i] = ts
        columns["action"][i] = ord(action)
        columns["side"][i] = ord(side)
        columns["price"][i] = round(price * D) if price else 0
        columns["size"][i] = size
        columns["order_id"][i] = order_id
        if rest:
            columns["flags"][i] = rest[0]
        if len(rest) > 1:
            columns["publisher_id"][i] = rest[1]
    return MboRecords(Path("hand.csv"), columns, n)


def mbo_events(*rows: tuple, venue: int = 39) -> np.ndarray:
    """The events of :func:`mbo_records` (checked: no bad record)."""
    return rebuild_events(mbo_records(*rows, venue=venue), skip_bad_rows=False).events


def write_mbo_csv(path: Path, *rows: tuple, venue: int = 39, symbol: str = "GOOGL") -> Path:
    """Write :func:`mbo_records` rows as a Databento MBO CSV (pretty timestamps and prices)."""
    from sor.core.timestamps import format_timestamp

    lines = [MBO_HEADER]
    for seq, (ts, action, side, price, size, order_id, *rest) in enumerate(rows):
        flags = rest[0] if rest else 128
        publisher = rest[1] if len(rest) > 1 else venue
        stamp = format_timestamp(ts)
        px = f"{price:.9f}".rstrip("0").rstrip(".") if price else ""
        lines.append(f"{stamp},{stamp},160,{publisher},7152,{action},{side},{px},{size},0,"
                     f"{order_id},{flags},0,{seq},{symbol}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


# random flows --------------------------------------------------------------------------------


class Flow:
    """A random order flow of one full-depth venue, as rows for ``mbo_records``: adds,
    cancels, modifies (moving, growing, shrinking, to zero), trades with their fill and
    cut (T, F, C), lone trades (hidden liquidity) and asks crossing the bid, which are
    cancelled at the same time so that no book stays crossed. Prices in cents."""

    def __init__(
        self, rng: np.random.Generator, venue: int = 39, first_id: int = 1, step_ns: int = 1000
    ) -> None:
        self.rng, self.venue, self.next_id, self.step_ns = rng, venue, first_id, step_ns
        self.orders: dict[int, list] = {}  # id -> [side, cents, size]
        self.ts = T0
        self.rows: list[tuple] = []
        self.flags = (128,)
        self.crossing = 0.15
        self.orphans = self.clears = self.nones = 0.0

    def emit(self, action: str, side: str, cents: int, size: int, oid: int) -> None:
        flags = int(self.rng.choice(self.flags))
        self.rows.append((self.ts, action, side, cents / 100, size, oid, flags, self.venue))

    def best(self, side: str, without: int | None = None) -> int | None:
        prices = [o[1] for i, o in self.orders.items() if o[0] == side and i != without]
        if not prices:
            return None
        return max(prices) if side == "B" else min(prices)

    def size(self) -> int:
        return int(
            self.rng.choice([int(self.rng.integers(1, 100)), 100 * int(self.rng.integers(1, 8))])
        )

    def add(self, side: str, cents: int, size: int) -> int:
        oid = self.next_id
        self.next_id += 1
        self.orders[oid] = [side, cents, size]
        self.emit("A", side, cents, size, oid)
        return oid

    def cut(self, oid: int, shares: int, action: str = "C") -> None:
        side, cents, _ = self.orders[oid]
        self.emit(action, side, cents, shares, oid)
        self.orders[oid][2] -= shares
        if self.orders[oid][2] == 0:
            del self.orders[oid]

    def bid_price(self, without: int | None = None) -> int:
        ask = self.best("A", without)
        top = ask - 1 if ask is not None else 1005
        return int(self.rng.integers(top - 8, top + 1))

    def ask_price(self, without: int | None = None) -> int:
        bid = self.best("B", without)
        low = bid + 1 if bid is not None else 995
        return int(self.rng.integers(low, low + 9))

    def step(self) -> None:
        rng = self.rng
        self.ts += int(rng.choice([0, 1, 1, 2, 5])) * self.step_ns
        r = rng.random()
        bid = self.best("B")
        if r < 0.3 or len(self.orders) < 4:
            self.add("B", self.bid_price(), self.size())
        elif r < 0.55:
            if bid is not None and rng.random() < self.crossing:
                oid = self.add("A", int(rng.integers(bid - 3, bid + 1)), self.size())
                self.cut(oid, self.orders[oid][2])
            else:
                self.add("A", self.ask_price(), self.size())
        elif r < 0.68:
            oid = int(rng.choice(list(self.orders)))
            size = self.orders[oid][2]
            self.cut(oid, size if rng.random() < 0.5 else int(rng.integers(1, size + 1)))
        elif r < 0.82:
            self.modify(int(rng.choice(list(self.orders))))
        elif r < 0.95:
            for _ in range(int(rng.integers(1, 3))):
                self.trade()
        elif r < 0.97:
            px = bid if bid is not None else 1000
            self.emit("T", "A", px, int(rng.integers(1, 300)), 0)  # hidden liquidity
        elif r < 0.97 + self.orphans:
            self.orphan()
        elif r < 0.97 + self.orphans + self.clears:
            self.emit("R", "N", 0, 0, 0)
            self.orders.clear()
        elif r < 0.97 + self.orphans + self.clears + self.nones:
            self.emit("N", "N", 0, 0, 0)

    def modify(self, oid: int) -> None:
        rng = self.rng
        side, cents, size = self.orders[oid]
        how = rng.choice(["price", "up", "down", "same", "zero", "cross"])
        new_px, new_size = cents, size
        if how == "price":
            new_px = self.bid_price(oid) if side == "B" else self.ask_price(oid)
            new_size = self.size() if rng.random() < 0.5 else size
        elif how == "up":
            new_size = size + int(rng.integers(1, 200))
        elif how == "down" and size > 1:
            new_size = int(rng.integers(1, size))
        elif how == "zero":
            new_size = 0
        elif how == "cross" and side == "A":
            bid = self.best("B")
            if bid is None:
                return
            new_px = int(rng.integers(bid - 3, bid + 1))
            new_size = self.size() if rng.random() < 0.5 else size
        self.emit("M", side, new_px, new_size, oid)
        if new_size == 0:
            del self.orders[oid]
            return
        self.orders[oid][1:] = [new_px, new_size]
        if how == "cross" and side == "A":  # no book stays crossed
            self.cut(oid, new_size)

    def resting(self, side: str, levels: int = 3) -> int | None:
        """A random order among the side's best ``levels`` prices."""
        prices = sorted({o[1] for o in self.orders.values() if o[0] == side}, reverse=side == "B")
        chosen = [i for i, o in self.orders.items() if o[0] == side and o[1] in prices[:levels]]
        return int(self.rng.choice(chosen)) if chosen else None

    def trade(self) -> None:
        side = "B" if self.rng.random() < 0.6 else "A"
        oid = self.resting(side)
        if oid is None:
            return
        _, cents, size = self.orders[oid]
        shares = int(self.rng.integers(1, size + 1))
        self.emit("T", "A" if side == "B" else "B", cents, shares, 0)
        self.emit("F", side, cents, shares, oid)
        self.cut(oid, shares)

    def orphan(self) -> None:
        """A fill whose order's next record does not come: the venue's next record is about
        another order (an add)."""
        side = "B" if self.rng.random() < 0.6 else "A"
        oid = self.resting(side)
        if oid is None:
            return
        _, cents, size = self.orders[oid]
        shares = int(self.rng.integers(1, size + 1))
        self.emit("F", side, cents, shares, oid)
        self.orders[oid][2] -= shares
        if self.orders[oid][2] == 0:
            del self.orders[oid]
        self.ts += int(self.rng.choice([0, self.step_ns]))
        self.add("B", self.bid_price(), self.size())


def tob_flow(
    rng: np.random.Generator, steps: int, venue: int = 41, step_ns: int = 1000
) -> list[tuple]:
    """A top-of-book venue's rows: adds carrying F_TOB (some with no price or no size,
    emptying their side) and trades of side N."""
    rows: list[tuple] = []
    ts = T0
    for _ in range(steps):
        ts += int(rng.choice([0, 1, 3])) * step_ns
        flags = int(rng.choice([64, 192, 194]))
        if rng.random() < 0.1:
            rows.append((ts, "T", "N", int(rng.integers(990, 1010)) / 100, 100, 4348, 0, venue))
            continue
        side = "B" if rng.random() < 0.5 else "A"
        cents = int(rng.integers(990, 1000)) if side == "B" else int(rng.integers(1000, 1010))
        size = int(rng.integers(1, 500))
        r = rng.random()
        if r < 0.08:
            cents, size = 0, 0
        elif r < 0.12:
            size = 0
        elif r < 0.16:
            cents = 0
        rows.append((ts, "A", side, cents / 100, size, 4348, flags, venue))
    return rows


def interleave(rng: np.random.Generator, *flows: list[tuple]) -> list[tuple]:
    """The flows' rows merged in a random file order that keeps each flow's order (times
    then go back and forth between venues, never within one)."""
    source = np.concatenate([np.full(len(f), k) for k, f in enumerate(flows)])
    rng.shuffle(source)
    position = [0] * len(flows)
    rows = []
    for k in source.tolist():
        rows.append(flows[k][position[k]])
        position[k] += 1
    return rows
