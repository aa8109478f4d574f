"""The per-day task: read one day file once and run every parameter set on it.

A task is the unit of distribution: it receives a path or URL and the run's settings, never
data, and returns the figures the evaluation needs. Its numbers are those of
``sor backtest --data DAY`` with the same flags: it calls the same library functions
(:func:`sor.static.backtest.run_backtest` and :func:`sor.ck.backtest.run_ck_backtest`).
Over a blotter (``--orders``) it routes the day's orders, each on its own window, as
``sor backtest --data DAY --orders ITS_ORDERS`` does (:func:`sor.static.orders.run_orders`).
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sor.ck.router import CKSettings
from sor.core.defaults import DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_READ_TIMEOUT_S
from sor.core.errors import DataError, SorError
from sor.core.types import Side
from sor.data.instruments import (
    Instrument,
    MixedInstrumentsError,
    first_instrument,
    instruments,
    is_dbn,
    write_instrument,
)
from sor.data.orderlevel import SourceOptions
from sor.evaluation.days import local_copy
from sor.static.backtest import BacktestConfig, baseline_names

if TYPE_CHECKING:
    from sor.core.domain import StrategyResult
    from sor.core.market import MarketData
    from sor.data.arrivals import ArrivalLaw
    from sor.data.blotter import Blotter

"""Baselines of model ck scored out of sample. Its ``passive`` strategy is left out: it
runs with the day's in-sample best parameters, so it depends on the choice being scored."""
HEAD_KEYS = ("best_parameters", "optimized", "baselines", "savings_vs_baselines_bps")
"""The first keys of ``sor backtest``'s report, which each day record repeats exactly."""


@dataclass(frozen=True)
class DaySpec:
    """What one task needs: where its day is and the run's settings (no data).

    ``config`` carries every setting that decides a backtest's numbers; a setting added to
    it (the order's side, say) reaches the tasks with it.
    """

    index: int
    source: str
    config: BacktestConfig
    horizons_s: tuple[float, ...] | None = None
    ck_settings: CKSettings | None = None
    skip_bad_rows: bool = False
    max_ts_distance_ns: int = 24 * 3600 * 10**9
    publisher: int | None = None  # a LOBSTER day's venue (else Nasdaq's)
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S  # a URL's server, per read
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES  # a URL's copy
    order_horizon_ns: int | None = None  # a blotter's order without an end: else the day's
    arrivals: ArrivalLaw | None = None  # the day draws its own orders (--arrivals)
    arrivals_seed: int = 0  # the run's seed, from which each day's draw is seeded

    @property
    def source_options(self) -> SourceOptions | None:
        """How to read a LOBSTER day."""
        return None if self.publisher is None else SourceOptions(publisher=self.publisher)


@dataclass(frozen=True)
class DayOutcome:
    """One day (one instrument of one day file) after every parameter set ran on it.

    ``unfilled``, ``cash_nanos`` and ``avg_fill_px`` hold the router's figures per
    parameter set, in the order of :func:`parameter_sets`; ``baseline_px`` the average price
    of each baseline scored out of sample ($/share, fees included).
    """

    source: str
    instrument: str | None
    sha256: str | None
    window: dict[str, str]
    head: dict[str, Any]
    unfilled: tuple[int, ...]
    cash_nanos: tuple[int, ...]
    avg_fill_px: tuple[float | None, ...]
    baseline_px: dict[str, float | None]
    best: int
    arbitrary: bool
    side: Side = Side.BUY

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side.parse(self.side))  # a side's name, too

    @property
    def choice_keys(self) -> list[tuple[int, int]]:
        """Per set, what the choice minimises: unfilled shares, then the cash of a buy or
        the negated proceeds of a sell (docs/semantics.md, the search rule)."""
        sign = self.side.sign
        return [(u, sign * c) for u, c in zip(self.unfilled, self.cash_nanos, strict=True)]


NO_TIME = -1
"""The completion time of an order that did not complete, in :class:`OrdersDay`'s arrays."""


