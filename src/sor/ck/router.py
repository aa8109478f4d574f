"""The full Cont-Kukanov router (model ck) and a pure passive strategy on the queue simulator.

Every ``horizon`` seconds the router takes the remaining quantity, observes the NBBO
half-spread, each venue's best-bid queue and the outflow of every venue's best bid over
past intervals of the horizon's length (data before that moment only), solves the
placement (``sor.ck.solver.solve``), sends a marketable order and limit orders, each
acting on the book after its own order-entry latency (``sor.ck.latency``; capped at
the horizon's end), and cancels what is left at the end of the horizon. What remains
at the window's end is bought with marketable orders. Outflow of a venue's best bid: the
size that left it at an unchanged price (trades and cancellations) plus the whole level
when the bid price fell, between the venue's complete books
(:func:`sor.data.events.complete_books`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sor.ck.latency import OrderLatency
from sor.ck.model import CKParams
from sor.ck.queue import (
    CROSSING_FILLS,
    FIFO,
    QUEUE_MODELS,
    TRADE_FILLS,
    Book,
    Fills,
    advance,
    order_level_venues,
    sweep,
)
from sor.ck.solver import solve
from sor.core.defaults import (
    DEFAULT_CROSSING_FILL,
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_QUEUE_MODEL,
    DEFAULT_TRADE_FILL,
)
from sor.core.domain import NANOS_PER_DOLLAR, NANOS_PER_SECOND, RiskParameters
from sor.core.errors import SorError
from sor.data.events import complete_books

LOOKBACK_INTERVALS = 40


@dataclass(frozen=True)
class CKSettings:
    """Simulator settings of a ck run: recorded in the report (``sor.ck.queue`` codes)."""

    latency: OrderLatency = field(default_factory=OrderLatency)
    queue_model: int = QUEUE_MODELS[DEFAULT_QUEUE_MODEL]
    crossing_fill: int = CROSSING_FILLS[DEFAULT_CROSSING_FILL]
    trade_fill: int = TRADE_FILLS[DEFAULT_TRADE_FILL]
    fallback_queue_model: int = QUEUE_MODELS[DEFAULT_FALLBACK_QUEUE_MODEL]

    def book(self, events: np.ndarray, venues: np.ndarray) -> Book:
        """An empty book for ``events`` (with a ``venue`` column): under ``FIFO`` it marks
        the venues seen order by order.

        Raises
        ------
        SorError
            ``FIFO`` on events without a venue rebuilt from its orders.
        """
        exact = None
        if self.queue_model == FIFO:
            exact = order_level_venues(events, venues)
            if len(events) and not exact.any():
                raise SorError(
                    "--queue-model fifo needs order-level data (Databento MBO with order ids, "
                    "or LOBSTER): no venue of this input has it; use conservative or "
                    "probabilistic"
                )
        return Book.empty(venues, events["ask_px"].shape[1], exact)

    def rules(self) -> tuple[int, int, int, int]:
        """The queue model, its fallback and the fill rules, as the compiled passes take
        them."""
        return self.queue_model, self.fallback_queue_model, self.crossing_fill, self.trade_fill

    def advance(
        self, events: np.ndarray, start: int, until_ns: int, book: Book, room: int
    ) -> tuple[int, Fills]:
        """:func:`sor.ck.queue.advance` under these settings."""
        return advance(events, start, until_ns, book, self.queue_model, room,
                       self.crossing_fill, self.trade_fill, self.fallback_queue_model)  # fmt: skip


@dataclass(frozen=True)
class Execution:
    """One fill: time, venue index, shares, price (nano-dollars), passive or marketable."""

    ts: int
    venue: int
    qty: int
    px: int
    passive: bool


@dataclass(frozen=True)
class CKResult:
    """What a ck-simulator strategy did; money in nano-dollars."""

    order_size: int
    executions: tuple[Execution, ...]
    cash_nanos: int
    rebates_nanos: int
    decisions: int

    @property
    def filled(self) -> int:
        """Shares bought."""
        return sum(e.qty for e in self.executions)

    @property
    def passive(self) -> int:
        """Shares bought by resting limit orders."""
        return sum(e.qty for e in self.executions if e.passive)


def outflows(events: np.ndarray, n_venues: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Return, per venue, event times and the cumulative outflow of its best bid (shares)."""
    times, totals = [], []
    complete = complete_books(events)
    # the columns read, masked per venue: not whole rows, which carry every level
    ts, bid_px, bid_sz = events["ts_event"], events["bid_px"][:, 0], events["bid_sz"][:, 0]
    for v in range(n_venues):
        rows = (events["venue"] == v) & complete
        px, sz = bid_px[rows], bid_sz[rows]
        flow = np.zeros(len(px), dtype=np.int64)
        if len(px) > 1:
            same = px[1:] == px[:-1]
            fell = px[1:] < px[:-1]
            flow[1:] = np.where(same, np.maximum(sz[:-1] - sz[1:], 0), 0)
            flow[1:] += np.where(fell & (px[:-1] > 0), sz[:-1], 0)
        times.append(ts[rows])  # contiguous: a binary search copies a strided array whole
        totals.append(np.cumsum(flow))
    return times, totals


