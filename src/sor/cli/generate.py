"""``sor generate``: write a synthetic market."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sor.app.runs import check_outputs, write_atomically
from sor.cli.common import QuietFlag, setup_logging, user_errors, with_default
from sor.core.defaults import DEFAULT_DURATION_S, DEFAULT_SEED, DEFAULT_START
from sor.core.errors import SorError

if TYPE_CHECKING:
    from sor.app.settings import GenerateFlags
    from sor.data.days import Day
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
        flow = flags.flow_model()
        # SIGTERM and SIGHUP stop the run as Ctrl-C does: the file being written is removed
        with stop_on_signals():
            if flags.days is None:
                _generate_file(out, flags, flow, quiet)
            else:
                _generate_days(out, flags, flow, quiet)


def _generate_file(out: Path, flags: GenerateFlags, flow: FlowModel, quiet: bool) -> None:
    """Write the one file of a run without ``--days``."""
    from sor.data.days import Day

    start_ns, end_ns = _window(flags)
    day = Day(index=0, name=out.name, seed=flags.seed, start_ns=start_ns, end_ns=end_ns,
              rate_per_venue=flags.rate, price_moves=flags.price_moves, flow=flow)  # fmt: skip
    rows = _check_bounds([day], flags)
    check_outputs([(out, "--out")])
    _generate_files([(out, day)], flags, rows, quiet)


def _window(flags: GenerateFlags) -> tuple[int, int]:
    """The window of ``ts_event`` the flags ask for, nanoseconds."""
    from sor.core.timestamps import parse_timestamp
    from sor.data.generate import DEFAULT_DURATION_NS

    start_ns = parse_timestamp(flags.start)
    end_ns = parse_timestamp(flags.end) if flags.end is not None else start_ns + DEFAULT_DURATION_NS
    if end_ns <= start_ns:
        raise SorError(f"--end {flags.end} must come after --start {flags.start}")
    return start_ns, end_ns


def _generate_files(
    files: list[tuple[Path, Day]], flags: GenerateFlags, rows: float, quiet: bool
) -> None:
    """Write every planned file, each atomically; a bar counts the ``rows`` expected unless
    ``quiet``."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from sor.app.compile import compile_groups

    compile_groups(("generate",))  # before the bar, which then counts rows only
    log.info(
        "writing about %s rows (about %s of CSV) in %d file%s",
        f"{rows:,.0f}", _size(rows * BYTES_PER_ROW[flags.depth]), len(files),
        "" if len(files) == 1 else "s",
    )  # fmt: skip
    expected = [round(_expected_rows(day, flags.venues)) for _, day in files]
    with (
        tqdm(total=sum(expected), desc="generate", unit="row", unit_scale=True,
             file=sys.stderr, disable=quiet, leave=False) as bar,
        logging_redirect_tqdm(),  # "wrote" lines print above the bar, not over it
    ):  # fmt: skip
        for (path, day), guess in zip(files, expected, strict=True):
            written = _generate_one(path, flags, day, bar.update)
            if bar.total is not None:  # the file's count replaces its guess: 100 % at the end
                bar.total += written - guess
                bar.refresh()