@dataclass(frozen=True)
class OrdersDay:
    """One day of a blotter's evaluation: its orders, each routed under every parameter set
    and by every baseline, without fills or market (what crosses the wire stays small).

    Per order of the day, in the blotter's order: ``orders`` holds its index in the blotter;
    ``search`` (orders x parameter sets x 3) the router's shares filled, cash in
    nano-dollars (a sell's proceeds) and completion time (ns, :data:`NO_TIME` when it did
    not complete) under each set, in the order of :func:`parameter_sets`; ``baselines``
    (orders x 3 x 3) the same of the baselines of its side (the best quote, TWAP, VWAP);
    ``arrival_mid`` its arrival mid ($, NaN where a side shows no price) and ``depth`` the
    shares displayed at its arrival on the side it takes; ``ends`` its end as routed (ns:
    its own, else its time plus the order horizon, at most the day's last row; None: every
    order ends with the day). ``skipped`` pairs each order of the day left out by
    ``--skip-bad-rows`` with its reason. ``drawn`` holds, under ``--arrivals``, every order
    the day drew (``orders`` and ``skipped`` index it; an order routed with the horizon
    carries its end), else None. ``vwap`` holds each order's interval VWAP (the market's
    trade prints over its window, $; NaN without a print), ``markouts`` the router's
    markouts (orders x parameter sets x :data:`~sor.report.markouts.MARKOUT_HORIZONS_S`,
    bps, :func:`sor.report.tca.order_markouts`) and ``baseline_markouts`` the baselines'
    (orders x 3 x horizons); None where not measured.

    A day whose scan of its times finds no order in them is not read: ``read`` is False, and
    it has no instrument, digest or window.
    """

    source: str
    read: bool
    instrument: str | None
    sha256: str | None
    window: dict[str, str]
    orders: np.ndarray
    search: np.ndarray
    baselines: np.ndarray
    arrival_mid: np.ndarray
    depth: np.ndarray
    skipped: tuple[tuple[int, str], ...] = ()
    ends: np.ndarray | None = None
    drawn: Blotter | None = None
    vwap: np.ndarray | None = None
    markouts: np.ndarray | None = None
    baseline_markouts: np.ndarray | None = None

    @classmethod
    def without_orders(
        cls,
        source: str,
        sets: int,
        *,
        market: MarketData | None = None,
        instrument: Instrument | None = None,
        skipped: tuple[tuple[int, str], ...] = (),
        drawn: Blotter | None = None,
    ) -> OrdersDay:
        """A day that routes no order: unread (``market`` None), or read and holding none."""
        from sor.report.builder import report_window

        window = {}
        if market is not None and market.first_ts is not None and market.last_ts is not None:
            window = report_window(market.first_ts, market.last_ts)
        return cls(
            source=source, read=market is not None,
            instrument=instrument.label if instrument else None,
            sha256=market.sha256 if market is not None else None, window=window,
            orders=np.zeros(0, dtype=np.int64), search=np.zeros((0, sets, 3), dtype=np.int64),
            baselines=np.zeros((0, 3, 3), dtype=np.int64), arrival_mid=np.zeros(0),
            depth=np.zeros(0, dtype=np.int64), skipped=skipped, drawn=drawn,
        )  # fmt: skip


Outcome = DayOutcome | OrdersDay
"""What a day's task returns per instrument of its file."""


@dataclass(frozen=True)
class DayFailure:
    """A day that could not be evaluated: the one-line message naming its file."""

    message: str


def parameter_sets(config: BacktestConfig, horizons_s: tuple[float, ...] | None) -> list[dict]:
    """Every parameter set in grid order, as the report names them (model ck: with each
    horizon, varying fastest, as ``sor backtest --model ck`` searches them)."""
    sets = [p.as_dict() for p in config.grid.parameter_sets()]
    if horizons_s is None:
        return sets
    return [{**p, "horizon_s": h} for p, h in itertools.product(sets, horizons_s)]


