"""Fit the generator to a real file (``sor generate --like FILE``): docs/generate.md.

Two steps. First, what the file shows directly becomes a parameter: each venue's spread
quantiles, trade sizes, the levels its adds and cancellations reach, its clusters of rows
and its mix of adds and cancellations; the efficient price's start and its moves per
second (from the variance of the mid's changes); the time-of-day profile of activity.
Second, what the generator only produces through its dynamics is matched by simulation:
short markets are generated with the current parameters, measured by ``sor stats``'s own
code, and each parameter is scaled by the ratio of the real fact to the generated one
(rows per second by the rate, trade events per second by the trades' share, the mean
best-level size by the size scale, the queue turnover time by how often a venue re-quotes
and follows the price, the median spread by the scale of the spread's quantiles, the 10-s
trade markout by the impact share, the mid's 60-s volatility by the price's moves, the
lag-1 trade-sign autocorrelation by the metaorders' share, the rows' burstiness by the
bursts). The metaorders' length and first share are
fitted to the trade-sign autocorrelation on evenly spread trade times
(:func:`_metaorder_fit`).
A few rounds of this fixed-point iteration, from the same seed each round, settle every
fact that the model can reach; what it cannot reach stays as it is and ``sor stats
--compare`` says so.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sor.core.domain import NANOS_PER_SECOND
from sor.core.errors import DataError
from sor.core.timestamps import format_timestamp
from sor.data.generate import (
    IMPACT_DECAY,
    MAX_DRIFT,
    MAX_SPREAD_TICKS,
    Activity,
    Bursts,
    FlowModel,
    VenueModel,
    generate_market,
)
from sor.data.market_params import MarketParams
from sor.stylized.facts import VOLATILITY_INTERVAL_S

if TYPE_CHECKING:
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger("sor")

TICK_NANOS = 10_000_000
"""The generator's price grid, one cent in nano-dollars: spreads and moves are fitted in
it."""
SPREAD_QUANTILES = 41
"""Quantiles of each venue's spread kept, at equally spaced probabilities from
``SPREAD_TAIL`` to ``1 - SPREAD_TAIL``."""
SPREAD_TAIL = 0.005
"""Share of time cut off each end of a spread's distribution: a moment of a side far away
does not set the widest spread drawn."""
MOVE_STEP_VARIANCE = 1.3
"""Mean squared size of an efficient-price move, ticks^2 (one tick 90 %, two 10 %)."""
ACTIVITY_BUCKET_S = 1800.0
"""Length of a bucket of the time-of-day profile: half an hour."""
ACTIVITY_MIN_BUCKETS = 4
"""A profile is fitted only from a window of at least this many buckets (two hours)."""
ROUNDS = 14
"""Rounds of simulation and rescaling."""
CALIBRATION_ROWS = 300_000
"""Most rows simulated in a round: the fitted window, from its start, as long as its rows
stay within this (with the time-of-day profile when that is the whole window, flat
otherwise: the rates fitted are the window's means). The longer, the less a round's noise
moves the parameters."""
CALIBRATION_SEED = 20_240_403
"""The seed of every round's simulation: the rounds differ only by their parameters."""
SETTLE_ROUNDS = 4
"""The last rounds, which leave the bursts as they are."""
STEP_BOUNDS = (0.5, 2.0)
"""Most a parameter is scaled by in one round."""
INFORMED = 0.15
"""The informed share of trades a fit starts from (the default market's), at most one less
the metaorders' share."""
MOVE_TILT = 0.25
"""The bursts' tilt of the efficient price's moves in a fitted market: they keep pace with
the activity (on the AMZN day the mid's 10-s moves after a trade have 1.5 times the spread
of those at a random moment)."""
MAX_INFORMED = 0.35
"""Most of the trades the rounds make informed (when the impact's share is already 1 and
the markout still short): where the price's moves are all pushed by metaorders, trades that
know the next move trade with the metaorders and would add to the signs' persistence."""
LAG1_WEIGHT = 10.0
"""How much more the lag-1 trade-sign autocorrelation weighs than another lag in the fit
of the metaorders: it is the one ``sor stats --compare`` holds to a tolerance."""


@dataclass(frozen=True)
class Targets:
    """The facts of the real file that the simulation rounds aim at, per venue and overall."""

    rate: dict[int, float]
    trades: dict[int, float]
    best_size: dict[int, float | None]
    turnover: dict[int, float | None]
    spread: dict[int, float | None]
    autocorrelation: float | None
    autocorrelation_10: float | None
    markout_10_bps: float | None
    bursts: dict[str, float | None]
    """Burstiness (:func:`burstiness`) of all the rows at 1 and 10 s and of the trades at
    10 s."""
    volatility: float | None = None
    """The NBBO mid's volatility over 60-s intervals, bps (``sor stats``'s)."""


def fit_market(
    path: Path,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    skip_bad_rows: bool = False,
    source: SourceOptions | None = None,
    rounds: int = ROUNDS,
) -> MarketParams:
    """Fit the generator's parameters to the file ``path`` within ``[start_ns, end_ns]``.

    Raises
    ------
    DataError
        The file cannot be read, or its window has no venue quoting both sides.
    """
    from sor.data.events import read_events
    from sor.stylized.summary import file_stats

    events = read_events(path, start_ns=start_ns, end_ns=end_ns, skip_bad_rows=skip_bad_rows,
                         source=source)  # fmt: skip
    if len(events) == 0:
        raise DataError("no rows in the window to fit", path=str(path))
    t0, t1 = int(events["ts_event"].min()), int(events["ts_event"].max())
    if t1 <= t0:
        raise DataError("the window to fit spans no time", path=str(path))
    report = file_stats(path, skip_bad_rows=skip_bad_rows, start_ns=t0, end_ns=t1,
                        source=source).report  # fmt: skip
    venues = []
    for publisher in np.unique(events["publisher_id"]):
        rows = events[events["publisher_id"] == publisher]
        model = _venue_model(int(publisher), rows, t1, report["venues"][str(int(publisher))])
        if model is not None:
            venues.append(model)
    if not venues:
        raise DataError("no venue quotes both sides in the window to fit", path=str(path))
    seconds = (t1 - t0) / NANOS_PER_SECOND
    price_moves, move_ticks = _price_moves(events, venues, seconds)
    trade_times = _trade_times(events)
    share, length = _metaorder_fit(len(trade_times), report["overall"], seconds)
    # informed trades are drawn from the trades metaorders leave: the share fitted wins;
    # the impact's share starts from the default market's and is matched in the rounds
    flow = FlowModel(informed=round(min(INFORMED, 1.0 - share), 6), metaorder_share=share,
                     metaorder_seconds=length, impact=FlowModel().impact, drift=0.0,
                     impact_decay=IMPACT_DECAY)  # fmt: skip
    start_price = _start_price(events, venues)
    params = MarketParams(
        venues=tuple(_within_price(venue, start_price) for venue in venues),
        price_moves=price_moves,
        move_ticks=move_ticks,
        flow=flow,
        start_price=start_price,
        activity=_activity(events["ts_event"], t0, t1),
        start=format_timestamp(t0),
        end=format_timestamp(t1),
    )
    bursty = burstiness(events["ts_event"], trade_times, t0, t1)
    if (bursty["rows_10"] or 0.0) > BURSTY:
        params = dataclasses.replace(params, bursts=Bursts(move_tilt=MOVE_TILT))
    targets = dataclasses.replace(_targets(report, venues), bursts=bursty)
    params = _calibrate(params, targets, t0, t1, rounds)
    return dataclasses.replace(params, source=_source(path, report, targets))


def _venue_model(
    publisher: int, rows: np.ndarray, t1: int, facts: dict[str, Any]
) -> VenueModel | None:
    """The venue's model from its own rows (None when it never quotes both sides)."""
    bid, ask = rows["bid_px"][:, 0], rows["ask_px"][:, 0]
    two_sided = (bid > 0) & (ask > bid)
    if not two_sided.any():
        return None
    ts = rows["ts_event"]
    held = np.diff(np.append(ts, t1)).astype(float)
    spread = (ask - bid) / TICK_NANOS
    quantiles = _weighted_quantiles(spread[two_sided], held[two_sided])
    action = _actions(rows)
    trades = rows[action == b"T"]
    adds = int(np.sum(action == b"A"))
    cancels = int(np.sum((action == b"C") | (action == b"M")))
    add_share = adds / (adds + cancels) if adds + cancels else 0.5
    rate = max(float(facts.get("messages_per_s") or 0.0), 1e-4)
    clusters = max(len(np.unique(ts)), 1)
    mean_cluster = float(np.clip(len(rows) / clusters, 1.0, 8.0))
    trade_events = float(facts.get("trades_per_s") or 0.0)
    trade_share = float(np.clip(trade_events * mean_cluster / rate, 0.001, 0.9))
    sizes = trades["size"][trades["size"] > 0].astype(float)
    # the lognormal's median as the geometric mean: sizes in round lots make the plain
    # median jump from one lot to the next
    median = float(np.exp(np.mean(np.log(sizes)))) if len(sizes) else 100.0
    sigma = float(np.clip(np.std(np.log(sizes)), 0.0, 3.0)) if len(sizes) > 1 else 0.9
    changed = np.diff(spread[two_sided]) != 0
    requote = float(np.clip(changed.mean(), 0.001, 0.5)) if len(changed) else 0.05
    return VenueModel(
        publisher_id=publisher,
        rate=rate,
        mean_cluster=mean_cluster,
        effect_rows=trade_share,
        adds=(1 - trade_share) * add_share,
        cancels=(1 - trade_share) * (1 - add_share),
        requote=requote,
        spread_ticks=tuple(quantiles),
        trade_size_median=round(max(median, 1.0), 2),
        trade_size_sigma=sigma,
        add_level_mean=_level_mean(rows, b"A"),
        cancel_level_mean=_level_mean(rows, b"C"),
        add_size_median=_median_size(rows, action, b"A"),
        cancel_size_median=_median_size(rows, action, b"C"),
        level_ticks=_level_ticks(rows),
        improve=_improving(rows),
        hidden=_hidden(rows),
    )


def _actions(rows: np.ndarray) -> np.ndarray:
    """Each row's action as the fit counts it: the file's, but for a top-of-book venue
    (every add of which replaces its quote) what the best level did, an add where its
    shares grew and a cancellation where they shrank (the size then the change)."""
    from sor.data.events import TOP_OF_BOOK

    if not len(rows) or rows["source"][0] != TOP_OF_BOOK:
        return rows["action"]
    shown = rows["bid_sz"][:, 0] + rows["ask_sz"][:, 0]
    change = np.diff(np.concatenate(([0], shown)))
    quotes = rows["action"] != b"T"
    action = np.where(quotes & (change > 0), b"A", np.where(quotes & (change < 0), b"C", b""))
    action = np.where(quotes, action, rows["action"]).astype("S1")
    rows["size"][quotes] = np.abs(change[quotes])  # the fit's own copy of the venue's rows
    return action


def _median_size(rows: np.ndarray, actions: np.ndarray, action: bytes) -> float:
    """The median size of the venue's ``action`` rows (100 from fewer than 30)."""
    sizes = rows["size"][(actions == action) & (rows["size"] > 0)]
    return float(np.median(sizes)) if len(sizes) >= 30 else 100.0


def _level_ticks(rows: np.ndarray) -> int:
    """Ticks between the venue's levels: the median gap between its best and second levels
    where it shows both, else (a top-of-book venue) the median move of its best prices."""
    gaps = []
    for side, sign in (("bid", 1), ("ask", -1)):
        px = rows[f"{side}_px"]
        both = (px[:, 0] > 0) & (px[:, 1] > 0)
        gaps.append(sign * (px[both, 0] - px[both, 1]))
    gap = np.concatenate(gaps)
    if len(gap) < 30:
        moves = [np.diff(px[px > 0]) for px in (rows["bid_px"][:, 0], rows["ask_px"][:, 0])]
        gap = np.abs(np.concatenate(moves))
        gap = gap[gap > 0]
    if len(gap) == 0:
        return 1
    return int(np.clip(round(float(np.median(gap)) / TICK_NANOS), 1, 1000))


def _hidden(rows: np.ndarray) -> float:
    """The share of the venue's trade rows priced strictly inside the spread their row
    shows (hidden or midpoint liquidity; none from fewer than 30 trades)."""
    trades = rows[rows["action"] == b"T"]
    bid, ask = trades["bid_px"][:, 0], trades["ask_px"][:, 0]
    quoted = (bid > 0) & (ask > bid + TICK_NANOS)
    if quoted.sum() < 30:
        return 0.0
    price = trades["price"][quoted]
    return round(float(np.mean((price > bid[quoted]) & (price < ask[quoted]))), 6)


def _improving(rows: np.ndarray) -> float:
    """The share of the venue's adds priced inside the spread the row before showed."""
    adds = rows["action"] == b"A"
    if adds.sum() < 30:
        return 0.0
    bid = np.concatenate(([0], rows["bid_px"][:-1, 0]))
    ask = np.concatenate(([0], rows["ask_px"][:-1, 0]))
    price = rows["price"]
    inside = (bid > 0) & (ask > bid) & (price > bid) & (price < ask)
    return round(float(np.mean(inside[adds])), 6)


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray) -> list[float]:
    """Quantiles of ``values`` weighted by ``weights`` (time), at ``SPREAD_QUANTILES``
    probabilities; each from one tick to ``MAX_SPREAD_TICKS`` (a venue quoting a placeholder
    far side, as before the open, has spreads of thousands of dollars), rounded to a
    hundredth of one."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    if w.sum() <= 0:
        w = np.ones_like(w)
    cum = np.cumsum(w) / w.sum()
    probs = np.linspace(SPREAD_TAIL, 1 - SPREAD_TAIL, SPREAD_QUANTILES)
    picked = v[np.minimum(np.searchsorted(cum, probs), len(v) - 1)]
    return [_spread_tick(float(x)) for x in np.maximum.accumulate(picked)]


def _spread_tick(ticks: float, cap: float = MAX_SPREAD_TICKS) -> float:
    """A spread quantile as the venue model holds it: within 1 to ``cap`` (at most
    ``MAX_SPREAD_TICKS``), to the hundredth."""
    return round(min(max(1.0, ticks), float(min(cap, MAX_SPREAD_TICKS))), 2)


def _spread_cap(start_price: float) -> float:
    """The widest spread a fitted venue draws, ticks: the start price (its quotes split the
    spread about the efficient price, so a wider one would put the bid below zero)."""
    return max(1.0, round(start_price * 100))


def _within_price(venue: VenueModel, start_price: float) -> VenueModel:
    """``venue`` with its spread's quantiles held to :func:`_spread_cap`."""
    cap = _spread_cap(start_price)
    return dataclasses.replace(
        venue, spread_ticks=tuple(_spread_tick(q, cap) for q in venue.spread_ticks)
    )


