"""A slow, literal implementation of docs/semantics.md, independent of the product's code path.

It parses the CSV with the standard library, keeps money as ``Decimal`` and routes with the
brute-force allocator, so agreement with the product checks the reader, the compiled replay
loop and the fast allocator together. A sell (``side="sell"``) reads the bids, earns
``bid - fee`` a share, sweeps the highest bids first and routes for the least ``fee - bid``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from brute_force import brute_force_allocate
from sor.core.domain import VenueQuote

MINUTE_NS = 60_000_000_000


@dataclass
class RefResult:
    total_cash: Decimal
    total_fill: int

    @property
    def avg_fill_px(self) -> Decimal | None:
        return self.total_cash / self.total_fill if self.total_fill else None


def _ts(text: str) -> int:
    from datetime import UTC, datetime

    body, frac = text.rstrip("Z").split(".")
    moment = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000_000 + int(frac.ljust(9, "0"))


def load_rows(
    path: Path, start: int | None = None, end: int | None = None, side: str = "buy"
) -> list[dict]:
    """The kept rows of the window; ``px``/``sz`` hold the quote the order takes."""
    quote = "bid" if side == "sell" else "ask"
    with path.open(newline="") as handle:
        rows = []
        for row in csv.DictReader(handle):
            ts = _ts(row["ts_event"])
            if (start is not None and ts < start) or (end is not None and ts > end):
                continue
            rows.append(
                {
                    "ts": ts,
                    "pub": int(row["publisher_id"]),
                    "px": row[f"{quote}_px_00"],
                    "sz": row[f"{quote}_sz_00"],
                }
            )
    seen = set()
    kept = []
    for row in rows:
        key = (row["ts"], row["pub"])
        if key not in seen:
            seen.add(key)
            kept.append(row)
    kept.sort(key=lambda r: r["ts"])  # Python's sort is stable
    return kept


def _quote(row: dict) -> tuple[Decimal, int] | None:
    try:
        price = Decimal(row["px"])
        size = int(row["sz"])
    except (ArithmeticError, ValueError):
        return None
    if not price.is_finite() or price <= 0 or size <= 0:
        return None
    return price, size


def replay(rows: list[dict], fees: dict[int, Decimal], act, side: str = "buy") -> RefResult:
    """Walk the timestamps; ``act(ts, state, consumed)`` returns ``[(venue, qty)]`` to trade."""
    sign = -1 if side == "sell" else 1
    state: dict[int, tuple[Decimal, int] | None] = {}
    consumed: dict[int, int] = {}
    result = RefResult(Decimal(0), 0)
    i = 0
    while i < len(rows):
        ts = rows[i]["ts"]
        while i < len(rows) and rows[i]["ts"] == ts:
            state[rows[i]["pub"]] = _quote(rows[i])
            consumed[rows[i]["pub"]] = 0
            i += 1
        for venue, qty in act(ts, state, consumed, result):
            price, size = state[venue]
            take = min(qty, size - consumed[venue])
            consumed[venue] += take
            result.total_fill += take
            result.total_cash += take * (price + sign * fees[venue])
    return result


def available(state, consumed):
    return {v: (q[0], q[1] - consumed[v]) for v, q in state.items() if q and q[1] - consumed[v] > 0}


def router(order_size: int, fees: dict[int, Decimal], side: str = "buy"):
    def act(ts, state, consumed, result):
        remaining = order_size - result.total_fill
        venues = sorted(available(state, consumed).items())
        if remaining <= 0 or not venues:
            return []
        quotes = [VenueQuote(float(px), size, float(fees[v]), 0.002) for v, (px, size) in venues]
        allocation = brute_force_allocate(remaining, quotes, 0.4, 0.4, 0.4, sell=side == "sell")
        return [(v, q) for (v, _), q in zip(venues, allocation.split, strict=False) if q > 0]

    return act


def sweep(target_of, side: str = "buy"):
    sign = -1 if side == "sell" else 1

    def act(ts, state, consumed, result):
        want = target_of(ts) - result.total_fill
        orders = []
        for v, (_px, size) in sorted(
            available(state, consumed).items(), key=lambda x: (sign * x[1][0], x[0])
        ):
            if want <= 0:
                break
            take = min(want, size)
            orders.append((v, take))
            want -= take
        return orders

    return act


def buckets(start: int, end: int) -> tuple[int, callable]:
    n = max(1, math.ceil((end - start) / MINUTE_NS))
    return n, lambda ts: min((ts - start) // MINUTE_NS, n - 1)


def twap(order_size: int, start: int, end: int, side: str = "buy"):
    n, bucket = buckets(start, end)
    return sweep(lambda ts: order_size * (bucket(ts) + 1) // n, side)


def vwap(order_size: int, rows: list[dict], start: int, end: int, side: str = "buy"):
    n, bucket = buckets(start, end)
    weights = [0] * n
    state: dict[int, tuple[Decimal, int] | None] = {}
    i = 0
    while i < len(rows):
        ts = rows[i]["ts"]
        while i < len(rows) and rows[i]["ts"] == ts:
            state[rows[i]["pub"]] = _quote(rows[i])
            i += 1
        weights[bucket(ts)] += sum(q[1] for q in state.values() if q)
    total = sum(weights)
    cumulative = [sum(weights[: k + 1]) for k in range(n)]
    return sweep(
        lambda ts: order_size * cumulative[bucket(ts)] // total if total else order_size, side
    )