def hold(value: Any) -> Any:
    """Return ``value``: the task that puts what every day needs (a blotter) on the cluster
    once, and that the scheduler runs again if the worker holding it leaves."""
    return value


def run_day(spec: DaySpec, orders: Blotter | None = None) -> list[Outcome] | DayFailure:
    """Evaluate the day of ``spec``: one outcome per instrument of its file.

    The day is read once; a file the reader finds to hold several instruments is split
    by instrument (CSV) and each part read on its own. With a blotter's ``orders``
    (without their carried columns), the day routes those whose time falls in it; a day
    whose times hold no order's is not read, and a file of several instruments is refused.

    A fault of the input (a ``SorError``) comes back as a :class:`DayFailure` rather than
    an exception, so that Dask does not retry it; anything else raises and is retried.
    """
    try:
        with local_copy(
            spec.source, max_bytes=spec.max_download_bytes, read_timeout_s=spec.read_timeout_s
        ) as path:
            try:
                if orders is not None or spec.arrivals is not None:
                    return [_orders_day(spec, orders, path)]
                try:
                    return [_run(spec, path, first_instrument(path))]
                except MixedInstrumentsError:
                    found = instruments(path)
                    if len(found) <= 1:  # the reader saw several, the split finds none
                        raise DataError(
                            "holds the rows of more than one instrument_id, and sor evaluate "
                            "cannot split it by instrument: give one instrument's rows",
                            path=str(path),
                        ) from None
                    return _run_each(spec, path, found)
            except SorError as exc:
                return DayFailure(str(exc).replace(str(path), spec.source))
    except SorError as exc:
        return DayFailure(str(exc))


def _run_each(spec: DaySpec, path: Path, found: list[Instrument]) -> list[Outcome]:
    """Run each instrument of a file holding several, from its own lines."""
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="sor-instrument-") as folder:
        for k, instrument in enumerate(found):
            part = Path(folder) / f"{k}{'.dbn' if is_dbn(path) else path.suffix}"
            write_instrument(path, instrument, part)
            try:
                outcomes.append(_run(spec, part, instrument))
            except SorError as exc:
                where = f"{spec.source} ({instrument.label})"
                raise SorError(str(exc).replace(str(part), where)) from None
    return outcomes


def _run(spec: DaySpec, path: Path, instrument: Instrument | None) -> DayOutcome:
    from sor.data.reader import read_market

    instrument = instrument or _instrument_of(path)
    if spec.horizons_s is not None:
        return _ck(spec, path, instrument)
    market = read_market(
        path, skip_bad_rows=spec.skip_bad_rows, max_ts_distance_ns=spec.max_ts_distance_ns,
        source=spec.source_options,
    )  # fmt: skip
    return _static(spec, market, instrument)


def _instrument_of(path: Path) -> Instrument | None:
    """The instrument of a day whose file did not say it in CSV columns: a DBN file's
    records' ``instrument_id``; a LOBSTER file's ticker (and the id ``sor`` gives it); None
    for a CSV without an ``instrument_id`` column."""
    from sor.data.lobster import lobster_name

    if is_dbn(path):
        from sor.data.dbn import instrument_ids

        ids = instrument_ids(path)
        return Instrument(str(ids[0]), "") if ids else None
    named = lobster_name(path)
    if named is not None:
        from sor.data.generate import instrument_id

        return Instrument(str(instrument_id(named.ticker)), named.ticker)
    return None


def _check_rows(market: Any) -> None:
    """Refuse a day without a row of quotes in evaluate's own words: the backtest's would
    point at its --start/--end, and a day is always read whole."""
    if len(market.snapshots) == 0:
        raise DataError("holds no row of quotes to evaluate (a day file is read whole)",
                        path=market.source)  # fmt: skip


