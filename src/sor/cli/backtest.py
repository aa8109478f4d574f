"""``sor backtest``: route a parent order over a file, a Kafka topic or a stream."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

from sor.app.runs import (
    BacktestOptions,
    market_input,
    run_ck_market_backtest,
    run_kafka_backtest,
    run_market_backtest,
    run_stream_backtest,
)
from sor.cli.common import (
    TOPIC_HELP,
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
    LobsterBookFlag,
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
    window_help,
    with_default,
)
from sor.core.defaults import (
    DEFAULT_FIGURE,
    DEFAULT_GAP_TIMEOUT_S,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_ORDER_SIZE,
    DEFAULT_REPORT,
    DEFAULT_SEED,
)
from sor.core.errors import SorError

log = logging.getLogger("sor")


def backtest(
    data: Annotated[
        Path | None,
        Opt(
            help=with_default(
                "Databento MBP or MBO file (CSV or DBN), or a LOBSTER message file.",
                "generated data, see --seed",
            )
        ),
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
            help=with_default(
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
    ] = DEFAULT_GAP_TIMEOUT_S,
    topic: Annotated[str | None, Opt(help=TOPIC_HELP)] = None,
    speed: Annotated[float, Opt(help="--stream replay speed: 1 real time, 0 flat out.")] = 0.0,
    start: Annotated[
        str | None, Opt(help=window_help("start", "; else the config's [order]"))
    ] = None,
    end: Annotated[str | None, Opt(help=window_help("end", "; else the config's [order]"))] = None,
    order_size: Annotated[
        int | None,
        Opt(
            help=with_default(
                "Shares to buy or sell, a positive multiple of 100; else the config's [order] size.",
                DEFAULT_ORDER_SIZE,
            )
        ),
    ] = None,
    side: SideFlag = None,
    fee: FeeFlag = None,
    rebate: RebateFlag = None,
    lambda_over: LambdaOverFlag = None,
    lambda_under: LambdaUnderFlag = None,
    theta_queue: ThetaQueueFlag = None,
    model: ModelFlag = "static",
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
            "route each on its own window and report the cost analysis (either model)."
        ),
    ] = None,
    orders_report: Annotated[
        Path | None,
        Opt(help="--orders: write one row per order and strategy here (.csv or .parquet)."),
    ] = None,
    order_horizon: Annotated[
        float | None,
        Opt(
            help=with_default(
                "--orders, --arrivals: seconds after its time an order without an end ends "
                "(at most with the data).",
                "the end of the data",
            )
        ),
    ] = None,
    arrivals: Annotated[
        float | None,
        Opt(
            help="Draw the blotter: Poisson arrivals at this many orders per hour over the "
            "data's span, seeded by --seed; excludes --orders."
        ),
    ] = None,
    arrival_size_median: ArrivalSizeMedianFlag = None,
    arrival_size_sigma: ArrivalSizeSigmaFlag = None,
    arrival_sides: ArrivalSidesFlag = None,
    orders_out: Annotated[
        Path | None,
        Opt(help="--arrivals: write the drawn blotter here (CSV), for --orders to repeat the run."),
    ] = None,
    json_out: Annotated[Path, Opt(help="Where to write the report.")] = Path(DEFAULT_REPORT),
    plot: PlotFlag = Path(DEFAULT_FIGURE),
    no_plot: NoPlotFlag = False,
    config: Annotated[
        Path | None,
        Opt(
            help="TOML file: fees per venue, grid, order, window, ck, Kafka; a flag given "
            "wins over it. Else SOR_CONFIG."
        ),
    ] = None,
    skip_bad_rows: SkipBadRowsFlag = False,
    max_ts_distance: Annotated[float, Opt(help=TS_DISTANCE_HELP)] = DEFAULT_MAX_TS_DISTANCE_H,
    seed: Annotated[
        int, Opt(help="Seed of the generated data, and of the orders --arrivals draws.")
    ] = DEFAULT_SEED,
    workers: Annotated[
        int | None,
        Opt(help=with_default("Search workers: threads, processes for --model ck.", "all cores")),
    ] = None,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    quiet: QuietFlag = False,
) -> None:
    """Backtest the router against the baselines; print the report.

    The JSON report goes to stdout and --json-out, the figure to --plot.

    \b
    Example: sor backtest --data market.csv --order-size 5000 --lambda-over 0.1,0.4
    Example: sor backtest --data market.csv --model ck --horizon 0.5,2 --latency-us 250
    Example: sor backtest --kafka localhost:9092 --topic mock_l1_stream
    Example: sor backtest --data market.csv --orders blotter.csv --orders-report orders.csv
    Example: sor backtest --data market.csv --arrivals 120 --order-horizon 300 --orders-out b.csv
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.config import read_settings
        from sor.app.settings import BacktestFlags, KafkaSettings

        flags, file_config, config_file = read_settings(
            BacktestFlags,
            {
                "order_size": order_size, "side": side, "start": start, "end": end, "fee": fee,
                "rebate": rebate, "lambda_over": float_list("lambda-over", lambda_over),
                "lambda_under": float_list("lambda-under", lambda_under),
                "theta_queue": float_list("theta-queue", theta_queue), "model": model,
                "horizon": float_list("horizon", horizon), "latency_us": latency_us,
                "latency_sigma": latency_sigma, "latency_seed": latency_seed,
                "queue_model": queue_model, "crossing_fill": crossing_fill,
                "trade_fill": trade_fill, "fallback_queue_model": fallback_queue_model, "speed": speed,
                "workers": workers, "seed": seed,
                "gap_timeout": gap_timeout, "max_ts_distance": max_ts_distance,
                "order_horizon": order_horizon, "arrivals": arrivals,
                "arrival_size_median": arrival_size_median,
                "arrival_size_sigma": arrival_size_sigma, "arrival_sides": arrival_sides,
            },
            config,
        )  # fmt: skip
        options = BacktestOptions.resolve(
            flags, file_config, config_file, json_out=json_out, plot=None if no_plot else plot,
            quiet=quiet, skip_bad_rows=skip_bad_rows,
            source=source_options(lobster_book, publisher), orders=orders,
            orders_report=orders_report, orders_out=orders_out,
        )  # fmt: skip
        from sor.app.orders import check_orders_options
        from sor.data.lobster import input_files

        check_orders_options(flags, options)

        options.check_outputs(input_files(data, lobster_book))
        stream_settings = KafkaSettings.resolve(file_config, bootstrap=bootstrap, topic=topic)
        kafka_topic = stream_settings.topic
        ck = options.ck
        from sor.ck.queue import FIFO

        if ck is not None and ck.settings.queue_model == FIFO and (kafka or stream):
            raise SorError(
                "--queue-model fifo reads each venue's order ids from an order-level file; "
                "the Kafka event stream carries MBP events: run it on the file (--data)"
            )
        if options.blotter:
            if kafka is not None or stream:
                source = "--orders" if orders is not None else "--arrivals"
                raise SorError(
                    f"{source} reads the market from a file: it excludes --kafka and --stream"
                )
            from sor.app.orders import read_orders, run_orders_market_backtest

            blotter = read_orders(options)  # a bad blotter is told before the market is read
            with market_input(data, seed, options, events=ck is not None, trades=True) as (
                market, seed_used, _,
            ):  # fmt: skip
                report = run_orders_market_backtest(market, blotter, options, seed=seed_used)
        elif kafka is not None:
            if data is not None or stream:
                raise SorError("--kafka consumes a stream: it excludes --data and --stream")
            report = run_kafka_backtest(
                kafka, kafka_topic, options, replay=replay,
                gap_timeout_s=flags.gap_timeout,
            )  # fmt: skip
        elif stream:
            with market_input(data, seed, options, events=ck is not None) as (
                market, seed_used, _,
            ):  # fmt: skip
                report = run_stream_backtest(
                    market, stream_settings.bootstrap, kafka_topic, options,
                    speed=speed, seed=seed_used, events=market.events,
                )  # fmt: skip
        elif ck is not None:
            with market_input(data, seed, options, events=True) as (market, seed_used, _):
                assert market.events is not None
                report = run_ck_market_backtest(market.events, market, options, seed=seed_used)
        else:
            with market_input(data, seed, options) as (market, seed_used, _):
                report = run_market_backtest(market, options, seed=seed_used)
        sys.stdout.write(report)
        sys.stdout.flush()