def _level_mean(rows: np.ndarray, action: bytes) -> float:
    """The mean of the exponential whose floor puts as many of the venue's ``action`` rows
    at the best level as the file does.

    Levels are counted against the book before the row (the row before it): an add
    inside that spread is an improving one (:func:`_improving`) and is left out.
    """
    bid = np.concatenate(([0], rows["bid_px"][:-1, 0]))
    ask = np.concatenate(([0], rows["ask_px"][:-1, 0]))
    chosen = (rows["action"] == action) & (rows["price"] > 0) & (bid > 0) & (ask > bid)
    price, buy = rows["price"][chosen], rows["side"][chosen] == b"B"
    away = np.where(buy, bid[chosen] - price, price - ask[chosen])
    away = away[away >= 0]
    if len(away) < 30:
        return 2.0
    at_best = float(np.clip(np.mean(away < TICK_NANOS), 0.05, 0.99))
    return round(-1.0 / math.log(1.0 - at_best), 4)


def _start_price(events: np.ndarray, venues: list[VenueModel]) -> float:
    """The efficient bid at the start: the median of the first two-sided mids of the venue
    with the narrowest median spread, floored to the cent."""
    rows = _narrowest(events, venues)
    mid = (rows["bid_px"][:, 0] + rows["ask_px"][:, 0])[:101] / 2
    return math.floor(float(np.median(mid)) / TICK_NANOS) / 100