def _static(spec: DaySpec, market: Any, instrument: Instrument | None) -> DayOutcome:
    from sor.report.builder import build_report
    from sor.static.backtest import run_backtest

    _check_rows(market)
    result = run_backtest(market, spec.config, workers=1)
    baselines = {name: result.baselines[name] for name in baseline_names(spec.config.side)}
    rows = [row.result for row in result.search]
    return _outcome(spec, market, instrument, result, build_report(result), rows, baselines)


def _ck(spec: DaySpec, path: Path, instrument: Instrument | None) -> DayOutcome:
    """Model ck's day, read once: the static strategies' snapshots are those of the
    events (:func:`sor.data.events.snapshots_from_events`, equal to the reader's), as
    when ``sor backtest --model ck`` reads a stream of events."""
    from sor.ck.backtest import run_ck_backtest
    from sor.core.market import MarketData
    from sor.core.paths import file_sha256
    from sor.data.events import read_events, snapshots_from_events
    from sor.report.ck_report import build_ck_report

    assert spec.horizons_s is not None
    events = read_events(
        path, skip_bad_rows=spec.skip_bad_rows, max_ts_distance_ns=spec.max_ts_distance_ns,
        source=spec.source_options,
    )  # fmt: skip
    market = MarketData(snapshots_from_events(events), source=str(path), sha256=file_sha256(path))
    _check_rows(market)
    result = run_ck_backtest(
        events, market, spec.config, horizons_s=spec.horizons_s, settings=spec.ck_settings,
        workers=1,
    )  # fmt: skip
    report = build_ck_report(result)  # the day record repeats its first sections exactly
    names = (*baseline_names(spec.config.side), "static")
    baselines = {name: result.strategies[name] for name in names}
    rows = [row.outcome for row in result.search]
    return _outcome(spec, market, instrument, result, report, rows, baselines)


def _outcome(
    spec: DaySpec,
    market: Any,
    instrument: Instrument | None,
    result: Any,
    report: dict[str, Any],
    rows: Sequence[Any],
    baselines: dict[str, Any],
) -> DayOutcome:
    """A day's record from either model's result: its report's head, each point of the
    search (``rows``: shares filled, cash, average price) and the baselines' prices."""
    from sor.report.builder import report_window

    return DayOutcome(
        source=spec.source,
        instrument=instrument.label if instrument else None,
        sha256=market.sha256,
        window=report_window(result.window_start_ns, result.window_end_ns),
        head={key: report[key] for key in HEAD_KEYS},
        unfilled=tuple(spec.config.order_size - r.total_fill for r in rows),
        cash_nanos=tuple(r.total_cash_nanos for r in rows),
        avg_fill_px=tuple(r.avg_fill_px for r in rows),
        baseline_px={name: strategy.avg_fill_px for name, strategy in baselines.items()},
        best=result.best,
        arbitrary=result.search_is_arbitrary,
        side=spec.config.side,
    )


