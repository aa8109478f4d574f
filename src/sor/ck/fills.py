"""Passive orders run one by one through the queue simulator: the fill study's engine.

An order rests a limit buy of ``qty`` shares at its venue's best bid at ``place_ns`` (as the
venue's complete book then stands) and is cancelled at ``cancel_ns``. Orders never see each
other: each is simulated as if alone, so overlapping orders at one venue run in separate
passes over the events (``slots``), and orders of different venues share a pass.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np

from sor.ck.latency import OrderLatency
from sor.ck.mirror import mirror_constant, reflect_events
from sor.ck.queue import CONSERVATIVE, DISPLAYED, run_schedule
from sor.ck.router import CKSettings
from sor.core.defaults import (
    DEFAULT_FILLS_EVERY_S,
    DEFAULT_FILLS_HORIZONS_S,
    DEFAULT_FILLS_SIZES,
    DEFAULT_LATENCY_US,
)
from sor.core.domain import NANOS_PER_SECOND
from sor.core.errors import SorError
from sor.core.types import Side
from sor.core.uncertainty import (
    MIN_UNITS,
    clustered_standard_error,
    paired_difference_interval,
    paired_mean_difference_interval,
    wilson_interval,
)
from sor.report.markouts import MARKOUT_HORIZONS_S, TopOfBook, mark_out, share_weighted

log = logging.getLogger("sor")

MAX_ORDERS = 500_000
"""Orders one study may place (placement times x venues x sizes x horizons), as the backtest
caps its decisions (``sor.ck.backtest.MAX_DECISIONS``), but for a work item of microseconds,
not milliseconds: each order's row is kept for ``--orders-out`` (about 0.5 GB at the cap)."""
MAX_EVENT_PASSES = 2_000_000_000
"""Event steps one study may take (a minute or two at 40 to 100 ns a step): orders resting
at once at a venue run in separate passes over every event, so a horizon many times
``--every`` multiplies the events gone through (by the queue models compared, too)."""


def nanos(seconds: float) -> int:
    """A positive duration as whole nanoseconds, at least 1 and at most 2^62 (no file spans
    as much): ``--every 1e300`` is one order per venue, not an overflow."""
    return max(1, round(min(seconds * NANOS_PER_SECOND, 2.0**62)))


@dataclass(frozen=True)
class Orders:
    """Passive orders as parallel arrays: venue index, placement and cancellation times (ns),
    shares."""

    venue: np.ndarray
    place_ns: np.ndarray
    cancel_ns: np.ndarray
    qty: np.ndarray

    def __len__(self) -> int:
        return len(self.venue)


@dataclass(frozen=True)
class OrderFills:
    """What each order got.

    ``price`` (nano-dollars) and ``ahead`` (shares in front at placement) are 0 for an order
    not placed (its venue showed no bid); ``filled`` its shares bought. ``fills`` lists
    every fill as rows of ``fill_order`` (order index), ``fill_ns``, ``fill_qty`` and
    ``fill_kind`` (``sor.ck.queue.AT_PRICE``, ``THROUGH`` or ``CROSSED``), in time
    order within each order.
    """

    price: np.ndarray
    ahead: np.ndarray
    placed: np.ndarray
    filled: np.ndarray
    fill_order: np.ndarray
    fill_ns: np.ndarray
    fill_qty: np.ndarray
    fill_kind: np.ndarray


def every(
    venues: int, first_ns: int, last_ns: int, every_ns: int, horizon_ns: int, qty: int
) -> Orders:
    """Return one order per venue every ``every_ns`` from ``first_ns`` while the order's
    cancellation is no later than ``last_ns``, each cancelled ``horizon_ns`` after it rests."""
    times = np.arange(first_ns, last_ns - horizon_ns + 1, max(1, every_ns), dtype=np.int64)
    venue = np.tile(np.arange(venues, dtype=np.int64), len(times))
    place = np.repeat(times, venues)
    return Orders(venue, place, place + horizon_ns, np.full(len(venue), qty, np.int64))


