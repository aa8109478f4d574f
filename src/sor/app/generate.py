"""The run of ``sor generate``: plan the files of a synthetic market, check them against
the documented caps, and write each atomically.

:func:`run` writes the market where asked and returns what it wrote; the command adds only
its flags and the signal handling. A Python caller needs only :func:`run` and
:class:`GenerateSettings`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sor.app.runs import check_outputs, write_atomically
from sor.core.defaults import (
    DEFAULT_GENERATE_RATE,
    DEFAULT_PRICE_MOVES,
    DEFAULT_SEED,
    DEFAULT_START,
)
from sor.core.errors import ConfigError, SorError

if TYPE_CHECKING:
    from sor.app.settings import GenerateFlags
    from sor.data.days import Day
    from sor.data.generate import FlowModel, GenerateSummary
    from sor.data.market_params import MarketParams
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger("sor")


def _default_flow() -> FlowModel:
    from sor.data.generate import FlowModel

    return FlowModel()


@dataclass(frozen=True)
class GenerateSettings:
    """What one ``sor generate`` writes, every value already checked (the window's order is
    checked by :func:`run`, after the output)."""

    venues: int = 6
    seed: int = DEFAULT_SEED
    start: str = DEFAULT_START
    """The first ``ts_event``, ISO-8601 UTC."""
    end: str | None = None
    """The last ``ts_event``, ISO-8601 UTC; None: the default duration after ``start``."""
    depth: int = 10
    """Book levels: 1 (MBP-1) or 10 (MBP-10)."""
    symbol: str = "AAPL"
    rate: float = 111.0
    """Messages per second per venue."""
    price_moves: float = 0.35
    """Moves per second of the efficient price."""
    days: int | None = None
    """Daily files to write into a directory; None: one file."""
    flow: FlowModel = field(default_factory=_default_flow)
    """The market's order-flow model."""
    market: MarketParams | None = None
    """A fitted or read market (its first ``venues`` venues, their rates scaled to a mean
    of ``rate``; its start price, moves and profile); None: the default market."""
    origin: str = ""
    """Where ``market`` came from, as flags (``--like FILE``, ``--params FILE``), for the
    "made by" line."""
    inputs: tuple[Path, ...] = ()
    """The files the run reads (the fitted file and its LOBSTER book, a parameters file):
    no output may replace one."""
    schema: str = "mbp"
    """``mbp``: the book's rows (MBP-``depth``); ``mbo``: the same market order by order."""

    @property
    def bytes_per_row(self) -> int:
        """Mean bytes a row of the market takes in the file written."""
        return BYTES_PER_MBO_ROW if self.schema == "mbo" else BYTES_PER_ROW[self.depth]

    @classmethod
    def from_flags(
        cls,
        flags: GenerateFlags,
        market: MarketParams | None = None,
        origin: str = "",
        inputs: tuple[Path, ...] = (),
    ) -> GenerateSettings:
        """Build the settings from the validated flags of ``sor generate``, over the
        parameters of ``market`` (fitted or read; None: the defaults): a flag given wins.

        Raises
        ------
        ConfigError
            The flow flags contradict each other (:meth:`GenerateFlags.flow_model`), or
            more venues are asked for than the market has.
        """
        from sor.data.generate import VENUE_ORDER

        available = len(market.venues) if market is not None else len(VENUE_ORDER)
        venues = flags.venues if flags.venues is not None else available
        if venues > available:
            what = f"the market of {origin.strip()} has" if market is not None else "there are"
            raise ConfigError(f"--venues {venues}: {what} {available} venues")
        if market is not None:
            market = dataclasses.replace(market, venues=market.venues[:venues])
        start, end = flags.start, flags.end
        if market is not None and start is None and market.start is not None:
            start, end = market.start, end if end is not None else market.end
        elif market is not None and end is None and market.start and market.end:
            end = _shifted_end(start or DEFAULT_START, market.start, market.end)
        rate = flags.rate if flags.rate is not None else (
            market.mean_rate if market is not None else DEFAULT_GENERATE_RATE)  # fmt: skip
        moves = flags.price_moves if flags.price_moves is not None else (
            market.price_moves if market is not None else DEFAULT_PRICE_MOVES)  # fmt: skip
        return cls(
            venues=venues, seed=flags.seed, start=start or DEFAULT_START, end=end,
            depth=flags.depth, symbol=flags.symbol, rate=rate, price_moves=moves,
            days=flags.days, flow=flags.flow_model(market.flow if market else None),
            market=market, origin=origin, schema=flags.market_schema, inputs=inputs,
        )  # fmt: skip

    def params(self) -> MarketParams:
        """The parameters this run generates with, as ``--params-out`` writes them: the
        market's (the default venues when none), with the flags applied."""
        from sor.data.generate import VENUE_ORDER, VenueModel
        from sor.data.market_params import MarketParams

        market = self.market or MarketParams(
            venues=tuple(VenueModel(publisher_id=v, rate=self.rate)
                         for v in VENUE_ORDER[: self.venues]))  # fmt: skip
        scale = self.rate / market.mean_rate
        venues = tuple(
            dataclasses.replace(venue, rate=venue.rate * scale) for venue in market.venues
        )
        start, end = _window(self)
        from sor.core.timestamps import format_timestamp

        return dataclasses.replace(
            market, venues=venues, price_moves=self.price_moves, flow=self.flow,
            start=format_timestamp(start), end=format_timestamp(end),
        )  # fmt: skip


