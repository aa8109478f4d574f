"""``sor generate``: write a synthetic market."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import (
    LobsterBookFlag,
    PublisherFlag,
    QuietFlag,
    setup_logging,
    user_errors,
    with_default,
)
from sor.core.defaults import DEFAULT_DURATION_S, DEFAULT_SEED, DEFAULT_START

HELP_FLOW = {"informed": 0.15, "metaorder_share": 0.7, "metaorder_seconds": 2.0, "impact": 0.2,
             "drift": 0.0}  # fmt: skip
"""``sor.data.generate.FlowModel``'s defaults, for the help (tests/unit/test_help.py)."""


def generate(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="CSV file to write; with --days, the directory. Needed unless "
            "--params-out is given.",
        ),
    ] = None,
    like: Annotated[
        Path | None,
        typer.Option(
            help="Fit the market to this real file (Databento MBP or MBO, CSV or DBN, or a "
            "LOBSTER message file) within --start/--end, per venue (docs/generate.md); the "
            "generated window is the fitted one unless --start is given."
        ),
    ] = None,
    params: Annotated[
        Path | None,
        typer.Option(
            help="Generate the market of this parameters file (TOML; --params-out "
            "writes one); every flag given still wins."
        ),
    ] = None,
    params_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the market's parameters (fitted, read or default, with the "
            "flags applied) to this TOML file, for --params."
        ),
    ] = None,
    venues: Annotated[
        int | None,
        typer.Option(
            help=with_default(
                "Number of venues (1 to 6; a fitted market's first N).", "6; a fitted market's all"
            )
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same file.")] = DEFAULT_SEED,
    start: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "First ts_event, ISO-8601 UTC; with --like, also the start of the window fitted.",
                f"{DEFAULT_START}, or the fitted window's",
            )
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "Last ts_event, ISO-8601 UTC; with --like, also the end of the window fitted.",
                f"start + {DEFAULT_DURATION_S // 60} min, or as long as the fitted window",
            )
        ),
    ] = None,
    depth: Annotated[int, typer.Option(help="Book levels: 1 (MBP-1) or 10 (MBP-10).")] = 10,
    symbol: Annotated[
        str,
        typer.Option(help="The symbol column; each symbol gets its own instrument_id (AAPL: 38)."),
    ] = "AAPL",
    rate: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Messages per second per venue (a fitted market's venues keep their proportions, "
                "with this mean).",
                "111, or the fitted market's",
            )
        ),
    ] = None,
    price_moves: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Moves per second of the efficient price; lower with --rate for a calmer, "
                "less liquid instrument.",
                "0.35, or the fitted market's",
            )
        ),
    ] = None,
    days: Annotated[
        int | None,
        typer.Option(
            help="Write this many daily files into the directory --out, one weekday each, "
            "with day-to-day volatility, liquidity and drift (docs/generate.md)."
        ),
    ] = None,
    informed: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Share of trades that know the efficient price's next move.",
                HELP_FLOW["informed"],
            )
        ),
    ] = None,
    metaorder_share: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Share of trades sent by the running metaorder (persistent trade signs).",
                HELP_FLOW["metaorder_share"],
            )
        ),
    ] = None,
    metaorder_seconds: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Mean duration of a metaorder, seconds.", HELP_FLOW["metaorder_seconds"]
            )
        ),
    ] = None,
    impact: Annotated[
        float | None,
        typer.Option(
            help=with_default(
                "Share of the efficient price's moves pushed by the metaorders' flow.",
                HELP_FLOW["impact"],
            )
        ),
    ] = None,
    drift: Annotated[
        float | None,
        typer.Option(
            help=with_default("Bias of the other moves: up with probability 0.5 + drift.", 0.0)
        ),
    ] = None,
    no_adverse_selection: Annotated[
        bool,
        typer.Option(
            "--no-adverse-selection",
            help="Fair-coin trade signs and no impact: trades do not predict the price.",
        ),
    ] = False,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="--like: skip the file's bad rows instead of stopping.")
    ] = False,
    schema: Annotated[
        str,
        typer.Option(
            help="mbp: the book's rows (MBP-1 or MBP-10 CSV); mbo: the same market order by "
            "order as Databento MBO (CSV, or DBN when --out ends in .dbn or .dbn.zst).",
        ),
    ] = "mbp",
    quiet: QuietFlag = False,
) -> None:
    """Write a synthetic multi-venue market as a Databento MBP CSV.

    The file has the exact layout of a Databento MBP-1 or MBP-10 CSV download; with
    --schema mbo, of Databento MBO, whose books are the MBP file's of the same flags. Its
    market model (informed flow, persistent trade signs, impact) is in docs/generate.md.

    Example: sor generate --out market.csv --venues 6 --seed 7 --depth 10
    Example: sor generate --like AMZN_2012-06-21_34200000_57600000_message_5.csv --out amzn.csv
             --params-out amzn.toml
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app import generate as app_generate
        from sor.app.config import source_options
        from sor.app.settings import GenerateFlags, check_flags
        from sor.core.errors import SorError
        from sor.data.market_params import read_params
        from sor.streaming.broker import stop_on_signals

        if like is not None and params is not None:
            raise SorError("--like fits a market and --params reads one: give one of them")
        if out is None and params_out is None:
            raise SorError("give --out (the market to write) or --params-out (its parameters)")
        from sor.app.outputs import check_outputs
        from sor.data.lobster import input_files

        inputs = tuple(p for p in (params,) if p is not None)
        if like is not None:
            inputs += tuple(input_files(like, lobster_book))
        # before the fit: an output naming an input, or two outputs one file, is refused
        check_outputs([(params_out, "--params-out"), (out if days is None else None, "--out")],
                      inputs)  # fmt: skip
        flags = check_flags(
            GenerateFlags,
            {"venues": venues, "seed": seed, "start": start, "end": end, "depth": depth,
             "symbol": symbol, "rate": rate, "price_moves": price_moves, "days": days,
             "informed": informed, "metaorder_share": metaorder_share,
             "metaorder_seconds": metaorder_seconds, "impact": impact, "drift": drift,
             "no_adverse_selection": no_adverse_selection, "schema": schema},
        )  # fmt: skip
        market, origin = None, ""
        if like is not None:
            market = app_generate.fit_like(
                like, flags.start, flags.end, source=source_options(lobster_book, publisher),
                skip_bad_rows=skip_bad_rows,
            )  # fmt: skip
            # the flags that shape the fit, so that the "made by" line fits the same market
            origin = f" --like {like}" + "".join(
                f" {flag}" for flag, given in (
                    (f"--lobster-book {lobster_book}", lobster_book is not None),
                    (f"--publisher {publisher}", publisher is not None),
                    ("--skip-bad-rows", skip_bad_rows),
                ) if given
            )  # fmt: skip
        elif params is not None:
            market, origin = read_params(params), f" --params {params}"
        settings = app_generate.GenerateSettings.from_flags(flags, market, origin, inputs)
        if params_out is not None:
            app_generate.write_params(params_out, settings.params(), inputs)
        if out is None:
            return
        # SIGTERM and SIGHUP stop the run as Ctrl-C does: the file being written is removed
        with stop_on_signals():
            app_generate.run(out, settings, quiet=quiet)