def _narrowest(events: np.ndarray, venues: list[VenueModel]) -> np.ndarray:
    """The two-sided rows of the venue with the narrowest median spread."""
    best = min(venues, key=lambda v: (v.spread_ticks[len(v.spread_ticks) // 2], -v.rate))
    rows = events[events["publisher_id"] == best.publisher_id]
    bid, ask = rows["bid_px"][:, 0], rows["ask_px"][:, 0]
    return rows[(bid > 0) & (ask > bid)]


def _price_moves(events: np.ndarray, venues: list[VenueModel], seconds: float) -> tuple[float, int]:
    """The efficient price's moves per second and the ticks of its smaller move.

    Both from the mid of the venue with the narrowest spread: the variance of its changes
    over intervals of 60 s (300 s from windows of over 50 minutes) pins the variance per
    second; the number of its changes per second pins how it is split, moves of ``k``
    ticks (or ``2 k``) with ``k`` the whole number that makes as many moves as the mid
    changes (at least one tick).
    """
    rows = _narrowest(events, venues)
    width = 300.0 if seconds > 3000 else 60.0
    if seconds < 3 * width:
        width = max(seconds / 3, 1.0)
    ts = rows["ts_event"]
    mid = (rows["bid_px"][:, 0] + rows["ask_px"][:, 0]) / 2 / TICK_NANOS
    bounds = ts[0] + np.arange(1, int(seconds / width) + 1) * int(width * NANOS_PER_SECOND)
    at = mid[np.maximum(np.searchsorted(ts, bounds, side="right") - 1, 0)]
    changes = np.diff(np.concatenate(([mid[0]], at)))
    if len(changes) < 2:
        return 0.35, 1
    variance = float(np.mean(changes**2)) / width  # ticks^2 per second
    changes_per_s = float(np.sum(np.diff(mid) != 0)) / seconds
    ticks = 1
    if changes_per_s > 0:
        ticks = max(1, round(math.sqrt(variance / (MOVE_STEP_VARIANCE * changes_per_s))))
    moves = variance / (MOVE_STEP_VARIANCE * ticks * ticks)
    return round(max(moves, 0.001), 6), int(min(ticks, 1000))


def _trade_times(events: np.ndarray) -> np.ndarray:
    """The times of the file's trade events (a venue's trade rows at one ``ts_event``), in
    order."""
    trade = events["action"] == b"T"
    return _event_times(events["ts_event"][trade], events["publisher_id"][trade])


def _event_times(ts: np.ndarray, venue: np.ndarray) -> np.ndarray:
    """The times of the events of trade rows at ``ts`` on ``venue``: one per venue and
    time, in order."""
    keys = np.unique(np.stack([ts, venue.astype(np.int64)]), axis=1)
    return np.sort(keys[0])


def _metaorder_fit(trades: int, overall: dict[str, Any], seconds: float) -> tuple[float, float]:
    """The metaorders' share of trades and mean length, seconds, that best give the file's
    trade-sign autocorrelation at lags 1 to 10, lag 1 above all.

    Two trades ``k`` events apart have correlated signs only when the same metaorder sent
    both: the autocorrelation is ``share^2 P_k``, with ``P_k`` the chance that trades
    ``k`` apart fall in one metaorder. ``P_k`` is measured on ``trades`` trade times spread
    evenly at random over the window, as the generator spreads them, for metaorders of
    each length on a grid (Pareto, as the generator draws them; one seed); the share is
    the weighted least-squares one for each length (lag 1 weighs ``LAG1_WEIGHT`` times
    another lag), and the length the one whose fit is closest.
    """
    from sor.data.generate import METAORDER_ALPHA

    rho = overall.get("trade_sign_autocorrelation") or {}
    lags = [k for k in range(1, 11) if rho.get(str(k)) is not None]
    if trades < 30 or not lags:
        return 0.7, 2.0
    target = np.array([rho[str(k)] for k in lags])
    weight = np.array([LAG1_WEIGHT if k == 1 else 1.0 for k in lags])
    best = (math.inf, 0.0, 2.0)
    rng = np.random.default_rng(CALIBRATION_SEED)
    times = np.sort(rng.random(trades)) * seconds * NANOS_PER_SECOND
    uniform = rng.random(int(2e6))
    span = float(times[-1] - times[0]) + 1.0
    for length in np.geomspace(0.05, max(seconds / 10, 0.1), 48):
        shortest = length * (METAORDER_ALPHA - 1) / METAORDER_ALPHA * NANOS_PER_SECOND
        count = min(int(span / shortest) + 2, len(uniform))
        # Pareto durations by inversion of the one uniform stream: a smooth fit in length
        durations = shortest * uniform[:count] ** (-1.0 / METAORDER_ALPHA)
        starts = times[0] + np.cumsum(durations) - durations[0] * uniform[count - 1]
        index = np.searchsorted(starts, times)
        same = np.array([np.mean(index[k:] == index[:-k]) for k in lags])
        if not same.any():
            continue
        square = float(np.clip((weight * target) @ same / ((weight * same) @ same), 0.0, 1.0))
        error = float(np.sum(weight * (target - square * same) ** 2))
        if error < best[0]:
            best = (error, math.sqrt(square), float(length))
    return round(best[1], 6), round(best[2], 6)


def _activity(ts: np.ndarray, t0: int, t1: int) -> Activity | None:
    """The time-of-day profile: rows per half hour over their mean, from a window of at
    least two hours and at most a day (None from another: a longer profile would overlap
    itself the next day)."""
    width = int(ACTIVITY_BUCKET_S * NANOS_PER_SECOND)
    buckets = (t1 - t0) // width
    if buckets < ACTIVITY_MIN_BUCKETS or buckets * ACTIVITY_BUCKET_S > 86_400:
        return None
    counts = np.bincount(((ts - t0) // width).clip(0, buckets - 1), minlength=buckets)
    counts = counts.astype(float)
    counts[-1] *= width / (t1 - t0 - (buckets - 1) * width)  # the last bucket's share of time
    multipliers = np.maximum(counts / counts.mean(), 0.01)
    multipliers /= multipliers.mean()
    start_s = (t0 % (86_400 * NANOS_PER_SECOND)) / NANOS_PER_SECOND
    return Activity(round(start_s, 3), ACTIVITY_BUCKET_S,
                    tuple(round(float(m), 4) for m in multipliers))  # fmt: skip


def _targets(report: dict[str, Any], venues: list[VenueModel]) -> Targets:
    """The real file's facts the rounds aim at."""
    overall = report["overall"]
    rho = overall.get("trade_sign_autocorrelation") or {}
    return Targets(
        rate={v.publisher_id: v.rate for v in venues},
        trades={
            v.publisher_id: float(report["venues"][str(v.publisher_id)]["trades_per_s"] or 0.0)
            for v in venues
        },
        best_size={
            v.publisher_id: _best_size(report["venues"][str(v.publisher_id)]) for v in venues
        },
        turnover={v.publisher_id: _turnover(report["venues"][str(v.publisher_id)]) for v in venues},
        spread={
            v.publisher_id: _median_spread(report["venues"][str(v.publisher_id)]) for v in venues
        },
        autocorrelation=rho.get("1"),
        autocorrelation_10=rho.get("10"),
        markout_10_bps=(overall.get("markout_bps") or {}).get("10"),
        bursts={},
        volatility=_volatility(overall),
    )


def burstiness(rows: np.ndarray, trades: np.ndarray, t0: int, t1: int) -> dict[str, float | None]:
    """How bursty the rows (their times ``rows``) and the trade events (``trades``) are: over
    windows of ``w`` seconds, the variance of the counts less their mean, over the mean
    squared. It estimates the variance of the rate's multiplier seen at that scale: 0 for a
    Poisson process, and it falls with ``w`` as fast as bursts are short (None from fewer
    than ten windows or no count)."""

    def excess(times: np.ndarray, seconds: float) -> float | None:
        width = int(seconds * NANOS_PER_SECOND)
        windows = (t1 - t0) // width
        if windows < 10 or len(times) == 0:
            return None
        counts = np.bincount((times - t0) // width, minlength=windows)[:windows].astype(float)
        mean = counts.mean()
        return None if mean <= 0 else round(float((counts.var() - mean) / mean**2), 6)

    return {"rows_1": excess(rows, 1.0), "rows_10": excess(rows, 10.0),
            "trades_10": excess(trades, 10.0)}  # fmt: skip


BURSTY = 0.1
"""Burstiness of the rows at 10 s above which a fitted market gets bursts (a Poisson
process has 0; the AMZN day 0.85)."""


def _volatility(facts: dict[str, Any]) -> float | None:
    """The mid's 60-s volatility of ``sor stats``'s facts, bps (None where undefined)."""
    return (facts.get("volatility_bps") or {}).get(f"{VOLATILITY_INTERVAL_S:g}")


def _best_size(facts: dict[str, Any]) -> float | None:
    """The mean of a venue's mean best bid and ask sizes (None when either is unknown)."""
    sizes = facts.get("best_size") or {}
    bid, ask = sizes.get("bid"), sizes.get("ask")
    return None if bid is None or ask is None else (bid + ask) / 2


def _turnover(facts: dict[str, Any]) -> float | None:
    """The mean of a venue's bid and ask queue turnover times, seconds (None when either is
    unknown)."""
    times = facts.get("queue_turnover_s") or {}
    bid, ask = times.get("bid"), times.get("ask")
    return None if bid is None or ask is None else (bid + ask) / 2


def _median_spread(facts: dict[str, Any]) -> float | None:
    """A venue's time-weighted median spread, ticks (None when unknown)."""
    return (facts.get("spread_ticks") or {}).get("median")


def _calibrate(
    params: MarketParams, targets: Targets, t0: int, t1: int, rounds: int
) -> MarketParams:
    """Scale the parameters the generator reaches only through its dynamics, round by
    round, by the ratio of each real fact to the simulated one."""
    per_s = sum(venue.rate for venue in params.venues)
    end = min(t1, t0 + int(CALIBRATION_ROWS / per_s * NANOS_PER_SECOND))
    for number in range(rounds):
        measured = _simulate(params, t0, end, whole=end == t1)
        # the bursts move the rates they are measured with: they settle in the first
        # rounds, the rest bring the rates to the file's under the bursts' final values
        params = _rescaled(params, targets, measured, bursts=number < rounds - SETTLE_ROUNDS)
        log.info("fit: round %d of %d", number + 1, rounds)
    return params


def _simulate(params: MarketParams, t0: int, t1: int, whole: bool) -> dict[str, Any]:
    """Generate the parameters' market over ``[t0, t1]`` and measure it: ``sor stats``'s
    report, with the burstiness under ``"bursts"``. The time-of-day profile applies when
    the window is the ``whole`` fitted one (its mean over a part of it need not be one)."""
    from sor.stylized.book import read_book
    from sor.stylized.summary import book_stats

    with tempfile.TemporaryDirectory(prefix="sor-fit-") as folder:
        out = Path(folder) / "round.csv"
        generate_market(
            out, seed=CALIBRATION_SEED, start=format_timestamp(t0), end=format_timestamp(t1),
            depth=1, rate_per_venue=params.mean_rate, price_moves=params.price_moves,
            flow=params.flow, venue_models=params.venues, start_bid_cents=params.start_bid_cents,
            move_ticks=params.move_ticks, bursts=params.bursts,
            activity=params.activity if whole else None,
        )  # fmt: skip
        # one read of the round's file serves the facts and the burstiness
        book, rows_read = read_book(out)
        ts = book.ts
        if len(ts) == 0:  # a window too short for a row: nothing measured, nothing moves
            return {"venues": {}, "overall": {}, "bursts": {}}
        trades = _event_times(ts[book.trade], book.venue[book.trade])
        bursty = burstiness(ts, trades, int(ts.min()), int(ts.max()))
        return {**book_stats(book, out, rows_read).report, "bursts": bursty}


def _rescaled(
    params: MarketParams, targets: Targets, measured: dict[str, Any], *, bursts: bool = True
) -> MarketParams:
    """One round's update (see the module's docstring)."""
    venues = []
    cap = _spread_cap(params.start_price)
    for venue in params.venues:
        facts = measured["venues"].get(str(venue.publisher_id), {})
        rate = venue.rate * _ratio(targets.rate[venue.publisher_id], facts.get("messages_per_s"))
        share = 1.0 - venue.adds - venue.cancels
        trades = share * _ratio(targets.trades[venue.publisher_id], facts.get("trades_per_s"))
        trades = float(np.clip(trades, 0.001, 0.9))
        quotes = venue.adds + venue.cancels
        add_share = venue.adds / quotes if quotes else 0.5
        larger = _ratio(targets.best_size[venue.publisher_id], _best_size(facts))
        scale = venue.size_scale * larger
        # a re-quote moves the whole best level away: the quicker the real queue turns over
        # against the generated one, the more often the venue re-quotes
        # and the more often its quotes follow the efficient price (half the ratio each)
        quicker = math.sqrt(_ratio(_turnover(facts), targets.turnover[venue.publisher_id]))
        requote = float(np.clip(venue.requote * quicker, 1e-4, 0.5))
        follow = float(np.clip(venue.follow * quicker, 0.01, 1.0))
        # quotes that lag the price widen the spread: its quantiles shrink by as much
        wider = _ratio(targets.spread[venue.publisher_id], _median_spread(facts))
        spread = tuple(_spread_tick(q * wider, cap) for q in venue.spread_ticks)
        venues.append(dataclasses.replace(
            venue, rate=round(rate, 6), requote=round(requote, 6), follow=round(follow, 6),
            spread_ticks=spread, effect_rows=round(trades, 6),
            adds=round((1 - trades) * add_share, 6), cancels=round((1 - trades) * (1 - add_share), 6),
            size_scale=round(float(np.clip(scale, 0.01, 100.0)), 6),
            add_size_median=round(float(np.clip(venue.add_size_median * larger, 1.0, 1e6)), 4),
            cancel_size_median=round(
                float(np.clip(venue.cancel_size_median * larger, 1.0, 1e6)), 4),
        ))  # fmt: skip
    flow = params.flow
    overall = measured["overall"]
    impact = flow.impact * _ratio(
        targets.markout_10_bps, (overall.get("markout_bps") or {}).get("10")
    )
    # the metaorders' share: fitted on evenly spread trades; bursts gather trades into the
    # same metaorder, so the rounds bring the lag-1 autocorrelation back to the file's
    rho = overall.get("trade_sign_autocorrelation") or {}
    share = flow.metaorder_share * math.sqrt(_ratio(targets.autocorrelation, rho.get("1")))
    share = float(np.clip(share, 0.0, 1.0 - 0.001))
    # past all of the moves pushed by the flow, trades that know the next move carry the rest
    informed = flow.informed
    if impact >= 1.0:
        informed *= _ratio(targets.markout_10_bps, (overall.get("markout_bps") or {}).get("10"))
    informed = float(np.clip(informed, 0.001, min(MAX_INFORMED, 1.0 - share)))
    flow = FlowModel(
        informed=round(informed, 6), metaorder_share=round(share, 6),
        metaorder_seconds=flow.metaorder_seconds,
        impact=round(float(np.clip(impact, 0.0, 1.0)), 6),
        drift=float(np.clip(flow.drift, -MAX_DRIFT, MAX_DRIFT)), impact_decay=flow.impact_decay,
    )  # fmt: skip
    # the impact's moves add to the unpredictable ones: the moves' rate brings the mid's
    # variance back to the file's
    moves = params.price_moves * _ratio(targets.volatility, _volatility(overall)) ** 2
    return dataclasses.replace(
        params, venues=tuple(venues), flow=flow, price_moves=round(max(moves, 0.001), 6),
        bursts=_rescaled_bursts(params.bursts, targets.bursts, measured["bursts"])
        if bursts
        else params.bursts,
    )  # fmt: skip


def _rescaled_bursts(
    bursts: Bursts | None, target: dict[str, float | None], measured: dict[str, float | None]
) -> Bursts | None:
    """One round's update of the bursts: the busy-to-quiet ratio by the rows' burstiness at
    10 s, the trades' tilt by how much burstier the trades are than the rows, the spells'
    length by how much burstier the rows are at 1 s than at 10 s (shorter spells, a steeper
    fall)."""
    if bursts is None:
        return None

    def over(a: str, b: str, d: dict[str, float | None]) -> float | None:
        x, y = d.get(a), d.get(b)
        return None if x is None or y is None or not y > 0 else x / y

    ratio = 1.0 + (bursts.ratio - 1.0) * _ratio(target.get("rows_10"), measured.get("rows_10"))
    tilt = bursts.trade_tilt
    seconds = bursts.seconds * _ratio(over("rows_1", "rows_10", measured),
                                      over("rows_1", "rows_10", target))  # fmt: skip
    return dataclasses.replace(
        bursts, ratio=round(float(np.clip(ratio, 1.0, 1000.0)), 6),
        trade_tilt=tilt,
        seconds=round(float(np.clip(seconds, 0.05, 600.0)), 6),
    )  # fmt: skip


def _ratio(target: float | None, measured: float | None) -> float:
    """The factor to scale a parameter by: target over measured, within ``STEP_BOUNDS``
    (1 when either is unknown or not positive)."""
    if target is None or measured is None or not target > 0 or not measured > 0:
        return 1.0
    return float(np.clip(target / measured, *STEP_BOUNDS))


def _source(path: Path, report: dict[str, Any], targets: Targets) -> dict[str, Any]:
    """Where the parameters come from, for the file's reader."""
    return {
        "file": str(path),
        "sha256": report["sha256"],
        "rows": report["rows"],
        "seconds": report["seconds"],
        "targets": {
            name: value
            for name, value in (
                ("autocorrelation_lag_1", targets.autocorrelation),
                ("autocorrelation_lag_10", targets.autocorrelation_10),
                ("markout_10s_bps", targets.markout_10_bps),
            )
            if value is not None  # TOML has no null
        },
    }
