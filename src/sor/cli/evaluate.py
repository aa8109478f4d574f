"""The ``sor evaluate`` command: many days, walk-forward tuning, intervals, on Dask."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from sor.app.runs import (
    BacktestOptions,
    CKOptions,
    check_model_options,
    write_atomically,
)
from sor.cli.common import (
    TS_DISTANCE_HELP,
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
    source_options,
    user_errors,
    with_default,
)
from sor.core.defaults import (
    DEFAULT_MAX_DOWNLOAD,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_ORDER_SIZE,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    DEFAULT_SIDE,
    DEFAULT_TRAIN_DAYS,
    DEFAULT_WORKER_TIMEOUT_S,
)
from sor.core.domain import NANOS_PER_HOUR
from sor.core.errors import SorError

# The defaults of sor.evaluate.run, .bootstrap, .cluster and .days, written here: importing
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
    seed: Annotated[int, Opt(help="Seed of the bootstrap.")] = DEFAULT_SEED,
    resamples: Annotated[int, Opt(help="Bootstrap resamples.")] = DEFAULT_RESAMPLES,
    json_out: Annotated[Path, Opt(help="Where to write the report.")] = Path("evaluation.json"),
    plot: PlotFlag = Path("evaluation.png"),
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
    """
    setup_logging(quiet)
    from sor.streaming.broker import stop_on_signals

    # SIGTERM ends the run as Ctrl-C does: the cluster and its temporary files are removed
    with user_errors(), stop_on_signals():
        from sor.app.settings import (
            EvaluateFlags,
            check_flags,
            config_path,
            load_config,
            pick,
            pick_text,
        )
        from sor.evaluate.run import Evaluation
        from sor.evaluate.run import evaluate as run_evaluation
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
            },
        )  # fmt: skip
        config_file = config_path(config)
        file_config = load_config(config_file)
        check_model_options(flags, file_config, config_file)
        if file_config.order.start is not None or file_config.order.end is not None:
            raise SorError(
                f"{config_file}: [order] start/end set one window; sor evaluate reads each "
                "day file whole"
            )
        if file_config.dask.scheduler is not None and file_config.dask.workers is not None:
            raise SorError(
                f"{config_file}: [dask] workers sizes a local cluster, [dask] scheduler names "
                "an existing one: keep one of them"
            )
        address = pick_text(scheduler, file_config.dask.scheduler, "SOR_DASK_SCHEDULER")
        if address is not None and flags.workers is not None:
            raise SorError("--workers sizes the local cluster; it goes without --scheduler")
        if address is None:
            from sor.evaluate.cluster import check_local_workers

            if flags.workers is not None:
                check_local_workers(flags.workers, "--workers")
            elif file_config.dask.workers is not None:
                check_local_workers(file_config.dask.workers, f"{config_file}: [dask] workers")
        search = file_config.search
        options = BacktestOptions(
            order_size=pick(flags.order_size, file_config.order.size),
            side=pick(flags.side, file_config.order.side) or DEFAULT_SIDE,
            fee=flags.fee,
            rebate=flags.rebate,
            lambda_over=pick(flags.lambda_over, search.lambda_over),
            lambda_under=pick(flags.lambda_under, search.lambda_under),
            theta_queue=pick(flags.theta_queue, search.theta_queue),
            model=flags.model,
            file_config=file_config,
            json_out=json_out,
            plot=None if no_plot else plot,
        )
        ck = CKOptions.resolve(flags, file_config) if flags.model == "ck" else None
        evaluation = Evaluation(
            config=options.config(seed=None),
            horizons_s=ck.horizons if ck else None,
            ck_settings=ck.settings if ck else None,
            train_days=flags.train_days,
            seed=flags.seed,
            resamples=flags.resamples,
            skip_bad_rows=skip_bad_rows,
            max_ts_distance_ns=round(flags.max_ts_distance * NANOS_PER_HOUR),
            publisher=publisher,
            read_timeout_s=flags.read_timeout,
            max_download_bytes=flags.max_download,
        )
        source_options(None, publisher)  # checks the publisher's range
        inputs = [*(data or []), *(more or [])]
        if not inputs:
            raise SorError("--data: give the day files (a directory, a glob or files)")
        from sor.app.compile import day_kernels
        from sor.evaluate.days import discover, is_url

        days = discover(inputs, read_timeout_s=flags.read_timeout)
        from sor.data.lobster import input_files

        options.check_outputs(
            [f for d in days if not is_url(d) for f in input_files(Path(d.removeprefix("file://")))]
        )
        report = run_evaluation(
            days, evaluation, scheduler=address,
            workers=pick(flags.workers, file_config.dask.workers),
            worker_timeout_s=flags.worker_timeout, quiet=quiet,
            compile_kernels=day_kernels(days, flags.model, source_options(None, publisher)),
        )  # fmt: skip
        text = dumps(report)
        write_atomically(json_out, "--json-out", lambda p: p.write_text(text, encoding="utf-8"))
        if options.plot is not None:
            from sor.evaluate.figures import write_evaluation_plot

            write_atomically(
                options.plot, "--plot", lambda p: write_evaluation_plot(report, p), suffix=".png"
            )
        sys.stdout.write(dumps(report["summary"]))
        sys.stdout.flush()


def _size(name: str, text: str) -> int:
    """Read ``--name`` as a size in bytes: ``500MB``, ``20GB``, ``2GiB`` or a plain number."""
    from dask.utils import parse_bytes

    try:
        return int(parse_bytes(text))
    except (ValueError, TypeError):
        raise SorError(f"--{name}: expected a size such as 500MB or 20GB, got {text!r}") from None
