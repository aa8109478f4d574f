"""The ``sor stats`` command: the stylized facts of an MBP file as JSON, and a figure.

Registered in :mod:`sor.cli.main`. stdout carries only the JSON
(docs/stats.md); an error in the input ends the command with a one-line message on stderr
and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import (
    LobsterBookFlag,
    NoPlotFlag,
    PlotFlag,
    PublisherFlag,
    QuietFlag,
    float_list,
    number_list,
    setup_logging,
    source_options,
    user_errors,
    window_help,
)
from sor.core.defaults import (
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_STATS_FIGURE,
    DEFAULT_STATS_HORIZONS_S,
    DEFAULT_STATS_INTERVALS_S,
    DEFAULT_STATS_LAGS,
    DEFAULT_TICK,
)


def stats(
    data: Annotated[
        Path,
        typer.Argument(help="Databento MBP-1, MBP-10 or MBO file (CSV or DBN), or LOBSTER."),
    ],
    start: Annotated[str | None, typer.Option(help=window_help("start"))] = None,
    end: Annotated[str | None, typer.Option(help=window_help("end"))] = None,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    lags: Annotated[
        int, typer.Option(help="Trade-sign autocorrelation lags 1..LAGS.")
    ] = DEFAULT_STATS_LAGS,
    intervals: Annotated[
        str, typer.Option(help="OFI regression interval lengths, seconds, comma-separated.")
    ] = number_list(DEFAULT_STATS_INTERVALS_S),
    horizons: Annotated[
        str, typer.Option(help="Markout horizons, seconds, comma-separated.")
    ] = number_list(DEFAULT_STATS_HORIZONS_S),
    tick: Annotated[
        float, typer.Option(help="Price grid, $: spreads are counted in it.")
    ] = DEFAULT_TICK,
    plot: PlotFlag = Path(DEFAULT_STATS_FIGURE),
    no_plot: NoPlotFlag = False,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Skip bad rows (as sor backtest does) instead of failing.")
    ] = False,
    max_ts_distance: Annotated[
        float,
        typer.Option(help="Hours a ts_event may lie from the file's median before its row is bad."),
    ] = DEFAULT_MAX_TS_DISTANCE_H,
    quiet: QuietFlag = False,
) -> None:
    """Print the stylized facts of a market data file as JSON.

    Message and trade rates, spread, best-level sizes, queue turnover, trade-sign
    autocorrelation, the order-flow-imbalance regression and trade markouts
    (docs/stats.md): how a user checks that a generated market resembles theirs. Trades
    without an aggressor side are signed by the quote rule (the tick rule at the mid) and
    counted in trade_signs.

    Example: sor stats market.csv --plot stats.png
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app import stats as app_stats
        from sor.app.settings import StatsFlags, check_flags

        window = app_stats.window(start, end)
        source = source_options(lobster_book, publisher)
        flags = check_flags(
            StatsFlags,
            {"lags": lags, "intervals": float_list("intervals", intervals),
             "horizons": float_list("horizons", horizons), "tick": tick,
             "max_ts_distance": max_ts_distance},
        )  # fmt: skip
        outputs = app_stats.StatsOutputs(None if no_plot else plot)
        outputs.check(data, lobster_book)
        settings = app_stats.StatsSettings.from_flags(
            flags, window=window, skip_bad_rows=skip_bad_rows, source=source
        )
        result = app_stats.run(data, settings)
        typer.echo(result.text())
        app_stats.write(result, outputs)