def outflow_samples(
    times: list[np.ndarray], totals: list[np.ndarray], now_ns: int, horizon_ns: int, first_ns: int
) -> np.ndarray:
    """Return outflow samples (N, K) over past horizon-long intervals ending before ``now``.

    Intervals step back by half a horizon; none starts before ``first_ns``. With no
    history the single sample is zero outflow (a limit order would not fill).
    """
    stride = max(1, horizon_ns // 2)
    ends = [now_ns - j * stride for j in range(LOOKBACK_INTERVALS)]
    ends = [e for e in ends if e - horizon_ns >= first_ns]
    if not ends:
        return np.zeros((1, len(times)))
    until = np.array(ends, dtype=np.int64)
    since = until - horizon_ns
    samples = np.empty((len(ends), len(times)))
    for k, (t, c) in enumerate(zip(times, totals, strict=True)):
        at = np.concatenate((np.zeros(1, dtype=np.int64), c))
        samples[:, k] = (
            at[np.searchsorted(t, until, side="right")]
            - at[np.searchsorted(t, since, side="right")]
        )
    return samples


def _book_quotes(book: Book) -> tuple[int, int] | None:
    asks = book.ask_px[:, 0][book.ask_px[:, 0] > 0]
    bids = book.bid_px[:, 0][book.bid_px[:, 0] > 0]
    if not len(asks) or not len(bids):
        return None
    return int(asks.min()), int(bids.max())


def arrival(events: np.ndarray, venues: np.ndarray) -> tuple[int, float | None]:
    """Return the arrival time (every venue has printed once) and the NBBO mid then ($)."""
    book = Book.empty(venues, events["ask_px"].shape[1])
    first_rows = np.unique(events["venue"], return_index=True)[1]
    until = int(events["ts_event"][first_rows.max()]) if len(first_rows) else 0
    advance(events, 0, until, book, 0, 0)
    quotes = _book_quotes(book)
    return until, None if quotes is None else (quotes[0] + quotes[1]) / 2 / NANOS_PER_DOLLAR


def run_ck(
    events: np.ndarray,
    venues: np.ndarray,
    order_size: int,
    fee_nanos: np.ndarray,
    rebate_nanos: np.ndarray,
    parameters: RiskParameters,
    horizon_s: float,
    window: tuple[int, int],
    settings: CKSettings,
    *,
    passive_only: bool = False,
    flows: tuple[list[np.ndarray], list[np.ndarray]] | None = None,
    arrival_ns: int | None = None,
) -> CKResult:
    """Run the ck router (or, with ``passive_only``, equal limit orders and no market order).

    ``flows`` and ``arrival_ns`` (from ``outflows`` and ``arrival``) depend on the events only;
    a search computes them once and passes them to every run.
    """
    book = settings.book(events, venues)
    start_ns, end_ns = window
    horizon_ns = max(1, int(horizon_s * NANOS_PER_SECOND))
    times, totals = flows if flows is not None else outflows(events, len(venues))
    executions: list[Execution] = []
    cash = rebates = decisions = 0
    filled = 0
    index = 0
    # the first decision needs one horizon of outflow history after every venue has quoted
    if arrival_ns is None:
        arrival_ns = arrival(events, venues)[0]
    first = max(start_ns, arrival_ns)
    now = first + horizon_ns if not passive_only else first

    def take_market(quantity: int, at: int) -> None:
        nonlocal cash, filled
        got = sweep(book, quantity)
        for v, q, p in zip(got.venue, got.qty, got.px, strict=True):
            executions.append(Execution(at, int(v), int(q), int(p), False))
            cash += int(q) * (int(p) + int(fee_nanos[v]))
            filled += int(q)

    def take_passive(got: Fills) -> None:
        nonlocal cash, filled, rebates
        for t, v, q, p in zip(got.ts, got.venue, got.qty, got.px, strict=True):
            executions.append(Execution(int(t), int(v), int(q), int(p), True))
            cash += int(q) * (int(p) - int(rebate_nanos[v]))
            rebates += int(q) * int(rebate_nanos[v])
            filled += int(q)

    rng = settings.latency.generator()
    while now < end_ns and filled < order_size:
        index, _ = settings.advance(events, index, now, book, 0)
        quotes = _book_quotes(book)
        horizon_end = min(now + horizon_ns, end_ns)
        if quotes is not None:
            decisions += 1
            market, limits = _decide(
                book, quotes, order_size - filled, fee_nanos, rebate_nanos, parameters,
                passive_only, outflow_samples(times, totals, now, horizon_ns, first),
            )  # fmt: skip
            # one delay for the marketable order and one per venue, drawn at every decision
            # whatever is sent, so the draws line up across parameter sets
            delays = settings.latency.draw(rng, 1 + len(venues))
            for slot in np.argsort(delays, kind="stable"):
                reach = min(now + int(delays[slot]), horizon_end)
                index, got = settings.advance(events, index, reach, book, order_size - filled)
                take_passive(got)
                if slot == 0 and market > 0 and filled < order_size:
                    take_market(min(market, order_size - filled), reach)
                elif slot > 0:
                    book.rest(slot - 1, limits.get(slot - 1, 0))
        index, got = settings.advance(events, index, horizon_end, book, order_size - filled)
        take_passive(got)
        book.limit_qty[:] = 0  # the horizon is over: cancel what is left
        now = horizon_end
    if filled < order_size:
        index, _ = settings.advance(events, index, end_ns, book, 0)
        take_market(order_size - filled, end_ns)
    return CKResult(order_size, tuple(executions), cash, rebates, decisions)


def _decide(
    book: Book,
    quotes: tuple[int, int],
    remaining: int,
    fee_nanos: np.ndarray,
    rebate_nanos: np.ndarray,
    parameters: RiskParameters,
    passive_only: bool,
    samples: np.ndarray,
) -> tuple[int, dict[int, int]]:
    """Return the marketable quantity and the limit quantity per venue index."""
    live = [v for v in range(len(book.venues)) if book.bid_px[v, 0] > 0]
    if not live:
        return remaining, {}
    if passive_only:
        share, extra = divmod(remaining, len(live))
        return 0, {v: share + (1 if i < extra else 0) for i, v in enumerate(live)}
    best_ask_venue = int(np.argmin(np.where(book.ask_px[:, 0] > 0, book.ask_px[:, 0], 2**62)))
    params = CKParams(
        order_size=remaining,
        half_spread=(quotes[0] - quotes[1]) / 2 / NANOS_PER_DOLLAR,
        fee=fee_nanos[best_ask_venue] / NANOS_PER_DOLLAR,
        theta=parameters.theta_queue,
        lambda_under=parameters.lambda_under,
        lambda_over=parameters.lambda_over,
        queues=tuple(int(book.bid_sz[v, 0]) for v in live),
        rebates=tuple(float(rebate_nanos[v]) / NANOS_PER_DOLLAR for v in live),
    )
    allocation = solve(params, samples[:, live]).allocation
    return int(allocation[0]), {v: int(q) for v, q in zip(live, allocation[1:], strict=True)}
