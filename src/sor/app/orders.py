"""``sor backtest --orders``: a blotter of parent orders over one market read once, each
order routed on its own window, and the report's transaction cost analysis (``tca``).
``--arrivals`` draws the blotter instead (``sor.data.arrivals``), once the market's span is
known; ``--orders-out`` writes it, for ``--orders`` to repeat the run.

stdout is the caller's; logs and progress go to stderr.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sor.app.config import BacktestOptions
from sor.app.outputs import write_atomically
from sor.app.settings import ARRIVAL_FLAGS
from sor.core.errors import ConfigError, SorError

if TYPE_CHECKING:
    import polars as pl

    from sor.app.settings import BacktestFlags
    from sor.core.market import MarketData
    from sor.data.blotter import Blotter
    from sor.static.orders import OrdersResult

log = logging.getLogger("sor")

ORDERS_REPORT_FORMATS = (".csv", ".parquet")
"""The suffixes ``--orders-report`` writes: CSV, else Parquet."""


def check_orders_options(flags: BacktestFlags, options: BacktestOptions) -> None:
    """Refuse what a blotter's run cannot take, before any data is read: a setting each
    order gives itself (its window, side and size), and the flags of a blotter without one.

    Raises
    ------
    ConfigError
        The setting and what to do instead.
    """
    check_blotter_source(flags, options)
    if not options.blotter:
        if options.orders_report is not None:
            raise ConfigError("--orders-report writes the per-order table of --orders; give both")
        return
    source = "--orders" if options.orders is not None else "--arrivals"
    for name in ("order_size", "side", "start", "end"):
        if getattr(flags, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"{source}: each order gives its own time, end, side and size; drop {flag}"
            )
    if options.start is not None or options.end is not None:
        raise ConfigError(
            "--orders: each order gives its own time and end; drop [order] start and end "
            "from the configuration file"
        )
    report = options.orders_report
    if report is not None and report.suffix.lower() not in ORDERS_REPORT_FORMATS:
        raise ConfigError(
            f"--orders-report: {report}: the table's format comes from its suffix: .csv or .parquet"
        )


def check_blotter_source(flags: BacktestFlags, options: BacktestOptions) -> None:
    """Refuse a blotter given twice (``--orders`` and ``--arrivals``), and a blotter's
    flag without the blotter it applies to.

    Raises
    ------
    ConfigError
        The flag and what to do instead.
    """
    if options.orders is not None and options.arrivals is not None:
        raise ConfigError("--arrivals draws a blotter: it excludes --orders (give one of them)")
    for name in ARRIVAL_FLAGS:
        if options.arrivals is None and getattr(flags, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} shapes the orders --arrivals draws: give --arrivals")
    if options.orders_out is not None and options.arrivals is None:
        raise ConfigError("--orders-out writes the blotter --arrivals draws: give --arrivals")
    if options.order_horizon is not None and not options.blotter:
        raise ConfigError(
            "--order-horizon ends a blotter's orders that give no end: give --orders or "
            "--arrivals (one order's window is --start and --end)"
        )


def read_orders(options: BacktestOptions) -> Blotter | None:
    """Read and check the blotter of ``options.orders``, before the market is read (bad
    rows left out and counted with ``--skip-bad-rows``); None for the blotter
    ``--arrivals`` draws once the market is read (:func:`drawn_orders`).

    Raises
    ------
    DataError
        A bad order: the file, the line and the column; with ``--skip-bad-rows``, a
        blotter left without an order.
    """
    from sor.data.blotter import read_blotter

    assert options.blotter, "a blotter's run names its blotter"
    if options.orders is None:
        return None
    return read_blotter(options.orders, skip_bad_rows=options.skip_bad_rows)


def drawn_orders(market: MarketData, blotter: Blotter | None, options: BacktestOptions) -> Blotter:
    """Return ``blotter``, else the one ``--arrivals`` draws over the span of ``market``.

    Raises
    ------
    SorError
        The market kept no row, or the draw is refused (too many orders, or none).
    """
    if blotter is not None:
        return blotter
    from sor.data.arrivals import draw_arrivals

    assert options.arrivals is not None, "a blotter's run reads or draws its blotter"
    if market.first_ts is None or market.last_ts is None:
        raise SorError(f"no rows of {market.source} were kept; no order can be drawn")
    drawn = draw_arrivals(market.first_ts, market.last_ts, options.arrivals, options.seed)
    log.info("--arrivals: drew %d orders (seed %d)", len(drawn), options.seed)
    return drawn


def orders_backtest(
    market: MarketData, blotter: Blotter, options: BacktestOptions, *, seed: int | None
) -> OrdersResult:
    """Place the orders of ``blotter`` on ``market`` and backtest every one under the
    options' model (model ck: ``market`` holds its events), its progress on a bar.

    Raises
    ------
    DataError
        An order outside the data, or whose window holds no snapshot (file, line, column);
        model ck: no event, or too many decisions.
    """
    from tqdm import tqdm

    if market.first_ts is None or market.last_ts is None:
        raise SorError(f"no rows of {market.source} were kept; no order can be routed")
    blotter = blotter.within(
        market.first_ts, market.last_ts, horizon_ns=options.order_horizon_ns,
        times=market.snapshots["ts_event"], skip_bad_rows=options.skip_bad_rows,
    )  # fmt: skip
    if blotter.skipped:
        from sor.data.blotter import skipped_text

        log.warning("%s: skipped %d bad order(s): %s", blotter.path,
                    sum(blotter.skipped.values()), skipped_text(blotter.skipped))  # fmt: skip
    log.info("%s: %d orders", blotter.path, len(blotter))
    config, ck = options.config(seed=seed), options.ck
    passes = 1
    if ck is not None:
        from sor.ck.orders import order_passes

        passes = order_passes(len(config.grid.parameter_sets()) * len(ck.horizons))
    with tqdm(total=len(blotter) * passes, desc="orders", unit="order", file=sys.stderr,
              disable=options.quiet, leave=False) as bar:  # fmt: skip
        if ck is not None:
            from sor.ck.orders import run_ck_orders

            return run_ck_orders(market, blotter, config, horizons_s=ck.horizons,
                                 settings=ck.settings, workers=options.workers,
                                 on_order=bar.update)  # fmt: skip
        from sor.static.orders import run_orders

        return run_orders(market, blotter, config, workers=options.workers, on_order=bar.update)


def run_orders_market_backtest(
    market: MarketData, blotter: Blotter | None, options: BacktestOptions, *, seed: int | None
) -> str:
    """Backtest ``blotter`` (None: the one ``--arrivals`` draws) on ``market``, write the
    report, the per-order table and the drawn blotter; return the report's JSON."""
    orders = drawn_orders(market, blotter, options)
    result = orders_backtest(market, orders, options, seed=seed)
    text = write_orders_outputs(result, orders_report(result, options), options)
    write_drawn_orders(orders, options)
    return text


