"""``sor fills``: the fill study of passive orders, venue by venue and horizon by horizon."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import (
    CROSSING_FILL_CHOICES,
    FALLBACK_QUEUE_MODEL_HELP,
    TRADE_FILL_CHOICES,
    LobsterBookFlag,
    NoPlotFlag,
    Opt,
    PlotFlag,
    PublisherFlag,
    QuietFlag,
    SkipBadRowsFlag,
    float_list,
    int_list,
    number_list,
    setup_logging,
    source_options,
    user_errors,
)
from sor.core.defaults import (
    DEFAULT_CROSSING_FILL,
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_FILLS_EVERY_S,
    DEFAULT_FILLS_FIGURE,
    DEFAULT_FILLS_HORIZONS_S,
    DEFAULT_FILLS_SIZES,
    DEFAULT_LATENCY_US,
    DEFAULT_QUEUE_MODEL,
    DEFAULT_SIDE,
    DEFAULT_TRADE_FILL,
)


def fills(
    data: Annotated[
        Path, Opt(help="Databento MBP or MBO file (CSV or DBN), or a LOBSTER message file.")
    ],
    every: Annotated[
        float, Opt(help="Seconds between orders (one per venue each time).")
    ] = DEFAULT_FILLS_EVERY_S,
    size: Annotated[
        str, Opt(help="Shares per order, comma-separated for several studies (100,1000).")
    ] = number_list(DEFAULT_FILLS_SIZES),
    horizon: Annotated[
        str, Opt(help="Seconds after which an order is cancelled, comma-separated.")
    ] = number_list(DEFAULT_FILLS_HORIZONS_S),
    queue_model: Annotated[
        str,
        Opt(
            help="conservative (the one checked against hftbacktest, and the default of sor "
            "backtest --model ck), probabilistic, or fifo (the exact queue from order ids: MBO "
            "or LOBSTER input)."
        ),
    ] = DEFAULT_QUEUE_MODEL,
    fallback_queue_model: Annotated[
        str, Opt(help=FALLBACK_QUEUE_MODEL_HELP[0].upper() + FALLBACK_QUEUE_MODEL_HELP[1:])
    ] = DEFAULT_FALLBACK_QUEUE_MODEL,
    latency_us: Annotated[
        float,
        Opt(
            help="Order-entry latency, microseconds: orders rest this much later (the default "
            "of sor backtest --model ck, so that the study meets what the router meets)."
        ),
    ] = DEFAULT_LATENCY_US,
    side: Annotated[
        str, Opt(help="buy: rest at the best bid; sell: at the best ask.")
    ] = DEFAULT_SIDE,
    crossing_fill: Annotated[
        str, Opt(help=CROSSING_FILL_CHOICES[0].upper() + CROSSING_FILL_CHOICES[1:])
    ] = DEFAULT_CROSSING_FILL,
    trade_fill: Annotated[
        str, Opt(help=TRADE_FILL_CHOICES[0].upper() + TRADE_FILL_CHOICES[1:])
    ] = DEFAULT_TRADE_FILL,
    compare: Annotated[
        bool,
        Opt(
            "--compare",
            help="Order-level input: run the same orders through the exact FIFO queue and "
            "each queue model; print, per venue, size and horizon, how each model's fills "
            "compare with FIFO's.",
        ),
    ] = False,
    orders_out: Annotated[
        Path | None, Opt(help="CSV file of every order: time, venue, price, queue, fills.")
    ] = None,
    json_out: Annotated[
        Path | None, Opt(help="Write the JSON report to this file too (it goes to stdout).")
    ] = None,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    skip_bad_rows: SkipBadRowsFlag = False,
    plot: PlotFlag = Path(DEFAULT_FILLS_FIGURE),
    no_plot: NoPlotFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Study how passive orders fill, per venue and horizon.

    Every --every seconds one --size order rests at each venue's best bid (or ask, --side
    sell) and is cancelled after each --horizon. Prints JSON per venue and horizon: orders,
    probability of any and of a full fill (each with its Wilson 95 % interval), mean filled
    fraction, median time to the first fill, the fills' markouts at 1, 10 and 60 s (bps,
    positive = cost; each with its standard error over the orders that filled), and how far
    the orders' prices sat from the NBBO. No interval from fewer than 30 orders. The queue
    model and latency default to those of sor backtest --model ck.

    \b
    Example: sor fills --data market.csv --every 5 --size 200 --horizon 0.5,2,10
    Example: sor fills --data AMZN_2012-06-21_34200000_57600000_message_5.csv --compare
             --every 1 --size 100,1000,5000 --horizon 2,10,60
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app import fills as app_fills
        from sor.app.settings import FillsFlags, check_flags

        flags = check_flags(
            FillsFlags,
            {"every": every, "size": int_list("size", size),
             "horizon": float_list("horizon", horizon),
             "queue_model": queue_model, "latency_us": latency_us, "side": side,
             "crossing_fill": crossing_fill, "trade_fill": trade_fill,
             "fallback_queue_model": fallback_queue_model},
        )  # fmt: skip
        outputs = app_fills.FillsOutputs(json_out, orders_out, None if no_plot else plot)
        outputs.check(data, lobster_book)
        settings = app_fills.FillsSettings.from_flags(
            flags, compare=compare, skip_bad_rows=skip_bad_rows,
            source=source_options(lobster_book, publisher),
        )  # fmt: skip
        result = app_fills.run(data, settings)
        if compare and not quiet:
            sys.stderr.write(result.summary() + "\n")
        app_fills.write(result, outputs)
        typer.echo(result.text())
