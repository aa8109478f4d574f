"""The runs the command line starts: a backtest from a file, from Kafka or through a stream,
for either model, and the writing of its report and figure.

stdout is the caller's; logs and progress go to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.app.config import (  # noqa: F401 -- the run configuration, as the commands import it
    BacktestOptions,
    CKOptions,
    check_model_options,
    source_options,
    timestamp_flag,
)
from sor.app.outputs import (  # noqa: F401 -- as the commands import them
    FIGURE_FORMATS,
    check_output,
    check_outputs,
    write_atomically,
)
from sor.app.settings import FileConfig
from sor.core.errors import SorError

if TYPE_CHECKING:
    import numpy as np
    from tqdm import tqdm

    from sor.ck.backtest import CkResult
    from sor.core.market import MarketData
    from sor.static.backtest import BacktestResult

log = logging.getLogger("sor")

STARTED_NS = time.time_ns()
"""When this command began (before its slow imports): ``--replay next`` takes replays
created from then on, so a producer started at the same moment is not missed."""


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


def topic_name(flag: str | None, file_config: FileConfig) -> str:
    """The topic a command uses: ``--topic``, else ``SOR_KAFKA_TOPIC``, else the file's."""
    from sor.app.settings import KafkaSettings

    return KafkaSettings.resolve(file_config, topic=flag).topic


@contextmanager
def market_input(
    data: Path | None,
    seed: int,
    options: BacktestOptions,
    *,
    kernels: Sequence[str] | None = None,
    events: bool = False,
    trades: bool = False,
) -> Iterator[tuple[MarketData, int | None, Path]]:
    """Read the window of ``data``, or of generated data when it is None (with ``events``,
    every event of the window too, as ``MarketData.events``; with ``trades``, its trades,
    as ``MarketData.trades``), compiling meanwhile the
    ``kernels`` groups the caller runs next (:mod:`sor.app.compile`; default: the
    model's)."""
    from sor.app.compile import compiling, input_groups, model_plan
    from sor.data.reader import read_market

    config = options.config(seed=None)  # validates the options before any work

    def read(path: Path) -> MarketData:
        log.info("reading %s", path)
        market = read_market(
            path, start_ns=config.start_ns, end_ns=config.end_ns,
            skip_bad_rows=options.skip_bad_rows,
            max_ts_distance_ns=options.max_ts_distance_ns, source=options.source,
        )  # fmt: skip
        log.info(
            "%d rows read, %d kept snapshots, venues %s",
            market.rows_read,
            len(market.snapshots),
            ",".join(str(v) for v in market.venues),
        )
        return market

    ahead, after = model_plan(options.model) if kernels is None else (kernels, ())
    with contextlib.ExitStack() as stack:
        with compiling(ahead, body=input_groups(data, options.source), after=after):
            if data is not None:
                path, market, seed_used = data, read(data), None
            else:
                path, label = stack.enter_context(_generated_data(seed))
                market, seed_used = dataclasses.replace(read(path), source=label), seed
            if events:
                market = dataclasses.replace(market, events=read_window_events(path, options))
            if trades:
                market = dataclasses.replace(market, trades=_window_trades(market, path, options))
        yield market, seed_used, path