def orders_report(result: OrdersResult, options: BacktestOptions) -> dict[str, object]:
    """Build the report of a blotter's backtest, its ``run`` telling where the orders came
    from: ``orders_file`` (for drawn orders ``--orders-out``, else null), ``orders_skipped``
    (per reason), ``order_horizon_s`` and, for drawn orders, ``arrivals`` (the law and
    seed)."""
    from sor.report.tca import build_orders_report

    report = build_orders_report(result)
    run = report["run"]
    assert isinstance(run, dict)
    if options.arrivals is not None:
        run["orders_file"] = None if options.orders_out is None else str(options.orders_out)
    run["orders_skipped"] = dict(result.blotter.skipped)
    run["order_horizon_s"] = options.order_horizon
    if options.arrivals is not None:
        run["arrivals"] = {**options.arrivals.as_dict(), "seed": options.seed}
    return report


def write_drawn_orders(orders: Blotter, options: BacktestOptions) -> None:
    """Write the blotter ``--arrivals`` drew to ``--orders-out``, as ``--orders`` reads it."""
    if options.orders_out is None:
        return
    table = orders.table()
    write_atomically(options.orders_out, "--orders-out", table.write_csv)
    log.info("wrote %s", options.orders_out)


def write_orders_outputs(
    result: OrdersResult, report: dict[str, object], options: BacktestOptions
) -> str:
    """Write the report, (with ``--orders-report``) the per-order table and (unless
    ``--no-plot``) the figure; log the summary table; return the report's JSON."""
    from sor.report.builder import dumps
    from sor.report.tca import orders_table
    from sor.report.tca_figure import write_tca_plot
    from sor.report.tca_summary import tca_summary

    text = dumps(report)
    write_atomically(options.json_out, "--json-out",
                     lambda path: path.write_text(text, encoding="utf-8"))  # fmt: skip
    log.info("wrote %s", options.json_out)
    if options.orders_report is not None or options.plot is not None:
        table = orders_table(result)
        if options.orders_report is not None:
            _write_table(table, options.orders_report)
        if options.plot is not None:
            write_atomically(options.plot, "--plot",
                             lambda path: write_tca_plot(report, table, path), suffix=".png")  # fmt: skip
            log.info("wrote %s", options.plot)
    # a record per line: each carries the prefix of the command's other lines on stderr
    for line in tca_summary(report).splitlines():
        log.info("%s", line)
    return text


def write_orders_table(result: OrdersResult, target: Path) -> None:
    """Write the per-order table to ``target``: Parquet for ``.parquet``, else CSV."""
    from sor.report.tca import orders_table

    _write_table(orders_table(result), target)


def _write_table(table: pl.DataFrame, target: Path) -> None:
    parquet = target.suffix.lower() == ".parquet"
    write_atomically(target, "--orders-report", table.write_parquet if parquet else table.write_csv)
    log.info("wrote %s", target)
