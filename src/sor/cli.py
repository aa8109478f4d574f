"""The ``sor`` command: thin wrappers that parse, call the library and print.

stdout carries only the JSON report; logs and progress go to stderr. Errors in the user's
input end the command with a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from typer import BadParameter, TyperException
from typer._click.exceptions import MissingParameter, NoArgsIsHelpError

from sor import __version__
from sor.cli_place import place
from sor.cli_stats import stats
from sor.config import FileConfig
from sor.domain import DEFAULT_FEE, DEFAULT_REBATE, DEFAULT_START, NANOS_PER_SECOND
from sor.errors import SorError
from sor.search import DEFAULT_LAMBDA_OVER, DEFAULT_LAMBDA_UNDER, DEFAULT_THETA_QUEUE

STARTED_NS = time.time_ns()
"""When this command began (before its slow imports): ``--replay next`` takes replays
created from then on, so a producer started at the same moment is not missed."""

if TYPE_CHECKING:
    import numpy as np

    from sor.backtest import BacktestConfig
    from sor.config import BacktestFlags, GenerateFlags
    from sor.data.generate import FlowModel
    from sor.data.reader import MarketData
    from sor.strategies.ck import CKSettings

log = logging.getLogger("sor")

DEFAULT_SEED = 7
DEFAULT_ORDER_SIZE = 5000
"""Shares of the parent order when neither ``--order-size`` nor the configuration sets it."""
DEFAULT_LATENCY_US = 100.0
"""Order-entry latency of model ck, microseconds."""
DEFAULT_LATENCY_SIGMA = 0.0
"""Log-sd of the sampled latencies of model ck: 0 keeps the latency constant."""
DEFAULT_QUEUE_MODEL = "probabilistic"
"""The queue simulator's treatment of cancellations in model ck."""
DEFAULT_BOOTSTRAP = "localhost:9092"
"""Broker of ``sor produce`` and ``sor replays`` when no flag, variable or file names one."""
DEFAULT_MAX_TS_DISTANCE_H = 24.0
"""Hours a ts_event may lie from the input's median before its row is bad."""
NANOS_PER_HOUR = 3600 * NANOS_PER_SECOND

# Shown in the help only: importing them from the streaming and model-ck modules would cost
# every `sor` command (and its --help) a quarter of a second; tests/unit/test_help.py checks
# that they match.
HELP_TOPIC = "mock_l1_stream"
HELP_CK_GRID = ((0.05,), (0.01, 0.05, 0.2), (0.0005, 0.005, 0.05))
"""``sor.backtest_ck.DEFAULT_CK_GRID``: lambda_over, lambda_under, theta_queue."""
HELP_HORIZONS_S = (0.2, 0.5, 2.0)
HELP_GENERATED_MINUTES = 9


def _default(text: str, default: object) -> str:
    """Return the help ``text`` ending in its ``default`` as typer shows a literal one."""
    return f"{text}  [default: {default}]"


def _listed(values: tuple[float, ...]) -> str:
    """Write ``values`` as the comma-separated list a flag takes: ``0.2,0.5,2``."""
    return ",".join(f"{value:g}" for value in values)


def _grid_help(name: str, static: tuple[float, ...], ck: tuple[float, ...]) -> str:
    """Help of a search-list flag, with the default of each model."""
    return _default(
        f"Values of {name} to search, $/share, comma-separated; else the config's [search].",
        f"{_listed(static)}; --model ck: {_listed(ck)}",
    )


