"""``sor generate``: write a synthetic market."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sor.app.defaults import DEFAULT_SEED
from sor.app.runs import check_output, write_atomically
from sor.cli.common import HELP_GENERATED_MINUTES, setup_logging, user_errors, with_default
from sor.core.domain import DEFAULT_START
from sor.core.errors import SorError

if TYPE_CHECKING:
    from sor.app.settings import GenerateFlags

log = logging.getLogger("sor")


def generate(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    venues: Annotated[int, typer.Option(help="Number of venues (1 to 6).")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same file.")] = DEFAULT_SEED,
    start: Annotated[str, typer.Option(help="First ts_event, ISO-8601 UTC.")] = DEFAULT_START,
    end: Annotated[
        str | None,
        typer.Option(
            help=with_default(
                "Last ts_event, ISO-8601 UTC.", f"start + {HELP_GENERATED_MINUTES} min"
            )
        ),
    ] = None,
    depth: Annotated[int, typer.Option(help="Book levels: 1 (MBP-1) or 10 (MBP-10).")] = 10,
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Write a synthetic multi-venue market as a Databento MBP CSV.

    The file has the exact layout of a Databento MBP-1 or MBP-10 CSV download.

    Example: sor generate --out market.csv --venues 6 --seed 7 --depth 10
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.settings import GenerateFlags, check_flags

        flags = check_flags(
            GenerateFlags,
            {"venues": venues, "seed": seed, "start": start, "end": end, "depth": depth,
             "rate": rate, "price_moves": price_moves},
        )  # fmt: skip
        _check_generated_rows(flags)
        check_output(out, "--out")
        from sor.data.generate import GenerateSummary, generate_market

        written: list[GenerateSummary] = []
        write_atomically(
            out,
            "--out",
            lambda path: written.append(
                generate_market(
                    path, venues=flags.venues, seed=flags.seed, start=flags.start, end=flags.end,
                    depth=flags.depth, rate_per_venue=flags.rate, price_moves=flags.price_moves,
                )
            ),
        )  # fmt: skip
        summary = dataclasses.replace(written[0], path=out)
        log.info(
            "wrote %s: %d rows, venues %s, MBP-%d, seed %d",
            summary.path,
            summary.rows,
            ",".join(str(v) for v in summary.venues),
            summary.depth,
            seed,
        )


MAX_GENERATED_ROWS = 10**8
"""Most rows ``sor generate`` writes: ten times the memory benchmark's file."""


def _check_generated_rows(flags: GenerateFlags) -> None:
    """Refuse a window, rate and venue count that would write more than MAX_GENERATED_ROWS."""
    from sor.data.generate import DEFAULT_DURATION_NS
    from sor.data.reader import parse_timestamp

    start_ns = parse_timestamp(flags.start)
    end_ns = parse_timestamp(flags.end) if flags.end is not None else start_ns + DEFAULT_DURATION_NS
    if end_ns <= start_ns:
        raise SorError(f"--end {flags.end} must come after --start {flags.start}")
    rows = flags.rate * flags.venues * (end_ns - start_ns) / 1e9
    if rows > MAX_GENERATED_ROWS:
        raise SorError(
            f"--rate {flags.rate:g} for {flags.venues} venues over {(end_ns - start_ns) / 1e9:g} s "
            f"makes about {rows:.2g} rows, more than {MAX_GENERATED_ROWS:.0e}: lower the rate "
            "or shorten the window"
        )