def _shifted_end(start: str, fitted_start: str, fitted_end: str) -> str:
    """The end of a window from ``start`` as long as the fitted one."""
    from sor.core.timestamps import format_timestamp, parse_timestamp

    length = parse_timestamp(fitted_end) - parse_timestamp(fitted_start)
    return format_timestamp(parse_timestamp(start) + length)


def fit_like(
    data: Path,
    start: str | None,
    end: str | None,
    *,
    source: SourceOptions | None = None,
    skip_bad_rows: bool = False,
) -> MarketParams:
    """Fit the generator to ``data`` within ``[start, end]`` (``sor generate --like``).

    Raises
    ------
    SorError
        The file cannot be read or has nothing to fit in the window.
    """
    from sor.app.compile import compiling, input_groups
    from sor.core.timestamps import parse_timestamp
    from sor.stylized.fit import fit_market

    log.info("fitting the market to %s", data)
    with compiling((), body=(*input_groups(data, source), "stats", "generate")):
        return fit_market(
            data, start_ns=parse_timestamp(start) if start else None,
            end_ns=parse_timestamp(end) if end else None, skip_bad_rows=skip_bad_rows,
            source=source,
        )  # fmt: skip


def write_params(path: Path, params: MarketParams, inputs: tuple[Path, ...] = ()) -> None:
    """Write ``params`` as TOML to ``path`` atomically and say so (never over one of
    ``inputs``)."""
    check_outputs([(path, "--params-out")], inputs)
    write_atomically(path, "--params-out", params.write, suffix=".toml")
    log.info("wrote %s: the market's parameters (sor generate --params %s)", path, path)


@dataclass(frozen=True)
class GenerateResult:
    """What a run wrote: one summary per file, in the order written."""

    files: tuple[GenerateSummary, ...]

    @property
    def rows(self) -> int:
        """The rows of every file together."""
        return sum(summary.rows for summary in self.files)


def run(out: Path, settings: GenerateSettings, *, quiet: bool = False) -> GenerateResult:
    """Write the market of ``settings`` to the CSV file ``out`` (with ``days``, the daily
    files into the directory ``out``), each file atomically; a bar on stderr counts the
    rows unless ``quiet``.

    Raises
    ------
    SorError
        The window is empty, the run would pass a documented cap, or ``out`` cannot be
        written (or holds a day of another symbol).
    """
    if settings.days is None:
        return GenerateResult(_generate_file(out, settings, quiet))
    return GenerateResult(_generate_days(out, settings, quiet))