def slots(orders: Orders) -> np.ndarray:
    """Return a pass number per order so that no two orders of one venue overlap in a pass
    (an order may rest where another was cancelled at the same moment): the lowest pass
    free when it rests, found through heaps, so that the time grows with the orders, not
    with orders times passes."""
    out = np.zeros(len(orders), np.int64)
    busy: dict[int, list[tuple[int, int]]] = {}  # per venue: (cancellation, pass) resting
    free: dict[int, list[int]] = {}  # per venue: passes free again
    count: dict[int, int] = {}
    place, cancel = orders.place_ns.tolist(), orders.cancel_ns.tolist()
    for i in np.lexsort((orders.place_ns, orders.venue)).tolist():
        venue = int(orders.venue[i])
        resting, idle = busy.setdefault(venue, []), free.setdefault(venue, [])
        while resting and resting[0][0] <= place[i]:
            heapq.heappush(idle, heapq.heappop(resting)[1])
        if idle:
            slot = heapq.heappop(idle)
        else:
            slot = count.get(venue, 0)
            count[venue] = slot + 1
        heapq.heappush(resting, (cancel[i], slot))
        out[i] = slot
    return out


def simulate(
    events: np.ndarray, venues: np.ndarray, orders: Orders, settings: CKSettings
) -> OrderFills:
    """Run every order through the queue simulator (``events`` with a ``venue`` column, see
    :func:`sor.ck.queue.attach_venues`) under the queue model and fill rules of
    ``settings`` (its latency is the caller's: orders rest at their ``place_ns``)."""
    n = len(orders)
    out = (np.zeros(n, np.int64), np.zeros(n, np.float64), np.zeros(n, np.bool_),
           np.zeros(n, np.int64))  # fmt: skip
    parts = []
    pass_of = slots(orders)
    by_pass = np.argsort(pass_of, kind="stable")
    bounds = np.searchsorted(pass_of[by_pass], np.arange(int(pass_of.max()) + 2 if n else 0))
    for lo, hi in itertools.pairwise(bounds.tolist()):
        mine = by_pass[lo:hi]
        # cancellations before placements at one moment, so that a venue's slot is free
        times = np.concatenate((orders.cancel_ns[mine], orders.place_ns[mine]))
        is_place = np.concatenate((np.zeros(len(mine), bool), np.ones(len(mine), bool)))
        which = np.concatenate((mine, mine))
        order = np.lexsort((is_place, times))
        parts.append(run_schedule(
            events, settings.book(events, venues), settings.rules(),
            (times[order], is_place[order], which[order]), (orders.venue, orders.qty), out,
        ))  # fmt: skip
    table = np.column_stack([np.concatenate([p[j] for p in parts]) if parts else
                             np.zeros(0, np.int64) for j in range(4)])  # fmt: skip
    # in order, time, shares, how: each order's fills in time order
    table = table[np.lexsort(table.T[::-1])] if len(table) else table
    return OrderFills(*out, *(np.ascontiguousarray(table[:, j]) for j in range(4)))


@dataclass(frozen=True, slots=True)  # slots: a study keeps up to MAX_ORDERS of them
class OrderRow:
    """One placed order of the study: horizon (s), venue (publisher id), placement time
    (ns), price (nano-dollars), shares ahead at placement, shares filled, each fill's time
    (ns) and shares, the order's size, and how far its price sat from the NBBO's best on
    its side when it rested (bps, positive = worse: a bid below the best bid)."""

    horizon_s: float
    venue: int
    placed_ns: int
    price_nanos: int
    queue_ahead: float
    filled: int
    fill_ns: tuple[int, ...]
    fill_qty: tuple[int, ...]
    size: int = 0
    nbbo_bps: float | None = None


