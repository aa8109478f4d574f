"""The ``sor`` command: thin wrappers that parse, call the library and print.

stdout carries only the JSON report; logs and progress go to stderr. Errors in the user's
input end the command with a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from sor import __version__
from sor.errors import SorError

log = logging.getLogger("sor")

DEFAULT_SEED = 7
DEFAULT_START = "2024-08-01T13:36:32Z"

app = typer.Typer(
    help=(
        "Smart order router backtester: route a parent buy order across venues with the "
        "Cont-Kukanov allocator on Databento MBP data and compare it with Best Ask, TWAP "
        "and VWAP.\n\nExamples:\n\n"
        "  sor generate --out market.csv --venues 6 --seed 7\n\n"
        "  sor backtest --data market.csv --order-size 5000\n\n"
        "  sor demo"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


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


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    venues: Annotated[int, typer.Option(help="Number of venues (1 to 6).")] = 6,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same file.")] = DEFAULT_SEED,
    start: Annotated[str, typer.Option(help="First ts_event, ISO-8601 UTC.")] = DEFAULT_START,
    end: Annotated[
        str | None, typer.Option(help="Last ts_event, ISO-8601 UTC (default: start + 9 min).")
    ] = None,
    depth: Annotated[int, typer.Option(help="Book levels: 1 (MBP-1) or 10 (MBP-10).")] = 10,
    rate: Annotated[
        float, typer.Option(help="Messages per second per venue (the real file: about 110).")
    ] = 111.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Write a synthetic multi-venue market in the exact layout of a Databento MBP CSV.

    Example: sor generate --out market.csv --venues 6 --seed 7 --depth 10
    """
    _setup_logging(quiet)
    from sor.data.generate import generate_market

    with _errors():
        summary = generate_market(
            out, venues=venues, seed=seed, start=start, end=end, depth=depth, rate_per_venue=rate
        )
        log.info(
            "wrote %s: %d rows, venues %s, MBP-%d, seed %d",
            summary.path,
            summary.rows,
            ",".join(str(v) for v in summary.venues),
            summary.depth,
            seed,
        )


@app.command()
def backtest(
    data: Annotated[
        Path | None,
        typer.Option(help="Databento MBP CSV or DBN file (default: generated data)."),
    ] = None,
    start: Annotated[str | None, typer.Option(help="Window start on ts_event, inclusive.")] = None,
    end: Annotated[str | None, typer.Option(help="Window end on ts_event, inclusive.")] = None,
    order_size: Annotated[
        int | None, typer.Option(help="Shares to buy, a positive multiple of 100 [5000].")
    ] = None,
    fee: Annotated[float | None, typer.Option(help="Taker fee, $/share, every venue.")] = None,
    rebate: Annotated[
        float | None, typer.Option(help="Maker rebate, $/share, every venue.")
    ] = None,
    lambda_over: Annotated[str | None, typer.Option(help="Comma-separated search values.")] = None,
    lambda_under: Annotated[str | None, typer.Option(help="Comma-separated search values.")] = None,
    theta_queue: Annotated[str | None, typer.Option(help="Comma-separated search values.")] = None,
    model: Annotated[str, typer.Option(help="Router model: static.")] = "static",
    json_out: Annotated[Path, typer.Option(help="Where to write the report.")] = Path(
        "output.json"
    ),
    plot: Annotated[Path, typer.Option(help="Where to write the figure.")] = Path("results.png"),
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not draw the figure.")] = False,
    config: Annotated[
        Path | None, typer.Option(help="TOML file: fees per venue, grid, order, window.")
    ] = None,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Skip unparseable rows, counting them per reason.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = DEFAULT_SEED,
    workers: Annotated[
        int | None, typer.Option(help="Search threads (default: all cores).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or logs.")] = False,
) -> None:
    """Backtest the router and the baselines and print the JSON report on stdout.

    Example: sor backtest --data l1_day.csv --order-size 5000 --lambda-over 0.1,0.4
    """
    _setup_logging(quiet)
    with _errors():
        from sor.config import load_config

        file_config = load_config(config or os.environ.get("SOR_CONFIG"))
        options = BacktestOptions(
            start=start if start is not None else file_config.order.start,
            end=end if end is not None else file_config.order.end,
            order_size=order_size if order_size is not None else file_config.order.size,
            fee=fee,
            rebate=rebate,
            lambda_over=_float_list("lambda-over", lambda_over)
            or _tuple(file_config.search.lambda_over),
            lambda_under=_float_list("lambda-under", lambda_under)
            or _tuple(file_config.search.lambda_under),
            theta_queue=_float_list("theta-queue", theta_queue)
            or _tuple(file_config.search.theta_queue),
            model=model,
            skip_bad_rows=skip_bad_rows,
            workers=workers,
            quiet=quiet,
        )
        if data is None:
            with _generated_data(seed) as (path, label):
                report = run_file_backtest(
                    path,
                    options,
                    file_config,
                    seed=seed,
                    label=label,
                    json_out=json_out,
                    plot=None if no_plot else plot,
                )
        else:
            report = run_file_backtest(
                data,
                options,
                file_config,
                seed=None,
                label=None,
                json_out=json_out,
                plot=None if no_plot else plot,
            )
        sys.stdout.write(report)
        sys.stdout.flush()


