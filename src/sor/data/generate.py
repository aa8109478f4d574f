"""The synthetic market: a seeded multi-venue order book written as a Databento MBP CSV.

Model
-----
- A shared efficient price on a one-cent grid (the NBBO bid in cents, the ask one cent
  above) moves at Poisson times: unpredictable moves (a random walk, optionally drifting)
  and moves pushed by the order flow of metaorders (price impact).
- Metaorders follow one another with Pareto durations; a share of trades goes the running
  metaorder's way (persistent, long-memory trade signs), a share knows the efficient
  price's next move (informed flow), the rest are fair coins (:class:`FlowModel`,
  docs/generate.md).
- Each venue keeps a ten-level book per side on consecutive cents. Its best bid and ask sit
  at, or a few ticks away from, the efficient quotes; when the efficient price moves, the
  venue's book follows on its next event.
- Level sizes are lognormal (mostly round lots, occasionally very large).
- Events per venue arrive in clusters (Poisson cluster times; several rows may share one
  ``ts_event``, as trades sweeping a level do in the real file): adds, cancellations and
  trades on both sides. Rows follow Databento's convention (docs/ck.md): an add or
  cancellation row carries the book after its event, a trade row the book *before* the
  trade, whose effect shows on the venue's next row; ``flags`` carries ``F_LAST`` (with
  bit 2, as the real sample: 130) on the last row of each cluster, and a cluster never ends
  with a trade, so the book is complete at every ``F_LAST``. Sizes are consistent from row
  to row: a trade of ``q`` at an unchanged bid shows the bid size lowered by ``q`` on the
  next row; a cancellation lowers its level by the cancelled size; an exhausted best level
  moves the quote.
- Rows of all venues are interleaved in ``ts_recv`` order; ``ts_recv = ts_event +
  ts_in_delta``, so ``ts_event`` can step back between venues, as in real files.

Layout: exactly the columns, order and number formatting of Databento's ``l1_day.csv``
(ISO-8601 timestamps with nanoseconds and ``Z``, prices in shortest decimal form).
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numba
import numpy as np
import polars as pl

from sor.core.defaults import DEFAULT_DURATION_S, DEFAULT_START
from sor.core.domain import NANOS_PER_SECOND, VENUE_NAMES
from sor.core.errors import ConfigError

PUBLISHERS: dict[int, str] = dict(VENUE_NAMES)
"""Databento publisher ids of the modelled venues, in the order ``--venues N`` takes them."""

VENUE_ORDER = (2, 9, 43, 5, 8, 38)
LEVELS = 10
DEFAULT_DURATION_NS = DEFAULT_DURATION_S * NANOS_PER_SECOND
PERIOD_NS = 300 * NANOS_PER_SECOND
"""Each venue's simulation starts afresh from its own seed every five minutes of
``ts_event``; a period's rows of all venues are sorted together."""
CHUNK_ROWS = 8192
"""Most rows one venue's simulation hands over at a time: with the rows waiting for the
other venues and the batch being written, the generator's memory is a few of these (about
400 bytes a row) per venue, whatever the length of the file."""
MAX_CLUSTER_ROWS = 9
"""Most rows of one cluster: eight, and one more to show a last trade's effect."""
INSTRUMENT_ID = 38
"""The ``instrument_id`` of the default symbol, AAPL; another symbol gets its own
(:func:`instrument_id`), as a Databento dataset numbers each instrument."""
START_BID_CENTS = 22281
MBO_STREAM = 0x4D424F
"""Mixed into the seed of the venues' order queues (``schema="mbo"``): their draws are a
stream of their own, so the rows are those of the MBP file with the same seed."""

ACTIONS = np.array(["A", "C", "T"])
SIDES = np.array(["B", "A", "N"])
_ADD, _CANCEL, _TRADE = 0, 1, 2
_BID, _ASK = 0, 1


METAORDER_ALPHA = 1.5
"""Tail exponent of the metaorders' Pareto durations (Lillo and Farmer's order-flow model:
trade signs then have autocorrelation decaying as lag ** -0.5)."""
IMPACT_DECAY = (2.0 - METAORDER_ALPHA) / 2.0
"""The impact's decay of a fitted market: a propagator decaying as ``t ** -0.25`` offsets
sign autocorrelation decaying as ``lag ** -0.5`` (Bouchaud, Gefen, Potters and Wyart,
2004: ``beta = (1 - gamma) / 2``), so the price stays diffusive."""


@dataclass(frozen=True)
class FlowModel:
    """Who trades and how prices answer: the adverse selection of the generated market.

    Attributes
    ----------
    informed
        Share of trades that know the efficient price's next move and trade its way.
    metaorder_share
        Share of trades sent by the running metaorder, in its direction: the persistence
        of trade signs.
    metaorder_seconds
        Mean duration of a metaorder, seconds (Pareto, tail exponent ``METAORDER_ALPHA``).
    impact
        Share of the efficient price's moves pushed by the metaorders' flow (in the running
        metaorder's direction); the others are unpredictable.
    drift
        Bias of the unpredictable moves: each is up with probability ``0.5 + drift``.
    impact_decay
        0: the impact's moves are permanent. Above 0, each is undone after a delay with
        ``P(delay > t) = (1 + t / metaorder_seconds) ** -impact_decay`` (a power-law
        propagator); :data:`IMPACT_DECAY` keeps the price diffusive under the metaorders'
        long memory (docs/generate.md, "Adverse selection").
    """

    informed: float = 0.15
    metaorder_share: float = 0.7
    metaorder_seconds: float = 2.0
    impact: float = 0.2
    drift: float = 0.0
    impact_decay: float = 0.0

    @classmethod
    def off(cls) -> FlowModel:
        """Return the market without adverse selection: fair-coin trade signs, an
        exogenous random-walk efficient price (the model of earlier versions)."""
        return cls(informed=0.0, metaorder_share=0.0, impact=0.0)

    def check(self) -> None:
        """Raise ``ConfigError`` unless every value is in range."""
        for name in ("informed", "metaorder_share", "impact", "impact_decay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {value}")
        if self.informed + self.metaorder_share > 1.0:
            raise ConfigError(
                f"informed + metaorder share must be at most 1, got {self.informed} + "
                f"{self.metaorder_share}"
            )
        if not 0.0 < self.metaorder_seconds <= MAX_METAORDER_SECONDS:
            raise ConfigError(
                f"metaorder seconds must be in (0, {MAX_METAORDER_SECONDS:g}], "
                f"got {self.metaorder_seconds}"
            )
        if not -MAX_DRIFT <= self.drift <= MAX_DRIFT:
            raise ConfigError(
                f"drift must be between -{MAX_DRIFT} and {MAX_DRIFT}, got {self.drift}"
            )


(V_RATE, V_CLUSTER, V_EFFECT_ROWS, V_ADDS, V_QUOTES, V_REQUOTE, V_SIZE_SCALE, V_TRADE_MEDIAN,
 V_TRADE_SIGMA, V_ADD_LEVEL, V_CANCEL_LEVEL, V_LATENCY_NS, V_FOLLOW, V_LEVEL_TICKS,
 V_IMPROVE, V_ADD_SIZE, V_CANCEL_SIZE, V_TRADE_TILT, V_HIDDEN) = range(19)  # fmt: skip
"""Indices of :meth:`VenueModel.values`, the venue's model as the simulation reads it."""


