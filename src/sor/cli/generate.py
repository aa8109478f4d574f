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
    from sor.data.generate import FlowModel

log = logging.getLogger("sor")


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
                "Last ts_event, ISO-8601 UTC.", f"start + {HELP_GENERATED_MINUTES} min"
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Write a synthetic multi-venue market as a Databento MBP CSV.

    The file has the exact layout of a Databento MBP-1 or MBP-10 CSV download. Its market
    model (informed flow, persistent trade signs, impact) is in docs/generate.md.

    Example: sor generate --out market.csv --venues 6 --seed 7 --depth 10
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.settings import GenerateFlags, check_flags

        flags = check_flags(
            GenerateFlags,
            {"venues": venues, "seed": seed, "start": start, "end": end, "depth": depth,
             "symbol": symbol, "rate": rate, "price_moves": price_moves, "days": days,
             "informed": informed, "metaorder_share": metaorder_share,
             "metaorder_seconds": metaorder_seconds, "impact": impact, "drift": drift,
             "no_adverse_selection": no_adverse_selection},
        )  # fmt: skip
        flow = flags.flow_model()
        _check_generated_rows(flags)
        if flags.days is None:
            check_output(out, "--out")
            _generate_one(out, flags, flow, flags.seed, flags.start, flags.end)
            return
        _generate_days(out, flags, flow)


def _generate_one(
    out: Path,
    flags: GenerateFlags,
    flow: FlowModel,
    seed: int,
    start: str,
    end: str | None,
    rate: float | None = None,
    price_moves: float | None = None,
) -> None:
    """Write one generated file atomically; log what it holds and the flags that make it."""
    from sor.data.generate import GenerateSummary, generate_market
    from sor.data.reader import format_timestamp

    written: list[GenerateSummary] = []
    write_atomically(
        out,
        "--out",
        lambda path: written.append(
            generate_market(
                path, venues=flags.venues, seed=seed, start=start, end=end, depth=flags.depth,
                rate_per_venue=flags.rate if rate is None else rate,
                price_moves=flags.price_moves if price_moves is None else price_moves,
                flow=flow, symbol=flags.symbol,
            )
        ),
    )  # fmt: skip
    summary = dataclasses.replace(written[0], path=out)
    log.info(
        "wrote %s: %d rows, venues %s, MBP-%d; made by --seed %d --start %s --end %s --rate %r "
        "--price-moves %r%s%s",
        summary.path,
        summary.rows,
        ",".join(str(v) for v in summary.venues),
        summary.depth,
        seed,
        format_timestamp(summary.start_ns),
        format_timestamp(summary.end_ns),
        summary.rate_per_venue,
        summary.price_moves,
        _flow_flags(summary.flow),
        "" if flags.symbol == "AAPL" else f" --symbol {flags.symbol}",
    )


def _flow_flags(flow: FlowModel) -> str:
    """Write ``flow`` as the flags of ``sor generate`` that make it."""
    values = dataclasses.asdict(flow).items()
    return "".join(f" --{name.replace('_', '-')} {value!r}" for name, value in values)


def _generate_days(out: Path, flags: GenerateFlags, flow: FlowModel) -> None:
    """Write ``--days`` daily files into the directory ``out`` (made if missing)."""
    from sor.data.days import plan_days
    from sor.data.generate import DEFAULT_DURATION_NS
    from sor.data.reader import format_timestamp, parse_timestamp

    if out.exists() and not out.is_dir():
        raise SorError(f"--out: {out} is a file; with --days give a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SorError(f"--out: cannot make the directory {out}: {exc.strerror or exc}") from exc
    start_ns = parse_timestamp(flags.start)
    end_ns = parse_timestamp(flags.end) if flags.end is not None else start_ns + DEFAULT_DURATION_NS
    assert flags.days is not None
    plan = plan_days(
        flags.days, seed=flags.seed, start_ns=start_ns, end_ns=end_ns, rate_per_venue=flags.rate,
        price_moves=flags.price_moves, flow=flow, depth=flags.depth, symbol=flags.symbol,
    )  # fmt: skip
    for day in plan:
        path = out / day.name
        check_output(path, "--out")
        _generate_one(
            path, flags, day.flow, day.seed, format_timestamp(day.start_ns),
            format_timestamp(day.end_ns), day.rate_per_venue, day.price_moves,
        )  # fmt: skip


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