@dataclass(frozen=True)
class StudyOptions:
    """What ``sor fills`` studies: one order of each of ``sizes`` shares per venue every
    ``every_s`` seconds, at the best bid (``side`` buy) or ask (sell), cancelled after each
    horizon; the queue model and fill rules as in :func:`sor.ck.queue.advance`."""

    every_s: float = DEFAULT_FILLS_EVERY_S
    sizes: tuple[int, ...] = DEFAULT_FILLS_SIZES
    horizons_s: tuple[float, ...] = DEFAULT_FILLS_HORIZONS_S
    queue_model: int = CONSERVATIVE
    latency_ns: int = round(DEFAULT_LATENCY_US * 1_000)
    crossing_fill: int = DISPLAYED
    side: Side = Side.BUY
    trade_fill: int = DISPLAYED
    fallback_queue_model: int = CONSERVATIVE

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side.parse(self.side))  # its name is taken too

    @property
    def settings(self) -> CKSettings:
        """The simulator's settings of the study."""
        return self.with_model(self.queue_model)

    def with_model(self, queue_model: int) -> CKSettings:
        """The simulator's settings of the study under another queue model."""
        return CKSettings(OrderLatency(self.latency_ns), queue_model, self.crossing_fill,
                          self.trade_fill, self.fallback_queue_model)  # fmt: skip