@dataclass(frozen=True)
class VenueModel:
    """How one venue's book lives: its activity, quotes and sizes (docs/generate.md).

    The defaults are the default market's venue; ``sor generate --like`` fits one per venue
    of a real file (:mod:`sor.stylized.fit`).

    Attributes
    ----------
    publisher_id
        The venue's ``publisher_id``.
    rate
        Rows per second.
    mean_cluster
        Mean rows of one cluster of events (rows sharing a ``ts_event``; up to 8).
    effect_rows
        Rows added per cluster to show a last trade's effect, about the share of clusters
        that end with a trade: clusters come that much less often, keeping ``rate``.
    adds, cancels
        Shares of an event's kind: add, cancellation; the rest are trades.
    requote
        Chance, per event, that the venue draws new quote offsets from the efficient quotes.
    follow
        Chance that a cluster whose venue's quotes are off the efficient ones moves them
        there (1: every cluster does; lower: quotes lag the price, and the best levels
        turn over less often).
    spread_ticks
        Quantiles of the venue's spread in ticks, at equally spaced probabilities from 0 to
        1; empty: each side 0 (70 %), 1 or 2 ticks from the efficient quotes.
    size_scale
        Multiplies the median size of every level drawn (a level the quote moves to, or
        one coming into view).
    add_size_median, cancel_size_median
        Median shares of an add and of a cancellation (lognormal, log-sd 0.8; most sizes
        in round lots), before a level's size caps a cancellation.
    trade_size_median, trade_size_sigma
        Lognormal trade sizes (median shares, log-sd), before the level's size caps them.
    add_level_mean, cancel_level_mean
        Mean of the exponential from which an add's or cancellation's level is drawn
        (floored; 0 is the best level).
    level_ticks
        Ticks between the book's levels (1: consecutive cents): an exhausted best level
        moves the quote this far.
    improve
        Share of adds that improve the best price by one level (when the spread is wider
        than a level), starting a new best level of their own size.
    hidden
        Share of trades against hidden liquidity inside the spread (when it is wider than
        a tick): they print at a price strictly between the best bid and ask and leave the
        displayed book as it was, as LOBSTER's hidden executions and IEX's midpoint trades
        do.
    latency_us
        Median ``ts_in_delta``, microseconds.
    """

    publisher_id: int
    rate: float = 111.0
    mean_cluster: float = 1.6
    effect_rows: float = 0.21
    adds: float = 0.44
    cancels: float = 0.36
    requote: float = 0.05
    follow: float = 1.0
    spread_ticks: tuple[float, ...] = ()
    size_scale: float = 1.0
    add_size_median: float = 100.0
    cancel_size_median: float = 100.0
    trade_size_median: float = 90.0
    trade_size_sigma: float = 0.9
    add_level_mean: float = 2.0
    cancel_level_mean: float = 2.0
    level_ticks: int = 1
    improve: float = 0.0
    hidden: float = 0.0
    latency_us: float = 170.0

    def values(self, rate_scale: float = 1.0) -> np.ndarray:
        """The model as the simulation reads it (indexed by the ``V_`` constants), with its
        rate times ``rate_scale``."""
        values = np.zeros(19)  # V_TRADE_TILT: the market's (Bursts), set by generate_market
        values[V_RATE] = self.rate * rate_scale
        values[V_CLUSTER] = self.mean_cluster
        values[V_EFFECT_ROWS] = self.effect_rows
        values[V_ADDS] = self.adds
        values[V_QUOTES] = self.adds + self.cancels
        values[V_REQUOTE] = self.requote
        values[V_FOLLOW] = self.follow
        values[V_SIZE_SCALE] = self.size_scale
        values[V_TRADE_MEDIAN] = self.trade_size_median
        values[V_TRADE_SIGMA] = self.trade_size_sigma
        values[V_ADD_LEVEL] = self.add_level_mean
        values[V_CANCEL_LEVEL] = self.cancel_level_mean
        values[V_LATENCY_NS] = self.latency_us * 1000.0
        values[V_LEVEL_TICKS] = self.level_ticks
        values[V_IMPROVE] = self.improve
        values[V_ADD_SIZE] = self.add_size_median
        values[V_CANCEL_SIZE] = self.cancel_size_median
        values[V_HIDDEN] = self.hidden
        return values

    def check(self) -> None:
        """Raise ``ConfigError`` unless every value is in range."""
        where = f"venue {self.publisher_id}"
        if not 0 <= self.publisher_id < 2**16:
            raise ConfigError(f"{where}: publisher_id must be between 0 and 65535")
        positive = ("rate", "size_scale", "add_size_median", "cancel_size_median",
                    "trade_size_median", "add_level_mean",
                    "cancel_level_mean", "latency_us")  # fmt: skip
        for name in positive:
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ConfigError(f"{where}: {name} must be a positive number, got {value}")
        # past these the simulation's integer levels and receive times would overflow
        for name, cap in (("add_level_mean", MAX_LEVEL_MEAN),
                          ("cancel_level_mean", MAX_LEVEL_MEAN),
                          ("latency_us", MAX_LATENCY_US)):  # fmt: skip
            if getattr(self, name) > cap:
                raise ConfigError(f"{where}: {name} must be at most {cap:g}")
        if len(self.spread_ticks) > MAX_SPREAD_QUANTILES:
            raise ConfigError(
                f"{where}: spread_ticks must hold at most {MAX_SPREAD_QUANTILES} quantiles"
            )
        if not 1.0 <= self.mean_cluster <= 8.0:
            raise ConfigError(f"{where}: mean_cluster must be between 1 and 8")
        if not 0.0 <= self.effect_rows <= 1.0:
            raise ConfigError(f"{where}: effect_rows must be between 0 and 1")
        if not 1 <= self.level_ticks <= MAX_MOVE_TICKS:
            raise ConfigError(f"{where}: level_ticks must be between 1 and {MAX_MOVE_TICKS}")
        for name in ("adds", "cancels", "requote", "follow", "improve", "hidden"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{where}: {name} must be between 0 and 1")
        if self.adds + self.cancels > 1.0 + 1e-12:
            raise ConfigError(f"{where}: adds + cancels must be at most 1")
        if not 0.0 <= self.trade_size_sigma <= 5.0:
            raise ConfigError(f"{where}: trade_size_sigma must be between 0 and 5")
        spread = np.asarray(self.spread_ticks, dtype=float)
        if len(spread) == 1 or (len(spread) and (
            not np.all(np.isfinite(spread)) or spread[0] < 1 or np.any(np.diff(spread) < 0)
            or spread[-1] > MAX_SPREAD_TICKS
        )):  # fmt: skip
            raise ConfigError(
                f"{where}: spread_ticks must be empty or at least two ascending quantiles "
                f"from 1 to {MAX_SPREAD_TICKS}"
            )


@dataclass(frozen=True)
class Bursts:
    """Market-wide bursts of activity: a regime that is busy a share ``share`` of the time,
    in busy spells of mean ``seconds`` (exponential; quiet spells of mean ``seconds * (1 -
    share) / share``), with every venue's rate ``ratio`` times faster busy than quiet (its
    mean unchanged), and trades a larger part of the events when busy: the trades' share of
    an event times the multiplier to the power ``trade_tilt``. The efficient price's moves
    come at their rate times the multiplier to the power ``move_tilt`` (0: an even pace;
    the mean rate unchanged).

    Real activity comes in bursts: on the AMZN day the trades of 10 s have a variance 10
    times their mean (1 for a Poisson process), and a third of 10-s windows have none.
    """

    share: float = 0.1
    ratio: float = 10.0
    seconds: float = 2.0
    trade_tilt: float = 1.0
    move_tilt: float = 0.0

    def check(self) -> None:
        """Raise ``ConfigError`` unless every value is in range."""
        if not 0.0 <= self.move_tilt <= 3.0:
            raise ConfigError("bursts: move_tilt must be between 0 and 3")
        if not 0.0 < self.share < 1.0:
            raise ConfigError(f"bursts: share must be between 0 and 1, got {self.share}")
        if not 1.0 <= self.ratio <= MAX_BURST_RATIO:
            raise ConfigError(f"bursts: ratio must be between 1 and {MAX_BURST_RATIO:g}")
        if not MIN_BURST_SECONDS <= self.seconds <= 86_400.0:
            raise ConfigError(f"bursts: seconds must be between {MIN_BURST_SECONDS} and 86400")
        if not 0.0 <= self.trade_tilt <= 3.0:
            raise ConfigError("bursts: trade_tilt must be between 0 and 3")

    def levels(self) -> tuple[float, float]:
        """The quiet and busy multipliers (their time-weighted mean is 1)."""
        quiet = 1.0 / (1.0 + self.share * (self.ratio - 1.0))
        return quiet, quiet * self.ratio

    def path(
        self, rng: np.random.Generator, start_ns: int, end_ns: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The regime over ``[start_ns, end_ns]``: the times it switches (from
        ``start_ns``, in the stationary state) and the multiplier from each on."""
        quiet, busy = self.levels()
        busy_ns = self.seconds * NANOS_PER_SECOND
        quiet_ns = busy_ns * (1.0 - self.share) / self.share
        spells = 2 * int((end_ns - start_ns) / (busy_ns + quiet_ns)) + 8
        if spells > MAX_BURST_SPELLS:
            raise ConfigError(
                f"bursts of {self.seconds:g} s make about {spells:.2g} spells, more than "
                f"{MAX_BURST_SPELLS:.0e}: lengthen them or shorten the window"
            )
        first_busy = bool(rng.random() < self.share)
        times = [np.array([start_ns], dtype=np.int64)]
        mult = [np.array([busy if first_busy else quiet])]
        clock, is_busy = float(start_ns), first_busy
        while clock <= end_ns:
            # spell 0 is the running one; after spell i the regime is the other state when
            # i is even, the running one's when odd
            mean = np.where(np.arange(spells) % 2 == 0, busy_ns if is_busy else quiet_ns,
                            quiet_ns if is_busy else busy_ns)  # fmt: skip
            ends = clock + np.cumsum(rng.exponential(mean))
            after_busy = (np.arange(spells) % 2 == 1) == is_busy
            times.append(ends.astype(np.int64))
            mult.append(np.where(after_busy, busy, quiet))
            clock, is_busy = float(ends[-1]), bool(after_busy[-1])
        return np.concatenate(times), np.concatenate(mult)


def _mean_one(
    regime: tuple[np.ndarray, np.ndarray], start_ns: int, end_ns: int
) -> tuple[np.ndarray, np.ndarray]:
    """The regime scaled so that its multiplier's mean over ``[start_ns, end_ns]`` is one:
    bursts decide when the activity comes, not how much of it the file holds (which
    ``--days`` varies on purpose)."""
    ts, mult = regime
    inside = ts < end_ns
    held = np.diff(np.append(ts[inside], end_ns)).astype(float)
    mean = float(held @ mult[inside]) / max(float(held.sum()), 1.0)
    return ts, mult / mean if mean > 0 else mult


def _warp(
    times: np.ndarray,
    regime: tuple[np.ndarray, np.ndarray],
    start_ns: int,
    end_ns: int,
    tilt: float,
) -> np.ndarray:
    """Move ``times``, uniform over ``[start_ns, end_ns)``, to where a process whose rate
    is the regime's multiplier to the power ``tilt`` (its mean over the window one) puts
    them: the same count, more in busy spells, in order."""
    ts, mult = regime
    inside = (ts > start_ns) & (ts < end_ns)
    knots = np.concatenate(([start_ns], ts[inside], [end_ns])).astype(np.float64)
    index = np.searchsorted(ts, knots[:-1], side="right") - 1
    rate = np.where(index >= 0, mult[np.maximum(index, 0)], 1.0) ** tilt
    cumulative = np.concatenate(([0.0], np.cumsum(np.diff(knots) * rate)))
    if not cumulative[-1] > 0:
        return times
    clock = (times - start_ns) / max(end_ns - start_ns, 1) * cumulative[-1]
    return np.interp(clock, cumulative, knots).astype(np.int64)


def _product(
    a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The product of two step functions of time (1 before each one's first time)."""
    if len(a[0]) == 0:
        return b
    if len(b[0]) == 0:
        return a
    ts = np.union1d(a[0], b[0])

    def at(f: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        index = np.searchsorted(f[0], ts, side="right") - 1
        return np.where(index >= 0, f[1][np.maximum(index, 0)], 1.0)

    return ts.astype(np.int64), at(a) * at(b)


MAX_BURST_RATIO = 1000.0
"""Largest ratio of busy to quiet activity."""
MIN_BURST_SECONDS = 0.05
"""Shortest mean busy spell, seconds."""
MAX_BURST_SPELLS = 4_000_000
"""Most spells of the regime in one file: its path is held whole."""
MAX_MOVE_TICKS = 1000
"""Largest smaller move of the efficient price, ticks."""
MAX_SPREAD_TICKS = 100_000
"""Widest spread a venue model may draw, ticks (1,000 $ at one cent)."""
MAX_LEVEL_MEAN = 1000.0
"""Largest mean level of an add or a cancellation (a fitted one is at most about 20)."""
MAX_LATENCY_US = 1_000_000.0
"""Largest median ``ts_in_delta``: a second."""
MAX_SPREAD_QUANTILES = 1000
"""Most quantiles of a venue's spread (a fitted venue has a few dozen)."""


@dataclass(frozen=True)
class Activity:
    """The time-of-day profile of activity: every venue's rate times ``multipliers[i]``
    from ``start_s + i * bucket_s`` seconds after midnight UTC, for one bucket each (1
    outside them)."""

    start_s: float
    bucket_s: float
    multipliers: tuple[float, ...]

    def times(self, start_ns: int, end_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """The profile over ``[start_ns, end_ns]`` as the simulation reads it: the times
        from which each multiplier holds, and the multipliers (1 after the last bucket)."""
        day_ns = 86_400 * NANOS_PER_SECOND
        midnight = start_ns // day_ns * day_ns
        ts: list[int] = []
        mult: list[float] = []
        for day in range(midnight, end_ns + 1, day_ns):
            for i, m in enumerate(self.multipliers):
                ts.append(day + int((self.start_s + i * self.bucket_s) * NANOS_PER_SECOND))
                mult.append(float(m))
            ts.append(day + int((self.start_s + len(self.multipliers) * self.bucket_s) * 1e9))
            mult.append(1.0)
        return np.array(ts, dtype=np.int64), np.array(mult)


MAX_METAORDER_SECONDS = 86_400.0
"""Longest mean metaorder: a day."""
MAX_DRIFT = 0.5
"""Largest bias of the unpredictable moves (0.5: every move up)."""


@dataclass(frozen=True)
class GenerateSummary:
    """What ``generate_market`` wrote, and the parameters that made it."""

    path: Path
    rows: int
    venues: tuple[int, ...]
    start_ns: int
    end_ns: int
    depth: int
    seed: int
    rate_per_venue: float = 111.0
    price_moves: float = 0.35
    flow: FlowModel = FlowModel()


def mbp_columns(depth: int) -> list[str]:
    """Return the CSV header of Databento MBP-1 (``depth=1``) or MBP-10 (``depth=10``)."""
    columns = [
        "ts_recv", "ts_event", "rtype", "publisher_id", "instrument_id", "action", "side",
        "depth", "price", "size", "flags", "ts_in_delta", "sequence",
    ]  # fmt: skip
    for level in range(depth):
        columns += [
            f"{name}_{level:02d}"
            for name in ("bid_px", "ask_px", "bid_sz", "ask_sz", "bid_ct", "ask_ct")
        ]
    return [*columns, "symbol"]


@numba.njit(cache=True)
def _draw_size(median: float, sigma: float, big_p: float) -> int:
    size = np.exp(np.log(median) + sigma * np.random.standard_normal())
    if np.random.random() < big_p:
        size *= 10.0
    if np.random.random() < 0.6:  # most resting size is in round lots
        return max(100, int(np.round(size / 100.0)) * 100)
    return max(1, int(size))


@numba.njit(cache=True)
def _count_for(size: int) -> int:
    return max(1, min(size // 100 + np.random.randint(0, 3), 40))


@numba.njit(cache=True)
def _refill(sizes, counts, start, scale):
    for i in range(start, len(sizes)):
        sizes[i] = _draw_size(220.0 * scale, 0.7, 0.03)
        counts[i] = _count_for(sizes[i])


@numba.njit(cache=True)
def _new_book(seed, bid_sz, bid_ct, ask_sz, ask_ct, scale):
    np.random.seed(seed)  # numba keeps its own generator: seed it for every draw made here
    _refill(bid_sz, bid_ct, 0, scale)
    _refill(ask_sz, ask_ct, 0, scale)


@numba.njit(cache=True)
def _shift(sizes, counts, moves, scale):
    """Move the book ``moves`` levels away from the touch (>0: the best level went away);
    new levels' sizes are drawn with medians times ``scale``."""
    n = len(sizes)
    if moves > 0:
        for i in range(n):
            j = i + moves
            sizes[i] = sizes[j] if j < n else 0
            counts[i] = counts[j] if j < n else 0
        _refill(sizes, counts, max(0, n - moves), scale)
    elif moves < 0:
        k = -moves
        for i in range(n - 1, -1, -1):
            j = i - k
            sizes[i] = sizes[j] if j >= 0 else 0
            counts[i] = counts[j] if j >= 0 else 0
        for i in range(min(k, n)):
            sizes[i] = _draw_size(150.0 * scale, 0.8, 0.02)
            counts[i] = _count_for(sizes[i])


@numba.njit(cache=True)
def _offsets(spread_q, state):
    """Draw the venue's quote offsets from the efficient quotes into ``state[3]`` (bid, ticks
    below the efficient bid) and ``state[4]`` (ask, ticks above the efficient ask).

    Without a spread table each side is 0 (70 %) or 1 or 2 ticks, independently (the
    default market). With one, the spread in ticks is drawn from its quantiles (linear
    between them) and split evenly around the efficient mid, a coin taking the odd tick.
    """
    if len(spread_q) == 0:
        state[3] = 0 if np.random.random() < 0.7 else np.random.randint(1, 3)
        state[4] = 0 if np.random.random() < 0.7 else np.random.randint(1, 3)
        return
    x = np.random.random() * (len(spread_q) - 1)
    i = min(int(x), len(spread_q) - 2)
    spread = spread_q[i] + (x - i) * (spread_q[i + 1] - spread_q[i])
    extra = max(1, int(np.round(spread))) - 1
    state[3] = extra // 2
    if extra % 2 == 1 and np.random.random() < 0.5:
        state[3] += 1
    state[4] = extra - state[3]


@numba.njit(cache=True)
def _levels(ticks, gap):
    """The levels a quote moving ``ticks`` passes on a book of levels ``gap`` ticks apart
    (rounded away from zero)."""
    if gap == 1:
        return ticks
    if ticks > 0:
        return (ticks + gap - 1) // gap
    return -((gap - 1 - ticks) // gap)


@numba.njit(cache=True)
def _multiplier(profile_ts, profile_mult, clock):
    """The activity multiplier at ``clock``: 1 before the profile's first bucket or without
    one."""
    if len(profile_ts) == 0 or clock < profile_ts[0]:
        return 1.0
    return profile_mult[np.searchsorted(profile_ts, clock, side="right") - 1]


@numba.njit(cache=True)
def _after(profile_ts, profile_mult, clock, wait, t1):
    """The time ``wait`` ns of activity at rate 1 after ``clock``, the activity's rate being
    the profile's multiplier: an exponential ``wait`` makes the clusters a Poisson process
    of the profile's rate (a wait drawn at a quiet spell's rate would skip the busy spells
    it spans). ``t1`` or later once past ``t1``."""
    k = np.searchsorted(profile_ts, clock, side="right") - 1
    while True:
        rate = 1.0 if k < 0 else profile_mult[k]
        end = profile_ts[k + 1] if k + 1 < len(profile_ts) else t1
        if clock >= t1:
            return clock
        if rate > 0.0 and wait <= (end - clock) * rate:
            return clock + int(wait / rate)
        if k + 1 >= len(profile_ts):  # the last spell runs past t1
            return t1
        wait -= (end - clock) * rate
        clock = end
        k += 1


@numba.njit(cache=True)
def _trade_side(which, clock, p, flow):
    """Return the side a trade hits (``_BID``: a sell, ``_ASK``: a buy).

    An informed trade (share ``flow[3]``) buys when the efficient price's next move is up
    and sells when it is down; a metaorder's trade (share ``flow[4]``) goes the way of the
    metaorder running at ``clock``; any other keeps ``which``, a fair coin. With both
    shares 0 no number is drawn, so the flow of earlier versions is reproduced exactly.
    """
    meta_ts, meta_sign, next_sign, informed, metaorder = flow
    if informed + metaorder <= 0.0:
        return which
    u = np.random.random()
    sign = 0
    if u < informed:
        sign = next_sign[p]
    elif u < informed + metaorder:
        sign = meta_sign[max(0, np.searchsorted(meta_ts, clock, side="right") - 1)]
    if sign > 0:
        return _ASK
    if sign < 0:
        return _BID
    return which


@numba.njit(cache=True)
def _simulate_venue(
    seed,
    t0,
    t1,
    vp,
    spread_q,
    profile_ts,
    profile_mult,
    price_ts,
    price_bid,
    flow,
    state,
    capacity,
    bid_sz,
    bid_ct,
    ask_sz,
    ask_ct,
):
    """Simulate one venue's rows with ``t0 <= ts_event < t1`` of a period, at most
    ``capacity`` of them; ``state`` carries over calls and periods.

    A ``seed`` of 0 or more starts the period: it seeds numba's generator, which is the
    calling thread's own. -1 resumes the period where the last call paused, on the same
    thread, whose generator nothing else has drawn from since: the rows are those of one
    uninterrupted call, whatever ``capacity`` is.

    ``vp`` is the venue's model (:meth:`VenueModel.values`, indexed by the ``V_`` constants),
    ``spread_q`` its spread quantiles in ticks (empty: the default offsets, :func:`_offsets`),
    ``profile_ts``/``profile_mult`` the activity multiplier from each time on (empty: 1).

    ``flow`` = (metaorder start times, their signs, the sign of the efficient price's next
    move after each of its levels, informed share, metaorder share): see :func:`_trade_side`.

    ``state`` = [best bid cents, best ask cents, next sequence, bid offset, ask offset, clock,
    last ts_recv, rows left in the period's budget, 1 if the call paused before ``t1``
    else 0].
    Returns per-row arrays: ts_event, ts_in_delta, action, side, depth, price cents, size,
    flags, sequence, and the book after the row (bid/ask best cents, sizes, counts).
    """
    rate = vp[V_RATE]
    scale = vp[V_SIZE_SCALE]
    gap = int(vp[V_LEVEL_TICKS])
    if seed >= 0:
        np.random.seed(seed)
        # room for 1.5 times the mean rows: a period writes no more (as it always has)
        busiest = 1.0 if len(profile_mult) == 0 else max(1.0, profile_mult.max())
        state[7] = int((t1 - t0) / 1e9 * rate * busiest * 1.5) + 64
    # a period that cannot fill its budget's room runs to t1 in one call
    expected = min(capacity, state[7] + MAX_CLUSTER_ROWS)
    ts = np.empty(expected, np.int64)
    delta = np.empty(expected, np.int64)
    action = np.empty(expected, np.int8)
    side = np.empty(expected, np.int8)
    depth = np.empty(expected, np.int8)
    price = np.empty(expected, np.int64)
    size = np.empty(expected, np.int64)
    flags = np.empty(expected, np.int64)
    seq = np.empty(expected, np.int64)
    best_bid = np.empty(expected, np.int64)
    best_ask = np.empty(expected, np.int64)
    out_bid_sz = np.empty((expected, LEVELS), np.int64)
    out_bid_ct = np.empty((expected, LEVELS), np.int64)
    out_ask_sz = np.empty((expected, LEVELS), np.int64)
    out_ask_ct = np.empty((expected, LEVELS), np.int64)
    mean_cluster = vp[V_CLUSTER]
    # a cluster that would end with a trade gets one more row (about 0.21 per cluster in the
    # default market), which shows the trade's effect: clusters come that much less often,
    # to keep the row rate
    cluster_rate = rate / (mean_cluster + vp[V_EFFECT_ROWS])
    clock = max(state[5], t0)
    p = max(0, np.searchsorted(price_ts, clock, side="right") - 1)
    n = 0
    state[8] = 0
    while True:
        if expected - n < MAX_CLUSTER_ROWS:  # the next cluster might not fit: pause
            state[8] = 1
            break
        if len(profile_ts) == 0:
            clock += int(np.random.exponential(1e9 / cluster_rate)) + 1
        else:
            clock = _after(profile_ts, profile_mult, clock,
                           np.random.exponential(1e9 / cluster_rate), t1) + 1  # fmt: skip
        if clock >= t1:
            break
        while p + 1 < len(price_ts) and price_ts[p + 1] <= clock:
            p += 1
        efficient = price_bid[p]
        rows = 1
        while np.random.random() < 1.0 - 1.0 / mean_cluster and rows < 8:
            rows += 1
        first_kind = -1
        first_side = -1
        extended = False
        pre_bid = pre_ask = 0
        # one receive latency per cluster: its rows share ts_recv, as in the real file
        latency = int(np.exp(np.log(vp[V_LATENCY_NS]) + 0.15 * np.random.standard_normal()))
        # a venue's feed is sequential: its receive times never step back
        latency = max(latency, state[6] - clock)
        state[6] = clock + latency
        r = -1
        while r + 1 < rows:
            r += 1
            if state[7] <= 0 or n >= expected:  # the second never holds: memory's guard
                break
            # Follow the efficient price first: the venue's quote re-centres on an event.
            if np.random.random() < vp[V_REQUOTE]:
                _offsets(spread_q, state)
            target_bid = efficient - state[3]
            target_ask = efficient + 1 + state[4]
            kind = _ADD
            which = _BID
            level = 0
            qty = 0
            px = 0
            # Re-centre one side per event, in the order that never crosses the book: when
            # prices rise the ask moves first, when they fall the bid does.
            follows = r == 0 and (vp[V_FOLLOW] >= 1.0 or np.random.random() < vp[V_FOLLOW])
            move_bid = follows and target_bid != state[0] and target_bid < state[1]
            move_ask = follows and target_ask != state[1] and target_ask > state[0]
            if move_ask and (target_ask > state[1] or not move_bid):
                move_bid = False
            else:
                move_ask = False
            if move_bid:
                moves = state[0] - target_bid
                if moves > 0:  # bid falls: the levels above the new best bid are cancelled
                    kind, which, px, qty = _CANCEL, _BID, state[0], bid_sz[0]
                else:  # bid rises: size joins at the new best bid
                    kind, which = _ADD, _BID
                _shift(bid_sz, bid_ct, _levels(moves, gap), scale)
                state[0] = target_bid
                if kind == _ADD:
                    px, qty = state[0], bid_sz[0]
            elif move_ask:
                moves = target_ask - state[1]
                if moves > 0:
                    kind, which, px, qty = _CANCEL, _ASK, state[1], ask_sz[0]
                else:
                    kind, which = _ADD, _ASK
                _shift(ask_sz, ask_ct, _levels(moves, gap), scale)
                state[1] = target_ask
                if kind == _ADD:
                    px, qty = state[1], ask_sz[0]
            else:
                effect = extended and r == rows - 1
                if r > 0 and first_kind == _TRADE and not effect:
                    kind, which = _TRADE, first_side  # a sweep: trades on the same side
                else:
                    # the row added to show a trade's effect is never a trade itself
                    adds, quotes = vp[V_ADDS], vp[V_QUOTES]
                    if vp[V_TRADE_TILT] > 0.0 and quotes > 0.0:
                        # busy moments trade more: the trades' share times the regime's
                        # multiplier to the power of the tilt
                        busy = _multiplier(profile_ts, profile_mult, clock)
                        trades = min(0.95, (1.0 - quotes) * busy ** vp[V_TRADE_TILT])
                        adds *= (1.0 - trades) / quotes
                        quotes = 1.0 - trades
                    u = np.random.random() * (quotes if effect else 1.0)
                    if u < adds:
                        kind = _ADD
                    elif u < quotes:
                        kind = _CANCEL
                    else:
                        kind = _TRADE
                    which = _BID if np.random.random() < 0.5 else _ASK
                    if kind == _TRADE:
                        which = _trade_side(which, clock, p, flow)
                sizes = bid_sz if which == _BID else ask_sz
                counts = bid_ct if which == _BID else ask_ct
                best = state[0] if which == _BID else state[1]
                sign = -1 if which == _BID else 1
                if kind == _TRADE:
                    # the trade's row carries the book before it (Databento's convention)
                    pre_bid, pre_ask = state[0], state[1]
                    out_bid_sz[n] = bid_sz
                    out_bid_ct[n] = bid_ct
                    out_ask_sz[n] = ask_sz
                    out_ask_ct[n] = ask_ct
                    level = 0
                    if (
                        vp[V_HIDDEN] > 0.0 and state[1] - state[0] > 1
                        and np.random.random() < vp[V_HIDDEN]
                    ):  # fmt: skip
                        # against hidden liquidity inside the spread: nothing displayed moves
                        qty = _draw_size(vp[V_TRADE_MEDIAN], vp[V_TRADE_SIGMA], 0.01)
                        px = state[0] + 1 + np.random.randint(0, state[1] - state[0] - 1)
                    else:
                        qty = min(sizes[0], _draw_size(vp[V_TRADE_MEDIAN], vp[V_TRADE_SIGMA], 0.01))
                        sizes[0] -= qty
                        counts[0] = max(1, counts[0] - 1) if sizes[0] > 0 else 0
                        px = best
                elif kind == _CANCEL:
                    level = min(int(np.random.exponential(vp[V_CANCEL_LEVEL])), LEVELS - 1)
                    qty = min(sizes[level], _draw_size(vp[V_CANCEL_SIZE], 0.8, 0.0))
                    sizes[level] -= qty
                    counts[level] = max(1, counts[level] - 1) if sizes[level] > 0 else 0
                    px = best + sign * level * gap
                elif (
                    vp[V_IMPROVE] > 0.0 and state[1] - state[0] > gap
                    and np.random.random() < vp[V_IMPROVE]
                ):  # fmt: skip
                    # an add inside the spread: a new best level of its own size
                    level = 0
                    qty = _draw_size(vp[V_ADD_SIZE], 0.8, 0.01)
                    _shift(sizes, counts, -1, scale)
                    sizes[0] = qty
                    counts[0] = 1
                    if which == _BID:
                        state[0] += gap
                    else:
                        state[1] -= gap
                    px = state[0] if which == _BID else state[1]
                else:
                    level = min(int(np.random.exponential(vp[V_ADD_LEVEL])), LEVELS - 1)
                    qty = _draw_size(vp[V_ADD_SIZE], 0.8, 0.01)
                    sizes[level] += qty
                    counts[level] += 1
                    px = best + sign * level * gap
                if sizes[0] == 0:  # the touch is exhausted: the quote moves away
                    _shift(sizes, counts, 1, scale)
                    if which == _BID:
                        state[0] -= gap
                    else:
                        state[1] += gap
                elif level > 0 and sizes[level] == 0:
                    # keep consecutive levels: an emptied inner level is refilled deeper
                    sizes[level] = _draw_size(150.0 * scale, 0.8, 0.0)
                    counts[level] = _count_for(sizes[level])
            if r == 0:
                first_kind, first_side = kind, which
            if kind == _TRADE and r == rows - 1:
                rows += 1  # one more row shows the trade's effect and ends the cluster
                extended = True
            ts[n] = clock
            delta[n] = latency
            action[n] = kind
            # Databento marks trades by aggressor: a trade at the bid is a sell ('A').
            if kind == _TRADE:
                side[n] = _ASK if which == _BID else _BID
            else:
                side[n] = which
            depth[n] = level
            price[n] = px
            size[n] = max(qty, 1)
            flags[n] = 130 if r == rows - 1 else 0
            seq[n] = state[2]
            state[2] += 1
            state[7] -= 1
            if kind == _TRADE:
                best_bid[n], best_ask[n] = pre_bid, pre_ask  # its sizes were written before
            else:
                best_bid[n] = state[0]
                best_ask[n] = state[1]
                out_bid_sz[n] = bid_sz
                out_bid_ct[n] = bid_ct
                out_ask_sz[n] = ask_sz
                out_ask_ct[n] = ask_ct
            n += 1
    state[5] = clock if clock < t1 else t1
    return (
        ts[:n], delta[:n], action[:n], side[:n], depth[:n], price[:n], size[:n], flags[:n],
        seq[:n], best_bid[:n], best_ask[:n], out_bid_sz[:n], out_bid_ct[:n], out_ask_sz[:n],
        out_ask_ct[:n],
    )  # fmt: skip


def _efficient_path(
    rng: np.random.Generator,
    start_ns: int,
    end_ns: int,
    moves_per_second: float,
    drift: float = 0.0,
    move_ticks: int = 1,
    warp: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the times and sizes (cents) of the efficient price's unpredictable moves.

    A Poisson process of ``moves_per_second``; a move is ``move_ticks`` cents (90 %) or
    twice that, up with probability ``0.5 + drift``.
    """
    seconds = (end_ns - start_ns) / NANOS_PER_SECOND
    changes = rng.poisson(moves_per_second * seconds)
    times = np.sort(rng.integers(start_ns, max(end_ns, start_ns + 1), size=changes))
    if warp is not None:
        times = warp(times)
    down, up = 0.5 - drift, 0.5 + drift
    steps = rng.choice(
        np.array([-2, -1, 1, 2]), size=changes, p=[0.1 * down, 0.9 * down, 0.9 * up, 0.1 * up]
    )
    return times.astype(np.int64), steps.astype(np.int64) * move_ticks


def _metaorders(
    rng: np.random.Generator, start_ns: int, end_ns: int, mean_seconds: float
) -> tuple[np.ndarray, np.ndarray]:
    """Return the start times and signs (+1 buy, -1 sell) of back-to-back metaorders.

    Durations are Pareto with tail exponent ``METAORDER_ALPHA`` and mean ``mean_seconds``:
    their infinite variance makes the signs of the trades they send a long-memory
    process (Lillo and Farmer, 2004), whose autocorrelation decays as a power of the lag.
    """
    shortest = mean_seconds * (METAORDER_ALPHA - 1) / METAORDER_ALPHA * NANOS_PER_SECOND
    starts = [start_ns]
    clock = float(start_ns)
    while clock <= end_ns:
        clock += shortest * (1.0 + rng.pareto(METAORDER_ALPHA))
        starts.append(int(min(clock, end_ns + 1)))
    signs = rng.choice(np.array([-1, 1]), size=len(starts))
    return np.array(starts, dtype=np.int64), signs.astype(np.int64)


def _impact_moves(
    rng: np.random.Generator,
    start_ns: int,
    end_ns: int,
    moves_per_second: float,
    metaorders: tuple[np.ndarray, np.ndarray],
    move_ticks: int = 1,
    decay: float = 0.0,
    scale_s: float = 1.0,
    warp: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the times and sizes (cents) of the moves the metaorders' flow pushes: a
    Poisson process of ``moves_per_second``, each move (``move_ticks`` cents or twice that)
    in the running metaorder's way."""
    seconds = (end_ns - start_ns) / NANOS_PER_SECOND
    changes = rng.poisson(moves_per_second * seconds)
    times = np.sort(rng.integers(start_ns, max(end_ns, start_ns + 1), size=changes))
    if warp is not None:
        times = warp(times)
    meta_ts, meta_sign = metaorders
    running = meta_sign[np.searchsorted(meta_ts, times, side="right") - 1]
    sizes = rng.choice(np.array([1, 2]), size=changes, p=[0.9, 0.1])
    steps = (running * sizes).astype(np.int64) * move_ticks
    if decay > 0.0:
        delay = scale_s * (rng.random(changes) ** (-1.0 / decay) - 1.0)
        back = times + np.minimum(delay * NANOS_PER_SECOND, 2.0 * (end_ns - start_ns)).astype(
            np.int64
        )
        keep = back < end_ns
        times = np.concatenate((times, back[keep]))
        steps = np.concatenate((steps, -steps[keep]))
    return times.astype(np.int64), steps


def _price_levels(
    start_ns: int, moves: list[tuple[np.ndarray, np.ndarray]], start_bid_cents: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge moves into the efficient bid's change times and levels (cents), with the sign
    of the move that follows each level (0 after the last)."""
    times = np.concatenate([m[0] for m in moves])
    steps = np.concatenate([m[1] for m in moves])
    order = np.argsort(times, kind="stable")
    levels = start_bid_cents + np.concatenate(([0], np.cumsum(steps[order])))
    change_ts = np.concatenate(([start_ns], times[order])).astype(np.int64)
    next_sign = np.zeros(len(levels), dtype=np.int64)
    next_sign[:-1] = np.sign(np.diff(levels))
    return change_ts, levels.astype(np.int64), next_sign


def _check_prices(
    rows: dict[str, np.ndarray], levels: int, venue_models: Sequence[VenueModel]
) -> None:
    """Refuse rows whose prices, or their book's deepest level written (an MBO file: its
    adds), are not above zero:
    a cheap market of large moves (``start_price`` against ``price_moves`` and
    ``move_ticks``) can walk there, and no such price is a market's."""
    if "best_bid" not in rows:  # MBO records: every price in the book came with an add
        low = int(rows["price"][rows["action"] == ord("A")].min(initial=1))
    else:
        step = np.ones(len(rows["ts_event"]), np.int64)
        for model in venue_models:
            step[rows["publisher_id"] == model.publisher_id] = model.level_ticks
        deepest = rows["best_bid"] - (levels - 1) * step
        low = min(int(deepest.min(initial=1)), int(rows["price"].min(initial=1)))
    if low <= 0:
        raise ConfigError(
            f"the market's prices reach {low / 100:.2f} $: no price is at or below zero; "
            "raise start_price, or lower price_moves, move_ticks or the venues' spread_ticks "
            "and level_ticks"
        )


def _prices(cents: np.ndarray) -> np.ndarray:
    return cents / 100.0  # correctly rounded, so it prints as the short decimal


def instrument_id(symbol: str) -> int:
    """The ``instrument_id`` written for ``symbol``: :data:`INSTRUMENT_ID` for AAPL, else a
    number derived from the symbol's letters (stable, below 2**31)."""
    if symbol == "AAPL":
        return INSTRUMENT_ID
    return 1000 + zlib.crc32(symbol.encode()) % (2**31 - 1000)


def _frame(
    rows: dict[str, np.ndarray],
    depth: int,
    rtype: int,
    symbol: str,
    level_ticks: dict[int, int] | None = None,
) -> pl.DataFrame:
    """The rows as the CSV's columns; ``level_ticks`` gives the ticks between a venue's
    levels where it is not one."""
    ts_event = rows["ts_event"]
    step = np.ones(len(ts_event), np.int64)
    for publisher, ticks in (level_ticks or {}).items():
        step[rows["publisher_id"] == publisher] = ticks
    ts_recv = ts_event + rows["ts_in_delta"]
    columns: dict[str, pl.Series | np.ndarray] = {
        "ts_recv": pl.Series(ts_recv).cast(pl.Datetime("ns")),
        "ts_event": pl.Series(ts_event).cast(pl.Datetime("ns")),
        "rtype": np.full(len(ts_event), rtype, dtype=np.int64),
        "publisher_id": rows["publisher_id"],
        "instrument_id": np.full(len(ts_event), instrument_id(symbol), dtype=np.int64),
        "action": ACTIONS[rows["action"]],
        "side": SIDES[rows["side"]],
        "depth": rows["depth"].astype(np.int64),
        "price": _prices(rows["price"]),
        "size": rows["size"],
        "flags": rows["flags"],
        "ts_in_delta": rows["ts_in_delta"],
        "sequence": rows["sequence"],
    }
    for level in range(depth):
        columns[f"bid_px_{level:02d}"] = _prices(rows["best_bid"] - level * step)
        columns[f"ask_px_{level:02d}"] = _prices(rows["best_ask"] + level * step)
        columns[f"bid_sz_{level:02d}"] = rows["bid_sz"][:, level]
        columns[f"ask_sz_{level:02d}"] = rows["ask_sz"][:, level]
        columns[f"bid_ct_{level:02d}"] = rows["bid_ct"][:, level]
        columns[f"ask_ct_{level:02d}"] = rows["ask_ct"][:, level]
    frame = pl.DataFrame(columns)
    iso = "%Y-%m-%dT%H:%M:%S%.9fZ"
    return frame.with_columns(
        pl.col("ts_recv").dt.strftime(iso),
        pl.col("ts_event").dt.strftime(iso),
        pl.lit(symbol).alias("symbol"),
    ).select(mbp_columns(depth))


_ROW_FIELDS = ("ts_event", "ts_in_delta", "action", "side", "depth", "price", "size",
               "flags", "sequence", "best_bid", "best_ask", "bid_sz", "bid_ct", "ask_sz",
               "ask_ct")  # fmt: skip
"""The arrays :func:`_simulate_venue` returns, in its order."""


def _joined(
    rows: dict[str, np.ndarray] | None, more: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Return a venue's waiting ``rows`` (None: none) followed by ``more`` of its rows."""
    if rows is None:
        return more
    return {name: np.concatenate((rows[name], more[name])) for name in rows}


def _take_settled(
    waiting: list[dict[str, np.ndarray] | None], before: int | None
) -> dict[str, np.ndarray] | None:
    """Take from each venue's ``waiting`` rows those received before ``before`` (every row
    when None) and return them in the file's order (None when there are none).

    The file's order within a period is by ``ts_recv``, ties in venue order, then in each
    venue's own order: a stable sort of the venues' rows one venue after another. Taking
    them in batches gives that order as long as every later row is received at ``before``
    or after it.
    """
    parts = []
    for k, rows in enumerate(waiting):
        if rows is None:
            continue
        received = rows["ts_event"] + rows["ts_in_delta"]  # never decreasing in a venue
        cut = len(received) if before is None else int(np.searchsorted(received, before))
        if cut == 0:
            continue
        parts.append({name: values[:cut] for name, values in rows.items()})
        waiting[k] = (
            {name: values[cut:] for name, values in rows.items()} if cut < len(received) else None
        )
    if not parts:
        return None
    rows = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    order = np.argsort(rows["ts_event"] + rows["ts_in_delta"], kind="stable")
    return {name: values[order] for name, values in rows.items()}


def _no_rows() -> dict[str, np.ndarray]:
    """The rows of a file without any: the header alone is written."""
    books = ("bid_sz", "bid_ct", "ask_sz", "ask_ct")
    return {
        name: np.empty((0, LEVELS) if name in books else 0, np.int64)
        for name in (*_ROW_FIELDS, "publisher_id")
    }


def generate_market(
    out: str | Path,
    *,
    venues: int = 6,
    seed: int = 7,
    start: str = DEFAULT_START,
    end: str | None = None,
    depth: int = 10,
    rate_per_venue: float = 111.0,
    price_moves: float = 0.35,
    symbol: str = "AAPL",
    flow: FlowModel | None = None,
    venue_models: Sequence[VenueModel] | None = None,
    start_bid_cents: int = START_BID_CENTS,
    move_ticks: int = 1,
    activity: Activity | None = None,
    bursts: Bursts | None = None,
    chunk_rows: int = CHUNK_ROWS,
    on_progress: Callable[[int], object] | None = None,
    schema: str = "mbp",
    mbo_format: str | None = None,
) -> GenerateSummary:
    """Write a synthetic market as a Databento MBP-1 or MBP-10 CSV, a chunk of rows at a
    time: its memory does not grow with the file's length.

    Parameters
    ----------
    out
        The CSV file to write (replaced if it exists).
    venues
        How many venues, taken in order from ``VENUE_ORDER`` (1 to 6).
    seed
        Seed of every random draw; the same arguments give a byte-identical file.
    start, end
        ISO-8601 bounds of ``ts_event``; ``end`` defaults to ``start`` plus nine minutes.
    depth
        1 for MBP-1, 10 for MBP-10.
    rate_per_venue
        Mean rows per second per venue (the real file: about 110).
    price_moves
        Mean moves per second of the shared efficient price (one or two cents each).
    flow
        Informed trading, trade-sign persistence, impact and drift (:class:`FlowModel`);
        its defaults when None, ``FlowModel.off()`` for a market without adverse selection.
    venue_models
        One model per venue (:class:`VenueModel`, fitted by ``sor generate --like``); then
        ``venues`` is ignored, and each venue's rate is its model's times
        ``rate_per_venue`` over the models' mean rate. None: ``venues`` default venues.
    start_bid_cents
        The efficient bid at ``start``, cents.
    move_ticks
        Cents of the efficient price's smaller move (the larger is twice it).
    activity
        The time-of-day profile of every venue's rate (None: flat).
    bursts
        Market-wide bursts of every venue's activity (:class:`Bursts`; None: none); the
        efficient price's moves keep their even pace.
    chunk_rows
        Most rows one venue's simulation hands over at a time (at least
        ``MAX_CLUSTER_ROWS``); it bounds the memory and leaves the file unchanged.
    on_progress
        Called with the number of rows of each batch written.
    schema
        ``"mbp"``: the rows, as MBP-``depth`` CSV. ``"mbo"``: the same market order by
        order (:mod:`sor.data.generate_mbo`), as Databento MBO: CSV, or DBN when ``out``
        ends in ``.dbn`` or ``.dbn.zst``; ``depth`` does not change it.
    mbo_format
        ``"csv"``, ``"dbn"`` or ``"dbn.zst"``: how to write the MBO file whatever ``out``'s
        name (None: by its suffix).

    Raises
    ------
    ConfigError
        An argument is out of range or a timestamp cannot be parsed.
    """
    from sor.core.timestamps import parse_timestamp

    if depth not in (1, 10):
        raise ConfigError(f"depth must be 1 (MBP-1) or 10 (MBP-10), got {depth}")
    if not 1 <= move_ticks <= MAX_MOVE_TICKS:
        raise ConfigError(f"move ticks must be between 1 and {MAX_MOVE_TICKS}, got {move_ticks}")
    if schema not in ("mbp", "mbo"):
        raise ConfigError(f"schema must be mbp or mbo, got {schema!r}")
    form = "csv"
    if schema == "mbo":
        from sor.data import generate_mbo

        form = mbo_format or generate_mbo.output_format(Path(out))
        if form not in ("csv", "dbn", "dbn.zst"):
            raise ConfigError(f"an MBO file is csv, dbn or dbn.zst, got {form!r}")
    if not rate_per_venue > 0:
        raise ConfigError(f"rate must be positive, got {rate_per_venue}")
    if venue_models is None:
        if not 1 <= venues <= len(VENUE_ORDER):
            raise ConfigError(f"venues must be between 1 and {len(VENUE_ORDER)}, got {venues}")
        venue_models = [
            VenueModel(publisher_id=v, rate=rate_per_venue) for v in VENUE_ORDER[:venues]
        ]
    if not venue_models:
        raise ConfigError("a market needs at least one venue")
    for model in venue_models:
        model.check()
    if len({model.publisher_id for model in venue_models}) < len(venue_models):
        raise ConfigError("two venue models share a publisher_id")
    if not 100 <= start_bid_cents < 10**9:
        raise ConfigError(
            f"the start price must be between 1 $ and 10,000,000 $, got {start_bid_cents / 100:g} $"
        )
    if not price_moves >= 0:
        raise ConfigError(f"price moves per second must be >= 0, got {price_moves}")
    if chunk_rows < MAX_CLUSTER_ROWS:
        raise ConfigError(f"a chunk holds at least {MAX_CLUSTER_ROWS} rows, got {chunk_rows}")
    try:
        start_ns = parse_timestamp(start)
        end_ns = parse_timestamp(end) if end is not None else start_ns + DEFAULT_DURATION_NS
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if end_ns <= start_ns:
        raise ConfigError("the end of the generated window must come after its start")
    flow = flow if flow is not None else FlowModel()
    flow.check()
    venues = len(venue_models)
    publisher_ids = tuple(model.publisher_id for model in venue_models)
    rate_scale = rate_per_venue / (sum(model.rate for model in venue_models) / venues)
    venue_values = [model.values(rate_scale) for model in venue_models]
    spreads = [np.asarray(model.spread_ticks, dtype=np.float64) for model in venue_models]
    profile = activity.times(start_ns, end_ns) if activity is not None else (
        np.zeros(0, np.int64), np.zeros(0))  # fmt: skip
    root = np.random.SeedSequence(seed)
    price_seed, *venue_seeds = root.spawn(1 + venues)
    meta_seed, impact_seed = root.spawn(2)
    warp = None
    if bursts is not None:  # a stream spawned after the others: theirs are unchanged
        bursts.check()
        (burst_seed,) = root.spawn(1)
        spells = bursts.path(np.random.default_rng(burst_seed), start_ns, end_ns)
        profile = _product(profile, _mean_one(spells, start_ns, end_ns))
        if bursts.move_tilt > 0.0:
            regime, tilt = profile, bursts.move_tilt
            warp = lambda times: _warp(times, regime, start_ns, end_ns, tilt)  # noqa: E731
        for values in venue_values:
            values[V_TRADE_TILT] = bursts.trade_tilt
    metaorders = _metaorders(
        np.random.default_rng(meta_seed), start_ns, end_ns, flow.metaorder_seconds
    )
    moves = [
        _efficient_path(
            np.random.default_rng(price_seed), start_ns, end_ns,
            price_moves * (1.0 - flow.impact), flow.drift, move_ticks, warp,
        ),
        _impact_moves(
            np.random.default_rng(impact_seed), start_ns, end_ns, price_moves * flow.impact,
            metaorders, move_ticks, flow.impact_decay, flow.metaorder_seconds, warp,
        ),
    ]  # fmt: skip
    price_ts, price_bid, next_sign = _price_levels(start_ns, moves, start_bid_cents)
    flow_arrays = (*metaorders, next_sign, flow.informed, flow.metaorder_share)
    states = []
    for k in range(venues):
        init = np.random.default_rng(venue_seeds[k])
        book = [np.zeros(LEVELS, np.int64) for _ in range(4)]
        state = np.array(
            [start_bid_cents, start_bid_cents + 1, int(init.integers(1_000_000, 90_000_000)),
             0, 0, start_ns, start_ns, 0, 0],
            dtype=np.int64,
        )  # fmt: skip
        bid_sz, bid_ct, ask_sz, ask_ct = book
        _new_book(int(init.integers(2**31)), bid_sz, bid_ct, ask_sz, ask_ct,
                  venue_models[k].size_scale)  # fmt: skip
        states.append((init, state, book))
    orders = []
    if schema == "mbo":  # each venue's queues draw from a stream of their own
        order_seeds = np.random.SeedSequence([seed, MBO_STREAM]).spawn(venues)
        for k, (_, state, book) in enumerate(states):
            orders.append(generate_mbo.VenueOrders(
                order_seeds[k], start_ns, int(state[0]), int(state[1]), book,
                venue_models[k].level_ticks))  # fmt: skip
    path = Path(out)
    rtype = 10 if depth == 10 else 1
    total = 0
    with path.open("wb") as handle, contextlib.ExitStack() as stack:
        # one thread per venue: numba's generator is per thread, so each venue's draws go on
        # from where its last chunk stopped while the other venues take theirs
        threads = [
            stack.enter_context(ThreadPoolExecutor(1, thread_name_prefix=f"sor-venue-{k}"))
            for k in range(venues)
        ]

        header = True
        sink: BinaryIO = handle
        if form != "csv":
            sink = generate_mbo.open_writer(handle, form)
            if sink is not handle:
                stack.callback(sink.close)  # ends the zstd frame before the file closes
            sink.write(generate_mbo.dbn_metadata(start_ns, symbol))

        def write(rows: dict[str, np.ndarray] | None) -> None:
            nonlocal total, header
            if rows is None:
                return
            height = len(rows["ts_event"])
            _check_prices(rows, depth if schema == "mbp" else LEVELS, venue_models)
            if schema == "mbp":
                gaps = {m.publisher_id: m.level_ticks for m in venue_models if m.level_ticks != 1}
                frame = _frame(rows, depth, rtype, symbol, gaps)
                frame.write_csv(handle, include_header=header)
            elif form == "csv":
                generate_mbo.mbo_frame(rows, instrument_id(symbol), symbol).write_csv(
                    handle, include_header=header
                )
            else:
                sink.write(generate_mbo.dbn_records(rows, instrument_id(symbol)))
            header = False
            total += height
            if on_progress is not None:
                on_progress(height)

        period_start = start_ns
        while period_start <= end_ns:
            period_end = min(period_start + PERIOD_NS, end_ns + 1)
            seeds = [int(init.integers(2**31)) for init, _, _ in states]
            waiting: list[dict[str, np.ndarray] | None] = [None] * venues
            if orders and period_start == start_ns:  # the books before the first rows
                waiting = [venue.snapshot | {"publisher_id": np.full(
                    len(venue.snapshot["ts_event"]), publisher_ids[k], np.int64)}
                    for k, venue in enumerate(orders)]  # fmt: skip
            running = list(range(venues))
            while running:
                # the venue furthest behind in ts_recv goes on: none runs far ahead, so the
                # rows waiting for the others stay within about a chunk per venue
                k = min(running, key=lambda v: (states[v][1][6], v))
                _, state, book = states[k]
                raw = threads[k].submit(
                    _simulate_venue, seeds[k], period_start, period_end, venue_values[k],
                    spreads[k], profile[0], profile[1], price_ts, price_bid, flow_arrays, state,
                    chunk_rows, book[0], book[1], book[2], book[3],
                ).result()  # fmt: skip
                seeds[k] = -1
                if state[8] == 0:
                    running.remove(k)
                part = dict(zip(_ROW_FIELDS, raw, strict=True))
                if orders:
                    part = orders[k].records(part)
                part["publisher_id"] = np.full(
                    len(part["ts_event"]), publisher_ids[k], dtype=np.int64
                )
                waiting[k] = _joined(waiting[k], part)
                # a venue's ts_recv never steps back: the rows received before every running
                # venue's last receive time are all there is before it
                settled = min((int(states[v][1][6]) for v in running), default=None)
                write(_take_settled(waiting, settled))
            period_start = period_end
        if header:  # not one row: the header alone
            write(_no_rows() if schema == "mbp" else generate_mbo.no_records())
    return GenerateSummary(
        path=path, rows=total, venues=tuple(publisher_ids), start_ns=start_ns, end_ns=end_ns,
        depth=depth, seed=seed, rate_per_venue=rate_per_venue, price_moves=price_moves,
        flow=flow,
    )  # fmt: skip