def _generate_one(
    out: Path, flags: GenerateFlags, day: Day, on_progress: Callable[[int], object]
) -> int:
    """Write one generated file atomically; log what it holds and the flags that make it;
    return its rows."""
    from sor.core.timestamps import format_timestamp
    from sor.data.generate import GenerateSummary, generate_market

    written: list[GenerateSummary] = []
    write_atomically(
        out,
        "--out",
        lambda path: written.append(
            generate_market(
                path, venues=flags.venues, seed=day.seed, start=format_timestamp(day.start_ns),
                end=format_timestamp(day.end_ns), depth=flags.depth,
                rate_per_venue=day.rate_per_venue, price_moves=day.price_moves, flow=day.flow,
                symbol=flags.symbol, on_progress=on_progress,
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
        day.seed,
        format_timestamp(summary.start_ns),
        format_timestamp(summary.end_ns),
        summary.rate_per_venue,
        summary.price_moves,
        _flow_flags(summary.flow),
        "" if flags.symbol == "AAPL" else f" --symbol {flags.symbol}",
    )
    return summary.rows


def _flow_flags(flow: FlowModel) -> str:
    """Write ``flow`` as the flags of ``sor generate`` that make it."""
    values = dataclasses.asdict(flow).items()
    return "".join(f" --{name.replace('_', '-')} {value!r}" for name, value in values)


def _generate_days(out: Path, flags: GenerateFlags, flow: FlowModel, quiet: bool) -> None:
    """Write ``--days`` daily files into the directory ``out`` (made if missing, and removed
    again when the run ends before writing any)."""
    from sor.data.days import plan_days

    if out.exists() and not out.is_dir():
        raise SorError(f"--out: {out} is a file; with --days give a directory")
    start_ns, end_ns = _window(flags)
    assert flags.days is not None
    plan = plan_days(
        flags.days, seed=flags.seed, start_ns=start_ns, end_ns=end_ns, rate_per_venue=flags.rate,
        price_moves=flags.price_moves, flow=flow, depth=flags.depth, symbol=flags.symbol,
    )  # fmt: skip
    rows = _check_bounds(plan, flags)
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SorError(f"--out: cannot make the directory {out}: {exc.strerror or exc}") from exc
    try:
        files = [(out / day.name, day) for day in plan]
        check_outputs([(path, f"--out ({path.name})") for path, _ in files])
        for path, _ in files:
            _check_not_another_symbol(path, flags.symbol)
        _generate_files(files, flags, rows, quiet)
    finally:
        for folder in made:  # the deepest first; one holding a written day stays
            with contextlib.suppress(OSError):
                folder.rmdir()


def _check_not_another_symbol(path: Path, symbol: str) -> None:
    """Refuse to replace the day file ``path`` unless it holds a day of ``symbol`` (rewriting
    a day is fine) or no rows at all.

    Names are ``symbol.lower()``: ``AAPL`` and ``aapl`` share them (and on a file system
    that ignores case, any spelling of it would), so the file's own ``symbol`` column says
    whose day it is.
    """
    held = _held_symbol(path)
    if held is None or held == symbol:
        return
    if held.lower() == symbol.lower():
        raise SorError(
            f"--symbol {symbol}: {path} holds a day of {held}, which differs only by case and "
            "shares its file names: write the two symbols into different --out directories"
        )
    what = f"a day of {held}" if held else "another file"
    raise SorError(f"--out: {path} holds {what}, not a day of {symbol}: move it or write elsewhere")


def _held_symbol(path: Path) -> str | None:
    """The ``symbol`` of the first row of the CSV ``path``: None when there is no such file
    or it has a header and no row, "" when it has no ``symbol`` column to read."""
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            head = [handle.readline(HEAD_CHARS) for _ in range(2)]
    except OSError as exc:
        raise SorError(f"--out: cannot read {path}: {exc.strerror or exc}") from exc
    try:
        header, row = (next(csv.reader([line]), []) for line in head)
    except csv.Error:
        return ""
    if "symbol" not in header:
        return ""
    if not row:
        return None
    column = header.index("symbol")
    return row[column] if column < len(row) else ""


HEAD_CHARS = 1 << 16
"""Most characters read of a line of a file about to be replaced: a header or a row of the
generated layout is a few hundred."""

MAX_GENERATED_ROWS = 10**8
"""Most rows one ``sor generate`` writes, every day of ``--days`` together: a bound on its
time (minutes) and its disk (``BYTES_PER_ROW``); its memory does not grow with the rows."""
BYTES_PER_ROW = {1: 136, 10: 385}
"""Mean size of a generated row of MBP-1 and MBP-10, bytes (the default market's)."""
MAX_PRICE_PATH = 2 * 10**6
"""Most moves of the efficient price in one file (``--price-moves`` times its seconds): the
generator holds their path whole, about 80 bytes a move at its peak (160 MB)."""
MAX_METAORDERS = 10**6
"""Most metaorders in one file (its seconds over ``--metaorder-seconds``): the generator
holds their start times and signs."""


def _check_bounds(days: list[Day], flags: GenerateFlags) -> float:
    """Return the rows the files will hold, about; refuse a run past the documented caps
    (rows over the run, moves of the efficient price and metaorders in a file)."""
    seconds = (days[0].end_ns - days[0].start_ns) / 1e9
    rows = sum(_expected_rows(day, flags.venues) for day in days)
    many = f" x {len(days)} days" if flags.days is not None else ""
    if rows > MAX_GENERATED_ROWS:
        raise SorError(
            f"--rate {flags.rate:g} x {flags.venues} venues x {seconds:g} s{many} makes about "
            f"{rows:.2g} rows (about {_size(rows * BYTES_PER_ROW[flags.depth])} of CSV), more "
            f"than the cap of {MAX_GENERATED_ROWS:.0e} rows (about "
            f"{_size(MAX_GENERATED_ROWS * BYTES_PER_ROW[flags.depth])}): lower --rate or "
            f"--venues{', give fewer --days' if many else ''} or shorten the window"
        )
    moves = max(day.price_moves for day in days) * seconds
    if moves > MAX_PRICE_PATH:
        raise SorError(
            f"--price-moves {flags.price_moves:g} over {seconds:g} s makes about {moves:.2g} "
            f"moves of the efficient price in {'the busiest day' if many else 'a file'}, more "
            f"than the cap of {MAX_PRICE_PATH:.0e}: lower --price-moves or shorten the window"
        )
    metaorders = seconds / min(day.flow.metaorder_seconds for day in days)
    if metaorders > MAX_METAORDERS:
        raise SorError(
            f"--metaorder-seconds {days[0].flow.metaorder_seconds:g} over {seconds:g} s makes "
            f"about {metaorders:.2g} metaorders in a file, more than the cap of "
            f"{MAX_METAORDERS:.0e}: raise --metaorder-seconds or shorten the window"
        )
    return rows


def _expected_rows(day: Day, venues: int) -> float:
    """The mean rows of the file of ``day`` (its rate times its venues and seconds)."""
    return day.rate_per_venue * venues * (day.end_ns - day.start_ns) / 1e9


def _size(count: float) -> str:
    """Write a number of bytes for a reader: ``140 MB``, ``39 GB``."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return (
                f"{count / scale:.2g} {unit}"
                if count < 10 * scale
                else f"{count / scale:.0f} {unit}"
            )
    return f"{count:.0f} bytes"
