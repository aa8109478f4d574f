"""The same passive orders through hftbacktest (2.4), for the agreement test.

Our events become hftbacktest's feed per venue (one asset each): a venue's complete book
(:func:`sor.data.events.complete_books`) becomes depth events for the levels that changed,
a level gone from within the visible range a depth event of 0 (levels beyond it stay as
they were, as our simulator leaves them); a trade row becomes a trade event whose side is
the aggressor's (side ``N``: a sell at or below the row's best bid, a buy at or above its
best ask, as our simulator reads it). Zero feed and order latency.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hftbacktest import (
    BUY_EVENT,
    DEPTH_EVENT,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest.order import GTX, LIMIT
from hftbacktest.types import event_dtype

from sor.ck.fills import Orders
from sor.ck.queue import DISPLAYED, WHOLE
from sor.data.events import complete_books

RULES = {"displayed": DISPLAYED, "whole": WHOLE}
"""Our fill rules (crossing asks and trades, ``sor.ck.queue``) and hftbacktest's."""

TICK = 0.01
D = 1e9
QUARTER = 0.25
"""Each order asks a quarter share more than ours, in lots of a quarter: hftbacktest 2.4.4's
partial-fill exchange leaves an order whose fill equals its remainder exactly in its price
level, and the next trade there stops the backtest (``InvalidOrderStatus``); with a quarter
share left over, fills never equal the remainder, and every fill is still whole shares
(trade and book sizes are), so the whole shares filled are the comparison's."""


def _side_levels(prices: np.ndarray, sizes: np.ndarray) -> dict[int, int]:
    return {int(p): int(s) for p, s in zip(prices, sizes, strict=True) if p > 0}


def _depth_changes(old: dict[int, int], new: dict[int, int], bid: bool) -> list[tuple[int, int]]:
    """The (price, size) updates that take ``old`` visible levels to ``new`` ones."""
    out = [(p, s) for p, s in new.items() if old.get(p) != s]
    if not new:
        return out + [(p, 0) for p in old]
    deepest = min(new) if bid else max(new)
    inside = (lambda p: p >= deepest) if bid else (lambda p: p <= deepest)
    return out + [(p, 0) for p in old if p not in new and inside(p)]


def feed(events: np.ndarray, venue: int) -> np.ndarray:
    """Return hftbacktest's events for one venue index of ``events`` (with ``venue``)."""
    mine = events[events["venue"] == venue]
    complete = complete_books(mine)
    rows: list[tuple[int, int, float, float]] = []
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    for row, whole in zip(mine, complete, strict=True):
        ts = int(row["ts_event"])
        if row["action"] == b"T":
            best_bid, best_ask = int(row["bid_px"][0]), int(row["ask_px"][0])
            px = int(row["price"])
            side = row["side"]
            if side == b"N":
                side = (
                    b"A" if 0 < px <= best_bid else (b"B" if best_ask and px >= best_ask else b"")
                )
            if side in (b"A", b"B"):
                flag = SELL_EVENT if side == b"A" else BUY_EVENT
                rows.append((TRADE_EVENT | flag, ts, px / D, float(row["size"])))
        elif whole:
            new_bids = _side_levels(row["bid_px"], row["bid_sz"])
            new_asks = _side_levels(row["ask_px"], row["ask_sz"])
            for p, s in _depth_changes(bids, new_bids, bid=True):
                rows.append((DEPTH_EVENT | BUY_EVENT, ts, p / D, float(s)))
            for p, s in _depth_changes(asks, new_asks, bid=False):
                rows.append((DEPTH_EVENT | SELL_EVENT, ts, p / D, float(s)))
            bids, asks = new_bids, new_asks
    out = np.zeros(len(rows), dtype=event_dtype)
    for i, (ev, ts, px, qty) in enumerate(rows):
        out[i] = (ev | EXCH_EVENT | LOCAL_EVENT, ts, ts, px, qty, 0, 0, 0.0)
    return out


def _exchange(asset: BacktestAsset) -> BacktestAsset:
    return (
        asset.partial_fill_exchange()
        .trading_value_fee_model(0.0, 0.0)
        .tick_size(TICK)
        .lot_size(QUARTER)
        .last_trades_capacity(0)
    )


