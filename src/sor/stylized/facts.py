"""The stylized facts of one venue's book, or of all venues together (docs/stats.md).

Every fact is computed from the top of the book after each row (:class:`Book`), with
numpy only. A venue's facts are measured on its own book; the overall ones on the
consolidated book: rates and trade signs pooled over venues, spreads, sizes and turnover
pooled over venues' time, and prices (the OFI regression's and the markouts' mid) from the
NBBO, the highest bid and lowest ask of the venues' last quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sor.core.defaults import (
    DEFAULT_STATS_HORIZONS_S,
    DEFAULT_STATS_INTERVALS_S,
    DEFAULT_STATS_LAGS,
    DEFAULT_TICK,
)
from sor.core.domain import NANOS_PER_SECOND, dollars_to_nanos
from sor.core.uncertainty import clustered_standard_error
from sor.stylized.book import Book

VOLATILITY_INTERVAL_S = 60.0
"""The interval of the mid's volatility: a minute."""


@dataclass(frozen=True)
class FactSettings:
    """What ``sor stats`` measures.

    Attributes
    ----------
    tick_nanos
        The price grid, nano-dollars (0.01 $ = 10,000,000).
    lags
        Trade-sign autocorrelation lags 1..``lags``.
    intervals_s
        Interval lengths of the OFI regression, seconds.
    horizons_s
        Markout horizons, seconds.
    """

    tick_nanos: int = dollars_to_nanos(DEFAULT_TICK)
    lags: int = DEFAULT_STATS_LAGS
    intervals_s: tuple[float, ...] = DEFAULT_STATS_INTERVALS_S
    horizons_s: tuple[float, ...] = DEFAULT_STATS_HORIZONS_S