def _orders_day(spec: DaySpec, blotter: Blotter | None, path: Path) -> OrdersDay:
    """Route the orders of ``blotter`` whose time falls in the day at ``path`` (None: the
    orders ``spec.arrivals`` draws over the day's span, :func:`day_seed`), each on its own
    window under every parameter set (:func:`sor.static.orders.run_orders`; model ck: every
    point, :func:`sor.ck.orders.run_ck_orders`); read the day only where a scan of its times
    finds one of the blotter's."""
    from sor.data.span import time_span

    sets = len(parameter_sets(spec.config, spec.horizons_s))
    if blotter is not None:
        span = time_span(path, spec.source_options)
        times = blotter.time_ns
        if span is not None and not ((times >= span[0]) & (times <= span[1])).any():
            return OrdersDay.without_orders(spec.source, sets)
    try:
        instrument = first_instrument(path) or _instrument_of(path)
        market = _orders_market(spec, path)
    except MixedInstrumentsError:
        flag = "--orders" if blotter is not None else "--arrivals"
        raise DataError(
            "holds the rows of more than one instrument, and a blotter's orders name none: "
            f"give sor evaluate {flag} one instrument's days",
            path=str(path),
        ) from None
    _check_rows(market)
    first, last = market.first_ts, market.last_ts
    assert first is not None and last is not None
    drawn = None
    if blotter is None:
        drawn = _drawn(spec, first, last)
        blotter = drawn
    times = blotter.time_ns
    inside = np.flatnonzero((times >= first) & (times <= last))
    mine, rows, skipped = _placed(blotter, inside, market, spec)
    if not len(mine):
        return OrdersDay.without_orders(spec.source, sets, market=market, instrument=instrument,
                                        skipped=skipped, drawn=drawn)  # fmt: skip
    result = _route(spec, market, mine)
    from sor.report.builder import report_window
    from sor.report.tca import arrival_mids, displayed_depth

    search = np.array([[_figures(row) for row in o.search] for o in result.orders],
                      dtype=np.int64).reshape(len(mine), sets, 3)  # fmt: skip
    baselines = np.array([[_figures(o.baselines[name]) for name in o.config.side.baselines]
                          for o in result.orders], dtype=np.int64).reshape(len(mine), 3, 3)  # fmt: skip
    trades = _trades(spec, market, path)
    from sor.report.tca import interval_vwaps

    return OrdersDay(
        source=spec.source,
        read=True,
        instrument=instrument.label if instrument else None,
        sha256=market.sha256,
        window=report_window(first, last),
        orders=rows,
        search=search,
        baselines=baselines,
        arrival_mid=arrival_mids(result),
        depth=displayed_depth(market.snapshots, mine.time_ns, mine.sides),
        skipped=skipped,
        ends=mine.end_ns,
        drawn=drawn,
        vwap=interval_vwaps(trades, mine.time_ns, mine.end_ns),
        markouts=_markouts(market, mine, search),
        baseline_markouts=_markouts(market, mine, baselines),
    )


def _trades(spec: DaySpec, market: MarketData, path: Path) -> np.ndarray:
    """The day's trade prints: from its events (model ck), else read for them alone (a
    pass over the file's top level, as ``sor backtest --orders`` reads them)."""
    from sor.data.events import read_trades, trades_of

    if market.events is not None:
        return trades_of(market.events)
    return read_trades(
        path, skip_bad_rows=spec.skip_bad_rows, max_ts_distance_ns=spec.max_ts_distance_ns,
        source=spec.source_options,
    )  # fmt: skip


def _markouts(market: MarketData, orders: Blotter, figures: np.ndarray) -> np.ndarray:
    """Per order and outcome of ``figures`` (orders x outcomes x 3, as :class:`OrdersDay`
    keeps them), the markouts at each horizon of its completion (NaN where it did not
    complete)."""
    from sor.report.markouts import MARKOUT_HORIZONS_S, TopOfBook
    from sor.report.tca import order_markouts

    count, outcomes = figures.shape[:2]
    done = figures[:, :, 2].reshape(-1)
    signs = np.repeat([side.sign for side in orders.sides], outcomes)
    marks = order_markouts([None if t == NO_TIME else int(t) for t in done.tolist()],
                           signs.tolist(), TopOfBook.of_snapshots(market.snapshots))  # fmt: skip
    return np.stack([marks[h] for h in MARKOUT_HORIZONS_S], axis=-1).reshape(
        count, outcomes, len(MARKOUT_HORIZONS_S)
    )


def _orders_market(spec: DaySpec, path: Path) -> MarketData:
    """The day as a blotter's run reads it once: model ck with every event, its snapshots
    those of the events (as :func:`_ck`'s)."""
    from sor.data.reader import read_market

    if spec.horizons_s is None:
        return read_market(
            path, skip_bad_rows=spec.skip_bad_rows, max_ts_distance_ns=spec.max_ts_distance_ns,
            source=spec.source_options,
        )  # fmt: skip
    from sor.core.market import MarketData
    from sor.core.paths import file_sha256
    from sor.data.events import read_events, snapshots_from_events

    events = read_events(
        path, skip_bad_rows=spec.skip_bad_rows, max_ts_distance_ns=spec.max_ts_distance_ns,
        source=spec.source_options,
    )  # fmt: skip
    return MarketData(snapshots_from_events(events), source=str(path), sha256=file_sha256(path),
                      events=events)  # fmt: skip


