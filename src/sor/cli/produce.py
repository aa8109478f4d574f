"""``sor produce``: publish a file to Kafka."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

from sor.app.runs import (
    BacktestOptions,
    market_input,
    publish_market,
    read_window_events,
)
from sor.cli.common import (
    BROKER_HELP,
    TOPIC_HELP,
    TS_DISTANCE_HELP,
    KafkaConfigFlag,
    LobsterBookFlag,
    Opt,
    PublisherFlag,
    QuietFlag,
    SkipBadRowsFlag,
    setup_logging,
    source_options,
    user_errors,
    window_help,
    with_default,
)
from sor.core.defaults import DEFAULT_BOOTSTRAP, DEFAULT_MAX_TS_DISTANCE_H, DEFAULT_SEED
from sor.core.domain import NANOS_PER_HOUR

log = logging.getLogger("sor")


def produce(
    data: Annotated[
        Path | None,
        Opt(
            help=with_default(
                "Databento MBP or MBO file (CSV or DBN), or a LOBSTER message file.",
                "generated data, see --seed",
            )
        ),
    ] = None,
    bootstrap: Annotated[
        str | None,
        Opt(help=BROKER_HELP),
    ] = None,
    topic: Annotated[str | None, Opt(help=TOPIC_HELP)] = None,
    speed: Annotated[float, Opt(help="1 real time, 10 ten times faster, 0 flat out.")] = 1.0,
    start: Annotated[str | None, Opt(help=window_help("start"))] = None,
    end: Annotated[str | None, Opt(help=window_help("end"))] = None,
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
    config: KafkaConfigFlag = None,
    skip_bad_rows: SkipBadRowsFlag = False,
    max_ts_distance: Annotated[float, Opt(help=TS_DISTANCE_HELP)] = DEFAULT_MAX_TS_DISTANCE_H,
    seed: Annotated[int, Opt(help="Seed of the generated data.")] = DEFAULT_SEED,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    quiet: QuietFlag = False,
) -> None:
    """Publish the data to Kafka, one message per venue snapshot.

    One message per kept venue snapshot of the window (every row with --events), between a
    start and an end marker.

    \b
    Example: sor produce --data market.csv --bootstrap localhost:9092 --speed 10
    Example: sor produce --data market.csv --dry-run | head
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.settings import (
            KafkaSettings,
            ProduceFlags,
            check_flags,
            config_path,
            load_config,
        )
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
        file_config = load_config(config_path(config))
        options = BacktestOptions(
            start=start, end=end, skip_bad_rows=skip_bad_rows, file_config=file_config,
            source=source_options(lobster_book, publisher),
            max_ts_distance_ns=round(flags.max_ts_distance * NANOS_PER_HOUR),
        )  # fmt: skip
        window = options.config(seed=None)
        with market_input(data, seed, options, kernels=()) as (market, seed_used, path):
            rows = read_window_events(path, options) if events else None
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
            kafka = KafkaSettings.resolve(file_config, bootstrap=bootstrap, topic=topic)
            publish_market(
                market, kafka.bootstrap or DEFAULT_BOOTSTRAP, kafka.topic, file_config, speed,
                window.start_ns, window.end_ns, seed_used, quiet=quiet, events=rows,
            )  # fmt: skip