@dataclass
class Sums:
    """Time-weighted sums of one venue, added up over venues for the overall facts.

    ``seconds`` is the time both sides were quoted; ``spread`` and the sizes are integrals
    over that time (ticks x s, shares x s); ``one_tick`` the seconds the spread was one
    tick; the ``depleted`` ones are shares that left the best level (:func:`_depleted`).
    """

    seconds: float = 0.0
    spread: float = 0.0
    one_tick: float = 0.0
    bid_size: float = 0.0
    ask_size: float = 0.0
    bid_depleted: float = 0.0
    ask_depleted: float = 0.0

    def add(self, other: Sums) -> None:
        """Add ``other``'s sums to these."""
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True)
class SpreadTimes:
    """How long the spread stood at each value while both sides were quoted: distinct
    spreads (ticks, ascending) and their seconds, pooled over venues for the overall facts."""

    ticks: np.ndarray
    seconds: np.ndarray

    @classmethod
    def of(cls, parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> SpreadTimes:
        """Pool ``(spreads, seconds)`` pairs: the seconds of equal spreads add up."""
        ticks = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
        seconds = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        keep = seconds > 0
        values, where = np.unique(ticks[keep], return_inverse=True)
        return cls(values, np.bincount(where, weights=seconds[keep], minlength=len(values)))

    def median(self) -> float | None:
        """The time-weighted median spread: the least spread that the quote stood at or
        below for at least half the time (None without such time)."""
        if not len(self.ticks):
            return None
        held = np.cumsum(self.seconds)
        return float(self.ticks[min(int(np.searchsorted(held, held[-1] / 2)), len(held) - 1)])


@dataclass(frozen=True)
class Prices:
    """A mid price as a step function of time: ``mid[i]`` holds from ``ts[i]`` on (ticks)."""

    ts: np.ndarray
    mid: np.ndarray

    def before(self, times: np.ndarray) -> np.ndarray:
        """The mid just before each of ``times`` (NaN where none is known)."""
        return self._at(np.searchsorted(self.ts, times, side="left") - 1)

    def at(self, times: np.ndarray) -> np.ndarray:
        """The mid after every row at or before each of ``times`` (NaN where none is)."""
        return self._at(np.searchsorted(self.ts, times, side="right") - 1)

    def _at(self, index: np.ndarray) -> np.ndarray:
        out = np.full(len(index), np.nan)
        known = index >= 0
        out[known] = self.mid[index[known]]
        return out


@dataclass
class Facts:
    """The facts of one venue or of the whole file, what the figure plots, and what the
    overall facts take from each venue's (its trade events, OFI per interval and quotes)."""

    values: dict[str, object]
    sums: Sums = field(default_factory=Sums)
    ofi_points: tuple[np.ndarray, np.ndarray] | None = None
    trade_ts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    trade_sign: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    flows: dict[float, np.ndarray] = field(default_factory=dict)
    quotes: Quotes | None = None
    rows: int = 0
    trade_rows: int = 0
    spreads: SpreadTimes = field(default_factory=lambda: SpreadTimes.of([]))


def venue_facts(book: Book, settings: FactSettings, t0: int, t1: int) -> Facts:
    """Return the facts of one venue's rows ``book`` (in time order) over ``[t0, t1]`` (ns)."""
    sums = _sums(book, settings)
    spreads = _spread_times(book, settings)
    trades_ts, trades_sign = trade_events(book.ts, book.trade, book.sign)
    prices = venue_prices(book, settings)
    flows = binned_ofi(book.ts, row_ofi(book), settings, t0, t1)
    regressions, points = _regressions(flows, prices, settings, t0)
    values = _common(len(book), int(book.trade.sum()), trades_sign, sums, spreads, t0, t1,
                     settings)  # fmt: skip
    values["ofi"] = regressions
    values.update(_markouts(trades_ts, trades_sign, prices, settings, t1))
    values.update(_volatility(prices, t0, t1))
    return Facts(values=values, sums=sums, ofi_points=points, trade_ts=trades_ts,
                 trade_sign=trades_sign, flows=flows, quotes=Quotes.of(book), rows=len(book),
                 trade_rows=int(book.trade.sum()), spreads=spreads)  # fmt: skip


def overall_facts(venues: Sequence[Facts], settings: FactSettings, t0: int, t1: int) -> Facts:
    """Return the facts of the whole file from each venue's over ``[t0, t1]`` (ns).

    Trade events are pooled in time order (stable: venue order among equal times), the OFI
    of each interval is the sum of the venues', and prices are the NBBO's.
    """
    sums = Sums()
    for facts in venues:
        sums.add(facts.sums)
    trade_ts = np.concatenate([facts.trade_ts for facts in venues])
    order = np.argsort(trade_ts, kind="stable")
    trade_ts = trade_ts[order]
    trade_sign = np.concatenate([facts.trade_sign for facts in venues])[order]
    flows = {seconds: np.sum([facts.flows[seconds] for facts in venues], axis=0)
             for seconds in settings.intervals_s}  # fmt: skip
    prices = Nbbo([facts.quotes for facts in venues if facts.quotes is not None],
                  settings.tick_nanos)  # fmt: skip
    regressions, points = _regressions(flows, prices, settings, t0)
    rows = sum(facts.rows for facts in venues)
    trade_rows = sum(facts.trade_rows for facts in venues)
    spreads = SpreadTimes.of([(f.spreads.ticks, f.spreads.seconds) for f in venues])
    values = _common(rows, trade_rows, trade_sign, sums, spreads, t0, t1, settings)
    values["ofi"] = regressions
    values.update(_markouts(trade_ts, trade_sign, prices, settings, t1))
    values.update(_volatility(prices, t0, t1))
    return Facts(values=values, sums=sums, ofi_points=points, spreads=spreads)


def trade_events(
    ts: np.ndarray, trade: np.ndarray, sign: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the time and aggressor sign of each trade event of one venue's rows.

    The trade rows of one venue at one ``ts_event`` are one event (an order sweeping the
    level prints several rows); its sign is its first row's. Events without an aggressor
    (side ``N``) are dropped.
    """
    rows = np.flatnonzero(trade)
    times = ts[rows]
    first = np.ones(len(rows), dtype=bool)
    first[1:] = times[1:] != times[:-1]
    signs = sign[rows][first]
    signed = signs != 0
    return times[first][signed], signs[signed].astype(np.int64)


def autocorrelation(signs: np.ndarray, lags: int) -> dict[str, float | None]:
    """Return the correlation of ``signs[i]`` with ``signs[i + k]`` for k = 1..``lags``.

    The Pearson correlation of the pairs ``lags`` apart (None when it is undefined: fewer
    than three pairs, or one side constant), so that alternating signs give exactly -1.
    """
    out: dict[str, float | None] = {}
    x = signs.astype(np.float64)
    for lag in range(1, lags + 1):
        out[str(lag)] = _correlation(x[:-lag], x[lag:]) if len(x) > lag + 2 else None
    return out


def row_ofi(book: Book) -> np.ndarray:
    """Return each row's order-flow imbalance contribution e_n (Cont, Kukanov & Stoikov).

    ``e_n = q^B_n 1{P^B_n >= P^B_{n-1}} - q^B_{n-1} 1{P^B_n <= P^B_{n-1}}
    - q^A_n 1{P^A_n <= P^A_{n-1}} + q^A_{n-1} 1{P^A_n >= P^A_{n-1}}``, shares, over
    consecutive rows of one venue; 0 for the first row and where either row lacks a side.
    """
    bp, ap = book.bid_px, book.ask_px
    bq, aq = book.bid_sz.astype(np.float64), book.ask_sz.astype(np.float64)
    e = np.zeros(len(bp))
    if len(bp) < 2:
        return e
    valid = (bp[1:] > 0) & (ap[1:] > 0) & (bp[:-1] > 0) & (ap[:-1] > 0)
    bid = np.where(bp[1:] >= bp[:-1], bq[1:], 0.0) - np.where(bp[1:] <= bp[:-1], bq[:-1], 0.0)
    ask = np.where(ap[1:] <= ap[:-1], aq[1:], 0.0) - np.where(ap[1:] >= ap[:-1], aq[:-1], 0.0)
    e[1:] = np.where(valid, bid - ask, 0.0)
    return e


def venue_prices(book: Book, settings: FactSettings) -> Prices:
    """Return one venue's mid (ticks) after each row where both sides are quoted."""
    quoted = (book.bid_px > 0) & (book.ask_px > 0)
    mid = (book.bid_px[quoted] + book.ask_px[quoted]) / (2.0 * settings.tick_nanos)
    return Prices(ts=book.ts[quoted], mid=mid)


@dataclass(frozen=True)
class Quotes:
    """One venue's best bid and ask (nano-dollars) from ``ts[i]`` on, two-sided rows only."""

    ts: np.ndarray
    bid: np.ndarray
    ask: np.ndarray

    @classmethod
    def of(cls, book: Book) -> Quotes:
        """Return the quotes of one venue's rows ``book``."""
        quoted = (book.bid_px > 0) & (book.ask_px > 0)
        return cls(ts=book.ts[quoted], bid=book.bid_px[quoted], ask=book.ask_px[quoted])


@dataclass(frozen=True)
class Nbbo:
    """The NBBO mid (ticks): the highest bid and lowest ask of the venues' last two-sided
    quotes, a venue counting once it has quoted; evaluated at the times asked only."""

    venues: Sequence[Quotes]
    tick_nanos: int

    def before(self, times: np.ndarray) -> np.ndarray:
        """The mid just before each of ``times`` (NaN where no venue has quoted)."""
        return self._mid(times, "left")

    def at(self, times: np.ndarray) -> np.ndarray:
        """The mid after every row at or before each of ``times``."""
        return self._mid(times, "right")

    def _mid(self, times: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
        bid = np.full(len(times), -np.inf)
        ask = np.full(len(times), np.inf)
        for venue in self.venues:
            index = np.searchsorted(venue.ts, times, side=side) - 1
            known = index >= 0
            bid[known] = np.maximum(bid[known], venue.bid[index[known]])
            ask[known] = np.minimum(ask[known], venue.ask[index[known]])
        with np.errstate(invalid="ignore"):
            mid = (bid + ask) / (2.0 * self.tick_nanos)
        mid[~(np.isfinite(bid) & np.isfinite(ask))] = np.nan
        return mid


def ofi_regression(ofi: np.ndarray, change: np.ndarray) -> dict[str, float | int | None]:
    """Regress the mid change (ticks) on OFI (shares) by least squares with an intercept.

    Returns the slope (ticks per share), R^2 and the number of intervals; slope and R^2
    are None when undefined (fewer than three intervals, or no variation).
    """
    n = len(ofi)
    if n < 3 or np.ptp(ofi) == 0:
        return {"slope": None, "r2": None, "intervals": n}
    x = ofi - ofi.mean()
    y = change - change.mean()
    slope = float(x @ y / (x @ x))
    r = _correlation(ofi, change)
    return {"slope": slope, "r2": None if r is None else r * r, "intervals": n}


def binned_ofi(
    ts: np.ndarray, ofi: np.ndarray, settings: FactSettings, t0: int, t1: int
) -> dict[float, np.ndarray]:
    """Sum the rows' OFI over each interval of each length: interval k of length w holds
    the rows in ``(t0 + k w, t0 + (k+1) w]``, the whole intervals inside ``[t0, t1]``."""
    flows = {}
    for seconds in settings.intervals_s:
        width = _width(seconds)
        count = (t1 - t0) // width
        k = (ts - t0 - 1) // width
        inside = (k >= 0) & (k < count)
        flows[seconds] = np.bincount(k[inside], weights=ofi[inside], minlength=count)[:count]
    return flows


def _regressions(
    flows: dict[float, np.ndarray], prices: Prices | Nbbo, settings: FactSettings, t0: int
) -> tuple[dict[str, object], tuple[np.ndarray, np.ndarray] | None]:
    """The OFI regression at each interval length; the points of the one nearest 10 s.

    The mid at a bound is the one after every row at or before it."""
    out: dict[str, object] = {}
    points = None
    nearest = min(settings.intervals_s, key=lambda s: abs(s - 10.0))
    for seconds in settings.intervals_s:
        flow = flows[seconds]
        bounds = t0 + _width(seconds) * np.arange(len(flow) + 1, dtype=np.int64)
        change = np.diff(prices.at(bounds))
        known = np.isfinite(change)
        out[_key(seconds)] = ofi_regression(flow[known], change[known])
        if seconds == nearest:
            points = (flow[known], change[known])
    return out, points


def _width(seconds: float) -> int:
    """An interval's length in ns (at least 1)."""
    return max(1, round(seconds * NANOS_PER_SECOND))


def _volatility(prices: Prices | Nbbo, t0: int, t1: int) -> dict[str, object]:
    """The root mean square of the mid's changes over whole ``VOLATILITY_INTERVAL_S``
    intervals from ``t0`` (the mid after every row at or before a bound), bps of the mean
    mid; None from fewer than two intervals with a mid at both ends."""
    width = _width(VOLATILITY_INTERVAL_S)
    bounds = t0 + width * np.arange((t1 - t0) // width + 1, dtype=np.int64)
    mid = prices.at(bounds)
    change = np.diff(mid)
    known = np.isfinite(change)
    level = mid[np.isfinite(mid)]
    value = None
    if known.sum() >= 2 and len(level) and level.mean() > 0:
        value = float(np.sqrt(np.mean(change[known] ** 2)) / level.mean() * 1e4)
    key = _key(VOLATILITY_INTERVAL_S)
    return {"volatility_bps": {key: value}, "volatility_intervals": {key: int(known.sum())}}


def _markouts(
    ts: np.ndarray, sign: np.ndarray, prices: Prices | Nbbo, settings: FactSettings, t1: int
) -> dict[str, object]:
    """Mean mid move (bps of the mid before the trade) ``h`` seconds after each trade event,
    times its sign: positive when the price went on in the aggressor's direction."""
    before = prices.before(ts)
    means: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    errors: dict[str, float | None] = {}
    blocks: dict[str, int] = {}
    for seconds in settings.horizons_s:
        later = ts + round(seconds * NANOS_PER_SECOND)
        after = prices.at(later)
        use = (later <= t1) & np.isfinite(before) & np.isfinite(after) & (before > 0)
        moves = sign[use] * (after[use] - before[use]) / before[use] * 1e4
        means[_key(seconds)] = float(moves.mean()) if len(moves) else None
        counts[_key(seconds)] = int(use.sum())
        # trade signs persist and markouts of trades less than a horizon apart share the
        # mid's moves: trades of one horizon-long block of time are one unit, not many
        error = clustered_standard_error(moves, np.ones(len(moves)), ts[use] // _width(seconds))
        errors[_key(seconds)] = error.standard_error
        blocks[_key(seconds)] = error.clusters
    return {"markout_bps": means, "markout_trades": counts, "markout_se_bps": errors,
            "markout_blocks": blocks}  # fmt: skip


def _sums(book: Book, settings: FactSettings) -> Sums:
    """Time-weighted spread, sizes and depletion of one venue's rows."""
    sums = Sums()
    if len(book) < 2:
        return sums
    dt = np.diff(book.ts).astype(np.float64) / NANOS_PER_SECOND  # how long each row held
    quoted = ((book.bid_px > 0) & (book.ask_px > 0))[:-1]
    spread = (book.ask_px - book.bid_px)[:-1] / settings.tick_nanos
    weight = np.where(quoted, dt, 0.0)
    sums.seconds = float(weight.sum())
    sums.spread = float(weight @ spread)
    sums.one_tick = float(weight @ (np.abs(spread - 1.0) < 1e-9))
    sums.bid_size = float(weight @ book.bid_sz[:-1].astype(np.float64))
    sums.ask_size = float(weight @ book.ask_sz[:-1].astype(np.float64))
    sums.bid_depleted = _depleted(book.bid_px, book.bid_sz, away=-1)
    sums.ask_depleted = _depleted(book.ask_px, book.ask_sz, away=1)
    return sums


def _spread_times(book: Book, settings: FactSettings) -> SpreadTimes:
    """How long one venue's spread stood at each value, over the time both sides were
    quoted (each row's quote holding until the venue's next row)."""
    if len(book) < 2:
        return SpreadTimes.of([])
    dt = np.diff(book.ts).astype(np.float64) / NANOS_PER_SECOND
    quoted = ((book.bid_px > 0) & (book.ask_px > 0))[:-1]
    spread = (book.ask_px - book.bid_px)[:-1] / settings.tick_nanos
    return SpreadTimes.of([(spread[quoted], dt[quoted])])


def _depleted(px: np.ndarray, sz: np.ndarray, away: int) -> float:
    """Shares that left the best level: size drops at an unchanged price, plus the whole
    level when the price moved away from the touch (``away``: -1 for bids, +1 for asks)."""
    same = (px[1:] == px[:-1]) & (px[1:] > 0)
    gone = (np.sign(px[1:] - px[:-1]) == away) & (px[:-1] > 0)
    drop = np.maximum(sz[:-1].astype(np.int64) - sz[1:], 0)
    return float(np.where(same, drop, 0).sum() + np.where(gone, sz[:-1], 0).sum())


def _common(
    rows: int,
    trade_rows: int,
    signs: np.ndarray,
    sums: Sums,
    spreads: SpreadTimes,
    t0: int,
    t1: int,
    settings: FactSettings,
) -> dict[str, object]:
    """The facts that need no prices: rates, spread, sizes, turnover, sign persistence."""
    seconds = (t1 - t0) / NANOS_PER_SECOND
    held = sums.seconds

    def per(value: float, span: float) -> float | None:
        return value / span if span > 0 else None

    bid_size, ask_size = per(sums.bid_size, held), per(sums.ask_size, held)
    return {
        "rows": rows,
        "trade_rows": trade_rows,
        "trades": len(signs),
        "messages_per_s": per(rows, seconds),
        "trades_per_s": per(len(signs), seconds),
        "spread_ticks": {
            "mean": per(sums.spread, held),
            "median": spreads.median(),
            "share_one_tick": per(sums.one_tick, held),
        },
        "best_size": {"bid": bid_size, "ask": ask_size},
        "queue_turnover_s": {
            "bid": per(sums.bid_size, sums.bid_depleted),
            "ask": per(sums.ask_size, sums.ask_depleted),
        },
        "trade_sign_autocorrelation": autocorrelation(signs, settings.lags),
    }


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    dx, dy = x - x.mean(), y - y.mean()
    norm = float(np.sqrt((dx @ dx) * (dy @ dy)))
    if norm == 0.0:
        return None
    return float(np.clip((dx @ dy) / norm, -1.0, 1.0))


def _key(seconds: float) -> str:
    """Write a number of seconds as a JSON key: ``1``, ``10``, ``0.5``."""
    return f"{seconds:g}"