def _route(spec: DaySpec, market: MarketData, orders: Blotter) -> Any:
    """The day's orders routed under every parameter set (model ck: every point)."""
    if spec.horizons_s is None:
        from sor.static.orders import run_orders

        return run_orders(market, orders, spec.config, workers=1)
    from sor.ck.orders import run_ck_orders

    return run_ck_orders(market, orders, spec.config, horizons_s=spec.horizons_s,
                         settings=spec.ck_settings, workers=1)  # fmt: skip


def day_seed(seed: int, first_ns: int) -> int:
    """The seed of one day's ``--arrivals`` draw: the first 64-bit word of
    ``numpy.random.SeedSequence([seed, YYYYMMDD])``, the date (UTC) of the day's first kept
    row. It depends on the run's seed and the day's date only: not on the worker that runs
    the day, nor on which other days the run holds."""
    from sor.core.timestamps import format_timestamp

    date = int(format_timestamp(first_ns)[:10].replace("-", ""))
    return int(np.random.SeedSequence([seed, date]).generate_state(1, dtype=np.uint64)[0])


def _drawn(spec: DaySpec, first: int, last: int) -> Blotter:
    """The orders ``spec.arrivals`` draws over ``[first, last]``; with an order horizon,
    each ends with it (at most at ``last``), as the day routes it."""
    from sor.data.arrivals import draw_arrivals

    assert spec.arrivals is not None
    try:
        drawn = draw_arrivals(first, last, spec.arrivals, day_seed(spec.arrivals_seed, first),
                              allow_none=True)  # fmt: skip
    except SorError as exc:  # too many orders: say which day
        raise DataError(str(exc), path=spec.source) from None
    if spec.order_horizon_ns is None:
        return drawn
    return drawn.within(first, last, horizon_ns=spec.order_horizon_ns)


def _figures(result: StrategyResult) -> tuple[int, int, int]:
    """An outcome as :class:`OrdersDay` keeps it: shares filled, cash, completion time."""
    done = NO_TIME if result.completion_ts is None else int(result.completion_ts)
    return result.total_fill, result.total_cash_nanos, done


def _placed(
    blotter: Blotter, rows: np.ndarray, market: MarketData, spec: DaySpec
) -> tuple[Blotter, np.ndarray, tuple[tuple[int, str], ...]]:
    """Place the orders of ``blotter`` at ``rows`` (those whose time falls in the day) on
    the day's data: an order without an end ends ``spec.order_horizon_ns`` after its time,
    at most with the day (with the day without a horizon). Return them (each with its end),
    their rows in the blotter, and those left out with their reason.

    An order ending after the day's data, or whose window holds no snapshot, is an error
    naming its line, or with ``skip_bad_rows`` left out (``end_after_data``,
    ``empty_window``).

    Raises
    ------
    DataError
        An order's end after the day's data (here), a window without a snapshot (when the
        order is routed, :func:`sor.static.orders.run_orders`).
    """
    ts = market.snapshots["ts_event"]
    first, last = int(ts[0]), int(ts[-1])
    orders, horizon = blotter.at(rows), spec.order_horizon_ns
    if not spec.skip_bad_rows:
        return orders.within(first, last, horizon_ns=horizon), rows, ()
    faults = orders.placement(first, last, horizon_ns=horizon, times=ts)[1]
    bad = faults != ""
    skipped = tuple((int(rows[k]), str(faults[k])) for k in np.flatnonzero(bad))
    kept = rows[~bad]
    return blotter.at(kept).within(first, last, horizon_ns=horizon), kept, skipped