app = typer.Typer(
    help=(
        "Smart order router backtester: route a parent buy order across venues with the "
        "Cont-Kukanov allocator on Databento MBP data and compare it with Best Ask, TWAP "
        "and VWAP.\n\n\b\nExamples:\n"  # \b: click keeps the lines as they are
        "  sor generate --out market.csv --venues 6 --seed 7\n"
        "  sor backtest --data market.csv --order-size 5000\n"
        "  sor demo\n"
        "  sor --version"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain text: "[mock_l1_stream]" in a help is text, not markup
)


def _print_version(wanted: bool) -> None:
    """Print the version and end the command when ``--version`` is given."""
    if wanted:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Take the options that come before the command (``sor --version``)."""


def _setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="sor: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def _float_list(name: str, text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise SorError(f"--{name}: expected comma-separated numbers, got {text!r}") from exc
    if not values:
        raise SorError(f"--{name}: the list is empty")
    return values


def _timestamp(name: str, text: str | None) -> int | None:
    from sor.data.reader import parse_timestamp

    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise SorError(f"--{name}: {exc}") from exc


@contextmanager
def _generated_data(seed: int) -> Iterator[tuple[Path, str]]:
    """Generate the embedded default market into a temporary file."""
    from sor.data.generate import generate_market

    with tempfile.TemporaryDirectory(prefix="sor-") as folder:
        path = Path(folder) / "generated.csv"
        summary = generate_market(path, seed=seed)
        label = (
            f"generated: seed={seed}, venues={','.join(str(v) for v in summary.venues)}, "
            f"depth={summary.depth}, rows={summary.rows}"
        )
        log.info("no data file given: using generated data (%s)", label)
        yield path, label


HELP_FLOW = {"informed": 0.15, "metaorder_share": 0.7, "metaorder_seconds": 2.0, "impact": 0.2,
             "drift": 0.0}  # fmt: skip
"""``sor.data.generate.FlowModel``'s defaults, for the help (tests/unit/test_help.py)."""


@app.command()
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
            help=_default("Last ts_event, ISO-8601 UTC.", f"start + {HELP_GENERATED_MINUTES} min")
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
            help=_default(
                "Share of trades that know the efficient price's next move.",
                HELP_FLOW["informed"],
            )
        ),
    ] = None,
    metaorder_share: Annotated[
        float | None,
        typer.Option(
            help=_default(
                "Share of trades sent by the running metaorder (persistent trade signs).",
                HELP_FLOW["metaorder_share"],
            )
        ),
    ] = None,
    metaorder_seconds: Annotated[
        float | None,
        typer.Option(
            help=_default("Mean duration of a metaorder, seconds.", HELP_FLOW["metaorder_seconds"])
        ),
    ] = None,
    impact: Annotated[
        float | None,
        typer.Option(
            help=_default(
                "Share of the efficient price's moves pushed by the metaorders' flow.",
                HELP_FLOW["impact"],
            )
        ),
    ] = None,
    drift: Annotated[
        float | None,
        typer.Option(
            help=_default("Bias of the other moves: up with probability 0.5 + drift.", 0.0)
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
    _setup_logging(quiet)
    with _errors():
        from sor.config import GenerateFlags, check_flags

        flags = check_flags(
            GenerateFlags,
            {"venues": venues, "seed": seed, "start": start, "end": end, "depth": depth,
             "rate": rate, "price_moves": price_moves, "days": days, "informed": informed,
             "metaorder_share": metaorder_share, "metaorder_seconds": metaorder_seconds,
             "impact": impact, "drift": drift, "no_adverse_selection": no_adverse_selection},
        )  # fmt: skip
        flow = flags.flow_model()
        _check_generated_rows(flags)
        if flags.days is None:
            _check_output(out, "--out")
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
    _write_atomically(
        out,
        "--out",
        lambda path: written.append(
            generate_market(
                path, venues=flags.venues, seed=seed, start=start, end=end, depth=flags.depth,
                rate_per_venue=flags.rate if rate is None else rate,
                price_moves=flags.price_moves if price_moves is None else price_moves,
                flow=flow,
            )
        ),
    )  # fmt: skip
    summary = dataclasses.replace(written[0], path=out)
    log.info(
        "wrote %s: %d rows, venues %s, MBP-%d; made by --seed %d --start %s --end %s --rate %r "
        "--price-moves %r%s",
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
        price_moves=flags.price_moves, flow=flow, depth=flags.depth, symbol="AAPL",
    )  # fmt: skip
    for day in plan:
        path = out / day.name
        _check_output(path, "--out")
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


Opt = typer.Option

BROKER_HELP = _default(
    "Broker HOST:PORT; else SOR_KAFKA_BOOTSTRAP, else the config's [kafka].", DEFAULT_BOOTSTRAP
)
TOPIC_HELP = _default("Kafka topic; else SOR_KAFKA_TOPIC, else the config's [kafka].", HELP_TOPIC)


def _window_help(edge: str, section: str = "") -> str:
    """Help of --start or --end (``edge``: start or end), ``section`` naming the config's."""
    row = "the first row" if edge == "start" else "the last row"
    return _default(f"Window {edge} on ts_event, inclusive, ISO-8601 UTC{section}.", row)


KAFKA_CONFIG_HELP = "TOML file; its [kafka] section applies. Else SOR_CONFIG."
SKIP_HELP = "Skip unparseable rows, counting them per reason."
TS_DISTANCE_HELP = (
    "Hours a ts_event may lie from the median of the input's before its row is bad (as is "
    "one before 1990)."
)


@app.command()
def backtest(
    data: Annotated[
        Path | None,
        Opt(help=_default("Databento MBP CSV or DBN file.", "generated data, see --seed")),
    ] = None,
    kafka: Annotated[
        str | None,
        Opt(
            help="Consume the stream from this broker (HOST:PORT) instead of a file: "
            "snapshots, or every event (sor produce --events) for --model ck."
        ),
    ] = None,
    stream: Annotated[
        bool,
        Opt(
            "--stream",
            help="Replay the data through Kafka and backtest from the stream (the broker: "
            "see --bootstrap).",
        ),
    ] = False,
    bootstrap: Annotated[
        str | None,
        Opt(
            help=_default(
                "--stream: broker HOST:PORT; else SOR_KAFKA_BOOTSTRAP, else the config's [kafka].",
                "the embedded broker",
            )
        ),
    ] = None,
    replay: Annotated[
        str,
        Opt(
            help="--kafka: which replay of the topic to rebuild: latest (the newest complete "
            "one), next (the first created after this command began) or an id from "
            "`sor replays`."
        ),
    ] = "latest",
    gap_timeout: Annotated[
        float,
        Opt(
            help="--kafka: stop naming the missing messages when the replay sends nothing "
            "for this many seconds while the broker is up."
        ),
    ] = 30.0,
    topic: Annotated[str | None, Opt(help=TOPIC_HELP)] = None,
    speed: Annotated[float, Opt(help="--stream replay speed: 1 real time, 0 flat out.")] = 0.0,
    start: Annotated[
        str | None, Opt(help=_window_help("start", "; else the config's [order]"))
    ] = None,
    end: Annotated[str | None, Opt(help=_window_help("end", "; else the config's [order]"))] = None,
    order_size: Annotated[
        int | None,
        Opt(
            help=_default(
                "Shares to buy, a positive multiple of 100; else the config's [order] size.",
                DEFAULT_ORDER_SIZE,
            )
        ),
    ] = None,
    fee: Annotated[
        float | None,
        Opt(
            help=_default(
                "Taker fee, $/share, every venue; else the config's [costs].", DEFAULT_FEE
            )
        ),
    ] = None,
    rebate: Annotated[
        float | None,
        Opt(
            help=_default(
                "Maker rebate, $/share, every venue; else the config's [costs].", DEFAULT_REBATE
            )
        ),
    ] = None,
    lambda_over: Annotated[
        str | None, Opt(help=_grid_help("lambda_over", DEFAULT_LAMBDA_OVER, HELP_CK_GRID[0]))
    ] = None,
    lambda_under: Annotated[
        str | None, Opt(help=_grid_help("lambda_under", DEFAULT_LAMBDA_UNDER, HELP_CK_GRID[1]))
    ] = None,
    theta_queue: Annotated[
        str | None, Opt(help=_grid_help("theta_queue", DEFAULT_THETA_QUEUE, HELP_CK_GRID[2]))
    ] = None,
    model: Annotated[
        str, Opt(help="static (docs/semantics.md) or ck (limit orders on a queue simulator).")
    ] = "static",
    horizon: Annotated[
        str | None,
        Opt(
            help=_default(
                "ck: decision horizons T, seconds, comma-separated.", _listed(HELP_HORIZONS_S)
            )
        ),
    ] = None,
    latency_us: Annotated[
        float | None,
        Opt(
            help=_default(
                "ck: order-entry latency (the median when sampled), microseconds.",
                f"{DEFAULT_LATENCY_US:g}",
            )
        ),
    ] = None,
    latency_sigma: Annotated[
        float | None,
        Opt(
            help=_default(
                "ck: sample each order's latency from a lognormal law with this log-sd "
                "around --latency-us; 0 keeps it constant.",
                f"{DEFAULT_LATENCY_SIGMA:g}",
            )
        ),
    ] = None,
    latency_seed: Annotated[
        int | None, Opt(help=_default("ck: seed of the sampled latencies.", DEFAULT_SEED))
    ] = None,
    queue_model: Annotated[
        str | None,
        Opt(
            help=_default(
                "ck: cancellations ahead of the order, probabilistic or conservative.",
                DEFAULT_QUEUE_MODEL,
            )
        ),
    ] = None,
    json_out: Annotated[Path, Opt(help="Where to write the report.")] = Path("output.json"),
    plot: Annotated[Path, Opt(help="Where to write the figure.")] = Path("results.png"),
    no_plot: Annotated[bool, Opt("--no-plot", help="Do not draw the figure.")] = False,
    config: Annotated[
        Path | None,
        Opt(
            help="TOML file: fees per venue, grid, order, window, ck, Kafka; a flag given "
            "wins over it. Else SOR_CONFIG."
        ),
    ] = None,
    skip_bad_rows: Annotated[bool, Opt(help=SKIP_HELP, show_default=False)] = False,
    max_ts_distance: Annotated[float, Opt(help=TS_DISTANCE_HELP)] = DEFAULT_MAX_TS_DISTANCE_H,
    seed: Annotated[int, Opt(help="Seed of the generated data.")] = DEFAULT_SEED,
    workers: Annotated[
        int | None,
        Opt(help=_default("Search workers: threads, processes for --model ck.", "all cores")),
    ] = None,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar or logs.")] = False,
) -> None:
    """Backtest the router against the baselines; print the report.

    The JSON report goes to stdout and --json-out, the figure to --plot.

    \b
    Example: sor backtest --data l1_day.csv --order-size 5000 --lambda-over 0.1,0.4
    Example: sor backtest --data l1_day.csv --model ck --horizon 0.5,2 --latency-us 250
    Example: sor backtest --kafka localhost:9092 --topic mock_l1_stream
    """
    _setup_logging(quiet)
    with _errors():
        from sor.config import BacktestFlags, check_flags, load_config

        flags = check_flags(
            BacktestFlags,
            {
                "order_size": order_size, "start": start, "end": end, "fee": fee,
                "rebate": rebate, "lambda_over": _float_list("lambda-over", lambda_over),
                "lambda_under": _float_list("lambda-under", lambda_under),
                "theta_queue": _float_list("theta-queue", theta_queue), "model": model,
                "horizon": _float_list("horizon", horizon), "latency_us": latency_us,
                "latency_sigma": latency_sigma, "latency_seed": latency_seed,
                "queue_model": queue_model, "speed": speed, "workers": workers, "seed": seed,
                "gap_timeout": gap_timeout, "max_ts_distance": max_ts_distance,
            },
        )  # fmt: skip
        config_path = config or os.environ.get("SOR_CONFIG")
        file_config = load_config(config_path)
        _check_model_options(flags, file_config, config_path)
        search = file_config.search
        options = BacktestOptions(
            start=_first(flags.start, file_config.order.start),
            end=_first(flags.end, file_config.order.end),
            order_size=_first(flags.order_size, file_config.order.size),
            fee=flags.fee,
            rebate=flags.rebate,
            lambda_over=_first(flags.lambda_over, search.lambda_over),
            lambda_under=_first(flags.lambda_under, search.lambda_under),
            theta_queue=_first(flags.theta_queue, search.theta_queue),
            model=flags.model,
            skip_bad_rows=skip_bad_rows,
            max_ts_distance_ns=round(flags.max_ts_distance * NANOS_PER_HOUR),
            workers=flags.workers,
            quiet=quiet,
            json_out=json_out,
            plot=None if no_plot else plot,
            file_config=file_config,
        )
        options.config(seed=None)  # the window and the fees, before any data is read
        options.check_outputs()
        kafka_topic = _topic(topic, file_config)
        ck = CKOptions.resolve(flags, file_config) if flags.model == "ck" else None
        if kafka is not None:
            if data is not None or stream:
                raise SorError("--kafka consumes a stream: it excludes --data and --stream")
            report = run_kafka_backtest(
                kafka, kafka_topic, options, ck=ck, replay=replay,
                gap_timeout_s=flags.gap_timeout,
            )  # fmt: skip
        elif stream:
            with _input(data, seed, options) as (market, seed_used, path):
                report = run_stream_backtest(
                    market, _bootstrap(bootstrap, file_config), kafka_topic, options,
                    speed=speed, seed=seed_used, ck=ck,
                    events=_events(path, options) if ck is not None else None,
                )  # fmt: skip
        elif ck is not None:
            with _input(data, seed, options) as (market, seed_used, path):
                report = run_ck_market_backtest(
                    _events(path, options), market, options, seed=seed_used, ck=ck
                )
        else:
            with _input(data, seed, options) as (market, seed_used, _):
                report = run_market_backtest(market, options, seed=seed_used)
        sys.stdout.write(report)
        sys.stdout.flush()


T = TypeVar("T")


def _first(flag: T | None, file_value: T | None) -> T | None:
    """The flag's value when given, else the configuration file's."""
    return flag if flag is not None else file_value


def _check_model_options(flags: BacktestFlags, file_config: FileConfig, path: object) -> None:
    """Refuse a ck-only flag with --model static; warn about such a key of the file."""
    from sor.config import CK_ONLY

    if flags.model == "ck":
        return
    for name in CK_ONLY:
        if getattr(flags, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise SorError(f"{flag} applies to --model ck only (this run: --model static)")
    for name in sorted(file_config.ck.model_fields_set):
        log.warning("warning: %s: [ck] %s applies to --model ck only; ignored", path, name)


def _topic(flag: str | None, file_config: FileConfig) -> str:
    from sor.streaming.producer import DEFAULT_TOPIC

    return flag or os.environ.get("SOR_KAFKA_TOPIC") or file_config.kafka.topic or DEFAULT_TOPIC


def _bootstrap(flag: str | None, file_config: FileConfig) -> str | None:
    """Broker address: flag, then SOR_KAFKA_BOOTSTRAP, then the config; None: embedded."""
    return flag or os.environ.get("SOR_KAFKA_BOOTSTRAP") or file_config.kafka.bootstrap


@dataclasses.dataclass(frozen=True)
class BacktestOptions:
    """Backtest settings gathered from flags and the configuration file."""

    start: str | None = None
    end: str | None = None
    order_size: int | None = None
    fee: float | None = None
    rebate: float | None = None
    lambda_over: tuple[float, ...] | None = None
    lambda_under: tuple[float, ...] | None = None
    theta_queue: tuple[float, ...] | None = None
    model: str = "static"
    skip_bad_rows: bool = False
    max_ts_distance_ns: int = round(DEFAULT_MAX_TS_DISTANCE_H * NANOS_PER_HOUR)
    workers: int | None = None
    quiet: bool = False
    json_out: Path = Path("output.json")
    plot: Path | None = Path("results.png")
    file_config: FileConfig = dataclasses.field(default_factory=FileConfig)

    def config(
        self, *, seed: int | None, start_ns: int | None = None, end_ns: int | None = None
    ) -> BacktestConfig:
        """Build the run's configuration; explicit --start/--end win over the given window."""
        from sor.backtest import BacktestConfig
        from sor.config import venue_costs
        from sor.search import SearchGrid

        defaults = SearchGrid()
        if self.model == "ck":
            from sor.backtest_ck import DEFAULT_CK_GRID

            defaults = DEFAULT_CK_GRID
        flag_start, flag_end = _timestamp("start", self.start), _timestamp("end", self.end)
        if flag_start is not None and flag_end is not None and flag_start > flag_end:
            raise SorError(f"the window's start {self.start} comes after its end {self.end}")
        return BacktestConfig(
            order_size=self.order_size if self.order_size is not None else DEFAULT_ORDER_SIZE,
            start_ns=flag_start if self.start is not None else start_ns,
            end_ns=flag_end if self.end is not None else end_ns,
            costs=venue_costs(self.file_config.costs, fee=self.fee, rebate=self.rebate),
            grid=SearchGrid(
                lambda_over=self.lambda_over or defaults.lambda_over,
                lambda_under=self.lambda_under or defaults.lambda_under,
                theta_queue=self.theta_queue or defaults.theta_queue,
            ),
            model=self.model,
            seed=seed,
        )

    def check_outputs(self) -> None:
        """Raise ``SorError`` unless the report and the figure can be written where asked."""
        _check_output(self.json_out, "--json-out")
        if self.plot is not None:
            _check_output(self.plot, "--plot")
            if self.plot.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
                raise SorError(
                    f"--plot: {self.plot}: the figure's format comes from its suffix: one of "
                    f"{', '.join('.' + f for f in sorted(FIGURE_FORMATS) if f)}, or none for PNG"
                )


FIGURE_FORMATS = frozenset({"", "png", "pdf", "svg", "svgz", "ps", "eps", "jpg", "jpeg", "webp"})
"""Suffixes of the figure's formats (matplotlib's); no suffix writes PNG."""


def _check_output(path: Path, flag: str) -> None:
    """Raise ``SorError`` unless ``path`` can be written: not a directory, in a writable one."""
    if path.is_dir():
        raise SorError(f"{flag}: {path} is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise SorError(f"{flag}: {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SorError(f"{flag}: {path}: the directory {folder} is not writable")


def _write_atomically(
    path: Path, flag: str, write: Callable[[Path], object], *, suffix: str = ""
) -> None:
    """Write ``path`` through ``write`` into a temporary file beside it, then rename it: a
    failure never leaves a half-written file. The temporary file keeps the suffix of
    ``path`` (``suffix`` when it has none): it tells matplotlib the figure's format."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix or suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    except OSError as exc:
        raise SorError(f"{flag}: cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def _input(
    data: Path | None, seed: int, options: BacktestOptions
) -> Iterator[tuple[MarketData, int | None, Path]]:
    """Read the window of ``data``, or of generated data when it is None."""
    from sor.data.reader import read_market

    config = options.config(seed=None)  # validates the options before any work

    def read(path: Path) -> MarketData:
        log.info("reading %s", path)
        market = read_market(
            path, start_ns=config.start_ns, end_ns=config.end_ns,
            skip_bad_rows=options.skip_bad_rows,
            max_ts_distance_ns=options.max_ts_distance_ns,
        )  # fmt: skip
        log.info(
            "%d rows read, %d kept snapshots, venues %s",
            market.rows_read,
            len(market.snapshots),
            ",".join(str(v) for v in market.venues),
        )
        return market

    if data is not None:
        yield read(data), None, data
        return
    with _generated_data(seed) as (path, label):
        yield dataclasses.replace(read(path), source=label), seed, path


def run_market_backtest(
    market: MarketData,
    options: BacktestOptions,
    *,
    seed: int | None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    extra: dict[str, object] | None = None,
) -> str:
    """Run the backtest on ``market``, write the report and figure; return the JSON."""
    from tqdm import tqdm

    from sor.backtest import run_backtest
    from sor.report import build_report

    config = options.config(seed=seed, start_ns=start_ns, end_ns=end_ns)
    sets = len(config.grid.parameter_sets())
    with tqdm(
        total=sets, desc="search", unit="set", file=sys.stderr, disable=options.quiet, leave=False
    ) as bar:
        result = run_backtest(market, config, workers=options.workers, on_progress=bar.update)
    report_object = build_report(result)
    if extra:
        report_object.update(extra)

    def draw(path: Path) -> None:
        from sor.plot import write_plot

        write_plot(result, path)

    return _write_outputs(report_object, options, draw)


def _write_outputs(
    report_object: dict[str, object], options: BacktestOptions, draw: Callable[[Path], None]
) -> str:
    """Write the report and (unless --no-plot) the figure; return the report's JSON."""
    from sor.report import dumps

    report = dumps(report_object)
    _write_atomically(
        options.json_out, "--json-out", lambda path: path.write_text(report, encoding="utf-8")
    )
    log.info("wrote %s", options.json_out)
    if options.plot is not None:
        _write_atomically(options.plot, "--plot", draw, suffix=".png")
        log.info("wrote %s", options.plot)
    return report


def run_kafka_backtest(
    bootstrap: str,
    topic: str,
    options: BacktestOptions,
    *,
    live: bool = True,
    ck: CKOptions | None = None,
    replay: str = "latest",
    gap_timeout_s: float | None = None,
    wait_for_replay: bool = False,
) -> str:
    """Rebuild one replay of ``topic`` (``replay``: latest, next or an id), routing live
    (static model), then run the full backtest (model ck when ``ck`` is given: the replay
    must carry every event)."""
    from sor.streaming.consumer import DEFAULT_GAP_TIMEOUT_S, consume_market, narrow
    from sor.streaming.live import LiveRouter

    config = options.config(seed=None)  # the window of --start/--end, if given
    router = LiveRouter(config.order_size, config.costs, window=(config.start_ns, config.end_ns))
    log.info("consuming %r from %s (replay: %s)", topic, bootstrap, replay)
    consumed = consume_market(
        bootstrap,
        topic,
        replay=replay,
        client=options.file_config.kafka.client,
        on_snapshot=router.on_snapshot if live and ck is None else None,
        on_replay=router.reset,
        gap_timeout_s=DEFAULT_GAP_TIMEOUT_S if gap_timeout_s is None else gap_timeout_s,
        wait_for_replay=wait_for_replay,
        since_ns=STARTED_NS,
    )
    router.finish()
    start = consumed.start
    log.info("replay %s: %d %s", consumed.replay, consumed.count, start.get("content"))
    market = narrow(consumed, config.start_ns, config.end_ns)
    if ck is not None:
        if market.events is None:
            raise SorError(
                f"replay {consumed.replay} on {topic!r} carries snapshots only; --model ck "
                "needs every event: publish them with `sor produce --events` (or run with "
                "--stream)"
            )
        return run_ck_market_backtest(
            market.events,
            market,
            options,
            seed=start.get("seed"),
            ck=ck,
            start_ns=start.get("start_ns"),
            end_ns=start.get("end_ns"),
        )
    return run_market_backtest(
        market,
        options,
        seed=start.get("seed"),
        start_ns=start.get("start_ns"),
        end_ns=start.get("end_ns"),
    )


def run_stream_backtest(
    market: MarketData,
    bootstrap: str | None,
    topic: str,
    options: BacktestOptions,
    *,
    speed: float,
    seed: int | None,
    events: np.ndarray | None = None,
    ck: CKOptions | None = None,
) -> str:
    """Publish ``market`` (every one of ``events`` when given) and consume it back at the
    same time, then report."""
    import threading

    from sor.streaming.broker import EmbeddedBroker, stop_on_signals
    from sor.streaming.codec import new_replay_id

    config = options.config(seed=seed)
    replay = new_replay_id()
    with contextlib.ExitStack() as stack:
        if bootstrap is None:
            stack.enter_context(stop_on_signals())  # SIGTERM and SIGHUP stop the broker too
            bootstrap = stack.enter_context(EmbeddedBroker()).bootstrap
        failure: list[BaseException] = []

        def produce() -> None:
            try:
                _publish(market, bootstrap, topic, options.file_config, speed,
                         config.start_ns, config.end_ns, seed, quiet=options.quiet,
                         events=events, replay=replay)  # fmt: skip
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        from tqdm.contrib.logging import logging_redirect_tqdm

        producer = threading.Thread(target=produce, name="sor-producer", daemon=True)
        with logging_redirect_tqdm():  # log lines print above the replay bar, not over it
            producer.start()
            report = run_kafka_backtest(
                bootstrap, topic, options, ck=ck, replay=replay, wait_for_replay=True
            )
            producer.join()
        if failure:
            raise failure[0]
    return report


def _publish(
    market: MarketData,
    bootstrap: str,
    topic: str,
    file_config: FileConfig,
    speed: float,
    start_ns: int | None,
    end_ns: int | None,
    seed: int | None,
    *,
    quiet: bool,
    events: np.ndarray | None = None,
    replay: str | None = None,
) -> None:
    from tqdm import tqdm

    from sor.data.reader import format_timestamp
    from sor.streaming.producer import publish

    with tqdm(
        total=len(market.snapshots if events is None else events), desc="replay", unit="msg",
        file=sys.stderr, disable=quiet, leave=False,
    ) as bar:  # fmt: skip

        def progress(sent: int, ts_event: int) -> None:
            if sent % 1000 == 0 or sent == bar.total:
                bar.set_postfix_str(f"clock {format_timestamp(ts_event)[11:23]}", refresh=False)
                bar.update(sent - bar.n)

        publish(
            market, bootstrap=bootstrap, topic=topic, speed=speed, start_ns=start_ns,
            end_ns=end_ns, seed=seed, client=file_config.kafka.client, on_message=progress,
            events=events, replay=replay,
        )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class CKOptions:
    """The model-ck settings of a backtest: horizons and the simulator's."""

    horizons: tuple[float, ...]
    settings: CKSettings

    @classmethod
    def resolve(cls, flags: BacktestFlags, file_config: FileConfig) -> CKOptions:
        """Take each setting from its flag, else the configuration file, else its default."""
        file = file_config.ck
        return cls.build(
            _first(flags.horizon, file.horizon),
            _first(flags.queue_model, file.queue_model),
            latency_us=_first(flags.latency_us, file.latency_us),
            latency_sigma=_first(flags.latency_sigma, file.latency_sigma),
            latency_seed=_first(flags.latency_seed, file.latency_seed),
        )

    @classmethod
    def build(
        cls,
        horizons: tuple[float, ...] | None = None,
        queue_model: str | None = None,
        *,
        latency_us: float | None = None,
        latency_sigma: float | None = None,
        latency_seed: int | None = None,
    ) -> CKOptions:
        """Build the options from checked values; None takes the default."""
        from sor.backtest_ck import DEFAULT_HORIZONS_S
        from sor.simulation.latency import OrderLatency
        from sor.simulation.queue import QUEUE_MODELS
        from sor.strategies.ck import CKSettings

        latency = OrderLatency(
            round((DEFAULT_LATENCY_US if latency_us is None else latency_us) * 1000),
            DEFAULT_LATENCY_SIGMA if latency_sigma is None else latency_sigma,
            DEFAULT_SEED if latency_seed is None else latency_seed,
        )
        model = QUEUE_MODELS[queue_model or DEFAULT_QUEUE_MODEL]
        return cls(horizons or DEFAULT_HORIZONS_S, CKSettings(latency, model))


def _events(path: Path, options: BacktestOptions) -> np.ndarray:
    """Every row of the window of ``path``, for model ck."""
    from sor.data.events import read_events

    config = options.config(seed=None)
    log.info("reading every event of %s", path)
    return read_events(
        path,
        start_ns=config.start_ns,
        end_ns=config.end_ns,
        skip_bad_rows=options.skip_bad_rows,
        max_ts_distance_ns=options.max_ts_distance_ns,
    )


def run_ck_market_backtest(
    events: np.ndarray,
    market: MarketData,
    options: BacktestOptions,
    *,
    seed: int | None,
    ck: CKOptions,
    start_ns: int | None = None,
    end_ns: int | None = None,
    extra: dict[str, object] | None = None,
) -> str:
    """Run the model-ck backtest on the window's events, write the report and figure; return
    the JSON."""
    from tqdm import tqdm

    from sor.backtest_ck import run_ck_backtest

    config = options.config(seed=seed, start_ns=start_ns, end_ns=end_ns)
    sets = len(config.grid.parameter_sets()) * len(ck.horizons)
    with tqdm(total=sets, desc="search", unit="set", file=sys.stderr, disable=options.quiet,
              leave=False) as bar:  # fmt: skip
        report_object = run_ck_backtest(
            events, market, config, horizons_s=ck.horizons, settings=ck.settings,
            workers=options.workers, on_progress=bar.update,
        )  # fmt: skip
    if extra:
        report_object.update(extra)

    def draw(path: Path) -> None:
        from sor.plot import write_ck_plot

        write_ck_plot(report_object, path)

    return _write_outputs(report_object, options, draw)


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except SorError as exc:
        log.error("error: %s", exc)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        log.error("interrupted")
        raise typer.Exit(130) from None


@app.command()
def demo(
    seed: Annotated[
        int, Opt(min=0, max=2**63 - 1, help="Seed of the generated market.")
    ] = DEFAULT_SEED,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="No progress bar or logs.")] = False,
) -> None:
    """Generate, stream and backtest a six-venue market.

    Generates the market, streams it through the embedded Kafka broker, backtests it, writes
    output.json and results.png here and prints the report.

    Example: sor demo --seed 11 --quiet
    """
    _setup_logging(quiet)
    with _errors():
        options = BacktestOptions(quiet=quiet)
        options.check_outputs()
        with _input(None, seed, options) as (market, seed_used, _):
            report = run_stream_backtest(
                market, None, _topic(None, options.file_config), options, speed=0.0,
                seed=seed_used,
            )  # fmt: skip
        sys.stdout.write(report)


@app.command()
def produce(
    data: Annotated[
        Path | None,
        Opt(help=_default("Databento MBP CSV or DBN file.", "generated data, see --seed")),
    ] = None,
    bootstrap: Annotated[
        str | None,
        Opt(help=BROKER_HELP),
    ] = None,
    topic: Annotated[str | None, Opt(help=TOPIC_HELP)] = None,
    speed: Annotated[float, Opt(help="1 real time, 10 ten times faster, 0 flat out.")] = 1.0,
    start: Annotated[str | None, Opt(help=_window_help("start"))] = None,
    end: Annotated[str | None, Opt(help=_window_help("end"))] = None,
    dry_run: Annotated[
        bool, Opt("--dry-run", help="Print the messages as JSON lines; publish none.")
    ] = False,
    events: Annotated[
        bool,
        Opt(
            "--events",
            help="Publish every row of the window, not only the snapshots: the stream "
            "`sor backtest --model ck --kafka` needs.",
        ),
    ] = False,
    config: Annotated[Path | None, Opt(help=KAFKA_CONFIG_HELP)] = None,
    skip_bad_rows: Annotated[bool, Opt(help=SKIP_HELP, show_default=False)] = False,
    max_ts_distance: Annotated[float, Opt(help=TS_DISTANCE_HELP)] = DEFAULT_MAX_TS_DISTANCE_H,
    seed: Annotated[int, Opt(help="Seed of the generated data.")] = DEFAULT_SEED,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Publish the data to Kafka, one message per venue snapshot.

    One message per kept venue snapshot of the window (every row with --events), between a
    start and an end marker.

    \b
    Example: sor produce --data l1_day.csv --bootstrap localhost:9092 --speed 10
    Example: sor produce --data l1_day.csv --dry-run | head
    """
    _setup_logging(quiet)
    with _errors():
        from sor.config import ProduceFlags, check_flags, load_config
        from sor.streaming.codec import new_replay_id
        from sor.streaming.producer import replay_messages

        flags = check_flags(
            ProduceFlags,
            {
                "speed": speed,
                "start": start,
                "end": end,
                "seed": seed,
                "max_ts_distance": max_ts_distance,
            },
        )
        file_config = load_config(config or os.environ.get("SOR_CONFIG"))
        options = BacktestOptions(
            start=start, end=end, skip_bad_rows=skip_bad_rows, file_config=file_config,
            max_ts_distance_ns=round(flags.max_ts_distance * NANOS_PER_HOUR),
        )  # fmt: skip
        window = options.config(seed=None)
        with _input(data, seed, options) as (market, seed_used, path):
            rows = _events(path, options) if events else None
            if dry_run:
                count = 0
                for payload, _ts in replay_messages(
                    market, replay=new_replay_id(), start_ns=window.start_ns,
                    end_ns=window.end_ns, seed=seed_used, events=rows,
                ):  # fmt: skip
                    sys.stdout.write(payload.decode() + "\n")
                    count += 1
                log.info("%d messages (dry run, nothing published)", count)
                return
            address = _bootstrap(bootstrap, file_config) or DEFAULT_BOOTSTRAP
            _publish(
                market, address, _topic(topic, file_config), file_config, speed,
                window.start_ns, window.end_ns, seed_used, quiet=quiet, events=rows,
            )  # fmt: skip


@app.command()
def broker(
    port: Annotated[int, Opt(min=1, max=65535, help="Loopback port to listen on.")] = 9092,
) -> None:
    """Run the embedded Kafka broker until Ctrl-C.

    The broker (Tansu, Kafka protocol) runs in the foreground and keeps its topics in memory.

    Example: sor broker --port 9092
    """
    _setup_logging(False)
    with _errors():
        from sor.streaming.broker import EmbeddedBroker, stop_on_signals

        with stop_on_signals(), EmbeddedBroker(port) as running:
            log.info(
                "broker ready at %s; Ctrl-C stops it (topics live in memory)", running.bootstrap
            )
            running.wait()


app.command()(place)
app.command()(stats)


@app.command()
def replays(
    kafka: Annotated[
        str | None,
        Opt(help=BROKER_HELP),
    ] = None,
    topic: Annotated[str | None, Opt(help=TOPIC_HELP)] = None,
    config: Annotated[Path | None, Opt(help=KAFKA_CONFIG_HELP)] = None,
) -> None:
    """List the replays a Kafka topic holds, oldest first.

    One line each: id, offset, content, messages received/announced, complete or not, and
    the source.

    Example: sor replays --kafka localhost:9092 --topic mock_l1_stream
    """
    _setup_logging(True)
    with _errors():
        from sor.config import load_config
        from sor.streaming.consumer import list_replays

        file_config = load_config(config or os.environ.get("SOR_CONFIG"))
        address = _bootstrap(kafka, file_config) or DEFAULT_BOOTSTRAP
        found = list_replays(address, _topic(topic, file_config),
                             client=file_config.kafka.client)  # fmt: skip
        for info in found:
            state = "complete" if info.complete else "incomplete"
            count = "?" if info.count is None else str(info.count)
            typer.echo(
                f"{info.replay}  offset {info.offset}  {info.content or '?'}  "
                f"{info.received}/{count} {state}  {info.source or '(no start marker)'}"
            )
        if not found:
            log.warning("no replay in the topic")


@app.command()
def version() -> None:
    """Print the version (as sor --version does).

    Example: sor version
    """
    typer.echo(__version__)


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``sor`` command (``args``: the command line, default ``sys.argv``).

    Runs the app outside click's standalone mode, so that its usage and type errors
    (``--order-size abc``, an unknown option) print as one line and exit with status 2, the
    same as every other error of the user's input.
    """
    command = typer.main.get_command(app)
    try:
        status = command.main(args=args, standalone_mode=False)
    except TyperException as exc:
        if isinstance(exc, NoArgsIsHelpError):  # bare `sor`: the help is the answer
            sys.stderr.write(exc.format_message() + "\n")
        else:
            sys.stderr.write(f"sor: error: {_usage_message(exc)}\n")
        sys.exit(2)
    except typer.Abort:
        sys.stderr.write("sor: aborted\n")
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


def _usage_message(exc: TyperException) -> str:
    """One line for click's error: ``--order-size: 'abc' is not a valid integer``."""
    from pydantic import ValidationError

    from sor.config import describe

    if isinstance(exc, BadParameter) and not isinstance(exc, MissingParameter) and exc.param:
        cause = exc.__cause__
        reason = describe(cause.errors()[0]) if isinstance(cause, ValidationError) else exc.message
        text = f"{exc.param.get_error_hint().replace(chr(39), '')}: {reason}"
    else:
        text = exc.format_message()
    return " ".join(text.split()).rstrip(".")
