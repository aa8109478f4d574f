"""The ``sor stats`` command: the stylized facts of an MBP file as JSON, and a figure.

Registered in :mod:`sor.cli.main`. stdout carries only the JSON
(docs/stats.md); an error in the input ends the command with a one-line message on stderr
and exit status 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import (
    LobsterBookFlag,
    NoPlotFlag,
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
    DEFAULT_COMPARE_FIGURE,
    DEFAULT_FILLS_EVERY_S,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_STATS_FIGURE,
    DEFAULT_STATS_HORIZONS_S,
    DEFAULT_STATS_INTERVALS_S,
    DEFAULT_STATS_LAGS,
    DEFAULT_TICK,
)


def stats(
    data: Annotated[
        list[Path],
        typer.Argument(
            help="Databento MBP-1, MBP-10 or MBO file (CSV or DBN), or LOBSTER; with "
            "--compare, REAL and GENERATED.",
            show_default=False,
        ),
    ],
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Hold GENERATED's facts to REAL's, per venue and overall, against stated "
            "tolerances; exit status 1 when any fails.",
        ),
    ] = False,
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
    fill_every: Annotated[
        float, typer.Option(help="With --compare: seconds between the fill study's orders.")
    ] = DEFAULT_FILLS_EVERY_S,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Write the JSON report to this file too (it goes to stdout)."),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(
            help=f"Where to write the figure [default: {DEFAULT_STATS_FIGURE}, "
            f"{DEFAULT_COMPARE_FIGURE} with --compare]",
            show_default=False,
        ),
    ] = None,
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

    With --compare REAL GENERATED, both files are measured alike and run through a fill
    study; each fact of each venue (matched by publisher id) and of the whole file is set
    beside the real one's with its ratio, tolerance and pass or FAIL: JSON on stdout, a
    table on stderr, a figure (docs/stats.md, "Comparing two files"). Exit status 0 when
    every compared fact passes, 1 when any fails.

    \b
    Example: sor stats market.csv --plot stats.png
    Example: sor stats --compare real.dbn.zst generated.csv --start 2024-04-03T13:30:00Z
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app import stats as app_stats
        from sor.app.settings import StatsFlags, check_flags

        window = app_stats.window(start, end)
        source = source_options(lobster_book, publisher)
        _check_count(data, compare)
        flags = check_flags(
            StatsFlags,
            {"lags": lags, "intervals": float_list("intervals", intervals),
             "horizons": float_list("horizons", horizons), "tick": tick,
             "max_ts_distance": max_ts_distance, "fill_every": fill_every},
        )  # fmt: skip
        settings = app_stats.StatsSettings.from_flags(
            flags, window=window, skip_bad_rows=skip_bad_rows, source=source
        )
        if compare:
            from sor.app import compare as app_compare

            figure = None if no_plot else plot or Path(DEFAULT_COMPARE_FIGURE)
            compared = app_compare.CompareOutputs(json_out, figure)
            compared.check(data, lobster_book)
            result = app_compare.run(
                data[0], data[1], app_compare.CompareSettings(settings, flags.fill_every)
            )
            typer.echo(result.text())
            if not quiet:
                sys.stderr.write(result.table() + "\n")
            app_compare.write(result, compared)
            if not result.passed:
                raise typer.Exit(1)
            return
        outputs = app_stats.StatsOutputs(
            None if no_plot else plot or Path(DEFAULT_STATS_FIGURE), json_out
        )
        outputs.check(data[0], lobster_book)
        measured = app_stats.run(data[0], settings)
        typer.echo(measured.text())
        app_stats.write(measured, outputs)


def _check_count(data: list[Path], compare: bool) -> None:
    """Raise ``SorError`` unless ``data`` names one file, or two with ``--compare``."""
    from sor.core.errors import SorError

    if compare and len(data) != 2:
        raise SorError(f"--compare takes two files, REAL and GENERATED; got {len(data)}")
    if not compare and len(data) != 1:
        raise SorError(f"sor stats takes one file ({len(data)} given); to compare two, "
                       "give --compare REAL GENERATED")  # fmt: skip