def _generate_file(
    out: Path, settings: GenerateSettings, quiet: bool
) -> tuple[GenerateSummary, ...]:
    """Write the one file of a run without ``--days``."""
    from sor.data.days import Day

    start_ns, end_ns = _window(settings)
    day = Day(index=0, name=out.name, seed=settings.seed, start_ns=start_ns, end_ns=end_ns,
              rate_per_venue=settings.rate, price_moves=settings.price_moves,
              flow=settings.flow)  # fmt: skip
    rows = _check_bounds([day], settings)
    if settings.schema == "mbo":
        from sor.data.generate_mbo import output_format

        output_format(out)  # a name of no MBO format is refused before anything is written
    elif out.name.endswith((".dbn", ".zst")):
        # the MBP file is CSV: one named as DBN or compressed would not read back as its name says
        raise SorError(
            f"--out {out.name}: --schema mbp writes a CSV; name a .csv file, or give "
            "--schema mbo for DBN"
        )
    check_outputs([(out, "--out")], settings.inputs)
    return _generate_files([(out, day)], settings, rows, quiet)


def _window(settings: GenerateSettings) -> tuple[int, int]:
    """The window of ``ts_event`` the settings ask for, nanoseconds."""
    from sor.core.timestamps import parse_timestamp
    from sor.data.generate import DEFAULT_DURATION_NS

    start_ns = parse_timestamp(settings.start)
    end_ns = (
        parse_timestamp(settings.end)
        if settings.end is not None
        else start_ns + DEFAULT_DURATION_NS
    )
    if end_ns <= start_ns:
        raise SorError(f"--end {settings.end} must come after --start {settings.start}")
    return start_ns, end_ns


def _generate_files(
    files: list[tuple[Path, Day]], settings: GenerateSettings, rows: float, quiet: bool
) -> tuple[GenerateSummary, ...]:
    """Write every planned file, each atomically; a bar counts the ``rows`` expected unless
    ``quiet``. Return what each file holds."""
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    from sor.app.compile import compile_groups

    compile_groups(("generate",))  # before the bar, which then counts rows only
    log.info(
        "writing about %s rows (about %s of CSV) in %d file%s",
        f"{rows:,.0f}", _size(rows * settings.bytes_per_row), len(files),
        "" if len(files) == 1 else "s",
    )  # fmt: skip
    per_row = MBO_RECORDS_PER_ROW if settings.schema == "mbo" else 1.0
    expected = [round(_expected_rows(day, settings.venues) * per_row) for _, day in files]
    summaries: list[GenerateSummary] = []
    with (
        tqdm(total=sum(expected), desc="generate", unit="row", unit_scale=True,
             file=sys.stderr, disable=quiet, leave=False) as bar,
        logging_redirect_tqdm(),  # "wrote" lines print above the bar, not over it
    ):  # fmt: skip
        for (path, day), guess in zip(files, expected, strict=True):
            summaries.append(_generate_one(path, settings, day, bar.update))
            if bar.total is not None:  # the file's count replaces its guess: 100 % at the end
                bar.total += summaries[-1].rows - guess
                bar.refresh()
    return tuple(summaries)


def _generate_one(
    out: Path, settings: GenerateSettings, day: Day, on_progress: Callable[[int], object]
) -> GenerateSummary:
    """Write one generated file atomically; log what it holds and the flags that make it;
    return what it holds."""
    from sor.core.timestamps import format_timestamp
    from sor.data.generate import generate_market
    from sor.data.generate_mbo import output_format

    # the file is written under a temporary name: its format comes from the name asked for
    mbo_format = output_format(out) if settings.schema == "mbo" else None
    written: list[GenerateSummary] = []
    from sor.data.generate import START_BID_CENTS

    market = settings.market
    write_atomically(
        out,
        "--out",
        lambda path: written.append(
            generate_market(
                path, venues=settings.venues, seed=day.seed,
                start=format_timestamp(day.start_ns), end=format_timestamp(day.end_ns),
                depth=settings.depth,
                rate_per_venue=day.rate_per_venue, price_moves=day.price_moves, flow=day.flow,
                symbol=settings.symbol, on_progress=on_progress, schema=settings.schema,
                mbo_format=mbo_format,
                venue_models=market.venues if market else None,
                start_bid_cents=market.start_bid_cents if market else START_BID_CENTS,
                move_ticks=market.move_ticks if market else 1,
                activity=market.activity if market else None,
                bursts=market.bursts if market else None,
            )
        ),
    )  # fmt: skip
    summary = dataclasses.replace(written[0], path=out)
    log.info(
        "wrote %s: %d %s, venues %s, %s; made by%s --seed %d --start %s --end %s --rate %r "
        "--price-moves %r%s%s%s",
        summary.path,
        summary.rows,
        "records" if settings.schema == "mbo" else "rows",
        ",".join(str(v) for v in summary.venues),
        "MBO" if settings.schema == "mbo" else f"MBP-{summary.depth}",
        settings.origin,
        day.seed,
        format_timestamp(summary.start_ns),
        format_timestamp(summary.end_ns),
        summary.rate_per_venue,
        summary.price_moves,
        _flow_flags(summary.flow),
        "" if settings.symbol == "AAPL" else f" --symbol {settings.symbol}",
        " --schema mbo" if settings.schema == "mbo" else "",
    )
    return summary