@dataclass(frozen=True)
class _Market:
    """What every study of one input needs: the events the buy machinery runs on (the
    reflected market for a sell), the mirror constant (0 for a buy), the NBBO of the real
    market, and the span where orders go (every venue has shown a complete book)."""

    events: np.ndarray
    top: int
    nbbo: TopOfBook
    first_ns: int
    last_ns: int

    @classmethod
    def of(cls, events: np.ndarray, venues: np.ndarray, side: Side) -> _Market | None:
        from sor.data.events import complete_books

        top = mirror_constant(events) if side is Side.SELL else 0
        book = reflect_events(events, top) if top else events
        complete = events[complete_books(events)]
        firsts = [complete["ts_event"][complete["venue"] == v][:1] for v in range(len(venues))]
        shown = [int(f[0]) for f in firsts if len(f)]
        if not len(events) or not shown:
            return None
        # orders start once every venue that ever shows a book has shown one; a venue that
        # never does (trades only) has its orders left unplaced
        first, last = max(shown), int(events["ts_event"].max())
        return cls(book, top, TopOfBook.of_events(events), first, last)

    def orders(self, n_venues: int, options: StudyOptions, horizon_s: float, size: int) -> Orders:
        """One order per venue every ``every_s``, reaching the book ``latency_ns`` after
        its decision, cancelled ``horizon_s`` after it rests."""
        planned = every(n_venues, self.first_ns, self.last_ns - options.latency_ns,
                        nanos(options.every_s), nanos(horizon_s), size)  # fmt: skip
        return Orders(planned.venue, planned.place_ns + options.latency_ns,
                      planned.cancel_ns + options.latency_ns, planned.qty)  # fmt: skip

    def times(self, options: StudyOptions, horizon_s: float) -> int:
        """How many times :meth:`orders` places one order per venue at ``horizon_s``."""
        stop = self.last_ns - options.latency_ns - nanos(horizon_s)
        return 0 if stop < self.first_ns else (stop - self.first_ns) // nanos(options.every_s) + 1

    def check(self, n_venues: int, options: StudyOptions, models: int = 1) -> None:
        """Refuse, before any order runs, a study beyond :data:`MAX_ORDERS` or
        :data:`MAX_EVENT_PASSES` (``models``: how many queue models run each order), or one
        where no order fits; warn of a horizon too long for any.

        Raises
        ------
        SorError
            Naming the count, the cap and the flag that lowers it.
        """
        times = {h: self.times(options, h) for h in options.horizons_s}
        every_ns = nanos(options.every_s)
        span = (self.last_ns - self.first_ns) / NANOS_PER_SECOND
        orders = sum(times.values()) * n_venues * len(options.sizes)
        if orders > MAX_ORDERS:
            raise SorError(
                f"--every {options.every_s:g} s over the {span:,.6g} s where orders go, "
                f"{n_venues} venue(s), {len(options.sizes)} size(s) and "
                f"{len(options.horizons_s)} horizon(s) make {orders:,} orders (at most "
                f"{MAX_ORDERS:,}): raise --every, or give fewer --size or --horizon values"
            )
        # each order resting at once at a venue takes its own pass over the events
        passes = {h: min(t, math.ceil(nanos(h) / every_ns)) for h, t in times.items()}
        steps = sum(passes.values()) * len(options.sizes) * models * len(self.events)
        if steps > MAX_EVENT_PASSES:
            longest = max(options.horizons_s)
            raise SorError(
                f"--horizon {longest:g} s with --every {options.every_s:g} s keeps up to "
                f"{passes[longest]:,} orders resting at once at a venue, each simulated in "
                f"its own pass over the {len(self.events):,} events: {steps:,} event steps "
                f"(at most {MAX_EVENT_PASSES:,}): raise --every or shorten --horizon"
            )
        where = (f"the {span:,.6g} s where orders go (from the moment every venue has shown "
                 "a book to the last event)")  # fmt: skip
        latency = options.latency_ns / 1_000
        if orders == 0 and latency:
            raise SorError(
                f"no order fits: each rests --latency-us {latency:g} ({latency / 1e6:,.6g} s) "
                f"after its decision and is cancelled --horizon {min(options.horizons_s):g} s "
                f"later, past the end of {where}: lower --latency-us or --horizon"
            )
        if orders == 0:
            raise SorError(
                f"no order fits: the shortest --horizon, {min(options.horizons_s):g} s, is "
                f"longer than {where}: give a shorter --horizon"
            )
        empty = [f"{h:g}" for h, t in times.items() if t == 0]
        if empty:
            log.warning(
                "warning: --horizon %s s: no order fits %s%s; its cells are empty",
                ",".join(empty), where,
                f" with --latency-us {latency:g}" if latency else "",
            )  # fmt: skip

    def prices(self, got: OrderFills) -> np.ndarray:
        """The orders' prices in the real market (nano-dollars; 0 where not placed)."""
        return np.where(got.placed, np.abs(self.top - got.price), 0)

    def nbbo_bps(self, orders: Orders, got: OrderFills) -> np.ndarray:
        """How far each order's price sat from the NBBO's best on its side when it rested,
        in bps of that best, positive where worse (NaN where not placed or no NBBO)."""
        bid, ask = self.nbbo_at(orders.place_ns)
        best = ask if self.top else bid
        price = self.prices(got).astype(np.float64)
        worse = (price - best) if self.top else (best - price)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = worse / best * 10_000
        return np.where(got.placed & (best > 0), out, np.nan)

    def nbbo_at(self, ns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.nbbo.nbbo_at(ns)


def study(
    events: np.ndarray, venues: np.ndarray, options: StudyOptions
) -> tuple[dict[str, dict[str, dict[str, dict[str, object]]]], list[OrderRow]]:
    """Run the fill study on ``events`` (with a ``venue`` column).

    Orders start once every venue has shown a complete book and stop where their
    cancellation would pass the last event; each is decided at its time and reaches the
    book ``latency_ns`` later, where it rests at the best price as the book then stands.
    Returns the statistics per size (``str``), venue (publisher id) and horizon
    (``f"{h:g}"``), and one row per placed order.
    """
    market = _Market.of(events, venues, options.side)
    if market is None:
        return {}, []
    market.check(len(venues), options)
    sign = -1 if market.top else 1
    stats: dict[str, dict[str, dict[str, dict[str, object]]]] = {}
    rows: list[OrderRow] = []
    for size in options.sizes:
        by_venue: dict[str, dict[str, dict[str, object]]] = {str(int(p)): {} for p in venues}
        stats[str(size)] = by_venue
        for horizon_s in options.horizons_s:
            orders = market.orders(len(venues), options, horizon_s, size)
            got = simulate(market.events, venues, orders, options.settings)
            price = market.prices(got)
            distance = market.nbbo_bps(orders, got)
            marks = mark_out(got.fill_ns, sign, market.nbbo, MARKOUT_HORIZONS_S)[1]
            for v, publisher in enumerate(venues):
                mine = np.flatnonzero((orders.venue == v) & got.placed)
                fills = np.isin(got.fill_order, mine)
                by_venue[str(int(publisher))][f"{horizon_s:g}"] = _venue_stats(
                    orders, got, mine, fills, {a: m[fills] for a, m in marks.items()},
                    distance[mine],
                )  # fmt: skip
            starts = _fill_starts(got, len(orders))
            for o in np.flatnonzero(got.placed):
                own = slice(starts[o], starts[o + 1])
                rows.append(OrderRow(
                    horizon_s, int(venues[orders.venue[o]]), int(orders.place_ns[o]),
                    int(price[o]), float(got.ahead[o]), int(got.filled[o]),
                    tuple(got.fill_ns[own].tolist()), tuple(got.fill_qty[own].tolist()),
                    size, None if np.isnan(distance[o]) else float(distance[o]),
                ))  # fmt: skip
    return stats, rows


COMPARED = ("conservative", "probabilistic")
"""The queue models ``sor fills --compare`` holds to the exact queue."""
AGREEMENT = {"mean_filled_fraction_relative": 0.10, "mean_filled_fraction_absolute": 0.005,
             "p_full_fill": 0.01, "identical_quantity": 0.97}  # fmt: skip
"""When a model agrees with the exact queue on a cell: its mean filled fraction within 10 %
of FIFO's (or 0.005), its probability of a full fill within 0.01, and the same shares
filled as FIFO on at least 97 % of the orders."""


def compare(
    events: np.ndarray, venues: np.ndarray, options: StudyOptions
) -> tuple[dict[str, dict[str, dict[str, dict[str, object]]]], list[OrderRow]]:
    """Run the same orders through the exact queue (FIFO) and each model of
    :data:`COMPARED`, on the venues whose queue FIFO knows; return per venue, size and
    horizon each model's fill statistics beside FIFO's (and the share of orders filled
    exactly as FIFO fills them), and one row per placed order with FIFO's fills."""
    from sor.ck.queue import FIFO, QUEUE_MODELS, order_level_venues

    market = _Market.of(events, venues, options.side)
    exact = order_level_venues(events, venues)
    if market is None:
        return {}, []
    market.check(int(np.count_nonzero(exact)), options, models=1 + len(COMPARED))
    out: dict[str, dict[str, dict[str, dict[str, object]]]] = {
        str(int(p)): {} for p, e in zip(venues, exact, strict=True) if e
    }
    rows: list[OrderRow] = []
    for size in options.sizes:
        for horizon_s in options.horizons_s:
            orders = market.orders(len(venues), options, horizon_s, size)
            keep = exact[orders.venue] != 0
            orders = Orders(orders.venue[keep], orders.place_ns[keep], orders.cancel_ns[keep],
                            orders.qty[keep])  # fmt: skip
            truth = simulate(market.events, venues, orders, options.with_model(FIFO))
            models = {name: simulate(market.events, venues, orders,
                                     options.with_model(QUEUE_MODELS[name]))
                      for name in COMPARED}  # fmt: skip
            distance = market.nbbo_bps(orders, truth)
            for v, publisher in enumerate(venues):
                if not exact[v]:
                    continue
                mine = np.flatnonzero((orders.venue == v) & truth.placed)
                cell: dict[str, object] = {"orders": len(mine),
                                           **_distance(distance[mine]),
                                           "fifo": _fill_stats(truth.filled[mine], size)}  # fmt: skip
                for name, got in models.items():
                    cell[name] = _fill_stats(got.filled[mine], size, truth.filled[mine])
                out[str(int(publisher))].setdefault(str(size), {})[f"{horizon_s:g}"] = cell
            price = market.prices(truth)
            starts = _fill_starts(truth, len(orders))
            for o in np.flatnonzero(truth.placed):
                own = slice(starts[o], starts[o + 1])
                rows.append(OrderRow(
                    horizon_s, int(venues[orders.venue[o]]), int(orders.place_ns[o]),
                    int(price[o]), float(truth.ahead[o]), int(truth.filled[o]),
                    tuple(truth.fill_ns[own].tolist()), tuple(truth.fill_qty[own].tolist()),
                    size, None if np.isnan(distance[o]) else float(distance[o]),
                ))  # fmt: skip
    return out, rows


def _fill_starts(got: OrderFills, n: int) -> list[int]:
    """Where each of ``n`` orders' fills start among ``got``'s (in order, then time): order
    ``o``'s are ``starts[o]:starts[o + 1]``."""
    starts: list[int] = np.searchsorted(got.fill_order, np.arange(n + 1)).tolist()
    return starts


def _fill_stats(
    filled: np.ndarray, size: int, truth: np.ndarray | None = None
) -> dict[str, object]:
    """Mean filled fraction, probabilities of a full and of any fill; against ``truth``
    (FIFO's shares filled, same orders) the share filled identically, and whether the
    model agrees with it by :data:`AGREEMENT`."""
    if not len(filled):
        return {"mean_filled_fraction": None, "p_full_fill": None, "p_any_fill": None}
    stats: dict[str, object] = {
        "mean_filled_fraction": round(float(np.mean(filled / size)), 6),
        "p_full_fill": round(float(np.mean(filled >= size)), 6),
        "p_any_fill": round(float(np.mean(filled > 0)), 6),
    }
    if truth is not None:
        same = float(np.mean(filled == truth))
        fraction, exact = float(np.mean(filled / size)), float(np.mean(truth / size))
        full = abs(float(np.mean(filled >= size)) - float(np.mean(truth >= size)))
        stats["identical_quantity"] = round(same, 6)
        stats.update(_paired(filled, truth, size))
        stats["agrees"] = bool(
            abs(fraction - exact) <= max(AGREEMENT["mean_filled_fraction_relative"] * exact,
                                         AGREEMENT["mean_filled_fraction_absolute"])
            and full <= AGREEMENT["p_full_fill"] and same >= AGREEMENT["identical_quantity"]
        )  # fmt: skip
    return stats


def _paired(filled: np.ndarray, truth: np.ndarray, size: int) -> dict[str, object]:
    """A model's P(any fill), P(full fill) and mean filled fraction less FIFO's on the same
    orders, each with its paired 95 % interval, the orders the units: Newcombe's method 10
    for the probabilities, the normal interval of the mean per-order difference for the
    fraction; none from fewer than :data:`MIN_UNITS` orders (``no_interval`` says why)."""
    n = len(filled)
    out: dict[str, object] = {}
    why: list[str] = []
    for key, mine, fifo in (("p_any_fill", filled > 0, truth > 0),
                            ("p_full_fill", filled >= size, truth >= size)):  # fmt: skip
        only_mine, only_fifo = int(np.sum(mine & ~fifo)), int(np.sum(fifo & ~mine))
        out[f"{key}_diff"] = _rounded((only_mine - only_fifo) / n)
        out[f"{key}_diff_95"] = None
        if n >= MIN_UNITS:
            both = int(np.sum(mine & fifo))
            ends = paired_difference_interval(both, only_mine, only_fifo,
                                              n - both - only_mine - only_fifo)  # fmt: skip
            out[f"{key}_diff_95"] = [_rounded(end) for end in ends]
    differences = (filled - truth) / size
    out["mean_filled_fraction_diff"] = _rounded(float(np.mean(differences)))
    fraction = paired_mean_difference_interval(differences, unit="order")
    if isinstance(fraction, str):
        out["mean_filled_fraction_diff_95"] = None
        why.append(f"mean filled fraction: {fraction}")
    else:
        out["mean_filled_fraction_diff_95"] = [_rounded(end) for end in fraction]
    if n < MIN_UNITS:
        plural = "" if n == 1 else "s"
        why = [f"{n} order{plural}: no paired interval from fewer than {MIN_UNITS}"]
    if why:
        out["no_interval"] = "; ".join(why)
    return out


def _rounded(value: float) -> float:
    """``value`` to 6 decimals, without a negative zero."""
    return round(value, 6) + 0.0


def _distance(bps: np.ndarray) -> dict[str, object]:
    """Where the orders rested against the NBBO: the share at its best price, and the mean
    distance from it in bps (positive = worse)."""
    known = bps[~np.isnan(bps)]
    if not len(known):
        return {"at_nbbo": None, "mean_nbbo_distance_bps": None}
    return {
        "at_nbbo": round(float(np.mean(known <= 0)), 6),
        "mean_nbbo_distance_bps": round(float(np.mean(known)), 6),
    }


def _venue_stats(
    orders: Orders,
    got: OrderFills,
    mine: np.ndarray,
    fills: np.ndarray,
    marks: dict[float, np.ndarray],
    distance: np.ndarray,
) -> dict[str, object]:
    """The statistics of one venue's orders ``mine`` at one horizon (fills: mask of theirs;
    ``distance``: each one's distance from the NBBO, bps)."""
    if not len(mine):
        return {"orders": 0, "p_any_fill": None, "p_any_fill_95": None, "p_full_fill": None,
                "p_full_fill_95": None, "mean_filled_fraction": None,
                "median_time_to_first_fill_s": None,
                "markout_bps": {str(a): None for a in marks},
                "markout_se_bps": {str(a): None for a in marks},
                "markout_orders": {str(a): 0 for a in marks}, **_distance(distance)}  # fmt: skip
    filled = got.filled[mine]
    first_ns = np.full(len(orders), -1, np.int64)
    order_of_fill = got.fill_order[fills]
    # fills are in time order within each order: the first of each is its first fill
    first_ns[order_of_fill[::-1]] = got.fill_ns[fills][::-1]
    waited = (first_ns[mine] - orders.place_ns[mine])[first_ns[mine] >= 0] / 1e9
    qty = got.fill_qty[fills]

    def mean_markout(values: np.ndarray) -> float | None:
        mean = share_weighted(values, qty)
        return None if mean is None else round(mean, 6)

    # each order's fills are one unit of the markout's standard error: they share its queue
    errors = {a: clustered_standard_error(m, qty, order_of_fill, cluster="filled order")
              for a, m in marks.items()}  # fmt: skip
    any_fill, full_fill = int(np.sum(filled > 0)), int(np.sum(filled >= orders.qty[mine]))
    plural = "" if len(mine) == 1 else "s"
    why = [f"{len(mine)} order{plural} (fill probabilities)"] if len(mine) < MIN_UNITS else []
    short = [a for a, e in errors.items() if e.why is not None and e.mean is not None]
    if short:
        why.append(" / ".join(str(errors[a].clusters) for a in short) + " filled orders "
                   f"(markouts at {' / '.join(f'{a:g}' for a in short)} s)")  # fmt: skip
    return {
        "orders": len(mine),
        "p_any_fill": round(any_fill / len(mine), 6),
        "p_any_fill_95": _wilson(any_fill, len(mine)),
        "p_full_fill": round(full_fill / len(mine), 6),
        "p_full_fill_95": _wilson(full_fill, len(mine)),
        "mean_filled_fraction": round(float(np.mean(filled / orders.qty[mine])), 6),
        "median_time_to_first_fill_s": round(float(np.median(waited)), 6) if len(waited) else None,
        "markout_bps": {str(a): mean_markout(m) for a, m in marks.items()},
        "markout_se_bps": {str(a): None if e.standard_error is None
                           else round(e.standard_error, 6) for a, e in errors.items()},
        "markout_orders": {str(a): e.clusters for a, e in errors.items()},
        **_distance(distance),
        **({"no_interval": f"{', '.join(why)}: no interval from fewer than {MIN_UNITS}"}
           if why else {}),
    }  # fmt: skip


def _wilson(successes: int, trials: int) -> list[float] | None:
    """The Wilson 95 % interval of ``successes / trials`` as ``[low, high]``, rounded;
    None from fewer than :data:`MIN_UNITS` trials."""
    if trials < MIN_UNITS:
        return None
    return [round(end, 6) for end in wilson_interval(successes, trials)]
