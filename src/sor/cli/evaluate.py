"""The ``sor evaluate`` command: many days, walk-forward tuning, intervals, on Dask."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import (
    TS_DISTANCE_HELP,
    ArrivalSidesFlag,
    ArrivalSizeMedianFlag,
    ArrivalSizeSigmaFlag,
    CrossingFillFlag,
    FallbackQueueModelFlag,
    FeeFlag,
    HorizonFlag,
    LambdaOverFlag,
    LambdaUnderFlag,
    LatencySeedFlag,
    LatencySigmaFlag,
    LatencyUsFlag,
    ModelFlag,
    NoPlotFlag,
    Opt,
    PlotFlag,
    PublisherFlag,
    QueueModelFlag,
    QuietFlag,
    RebateFlag,
    SideFlag,
    SkipBadRowsFlag,
    ThetaQueueFlag,
    TradeFillFlag,
    float_list,
    setup_logging,
    user_errors,
    with_default,
)
from sor.core.defaults import (
    DEFAULT_EVALUATION_FIGURE,
    DEFAULT_EVALUATION_REPORT,
    DEFAULT_MAX_DOWNLOAD,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_ORDER_SIZE,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    DEFAULT_TRAIN_DAYS,
    DEFAULT_WORKER_TIMEOUT_S,
)
from sor.core.errors import SorError

# The defaults of sor.evaluation.run, .cluster and .days and sor.core.intervals, written here: importing
# them would slow every help (tests/unit/test_evaluate.py checks that they match).


def evaluate(
    data: Annotated[
        list[str] | None,
        Opt(
            help="Day files (Databento MBP CSV or DBN, one day each), directories of them, "
            "globs or fsspec URLs; repeat the flag, or list more after it."
        ),
    ] = None,
    more: Annotated[
        list[str] | None,
        typer.Argument(
            help="More day files, directories, globs or URLs (as --data).",
            show_default=False,
            metavar="[DAYS]...",
        ),
    ] = None,
    model: ModelFlag = "static",
    side: SideFlag = None,
    train_days: Annotated[
        int,
        Opt(help="Walk-forward: choose each day's parameters on the K days before it."),
    ] = DEFAULT_TRAIN_DAYS,
    order_size: Annotated[
        int | None,
        Opt(
            help=with_default(
                "Shares to buy each day; else the config's [order] size.", DEFAULT_ORDER_SIZE
            )
        ),
    ] = None,
    fee: FeeFlag = None,
    rebate: RebateFlag = None,
    lambda_over: LambdaOverFlag = None,
    lambda_under: LambdaUnderFlag = None,
    theta_queue: ThetaQueueFlag = None,
    horizon: HorizonFlag = None,
    latency_us: LatencyUsFlag = None,
    latency_sigma: LatencySigmaFlag = None,
    latency_seed: LatencySeedFlag = None,
    queue_model: QueueModelFlag = None,
    crossing_fill: CrossingFillFlag = None,
    trade_fill: TradeFillFlag = None,
    fallback_queue_model: FallbackQueueModelFlag = None,
    orders: Annotated[
        Path | None,
        Opt(
            help="Blotter CSV, one parent order a row (time, side, size; optional end, id): "
            "route each on the day holding its time; score the days' orders."
        ),
    ] = None,
    order_horizon: Annotated[
        float | None,
        Opt(
            help=with_default(
                "--orders, --arrivals: seconds after its time an order without an end ends "
                "(at most with its day).",
                "the end of its day",
            )
        ),
    ] = None,
    arrivals: Annotated[
        float | None,
        Opt(
            help="Draw each day's orders: Poisson arrivals at this many orders per hour over "
            "the day's span, seeded by --seed and the day's date; excludes --orders."
        ),
    ] = None,
    arrival_size_median: ArrivalSizeMedianFlag = None,
    arrival_size_sigma: ArrivalSizeSigmaFlag = None,
    arrival_sides: ArrivalSidesFlag = None,
    orders_out: Annotated[
        Path | None,
        Opt(
            help="--arrivals: write the days' drawn orders here (CSV), for --orders to repeat "
            "the run."
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        Opt(
            help=with_default(
                "Dask scheduler of an existing cluster (tcp://HOST:8786); else "
                "SOR_DASK_SCHEDULER, else the config's [dask].",
                "a local cluster",
            )
        ),
    ] = None,
    workers: Annotated[
        int | None,
        Opt(
            help=with_default(
                "Worker processes of the local cluster, at most one per core.", "one per core"
            )
        ),
    ] = None,
    worker_timeout: Annotated[
        float,
        Opt(
            help="Seconds to wait for a first Dask worker, and for one again when every "
            "worker has left mid-run, before giving up."
        ),
    ] = DEFAULT_WORKER_TIMEOUT_S,
    read_timeout: Annotated[
        float,
        Opt(
            help="Seconds the scheduler, or an HTTP(S) server of a day, may take to answer "
            "or to send its next bytes before the run stops."
        ),
    ] = DEFAULT_READ_TIMEOUT_S,
    max_download: Annotated[
        str,
        Opt(
            help="Largest copy of a day given as a URL (each worker copies its day to its "
            "temporary directory): 500MB, 20GB, ..."
        ),
    ] = DEFAULT_MAX_DOWNLOAD,
    seed: Annotated[
        int, Opt(help="Seed of the bootstrap, and of the orders --arrivals draws.")
    ] = DEFAULT_SEED,
    resamples: Annotated[int, Opt(help="Bootstrap resamples.")] = DEFAULT_RESAMPLES,
    json_out: Annotated[Path, Opt(help="Where to write the report.")] = Path(
        DEFAULT_EVALUATION_REPORT
    ),
    plot: PlotFlag = Path(DEFAULT_EVALUATION_FIGURE),
    no_plot: NoPlotFlag = False,
    config: Annotated[
        Path | None,
        Opt(help="TOML file: fees per venue, grid, order size, ck, dask. Else SOR_CONFIG."),
    ] = None,
    skip_bad_rows: SkipBadRowsFlag = False,
    max_ts_distance: Annotated[float, Opt(help=TS_DISTANCE_HELP)] = DEFAULT_MAX_TS_DISTANCE_H,
    publisher: PublisherFlag = None,
    quiet: QuietFlag = False,
) -> None:
    """Evaluate the router over many days, tuned out of sample.

    Backtests every day with every parameter set (each day's figures are those of sor
    backtest --data DAY), chooses each day's parameters on the days before it, and reports
    mean savings with bootstrap intervals (docs/evaluate.md). The summary goes to stdout,
    the whole report to --json-out, the figure to --plot.

    \b
    Example: sor evaluate --data days/ --train-days 5 --workers 2
    Example: sor evaluate --data 'days/*.csv' --model ck --scheduler tcp://10.0.0.5:8786
    Example: sor evaluate --data days/ --orders blotter.csv --train-days 5
    Example: sor evaluate --data days/ --arrivals 600 --order-horizon 60 --orders-out b.csv
    """
    setup_logging(quiet)
    from sor.streaming.broker import stop_on_signals

    # SIGTERM ends the run as Ctrl-C does: the cluster and its temporary files are removed
    with user_errors(), stop_on_signals():
        from sor.app import evaluate as app_evaluate
        from sor.app.settings import EvaluateFlags, check_flags
        from sor.report.builder import dumps

        flags = check_flags(
            EvaluateFlags,
            {
                "order_size": order_size, "side": side, "fee": fee, "rebate": rebate,
                "lambda_over": float_list("lambda-over", lambda_over),
                "lambda_under": float_list("lambda-under", lambda_under),
                "theta_queue": float_list("theta-queue", theta_queue), "model": model,
                "horizon": float_list("horizon", horizon), "latency_us": latency_us,
                "latency_sigma": latency_sigma, "latency_seed": latency_seed,
                "queue_model": queue_model, "crossing_fill": crossing_fill,
                "trade_fill": trade_fill, "fallback_queue_model": fallback_queue_model, "workers": workers,
                "seed": seed,
                "max_ts_distance": max_ts_distance, "train_days": train_days,
                "resamples": resamples, "worker_timeout": worker_timeout,
                "read_timeout": read_timeout, "max_download": _size("max-download", max_download),
                "order_horizon": order_horizon, "arrivals": arrivals,
                "arrival_size_median": arrival_size_median,
                "arrival_size_sigma": arrival_size_sigma, "arrival_sides": arrival_sides,
            },
        )  # fmt: skip
        settings = app_evaluate.EvaluateSettings.from_flags(
            flags, config=config, scheduler=scheduler, skip_bad_rows=skip_bad_rows,
            publisher=publisher, orders=orders, orders_out=orders_out,
        )  # fmt: skip
        outputs = app_evaluate.EvaluateOutputs(json_out, None if no_plot else plot, orders_out)
        days = app_evaluate.find_days([*(data or []), *(more or [])], settings)
        outputs.check(days, orders)
        result = app_evaluate.run(days, settings, quiet=quiet)
        app_evaluate.write(result, outputs)
        sys.stdout.write(dumps(result.summary))
        sys.stdout.flush()


def _size(name: str, text: str) -> int:
    """Read ``--name`` as a size in bytes: ``500MB``, ``20GB``, ``2GiB`` or a plain number."""
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(text))
    except (ValueError, TypeError):
        raise SorError(f"--{name}: expected a size such as 500MB or 20GB, got {text!r}") from None