def run(
    events: np.ndarray,
    n_venues: int,
    orders: Orders,
    checks: tuple[np.ndarray, np.ndarray],
    probabilistic: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``orders`` (post-only limit buys at each venue's best bid) through hftbacktest's
    partial-fill exchange with its ``RiskAdverseQueueModel`` (or, ``probabilistic``, its
    ``PowerProbQueueModel`` with n = 1, our probabilistic model's law); return each order's
    filled whole shares, and the whole shares filled by each check ``(time ns, order)`` of
    ``checks`` (after the events up to that time)."""
    # hftbacktest reads the feeds through raw pointers: they must outlive the backtest
    feeds = [feed(events, v) for v in range(n_venues)]
    assets = []
    for v in range(n_venues):
        asset = BacktestAsset().data(feeds[v]).linear_asset(1.0).constant_order_latency(0, 0)
        if probabilistic:
            asset = asset.power_prob_queue_model(1.0)
        else:
            asset = asset.risk_adverse_queue_model()
        assets.append(_exchange(asset))
    hbt = HashMapMarketDepthBacktest(assets)
    n = len(orders)
    filled = np.zeros(n, np.int64)
    checked = np.zeros(len(checks[0]), np.int64)
    # at one moment: checks, then cancellations, then placements
    times = np.concatenate((checks[0], orders.cancel_ns, orders.place_ns))
    step = np.repeat([0, 1, 2], [len(checks[0]), n, n])
    which = np.concatenate((checks[1], np.arange(n), np.arange(n)))
    hbt.elapse(0)  # starts the clock at the first event
    for k in np.lexsort((step, times)):
        now = int(hbt.current_timestamp)
        if times[k] > now and hbt.elapse(int(times[k]) - now) not in (0, 1):
            raise RuntimeError("hftbacktest stopped on an error")
        o, v = int(which[k]), int(orders.venue[which[k]])
        order = hbt.orders(v).get(o + 1)
        if step[k] == 2:
            depth = hbt.depth(v)
            if depth.best_bid_tick > -(2**62):  # the venue has a bid
                qty = float(orders.qty[o]) + QUARTER
                hbt.submit_buy_order(v, o + 1, depth.best_bid, qty, GTX, LIMIT, True)
        elif order is not None:
            done = int(order.qty - order.leaves_qty)  # the quarter share never counts
            if step[k] == 0:
                checked[k] = done
            else:
                filled[o] = done
                if order.cancellable:
                    hbt.cancel(v, o + 1, True)
    hbt.close()
    return filled, checked


def _fill_moments(ours: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Our fill moments as (order, time ns) columns, with the shares each order had before
    and got at each (several trade rows of one event may share a moment)."""
    moments, at = np.unique(np.stack((ours.fill_order, ours.fill_ns)), axis=1, return_index=True)
    after = np.add.reduceat(ours.fill_qty, at) if len(at) else np.zeros(0, np.int64)
    before = np.cumsum(after) - after
    before -= before[np.searchsorted(moments[0], moments[0])]  # per order
    return moments, before, after


def _identical(
    ours: Any, theirs: np.ndarray, moments: np.ndarray, before: np.ndarray, after: np.ndarray,
    at_before: np.ndarray, at_after: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Which orders got identical fills: the same shares, and at each of our fill moments
    hftbacktest had the same shares just before and at it."""
    agree = (at_before == before) & (at_after == before + after)
    same: np.ndarray = ours.filled == theirs
    same[moments[0][~agree]] = False
    return same


def _fills_by_order(ours: Any, n: int) -> list[tuple[tuple[int, int], ...]]:
    """Each order's shares filled per moment as (time ns, shares) pairs, in time order
    (several fills at one moment count as one: the comparison sees moments)."""
    out: list[dict[int, int]] = [{} for _ in range(n)]
    for o, t, q in zip(ours.fill_order, ours.fill_ns, ours.fill_qty, strict=True):
        out[int(o)][int(t)] = out[int(o)].get(int(t), 0) + int(q)
    return [tuple(sorted(f.items())) for f in out]


def compare(
    events: np.ndarray, venues: np.ndarray, orders: Orders, probabilistic: bool = False
) -> dict[str, Any]:
    """Run ``orders`` through hftbacktest and through our simulator under each set of fill
    rules (:data:`RULES`; conservative queue model unless ``probabilistic``).

    An order is identical when it filled the same shares, each of our fills at the same
    event in both. Under ``whole`` (hftbacktest's rules) an order is ``same`` or
    ``unexplained``; under ``displayed`` (ours) it is ``same``, ``rule`` (our rules change
    its fills, and with hftbacktest's the order is identical: asks came down to its price
    with less than its remainder, a trade went through its price with less than its
    remainder, or a trade at its price was not all displayed) or ``unexplained``. Returns per rule the counts, the
    orders of each kind, the number of orders that filled the same shares (at whatever
    moments) and our fills; hftbacktest's shares filled per order; and ``switched``, the
    orders whose fills the rule changes."""
    from sor.ck.fills import simulate
    from sor.ck.queue import CONSERVATIVE, PROBABILISTIC
    from sor.ck.router import CKSettings

    model = PROBABILISTIC if probabilistic else CONSERVATIVE
    ours = {
        name: simulate(events, venues, orders,
                       CKSettings(queue_model=model, crossing_fill=rule, trade_fill=rule))
        for name, rule in RULES.items()
    }  # fmt: skip
    moments = {name: _fill_moments(o) for name, o in ours.items()}
    # hftbacktest's shares filled, checked just before and at each moment one of ours fills
    # under either rule: one backtest serves both
    times = [np.concatenate((m[0][1] - 1, m[0][1])) for m in moments.values()]
    which = [np.tile(m[0][0], 2) for m in moments.values()]
    theirs, at_checks = run(events, len(venues), orders,
                            (np.concatenate(times), np.concatenate(which)), probabilistic)  # fmt: skip
    same: dict[str, np.ndarray] = {}
    offset = 0
    for name, (m, before, after) in moments.items():
        k = len(before)
        at_before, at_after = at_checks[offset : offset + k], at_checks[offset + k : offset + 2 * k]
        same[name] = _identical(ours[name], theirs, m, before, after, at_before, at_after)
        offset += 2 * k
    n = len(orders)
    fills = {name: _fills_by_order(o, n) for name, o in ours.items()}
    switched = np.array([a != b for a, b in zip(fills["displayed"], fills["whole"], strict=True)],
                        dtype=bool).reshape(n)  # fmt: skip
    capped = ~same["displayed"] & switched & same["whole"]
    kinds = {
        "displayed": {"same": same["displayed"], "rule": capped,
                      "unexplained": ~same["displayed"] & ~capped},
        "whole": {"same": same["whole"], "unexplained": ~same["whole"]},
    }  # fmt: skip
    return {
        name: {
            "counts": {k: int(v.sum()) for k, v in kinds[name].items()},
            "orders": {k: np.flatnonzero(v) for k, v in kinds[name].items()},
            "same_shares": int((ours[name].filled == theirs).sum()),
            "ours": ours[name],
        }
        for name in RULES
    } | {"theirs": theirs, "switched": np.flatnonzero(switched)}