def static_backtest(
    market: MarketData,
    options: BacktestOptions,
    *,
    seed: int | None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> BacktestResult:
    """Run the static model's backtest on ``market``, its search on a progress bar."""
    from sor.static.backtest import run_backtest

    config = options.config(seed=seed, start_ns=start_ns, end_ns=end_ns)
    with _search_bar(len(config.grid.parameter_sets()), options.quiet) as bar:
        return run_backtest(market, config, workers=options.workers, on_progress=bar.update)


def _search_bar(points: int, quiet: bool) -> tqdm[Any]:
    """The progress bar of a search of ``points`` points, on stderr unless ``quiet``."""
    from tqdm import tqdm

    return tqdm(total=points, desc="search", unit="set", file=sys.stderr, disable=quiet,
                leave=False)  # fmt: skip


def run_market_backtest(
    market: MarketData,
    options: BacktestOptions,
    *,
    seed: int | None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> str:
    """Run the backtest on ``market``, write the report and figure; return the JSON."""
    from sor.report.builder import build_report
    from sor.report.figures import write_plot

    result = static_backtest(market, options, seed=seed, start_ns=start_ns, end_ns=end_ns)
    return _write_outputs(build_report(result), options, lambda path: write_plot(result, path))


def _write_outputs(
    report_object: dict[str, object], options: BacktestOptions, draw: Callable[[Path], object]
) -> str:
    """Write the report and (unless --no-plot) the figure; log its summary; return the
    report's JSON."""
    from sor.report.builder import dumps
    from sor.report.summary import backtest_summary

    report = dumps(report_object)
    write_atomically(
        options.json_out, "--json-out", lambda path: path.write_text(report, encoding="utf-8")
    )
    log.info("wrote %s", options.json_out)
    if options.plot is not None:
        write_atomically(options.plot, "--plot", draw, suffix=".png")
        log.info("wrote %s", options.plot)
    for line in backtest_summary(report_object).splitlines():
        log.info("%s", line)
    return report


def run_kafka_backtest(
    bootstrap: str,
    topic: str,
    options: BacktestOptions,
    *,
    live: bool = True,
    replay: str = "latest",
    gap_timeout_s: float | None = None,
    wait_for_replay: bool = False,
) -> str:
    """Rebuild one replay of ``topic`` (``replay``: latest, next or an id), routing live
    (static model), then run the full backtest (for model ck the replay must carry every
    event)."""
    from sor.app.compile import compiling, model_plan
    from sor.core.defaults import DEFAULT_GAP_TIMEOUT_S
    from sor.streaming.consumer import consume_market, narrow
    from sor.streaming.live import LiveRouter

    config = options.config(seed=None)  # the window of --start/--end, if given
    ck = options.ck
    router = LiveRouter(
        config.order_size,
        config.costs,
        window=(config.start_ns, config.end_ns),
        side=config.side,
    )
    log.info("consuming %r from %s (replay: %s)", topic, bootstrap, replay)
    ahead, after = model_plan("ck" if ck is not None else "static")
    with compiling(ahead, body=("read",), after=after):
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
) -> str:
    """Publish ``market`` (every one of ``events`` when given) and consume it back at the
    same time, then report."""

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
                publish_market(market, bootstrap, topic, options.file_config, speed,
                         config.start_ns, config.end_ns, seed, quiet=options.quiet,
                         events=events, replay=replay)  # fmt: skip
            except BaseException as exc:  # reported by the main thread
                failure.append(exc)

        from tqdm.contrib.logging import logging_redirect_tqdm

        producer = threading.Thread(target=produce, name="sor-producer", daemon=True)
        with logging_redirect_tqdm():  # log lines print above the replay bar, not over it
            producer.start()
            report = run_kafka_backtest(
                bootstrap, topic, options, replay=replay, wait_for_replay=True
            )
            producer.join()
        if failure:
            raise failure[0]
    return report


def publish_market(
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

    from sor.core.timestamps import format_timestamp
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


def _window_trades(market: MarketData, path: Path, options: BacktestOptions) -> np.ndarray:
    """The window's trades: from the events already read, else read for them alone."""
    from sor.data.events import read_trades, trades_of

    if market.events is not None:
        return trades_of(market.events)
    config = options.config(seed=None)
    log.info("reading the trades of %s", path)
    return read_trades(
        path, start_ns=config.start_ns, end_ns=config.end_ns,
        skip_bad_rows=options.skip_bad_rows, max_ts_distance_ns=options.max_ts_distance_ns,
        source=options.source,
    )  # fmt: skip


def read_window_events(path: Path, options: BacktestOptions) -> np.ndarray:
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
        source=options.source,
    )


def ck_backtest(
    events: np.ndarray,
    market: MarketData,
    options: BacktestOptions,
    *,
    seed: int | None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> CkResult:
    """Run model ck's backtest on the window's events, its search on a progress bar."""
    from sor.ck.backtest import run_ck_backtest

    ck = options.ck
    assert ck is not None, "a ck run's options hold its settings"
    config = options.config(seed=seed, start_ns=start_ns, end_ns=end_ns)
    points = len(config.grid.parameter_sets()) * len(ck.horizons)
    with _search_bar(points, options.quiet) as bar:
        return run_ck_backtest(
            events, market, config, horizons_s=ck.horizons, settings=ck.settings,
            workers=options.workers, on_progress=bar.update,
        )  # fmt: skip


def run_ck_market_backtest(
    events: np.ndarray,
    market: MarketData,
    options: BacktestOptions,
    *,
    seed: int | None,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> str:
    """Run the model-ck backtest on the window's events, write the report and figure; return
    the JSON."""
    from sor.report.ck_report import build_ck_report
    from sor.report.figures import write_ck_plot

    result = ck_backtest(events, market, options, seed=seed, start_ns=start_ns, end_ns=end_ns)
    return _write_outputs(
        build_ck_report(result), options, lambda path: write_ck_plot(result, path)
    )
