"""The replay loop of docs/semantics.md sections 3 to 6, compiled with numba.

One market, many strategies: each run keeps its own copy of the state (latest quote of every
venue and the size our own fills consumed there) and walks the distinct ``ts_event`` values
in order, first applying that timestamp's rows and then acting once. Money is integer
nano-dollars. Kernels release the GIL, so parameter sets run in parallel threads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from sor.core.domain import NANOS_PER_DOLLAR, SNAPSHOT_DTYPE, Fill, StrategyResult, nanos_to_dollars
from sor.core.errors import SorError
from sor.core.timestamps import format_timestamp
from sor.core.types import Side
from sor.static.allocator import TOO_LARGE, check_notional, static_split, too_large_message


@dataclass(frozen=True)
class MarketArrays:
    """Snapshots laid out for the kernels.

    ``venues`` holds the distinct publisher ids in ascending order; ``venue`` maps each row
    to its position there, which is also the router's venue order. Rows of the distinct
    timestamp ``g`` are ``group_start[g]:group_start[g + 1]``, at time ``group_ts[g]``.
    ``quote_px`` and ``quote_sz`` are the side an order takes: the asks for a buy, the bids
    for a sell (``sell``).
    """

    venues: np.ndarray
    venue: np.ndarray
    quote_px: np.ndarray
    quote_sz: np.ndarray
    group_start: np.ndarray
    group_ts: np.ndarray
    sell: bool = False

    @classmethod
    def from_snapshots(cls, snapshots: np.ndarray, side: Side | str = Side.BUY) -> MarketArrays:
        """Lay out ``SNAPSHOT_DTYPE`` rows, already in processing order, for a ``side``
        order (a :class:`Side`, or its name)."""
        if snapshots.dtype != SNAPSHOT_DTYPE:
            raise TypeError(f"expected SNAPSHOT_DTYPE rows, got {snapshots.dtype}")
        ts = snapshots["ts_event"]
        venues = np.unique(snapshots["publisher_id"])
        boundaries = np.flatnonzero(np.diff(ts)) + 1
        group_start = np.concatenate(([0], boundaries, [len(ts)])).astype(np.int64)
        laid_out = cls(
            venues=venues.astype(np.int64),
            venue=np.searchsorted(venues, snapshots["publisher_id"]).astype(np.int64),
            quote_px=np.empty(0, dtype=np.int64),
            quote_sz=np.empty(0, dtype=np.int64),
            group_start=group_start,
            group_ts=ts[group_start[:-1]].astype(np.int64) if len(ts) else ts[:0].copy(),
        )
        return laid_out.on_side(snapshots, side)

    def on_side(self, snapshots: np.ndarray, side: Side | str) -> MarketArrays:
        """Return these arrays for a ``side`` order on the same ``snapshots``: the quotes it
        takes are its own, the venues and timestamps shared (not copied)."""
        sell = Side.parse(side) is Side.SELL
        return dataclasses.replace(
            self,
            quote_px=np.ascontiguousarray(snapshots["bid_px" if sell else "ask_px"]),
            quote_sz=np.ascontiguousarray(snapshots["bid_sz" if sell else "ask_sz"]),
            sell=sell,
        )

    def between(self, first: int, stop: int) -> MarketArrays:
        """Return the arrays of timestamps ``first`` to ``stop - 1`` (``first < stop``),
        equal to :meth:`from_snapshots` of their rows alone.

        The quotes and timestamps are views; only the rows' positions among the groups are
        new, and the venue positions where a venue has no row in the cut. Many orders on one
        market cut it this way instead of laying out their windows each.
        """
        lo, hi = int(self.group_start[first]), int(self.group_start[stop])
        venue = self.venue[lo:hi]
        present = np.bincount(venue, minlength=len(self.venues)) > 0
        venues = self.venues
        if not present.all():  # positions follow the venues of the cut, as a read of it
            venues = venues[present]
            venue = (np.cumsum(present) - 1)[venue]
        return MarketArrays(
            venues=venues,
            venue=venue,
            quote_px=self.quote_px[lo:hi],
            quote_sz=self.quote_sz[lo:hi],
            group_start=self.group_start[first : stop + 1] - lo,
            group_ts=self.group_ts[first:stop],
            sell=self.sell,
        )

    @property
    def n_timestamps(self) -> int:
        """Number of distinct ``ts_event`` values."""
        return len(self.group_ts)


@dataclass(frozen=True)
class RunOutput:
    """Raw result of one kernel run: totals, the completing timestamp index, the fills."""

    cash_nanos: int
    filled: int
    completion_group: int
    fill_group: np.ndarray
    fill_venue: np.ndarray
    fill_qty: np.ndarray
    fill_px: np.ndarray

    def to_result(
        self,
        name: str,
        order_size: int,
        market: MarketArrays,
        fee_nanos: np.ndarray,
        *,
        with_fills: bool = True,
    ) -> StrategyResult:
        """Convert to a ``StrategyResult`` with fills in dollars and real timestamps; without
        them (``with_fills=False``) where only the totals are kept."""
        fills = tuple(
            Fill(
                ts_event=int(market.group_ts[g]),
                publisher_id=int(market.venues[v]),
                quantity=int(q),
                price=nanos_to_dollars(int(p)),
                fee=nanos_to_dollars(int(fee_nanos[v])),
            )
            for g, v, q, p in zip(
                self.fill_group, self.fill_venue, self.fill_qty, self.fill_px, strict=True
            )
        ) if with_fills else ()  # fmt: skip
        completion = (
            int(market.group_ts[self.completion_group]) if self.completion_group >= 0 else None
        )
        return StrategyResult(
            name=name,
            order_size=order_size,
            total_fill=self.filled,
            total_cash_nanos=self.cash_nanos,
            completion_ts=completion,
            fills=fills,
        )


@numba.njit(cache=True, nogil=True)
def _fill_capacity(order_size: int, n_groups: int, n_venues: int) -> int:
    # Every fill buys at least one share and a timestamp has at most one fill per venue.
    return max(0, min(order_size, n_groups * n_venues))


@numba.njit(cache=True, nogil=True)
def _apply_rows(g, group_start, venue, quote_px, quote_sz, px, size, consumed):
    """Apply the rows of timestamp ``g``: each replaces its venue's quote and resets the
    size our fills consumed there."""
    for r in range(group_start[g], group_start[g + 1]):
        v = venue[r]
        px[v] = quote_px[r]
        size[v] = quote_sz[r]
        consumed[v] = 0


@numba.njit(cache=True, nogil=True)
def _route_orders(remaining, px, size, consumed, fee_nanos, scratch, buy_venue, buy_qty, sell):
    """Split ``remaining`` with the static allocator over the venues with liquidity, in
    publisher id order; return how many orders were written, or ``TOO_LARGE``.
    ``scratch`` is a (5, venues) work array allocated once per run, not per timestamp."""
    n_venues = len(px)
    cand_venue, cand_px, cand_size, cand_fee, split = (
        scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
    )  # fmt: skip
    k = 0
    for v in range(n_venues):
        available = size[v] - consumed[v]
        if px[v] > 0 and available > 0:
            cand_venue[k] = v
            cand_px[k] = px[v]
            cand_size[k] = available
            cand_fee[k] = fee_nanos[v]
            k += 1
    if k == 0:
        return 0
    status = static_split(remaining, cand_px[:k], cand_size[:k], cand_fee[:k], split[:k], sell)
    if status < 0:
        return status  # NO_SPLIT: nothing to send; TOO_LARGE: the run stops
    n = 0
    for i in range(k):
        if split[i] > 0:
            buy_venue[n] = cand_venue[i]
            buy_qty[n] = split[i]
            n += 1
    return n


@numba.njit(cache=True, nogil=True)
def sweep_orders(want, px, size, consumed, order, buy_venue, buy_qty, sell):
    """Take ``want`` shares from the best quotes, by (ask price, position) for a buy and
    (bid price descending, position) for a sell; return how many orders were written.

    The one sweep of displayed liquidity: the replay's baselines sweep one quote per venue
    (positions follow publisher id), and model ck's marketable orders sweep a book's
    (venue, level) quotes flattened in that order (``sor.ck.queue.sweep``). ``order`` is a
    work array of one slot per quote; nothing is consumed here."""
    n_venues = len(px)
    sign = -1 if sell else 1
    # insertion sort of a few venues; positions already follow publisher id, so a stable
    # sort on price is the (price, publisher id) order
    k = 0
    for v in range(n_venues):
        if px[v] > 0 and size[v] - consumed[v] > 0:
            j = k
            while j > 0 and sign * px[order[j - 1]] > sign * px[v]:
                order[j] = order[j - 1]
                j -= 1
            order[j] = v
            k += 1
    n = 0
    for i in range(k):
        if want <= 0:
            break
        q = min(want, size[order[i]] - consumed[order[i]])
        buy_venue[n] = order[i]
        buy_qty[n] = q
        want -= q
        n += 1
    return n


@numba.njit(cache=True, nogil=True)
def _take(n, size, consumed, venue, qty):
    """Execute the first ``n`` orders: cap each by what is shown, consume it, and keep the
    fills (a positive quantity) in place at the front; return how many there are."""
    m = 0
    for i in range(n):
        v = venue[i]
        q = min(qty[i], size[v] - consumed[v])  # fills are capped by what is shown
        if q <= 0:
            continue
        consumed[v] += q
        venue[m] = v
        qty[m] = q
        m += 1
    return m


@numba.njit(cache=True, nogil=True)
def route_step(remaining, px, size, consumed, fee_nanos, scratch, venue, qty, sell):
    """Act once as the static router on a state: split ``remaining`` and execute it.

    The state is one slot per venue in publisher id order: quote ``px`` and ``size``, what
    our fills ``consumed`` since the venue's row, and its fee (nano-dollars). Writes the
    fills into ``venue`` and ``qty`` and returns their count, or ``TOO_LARGE``. The replay
    and the live router on a stream both act through this step. ``scratch`` is a
    (5, venues) work array."""
    n = _route_orders(remaining, px, size, consumed, fee_nanos, scratch, venue, qty, sell)
    if n == TOO_LARGE:
        return n
    return _take(max(n, 0), size, consumed, venue, qty)


@numba.njit(cache=True, nogil=True)
def _replay_kernel(
    venue, quote_px, quote_sz, group_start, n_venues, fee_nanos, order_size, targets, route, sell
):
    """Walk the timestamps; ``route`` picks the static router, else a sweep to ``targets``.
    A sell's cash is its proceeds, net of fees."""
    n_groups = len(group_start) - 1
    px = np.zeros(n_venues, dtype=np.int64)
    size = np.zeros(n_venues, dtype=np.int64)
    consumed = np.zeros(n_venues, dtype=np.int64)
    buy_venue = np.empty(n_venues, dtype=np.int64)
    buy_qty = np.empty(n_venues, dtype=np.int64)
    scratch = np.empty((5, n_venues), dtype=np.int64)
    cap = _fill_capacity(order_size, n_groups, n_venues)
    f_group = np.empty(cap, dtype=np.int64)
    f_venue = np.empty(cap, dtype=np.int64)
    f_qty = np.empty(cap, dtype=np.int64)
    f_px = np.empty(cap, dtype=np.int64)
    n_fills = 0
    # cash = cash_dollars * 1e9 + cash_nanos, 0 <= cash_nanos < 1e9: exact past int64 nanos
    cash_dollars = 0
    cash_nanos = 0
    filled = 0
    completion = -1
    status = 0
    fee_sign = -1 if sell else 1
    for g in range(n_groups):
        _apply_rows(g, group_start, venue, quote_px, quote_sz, px, size, consumed)
        if filled >= order_size:
            break
        if route:
            n = _route_orders(
                order_size - filled,
                px,
                size,
                consumed,
                fee_nanos,
                scratch,
                buy_venue,
                buy_qty,
                sell,
            )
            if n == TOO_LARGE:
                status = TOO_LARGE
                completion = g
                break
            n = max(n, 0)
        else:
            want = min(targets[g], order_size) - filled
            if want <= 0:
                continue
            n = sweep_orders(want, px, size, consumed, scratch[0], buy_venue, buy_qty, sell)
        n = _take(n, size, consumed, buy_venue, buy_qty)
        for i in range(n):
            v = buy_venue[i]
            q = buy_qty[i]
            filled += q
            # q < 2**32 and the nano part < 1e9, so neither product passes int64; the caller
            # bounds order_size * dollars per share (``check_notional``)
            # floor division keeps 0 <= nano part < 1e9 when a sell's bid - fee is negative
            unit = px[v] + fee_sign * fee_nanos[v]
            cash_dollars += q * (unit // NANOS_PER_DOLLAR)
            cash_nanos += q * (unit % NANOS_PER_DOLLAR)
            cash_dollars += cash_nanos // NANOS_PER_DOLLAR
            cash_nanos %= NANOS_PER_DOLLAR
            f_group[n_fills] = g
            f_venue[n_fills] = v
            f_qty[n_fills] = q
            f_px[n_fills] = px[v]
            n_fills += 1
        if filled >= order_size:
            completion = g
            break
    return (
        status,
        cash_dollars,
        cash_nanos,
        filled,
        completion,
        f_group[:n_fills],
        f_venue[:n_fills],
        f_qty[:n_fills],
        f_px[:n_fills],
    )


@numba.njit(cache=True, nogil=True)
def _displayed_size_kernel(venue, quote_px, quote_sz, group_start, n_venues, lot):
    n_groups = len(group_start) - 1
    px = np.zeros(n_venues, dtype=np.int64)
    size = np.zeros(n_venues, dtype=np.int64)
    consumed = np.zeros(n_venues, dtype=np.int64)
    out = np.zeros(n_groups, dtype=np.int64)
    for g in range(n_groups):
        _apply_rows(g, group_start, venue, quote_px, quote_sz, px, size, consumed)
        total = 0
        for v in range(n_venues):
            if px[v] > 0 and size[v] > 0:
                total += size[v] - size[v] % lot
        out[g] = total
    return out


def _output(raw: tuple[Any, ...], market: MarketArrays, order_size: int) -> RunOutput:
    status, dollars, nanos, filled, completion, f_group, f_venue, f_qty, f_px = raw
    if status == TOO_LARGE:
        when = format_timestamp(int(market.group_ts[completion]))
        raise SorError(f"at {when}: {too_large_message(order_size - int(filled))}")
    cash = int(dollars) * NANOS_PER_DOLLAR + int(nanos)
    return RunOutput(cash, int(filled), int(completion), f_group, f_venue, f_qty, f_px)


def _replay(
    market: MarketArrays, fee_nanos: np.ndarray, order_size: int, targets: np.ndarray, route: bool
) -> RunOutput:
    return _output(
        _replay_kernel(
            market.venue,
            market.quote_px,
            market.quote_sz,
            market.group_start,
            len(market.venues),
            fee_nanos,
            order_size,
            np.ascontiguousarray(targets, dtype=np.int64),
            route,
            market.sell,
        ),
        market,
        order_size,
    )


def check_market_notional(market: MarketArrays, fee_nanos: np.ndarray, order_size: int) -> None:
    """Raise ``SorError`` before any replay when ``order_size`` shares at the market's
    dearest ask plus fee could not be summed exactly (see ``check_notional``). For a sell
    the bids stand in: ``bid + fee`` bounds both ``|fee - bid|`` and ``bid - fee``."""
    low, high = _ask_range_per_venue(market.venue, market.quote_px, len(market.venues))
    quoted = high > 0
    if not quoted.any():
        return
    units_high = high[quoted] + fee_nanos[quoted]
    units_low = low[quoted] + fee_nanos[quoted]
    check_notional(order_size, int(units_high.max()), int(units_low.min()))


@numba.njit(cache=True, nogil=True)
def _ask_range_per_venue(
    venue: np.ndarray, ask_px: np.ndarray, n_venues: int
) -> tuple[np.ndarray, np.ndarray]:
    """Least and greatest positive ask of each venue (0 and 0 where it never quotes), in
    one pass: the market is long, and temporaries as long as it cost memory."""
    low = np.zeros(n_venues, dtype=np.int64)
    high = np.zeros(n_venues, dtype=np.int64)
    for i in range(len(ask_px)):
        price = ask_px[i]
        if price <= 0:
            continue
        v = venue[i]
        if high[v] == 0 or price < low[v]:
            low[v] = price
        high[v] = max(high[v], price)
    return low, high


def run_router(market: MarketArrays, fee_nanos: np.ndarray, order_size: int) -> RunOutput:
    """Run the static router (docs/semantics.md section 5) over the whole market.

    The risk parameters are not arguments: no candidate split ever under- or over-fills,
    so they cannot change the allocation (see ``sor.static.allocator``).
    """
    return _replay(market, fee_nanos, order_size, np.zeros(0, dtype=np.int64), route=True)


def run_sweep(
    market: MarketArrays, fee_nanos: np.ndarray, order_size: int, targets: np.ndarray
) -> RunOutput:
    """Sweep best quotes at each timestamp up to the cumulative target of that timestamp.

    ``targets[g]`` is the number of shares the strategy wants bought in total once
    timestamp ``g`` has been processed (``order_size`` everywhere for ``best_ask``).
    """
    return _replay(market, fee_nanos, order_size, targets, route=False)


def displayed_size(market: MarketArrays, lot: int = 1) -> np.ndarray:
    """Return, per timestamp, the displayed size of the side the order takes (asks for a
    buy, bids for a sell) summed over every venue in the state, in shares.

    With ``lot`` each venue's size counts rounded down to whole lots of that many shares:
    at ``STEP`` it is the most the static router could send at that timestamp.
    """
    return np.asarray(
        _displayed_size_kernel(
            market.venue,
            market.quote_px,
            market.quote_sz,
            market.group_start,
            len(market.venues),
            lot,
        )
    )
