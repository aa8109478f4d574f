"""The ``sor stats`` command: the stylized facts of an MBP file as JSON, and a figure.

Registered in :mod:`sor.cli.main`. stdout carries only the JSON
(docs/stats.md); an error in the input ends the command with a one-line message on stderr
and exit status 2.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sor.app.runs import FIGURE_FORMATS, check_outputs, timestamp_flag, write_atomically
from sor.cli.common import (
    LobsterBookFlag,
    NoPlotFlag,
    PlotFlag,
    PublisherFlag,
    QuietFlag,
    float_list,
    setup_logging,
    source_options,
    user_errors,
    window_help,
)
from sor.core.defaults import DEFAULT_MAX_TS_DISTANCE_H
from sor.core.errors import SorError

if TYPE_CHECKING:
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger("sor")


def stats(
    data: Annotated[
        Path,
        typer.Argument(help="Databento MBP-1, MBP-10 or MBO file (CSV or DBN), or LOBSTER."),
    ],
    start: Annotated[str | None, typer.Option(help=window_help("start"))] = None,
    end: Annotated[str | None, typer.Option(help=window_help("end"))] = None,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    lags: Annotated[int, typer.Option(help="Trade-sign autocorrelation lags 1..LAGS.")] = 10,
    intervals: Annotated[
        str, typer.Option(help="OFI regression interval lengths, seconds, comma-separated.")
    ] = "1,10,60",
    horizons: Annotated[
        str, typer.Option(help="Markout horizons, seconds, comma-separated.")
    ] = "1,10,60",
    tick: Annotated[float, typer.Option(help="Price grid, $: spreads are counted in it.")] = 0.01,
    plot: PlotFlag = Path("stats.png"),
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
        window = (timestamp_flag("start", start), timestamp_flag("end", end))
        if None not in window and window[0] > window[1]:  # type: ignore[operator]
            raise SorError("--start comes after --end: the window is empty")
        _run(data, lags, intervals, horizons, tick, None if no_plot else plot, skip_bad_rows,
             max_ts_distance, window, source_options(lobster_book, publisher))  # fmt: skip


def _run(
    data: Path,
    lags: int,
    intervals: str,
    horizons: str,
    tick: float,
    plot: Path | None,
    skip_bad_rows: bool,
    max_ts_distance: float,
    window: tuple[int | None, int | None],
    source: SourceOptions | None,
) -> None:
    from sor.app.settings import StatsFlags, check_flags

    flags = check_flags(
        StatsFlags,
        {"lags": lags, "intervals": float_list("intervals", intervals),
         "horizons": float_list("horizons", horizons), "tick": tick,
         "max_ts_distance": max_ts_distance},
    )  # fmt: skip
    if plot is not None:
        from sor.data.lobster import input_files

        check_outputs(
            [(plot, "--plot")], input_files(data, source.lobster_book if source else None)
        )
        if plot.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
            raise SorError(f"--plot: {plot}: the figure's format comes from its suffix, "
                           "as for sor backtest --plot")  # fmt: skip
    from sor.app.compile import compiling, input_groups
    from sor.core.domain import dollars_to_nanos
    from sor.stats.facts import Settings
    from sor.stats.summary import file_stats

    log.info("reading %s", data)
    settings = Settings(
        tick_nanos=dollars_to_nanos(flags.tick), lags=flags.lags,
        intervals_s=flags.intervals, horizons_s=flags.horizons,
    )  # fmt: skip
    with compiling((), body=(*input_groups(data, source), "stats")):
        result = file_stats(
            data, settings, skip_bad_rows=skip_bad_rows,
            max_ts_distance_ns=round(flags.max_ts_distance * 3.6e12), start_ns=window[0],
            end_ns=window[1], source=source,
        )  # fmt: skip
    typer.echo(json.dumps(result.report, indent=2))
    if plot is not None:
        from sor.stats.figures import write_stats_plot

        write_atomically(plot, "--plot", lambda path: write_stats_plot(result, path), suffix=".png")
        log.info("wrote %s", plot)