def _flow_flags(flow: FlowModel) -> str:
    """Write ``flow`` as the flags of ``sor generate`` that make it."""
    values = dataclasses.asdict(flow).items()
    return "".join(f" --{name.replace('_', '-')} {value!r}" for name, value in values)


def _generate_days(
    out: Path, settings: GenerateSettings, quiet: bool
) -> tuple[GenerateSummary, ...]:
    """Write ``--days`` daily files into the directory ``out`` (made if missing, and removed
    again when the run ends before writing any)."""
    from sor.data.days import plan_days

    if out.exists() and not out.is_dir():
        raise SorError(f"--out: {out} is a file; with --days give a directory")
    start_ns, end_ns = _window(settings)
    assert settings.days is not None
    plan = plan_days(
        settings.days, seed=settings.seed, start_ns=start_ns, end_ns=end_ns,
        rate_per_venue=settings.rate, price_moves=settings.price_moves, flow=settings.flow,
        depth=settings.depth, symbol=settings.symbol, schema=settings.schema,
    )  # fmt: skip
    rows = _check_bounds(plan, settings)
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SorError(f"--out: cannot make the directory {out}: {exc.strerror or exc}") from exc
    try:
        files = [(out / day.name, day) for day in plan]
        check_outputs([(path, f"--out ({path.name})") for path, _ in files], settings.inputs)
        for path, _ in files:
            _check_not_another_symbol(path, settings.symbol)
        return _generate_files(files, settings, rows, quiet)
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
BYTES_PER_MBO_ROW = 332
"""Mean bytes of the MBO records of one generated row (the default market's)."""
MBO_RECORDS_PER_ROW = 2.85
"""Mean MBO records of one generated row (the default market's), for the progress bar."""
MAX_PRICE_PATH = 2 * 10**6
"""Most moves of the efficient price in one file (``--price-moves`` times its seconds): the
generator holds their path whole, about 80 bytes a move at its peak (160 MB)."""
MAX_METAORDERS = 10**6
"""Most metaorders in one file (its seconds over ``--metaorder-seconds``): the generator
holds their start times and signs."""


def _check_bounds(days: list[Day], settings: GenerateSettings) -> float:
    """Return the rows the files will hold, about; refuse a run past the documented caps
    (rows over the run, moves of the efficient price and metaorders in a file)."""
    seconds = (days[0].end_ns - days[0].start_ns) / 1e9
    rows = sum(_expected_rows(day, settings.venues) for day in days)
    many = f" x {len(days)} days" if settings.days is not None else ""
    if rows > MAX_GENERATED_ROWS:
        raise SorError(
            f"--rate {settings.rate:g} x {settings.venues} venues x {seconds:g} s{many} makes about "
            f"{rows:.2g} rows (about {_size(rows * settings.bytes_per_row)} of CSV), more "
            f"than the cap of {MAX_GENERATED_ROWS:.0e} rows (about "
            f"{_size(MAX_GENERATED_ROWS * settings.bytes_per_row)}): lower --rate or "
            f"--venues{', give fewer --days' if many else ''} or shorten the window"
        )
    moves = max(day.price_moves for day in days) * seconds
    if moves > MAX_PRICE_PATH:
        raise SorError(
            f"--price-moves {settings.price_moves:g} over {seconds:g} s makes about {moves:.2g} "
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
