"""``sor generate``: write a synthetic market."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import QuietFlag, setup_logging, user_errors, with_default
from sor.core.defaults import DEFAULT_DURATION_S, DEFAULT_SEED, DEFAULT_START

HELP_FLOW = {"informed": 0.15, "metaorder_share": 0.7, "metaorder_seconds": 2.0, "impact": 0.2,
             "drift": 0.0}  # fmt: skip
"""``sor.data.generate.FlowModel``'s defaults, for the help (tests/unit/test_help.py)."""


def generate(
    out: Annotated[
        Path, typer.Option("--out", help="CSV file to write; with --days, the directory.")
    ],
    venues: Annotated[int, typer.Option(help="Number of venues (1 to 6).")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same file.")] = DEFAULT_SEED,
    start: Annotated[str, typer.Option(help="First ts_event, ISO-8601 UTC.")] = DEFAULT_START,
    end: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "Last ts_event, ISO-8601 UTC.", f"start + {DEFAULT_DURATION_S // 60} min"
            )
        ),
    ] = None,
    depth: Annotated[int, typer.Option(help="Book levels: 1 (MBP-1) or 10 (MBP-10).")] = 10,
    symbol: Annotated[
        str,
        typer.Option(help="The symbol column; each symbol gets its own instrument_id (AAPL: 38)."),
    ] = "AAPL",
    rate: Annotated[
        float, typer.Option(help="Messages per second per venue (the real file: about 110).")
    ] = 111.0,
    price_moves: Annotated[
        float,
        typer.Option(
            help="Moves per second of the efficient price; lower with --rate for a calmer, "
            "less liquid instrument."
        ),
    ] = 0.35,
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
    quiet: QuietFlag = False,
) -> None:
    """Write a synthetic multi-venue market as a Databento MBP CSV.

    The file has the exact layout of a Databento MBP-1 or MBP-10 CSV download. Its market
    model (informed flow, persistent trade signs, impact) is in docs/generate.md.

    Example: sor generate --out market.csv --venues 6 --seed 7 --depth 10
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app import generate as app_generate
        from sor.app.settings import GenerateFlags, check_flags
        from sor.streaming.broker import stop_on_signals

        flags = check_flags(
            GenerateFlags,
            {"venues": venues, "seed": seed, "start": start, "end": end, "depth": depth,
             "symbol": symbol, "rate": rate, "price_moves": price_moves, "days": days,
             "informed": informed, "metaorder_share": metaorder_share,
             "metaorder_seconds": metaorder_seconds, "impact": impact, "drift": drift,
             "no_adverse_selection": no_adverse_selection},
        )  # fmt: skip
        settings = app_generate.GenerateSettings.from_flags(flags)
        # SIGTERM and SIGHUP stop the run as Ctrl-C does: the file being written is removed
        with stop_on_signals():
            app_generate.run(out, settings, quiet=quiet)
