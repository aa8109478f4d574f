"""Markouts of fills against the NBBO mid, and the realised cost split of a strategy.

A fill's markout ``h`` seconds on is the NBBO mid's move from the fill to ``h`` seconds
later, in bps of the mid at the fill, signed so that a cost is positive (the mid fell
after a buy, rose after a sell). The fill study (``sor fills``) and every backtest report
(docs/report.md, "markouts") read it from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from sor.core.domain import (
    MAX_PUBLISHER_ID,
    NANOS_PER_DOLLAR,
    NANOS_PER_SECOND,
    Fill,
    dollars_to_nanos,
)

MARKOUT_HORIZONS_S = (1, 10, 60)
"""Seconds after a fill at which its markout is measured."""

SNAPSHOT_MID = (
    "NBBO mid of the snapshots: the highest bid and the lowest ask over every venue's "
    "latest snapshot, after every row of the fill's ts_event (the state the replay acts on)"
)
EVENT_MID = (
    "NBBO mid of the venues' complete books (F_LAST rows other than trades and fills): "
    "the highest bid and the lowest ask over each venue's latest one at or before the time"
)

_NO_ASK = 2**62


@dataclass(frozen=True)
class TopOfBook:
    """Every venue's best bid and ask row by row, in ``ts`` order: what an NBBO is read from.

    Prices are nano-dollars, 0 (or less) where the row shows no price on that side; each
    row replaces its venue's quote.
    """

    ts: np.ndarray
    publisher_id: np.ndarray
    bid_px: np.ndarray
    ask_px: np.ndarray

    @classmethod
    def of_snapshots(cls, snapshots: np.ndarray) -> TopOfBook:
        """Read ``SNAPSHOT_DTYPE`` rows (sorted by ``ts_event``) without copying them."""
        return cls(snapshots["ts_event"], snapshots["publisher_id"], snapshots["bid_px"],
                   snapshots["ask_px"])  # fmt: skip

    @classmethod
    def of_events(cls, events: np.ndarray) -> TopOfBook:
        """Read the complete books of ``EVENT_DTYPE`` rows (sorted by ``ts_event``): a trade
        row's book is the one before the trade (:func:`sor.data.events.complete_books`)."""
        from sor.data.events import complete_books

        # the four columns alone: a whole event row (ten levels a side) is ten times larger
        keep = complete_books(events)
        return cls(events["ts_event"][keep], events["publisher_id"][keep],
                   events["bid_px"][:, 0][keep], events["ask_px"][:, 0][keep])  # fmt: skip

    @property
    def end_ns(self) -> int | None:
        """Time of the last row (ns), or None without rows: no markout reaches past it."""
        return int(self.ts[-1]) if len(self.ts) else None

    def mids_at(self, ns: np.ndarray) -> np.ndarray:
        """Return the NBBO mid ($) after every row at or before each time of ``ns``; NaN
        until both sides show a price."""
        bid, ask = self.nbbo_at(ns)
        both = (bid > 0) & (ask > 0)
        out = np.full(len(bid), np.nan)
        out[both] = (bid[both] + ask[both]) / 2 / 1e9
        return out

    def nbbo_at(self, ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the NBBO best bid and best ask (nano-dollars, 0 where no venue shows
        one) after every row at or before each time of ``ns``."""
        query = np.asarray(ns, dtype=np.int64).reshape(-1)
        order = np.argsort(query, kind="stable")
        bid, ask = np.empty(len(query), np.int64), np.empty(len(query), np.int64)
        bid[order], ask[order] = _nbbo_kernel(self.ts, self.publisher_id, self.bid_px,
                                              self.ask_px, np.ascontiguousarray(query[order]))  # fmt: skip
        return bid, ask


@numba.njit(cache=True, nogil=True)
def _nbbo_kernel(ts, publisher_id, bid_px, ask_px, query):
    """One pass over the rows, stopping at each query time (ascending) to read the NBBO:
    memory follows the queries, not the rows (a long file's snapshots are many)."""
    size = MAX_PUBLISHER_ID + 1
    bid = np.zeros(size, np.int64)
    ask = np.zeros(size, np.int64)
    known = np.zeros(size, np.bool_)
    seen = np.empty(size, np.int64)
    n_seen = 0
    out_bid = np.zeros(len(query), np.int64)
    out_ask = np.zeros(len(query), np.int64)
    r = 0
    for k in range(len(query)):
        while r < len(ts) and ts[r] <= query[k]:
            p = publisher_id[r]
            if not known[p]:
                known[p] = True
                seen[n_seen] = p
                n_seen += 1
            bid[p] = bid_px[r]
            ask[p] = ask_px[r]
            r += 1
        best_bid = 0
        best_ask = _NO_ASK
        for i in range(n_seen):
            p = seen[i]
            best_bid = max(best_bid, bid[p])
            if 0 < ask[p] < best_ask:
                best_ask = ask[p]
        out_bid[k] = best_bid
        out_ask[k] = best_ask if best_ask < _NO_ASK else 0
    return out_bid, out_ask


def mark_out(
    fill_ns: np.ndarray, sign: int, book: TopOfBook, horizons_s: Sequence[float]
) -> tuple[np.ndarray, dict[float, np.ndarray]]:
    """Return the mid at each fill ($) and, per horizon, each fill's markout that many
    seconds on, in bps of the mid at the fill, positive when the mid moved against the
    order (down after a buy, ``sign`` = 1; up after a sell, ``sign`` = -1); NaN where the
    data ends first or no mid is known. One pass over the book for every horizon."""
    fill_ns = np.asarray(fill_ns, dtype=np.int64)
    later = [fill_ns + int(h * NANOS_PER_SECOND) for h in horizons_s]
    mids = book.mids_at(np.concatenate([fill_ns, *later])).reshape(1 + len(later), len(fill_ns))
    now, end = mids[0], book.end_ns
    marks = {}
    for h, at, then in zip(horizons_s, later, mids[1:], strict=True):
        moved = sign * (now - then) / now * 10_000
        marks[h] = np.where(at <= end if end is not None else False, moved, np.nan)
    return now, marks


def markouts_bps(fill_ns: np.ndarray, sign: int, book: TopOfBook, after_s: float) -> np.ndarray:
    """Return each fill's markout ``after_s`` seconds on (see :func:`mark_out`)."""
    return mark_out(fill_ns, sign, book, (after_s,))[1][after_s]


def share_weighted(values: np.ndarray, shares: np.ndarray) -> float | None:
    """Return the mean of ``values`` weighted by ``shares``, NaN values left out; None
    when none is left."""
    known = ~np.isnan(values)
    if not known.any() or not shares[known].sum():
        return None
    return float(np.average(values[known], weights=shares[known]))


@dataclass(frozen=True)
class FillLog:
    """One strategy's fills as arrays: time (ns), shares, price and fee per share
    (nano-dollars; the fee is what the fill paid, a rebate earned is negative)."""

    ts_ns: np.ndarray
    qty: np.ndarray
    price_nanos: np.ndarray
    fee_nanos: np.ndarray

    @classmethod
    def of_rows(cls, rows: Iterable[tuple[int, int, int, int]]) -> FillLog:
        """Build from ``(ts ns, shares, price nanos, fee nanos)`` rows."""
        table = np.array(list(rows), dtype=np.int64).reshape(-1, 4)
        return cls(*(np.ascontiguousarray(table[:, j]) for j in range(4)))

    @classmethod
    def of_fills(cls, fills: Iterable[Fill]) -> FillLog:
        """Build from a snapshot strategy's fills (each pays its taker fee)."""
        return cls.of_rows(
            (f.ts_event, f.quantity, dollars_to_nanos(f.price), dollars_to_nanos(f.fee))
            for f in fills
        )


def strategy_markouts(fills: FillLog, sign: int, book: TopOfBook) -> dict[str, Any]:
    """Return a strategy's entry of the report's ``markouts.strategies``: its fills and
    shares, the shares measured at each horizon and their share-weighted markout (bps)."""
    marks = mark_out(fills.ts_ns, sign, book, MARKOUT_HORIZONS_S)[1]
    return {
        "fills": len(fills.qty),
        "shares": int(fills.qty.sum()),
        "shares_measured": {str(h): int(fills.qty[~np.isnan(m)].sum()) for h, m in marks.items()},
        "markout_bps": {str(h): share_weighted(m, fills.qty) for h, m in marks.items()},
    }


def cost_split(
    fills: FillLog, sign: int, book: TopOfBook, arrival_mid: float | None = None
) -> dict[str, Any]:
    """Return the realised cost of ``fills`` per share, in bps of each fill's mid,
    positive = a cost: ``spread_bps`` (the price against the mid at the fill),
    ``fees_bps`` (fees paid less rebates earned), ``adverse_selection_bps`` (the markout)
    and ``total_bps`` (their sum) per horizon. With ``arrival_mid`` ($), also the same
    split in bps of it, with the mid's move from arrival to each fill, whose total is the
    implementation shortfall.

    Spread and fees average every fill with a known mid; a horizon's adverse selection
    only the fills it measures, so its total stands for every fill as if the unmeasured
    ones were marked out alike.
    """
    mid, marks = mark_out(fills.ts_ns, sign, book, MARKOUT_HORIZONS_S)
    price = fills.price_nanos / NANOS_PER_DOLLAR
    fee = fills.fee_nanos / NANOS_PER_DOLLAR
    spread = share_weighted(sign * (price - mid) / mid * 10_000, fills.qty)
    fees = share_weighted(fee / mid * 10_000, fills.qty)
    adverse = {str(h): share_weighted(m, fills.qty) for h, m in marks.items()}
    split: dict[str, Any] = {
        "spread_bps": spread,
        "fees_bps": fees,
        "adverse_selection_bps": adverse,
        "total_bps": {h: _sum(spread, fees, a) for h, a in adverse.items()},
    }
    if arrival_mid:
        known = ~np.isnan(mid)
        parts = {
            "spread_bps": sign * (price - mid),
            "fees_bps": fee,
            "mid_move_bps": sign * (mid - arrival_mid),
        }
        share = fills.qty[known].sum()
        averaged = {
            name: float(np.dot(value[known], fills.qty[known]) / share / arrival_mid * 10_000)
            if share
            else None
            for name, value in parts.items()
        }
        split["vs_arrival"] = {**averaged, "total_bps": _sum(*averaged.values())}
    return split


def _sum(*parts: float | None) -> float | None:
    """Return the sum of ``parts``, or None when any is None."""
    known = [p for p in parts if p is not None]
    return float(sum(known)) if len(known) == len(parts) else None


def markouts_section(
    mid: str, book: TopOfBook, sign: int, fills: Mapping[str, FillLog]
) -> dict[str, Any]:
    """Return the report's ``markouts`` object: the horizons, the mid's definition and one
    entry per strategy, in the order of ``fills``."""
    return {
        "horizons_s": list(MARKOUT_HORIZONS_S),
        "mid": mid,
        "strategies": {name: strategy_markouts(log, sign, book) for name, log in fills.items()},
    }