def _tuple(values: list[float] | None) -> tuple[float, ...] | None:
    return tuple(values) if values is not None else None


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
    workers: int | None = None
    quiet: bool = False


def run_file_backtest(
    data_path: Path,
    options: BacktestOptions,
    file_config: object,
    *,
    seed: int | None,
    label: str | None,
    json_out: Path,
    plot: Path | None,
) -> str:
    """Read ``data_path``, run the backtest, write the report and figure; return the JSON."""
    from tqdm import tqdm

    from sor.backtest import BacktestConfig, run_backtest
    from sor.config import FileConfig, venue_costs
    from sor.data.reader import read_market
    from sor.report import build_report, dumps
    from sor.search import SearchGrid

    assert isinstance(file_config, FileConfig)
    defaults = SearchGrid()
    grid = SearchGrid(
        lambda_over=options.lambda_over or defaults.lambda_over,
        lambda_under=options.lambda_under or defaults.lambda_under,
        theta_queue=options.theta_queue or defaults.theta_queue,
    )
    config = BacktestConfig(
        order_size=options.order_size if options.order_size is not None else 5000,
        start_ns=_timestamp("start", options.start),
        end_ns=_timestamp("end", options.end),
        costs=venue_costs(file_config.costs, fee=options.fee, rebate=options.rebate),
        grid=grid,
        model=options.model,
        seed=seed,
    )
    log.info("reading %s", data_path)
    data = read_market(
        data_path,
        start_ns=config.start_ns,
        end_ns=config.end_ns,
        skip_bad_rows=options.skip_bad_rows,
    )
    if label is not None:
        data = dataclasses.replace(data, source=label)
    log.info(
        "%d rows read, %d kept snapshots, venues %s",
        data.rows_read,
        len(data.snapshots),
        ",".join(str(v) for v in data.venues),
    )
    sets = len(grid.parameter_sets())
    with tqdm(
        total=sets, desc="search", unit="set", file=sys.stderr, disable=options.quiet, leave=False
    ) as bar:
        result = run_backtest(data, config, workers=options.workers, on_progress=bar.update)
    report = dumps(build_report(result))
    json_out.write_text(report, encoding="utf-8")
    log.info("wrote %s", json_out)
    if plot is not None:
        from sor.plot import write_plot

        write_plot(result, plot)
        log.info("wrote %s", plot)
    return report


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
    seed: Annotated[int, typer.Option(help="Seed of the generated market.")] = DEFAULT_SEED,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or logs.")] = False,
) -> None:
    """Generate a six-venue market and backtest it: output.json and results.png here."""
    _setup_logging(quiet)
    with _errors():
        from sor.config import FileConfig

        with _generated_data(seed) as (path, label):
            report = run_file_backtest(
                path,
                BacktestOptions(quiet=quiet),
                FileConfig(),
                seed=seed,
                label=label,
                json_out=Path("output.json"),
                plot=Path("results.png"),
            )
        sys.stdout.write(report)


@app.command()
def produce(
    data: Annotated[
        Path | None, typer.Option(help="Databento MBP file (default: generated data).")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Window start on ts_event, inclusive.")] = None,
    end: Annotated[str | None, typer.Option(help="Window end on ts_event, inclusive.")] = None,
    topic: Annotated[str, typer.Option(help="Kafka topic.")] = "mock_l1_stream",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the messages as JSON lines; publish none.")
    ] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Skip unparseable rows, counting them per reason.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = DEFAULT_SEED,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Publish one message per kept venue snapshot of the window.

    Example: sor produce --data l1_day.csv --dry-run | head
    """
    _setup_logging(quiet)
    with _errors():
        from sor.data.reader import read_market
        from sor.streaming.codec import encode, end_message, snapshot_message

        if not dry_run:
            raise SorError("publishing to a broker is not available yet; use --dry-run")

        def emit(path: Path, label: str | None) -> None:
            market = read_market(
                path,
                start_ns=_timestamp("start", start),
                end_ns=_timestamp("end", end),
                skip_bad_rows=skip_bad_rows,
            )
            if label is not None:
                market = dataclasses.replace(market, source=label)
            out = sys.stdout
            for seq, row in enumerate(market.snapshots):
                out.write(encode(snapshot_message(seq, row)).decode() + "\n")
            marker = end_message(
                market, start_ns=_timestamp("start", start), end_ns=_timestamp("end", end)
            )
            out.write(encode(marker).decode())
            out.write("\n")
            log.info(
                "%d messages for topic %s (dry run, nothing published)",
                len(market.snapshots) + 1,
                topic,
            )

        if data is None:
            with _generated_data(seed) as (path, label):
                emit(path, label)
        else:
            emit(data, None)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Entry point of the ``sor`` command."""
    app()
