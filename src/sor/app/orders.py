"""``sor backtest --orders``: a blotter of parent orders over one market read once, each
order routed on its own window, and the report's transaction cost analysis (``tca``).

stdout is the caller's; logs and progress go to stderr.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sor.app.config import BacktestOptions
from sor.app.outputs import write_atomically
from sor.core.errors import ConfigError, SorError

if TYPE_CHECKING:
    from sor.app.settings import BacktestFlags
    from sor.core.market import MarketData
    from sor.data.blotter import Blotter
    from sor.static.orders import OrdersResult

log = logging.getLogger("sor")

ORDERS_REPORT_FORMATS = (".csv", ".parquet")
"""The suffixes ``--orders-report`` writes: CSV, else Parquet."""


def check_orders_options(flags: BacktestFlags, options: BacktestOptions) -> None:
    """Refuse what a blotter's run cannot take, before any data is read: a setting each
    order gives itself (its window, side and size).

    Raises
    ------
    ConfigError
        The setting and what to do instead.
    """
    if options.orders is None:
        if options.orders_report is not None:
            raise ConfigError("--orders-report writes the per-order table of --orders; give both")
        return
    for name in ("order_size", "side", "start", "end"):
        if getattr(flags, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(
                f"--orders: each order gives its own time, end, side and size; drop {flag}"
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


def read_orders(options: BacktestOptions) -> Blotter:
    """Read and check the blotter of ``options.orders``, before the market is read.

    Raises
    ------
    DataError
        A bad order: the file, the line and the column.
    """
    from sor.data.blotter import read_blotter

    assert options.orders is not None, "a blotter's run names its blotter"
    return read_blotter(options.orders)


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
    blotter = blotter.within(market.first_ts, market.last_ts)
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
    market: MarketData, blotter: Blotter, options: BacktestOptions, *, seed: int | None
) -> str:
    """Backtest ``blotter`` on ``market``, write the report and the per-order table; return
    the report's JSON."""
    from sor.report.tca import build_orders_report

    result = orders_backtest(market, blotter, options, seed=seed)
    return write_orders_outputs(result, build_orders_report(result), options)


def write_orders_outputs(
    result: OrdersResult, report: dict[str, object], options: BacktestOptions
) -> str:
    """Write the report and (with ``--orders-report``) the per-order table; return the
    report's JSON. The blotter's run draws no figure yet."""
    from sor.report.builder import dumps

    text = dumps(report)
    write_atomically(options.json_out, "--json-out",
                     lambda path: path.write_text(text, encoding="utf-8"))  # fmt: skip
    log.info("wrote %s", options.json_out)
    if options.orders_report is not None:
        write_orders_table(result, options.orders_report)
    return text


def write_orders_table(result: OrdersResult, target: Path) -> None:
    """Write the per-order table to ``target``: Parquet for ``.parquet``, else CSV."""
    from sor.report.tca import orders_table

    table = orders_table(result)
    parquet = target.suffix.lower() == ".parquet"
    write_atomically(target, "--orders-report", table.write_parquet if parquet else table.write_csv)
    log.info("wrote %s", target)
