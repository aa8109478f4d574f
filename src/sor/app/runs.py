"""The runs the command line starts: a backtest from a file, from Kafka or through a stream,
for either model, and the writing of its report and figure.

stdout is the caller's; logs and progress go to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sor.app.settings import FileConfig, pick
from sor.core.defaults import (
    DEFAULT_CROSSING_FILL,
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_LATENCY_SIGMA,
    DEFAULT_LATENCY_US,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_ORDER_SIZE,
    DEFAULT_QUEUE_MODEL,
    DEFAULT_SEED,
    DEFAULT_SIDE,
    DEFAULT_TRADE_FILL,
)
from sor.core.domain import NANOS_PER_HOUR
from sor.core.errors import SorError
from sor.core.types import Side

if TYPE_CHECKING:
    import numpy as np

    from sor.app.settings import BacktestFlags
    from sor.ck.router import CKSettings
    from sor.core.market import MarketData
    from sor.data.orderlevel import SourceOptions
    from sor.static.backtest import BacktestConfig

log = logging.getLogger("sor")

STARTED_NS = time.time_ns()
"""When this command began (before its slow imports): ``--replay next`` takes replays
created from then on, so a producer started at the same moment is not missed."""


def timestamp_flag(name: str, text: str | None) -> int | None:
    from sor.core.timestamps import parse_timestamp

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


def check_model_options(flags: BacktestFlags, file_config: FileConfig, path: object) -> None:
    """Refuse a ck-only flag with --model static; warn about such a key of the file."""
    from sor.app.settings import CK_ONLY

    if flags.model == "ck":
        return
    for name in CK_ONLY:
        if getattr(flags, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise SorError(f"{flag} applies to --model ck only (this run: --model static)")
    for name in sorted(file_config.ck.model_fields_set):
        log.warning("warning: %s: [ck] %s applies to --model ck only; ignored", path, name)


def topic_name(flag: str | None, file_config: FileConfig) -> str:
    """The topic a command uses: ``--topic``, else ``SOR_KAFKA_TOPIC``, else the file's."""
    from sor.app.settings import KafkaSettings

    return KafkaSettings.resolve(file_config, topic=flag).topic


@dataclasses.dataclass(frozen=True)
class BacktestOptions:
    """Backtest settings gathered from flags and the configuration file."""

    start: str | None = None
    end: str | None = None
    order_size: int | None = None
    side: str = DEFAULT_SIDE
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
    source: SourceOptions | None = None

    def config(
        self, *, seed: int | None, start_ns: int | None = None, end_ns: int | None = None
    ) -> BacktestConfig:
        """Build the run's configuration; explicit --start/--end win over the given window."""
        from sor.app.settings import venue_costs
        from sor.core.search import SearchGrid
        from sor.static.backtest import BacktestConfig

        defaults = SearchGrid()
        if self.model == "ck":
            from sor.ck.backtest import DEFAULT_CK_GRID

            defaults = DEFAULT_CK_GRID
        flag_start, flag_end = timestamp_flag("start", self.start), timestamp_flag("end", self.end)
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
            side=Side.parse(self.side),
        )

    def check_outputs(self, inputs: Sequence[Path | None] = ()) -> None:
        """Raise ``SorError`` unless the report and the figure can be written where asked,
        apart from each other and from every input file."""
        check_outputs([(self.json_out, "--json-out"), (self.plot, "--plot")], inputs)
        if self.plot is not None and self.plot.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
            raise SorError(
                f"--plot: {self.plot}: the figure's format comes from its suffix: one of "
                f"{', '.join('.' + f for f in sorted(FIGURE_FORMATS) if f)}, or none for PNG"
            )


FIGURE_FORMATS = frozenset({"", "png", "pdf", "svg", "svgz", "ps", "eps", "jpg", "jpeg", "webp"})
"""Suffixes of the figure's formats (matplotlib's); no suffix writes PNG."""


def check_outputs(
    outputs: Sequence[tuple[Path | None, str]], inputs: Sequence[Path | None] = ()
) -> None:
    """Raise ``SorError`` unless every output (path, flag; None: not written) can be
    written, none names an input file and no two name the same file. Paths are compared as
    the files they resolve to (``./v.csv``, an absolute path and a symlink to it are one)."""
    given = [(path, flag) for path, flag in outputs if path is not None]
    for path, flag in given:
        check_output(path, flag)
    read = {_resolved(p): p for p in inputs if p is not None}
    seen: dict[Path, str] = {}
    for path, flag in given:
        if _is_special(path):
            continue  # /dev/null and pipes take any number of writers
        target = _resolved(path)
        if target in read:
            raise SorError(f"{flag}: {path} is the input file {read[target]}; write elsewhere")
        if target in seen:
            raise SorError(f"{seen[target]} and {flag} name the same file, {path}")
        seen[target] = flag


def _resolved(path: Path) -> Path:
    """The file ``path`` names, through symlinks (its target's, for a dangling one)."""
    return Path(os.path.realpath(path))


def check_output(path: Path, flag: str) -> None:
    """Raise ``SorError`` unless ``path`` can be written: not a directory, in a writable one
    (its target's, through a symlink), or a writable device or pipe (``/dev/null``,
    ``/dev/stdout``), which is written in place.

    The directory is asked for a file, which is removed at once: what matters is that the
    temporary file of :func:`write_atomically` can be made there, and only creating one
    tells (``os.access`` grants root every directory, ``/proc`` included)."""
    if path.is_dir():
        raise SorError(f"{flag}: {path} is a directory; give a file name")
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise SorError(f"{flag}: {path} is not writable")
        return
    folder = _resolved(path).parent if path.is_symlink() else path.parent
    if not folder.is_dir():
        raise SorError(f"{flag}: {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SorError(f"{flag}: {path}: the directory {folder} is not writable")
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise SorError(
            f"{flag}: {path}: no file can be created in {folder}: {exc.strerror or exc}"
        ) from None
    os.close(handle)
    os.unlink(probe)


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a directory."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_atomically(
    path: Path, flag: str, write: Callable[[Path], object], *, suffix: str = ""
) -> None:
    """Write ``path`` through ``write`` into a temporary file beside it, then rename it: a
    failure never leaves a half-written file. The temporary file keeps the suffix of
    ``path`` (``suffix`` when it has none): it tells matplotlib the figure's format.

    A device or a pipe (``/dev/null``, ``/dev/stdout``) gets the finished file's bytes
    copied in, in place: renaming a file onto it would replace it, and some writers (the
    figure's) need a file they can seek in.

    The temporary file is removed on every way out: an error, Ctrl-C, and SIGTERM or
    SIGHUP, which end the command as Ctrl-C does while it is written (``sor: interrupted``)
    rather than at once, as they otherwise would."""
    special = _is_special(path)
    if not special:
        # through a symlink: its target gets the new content, the link stays
        path = _resolved(path)
    folder = Path(tempfile.gettempdir()) if special else path.parent
    temporary = folder / f".{path.name}.{os.getpid()}.tmp{path.suffix or suffix}"
    with contextlib.ExitStack() as stack:
        if threading.current_thread() is threading.main_thread():  # where handlers can be set
            from sor.streaming.broker import stop_on_signals

            stack.enter_context(stop_on_signals())
        _write_then_rename(temporary, path, flag, write, special)


def _write_then_rename(
    temporary: Path, path: Path, flag: str, write: Callable[[Path], object], special: bool
) -> None:
    """Write ``temporary``, then rename it to ``path`` (copy it in, ``special``); remove it
    whatever happens."""
    try:
        write(temporary)
        if special:
            with temporary.open("rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        else:
            os.replace(temporary, path)
    except OSError as exc:
        raise SorError(f"{flag}: cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def market_input(
    data: Path | None,
    seed: int,
    options: BacktestOptions,
    *,
    kernels: Sequence[str] | None = None,
) -> Iterator[tuple[MarketData, int | None, Path]]:
    """Read the window of ``data``, or of generated data when it is None, compiling
    meanwhile the ``kernels`` groups the caller runs next (:mod:`sor.app.compile`; default:
    the model's)."""
    from sor.app.compile import compiling, input_groups, model_groups
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

    ahead = model_groups(options.model) if kernels is None else kernels
    with contextlib.ExitStack() as stack:
        with compiling(ahead, body=input_groups(data, options.source)):
            if data is not None:
                path, market, seed_used = data, read(data), None
            else:
                path, label = stack.enter_context(_generated_data(seed))
                market, seed_used = dataclasses.replace(read(path), source=label), seed
        yield market, seed_used, path


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

    from sor.report.builder import build_report
    from sor.static.backtest import run_backtest

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
        from sor.report.figures import write_plot

        write_plot(result, path)

    return _write_outputs(report_object, options, draw)


def _write_outputs(
    report_object: dict[str, object], options: BacktestOptions, draw: Callable[[Path], None]
) -> str:
    """Write the report and (unless --no-plot) the figure; return the report's JSON."""
    from sor.report.builder import dumps

    report = dumps(report_object)
    write_atomically(
        options.json_out, "--json-out", lambda path: path.write_text(report, encoding="utf-8")
    )
    log.info("wrote %s", options.json_out)
    if options.plot is not None:
        write_atomically(options.plot, "--plot", draw, suffix=".png")
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
    from sor.app.compile import compiling, model_groups
    from sor.core.defaults import DEFAULT_GAP_TIMEOUT_S
    from sor.streaming.consumer import consume_market, narrow
    from sor.streaming.live import LiveRouter

    config = options.config(seed=None)  # the window of --start/--end, if given
    router = LiveRouter(
        config.order_size,
        config.costs,
        window=(config.start_ns, config.end_ns),
        side=config.side,
    )
    log.info("consuming %r from %s (replay: %s)", topic, bootstrap, replay)
    with compiling(model_groups("ck" if ck is not None else "static"), body=("read",)):
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
                bootstrap, topic, options, ck=ck, replay=replay, wait_for_replay=True
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
            pick(flags.horizon, file.horizon),
            pick(flags.queue_model, file.queue_model),
            crossing_fill=pick(flags.crossing_fill, file.crossing_fill),
            trade_fill=pick(flags.trade_fill, file.trade_fill),
            fallback_queue_model=pick(flags.fallback_queue_model, file.fallback_queue_model),
            latency_us=pick(flags.latency_us, file.latency_us),
            latency_sigma=pick(flags.latency_sigma, file.latency_sigma),
            latency_seed=pick(flags.latency_seed, file.latency_seed),
        )

    @classmethod
    def build(
        cls,
        horizons: tuple[float, ...] | None = None,
        queue_model: str | None = None,
        crossing_fill: str | None = None,
        *,
        trade_fill: str | None = None,
        fallback_queue_model: str | None = None,
        latency_us: float | None = None,
        latency_sigma: float | None = None,
        latency_seed: int | None = None,
    ) -> CKOptions:
        """Build the options from checked values; None takes the default."""
        from sor.ck.latency import OrderLatency
        from sor.ck.queue import CROSSING_FILLS, QUEUE_MODELS, TRADE_FILLS
        from sor.ck.router import CKSettings
        from sor.core.defaults import DEFAULT_HORIZONS_S

        latency = OrderLatency(
            round((DEFAULT_LATENCY_US if latency_us is None else latency_us) * 1000),
            DEFAULT_LATENCY_SIGMA if latency_sigma is None else latency_sigma,
            DEFAULT_SEED if latency_seed is None else latency_seed,
        )
        model = QUEUE_MODELS[queue_model or DEFAULT_QUEUE_MODEL]
        crossing = CROSSING_FILLS[crossing_fill or DEFAULT_CROSSING_FILL]
        trade = TRADE_FILLS[trade_fill or DEFAULT_TRADE_FILL]
        fallback = QUEUE_MODELS[fallback_queue_model or DEFAULT_FALLBACK_QUEUE_MODEL]
        return cls(
            horizons or DEFAULT_HORIZONS_S,
            CKSettings(latency, model, crossing, trade, fallback),
        )


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

    from sor.ck.backtest import run_ck_backtest
    from sor.report.ck_report import build_ck_report

    config = options.config(seed=seed, start_ns=start_ns, end_ns=end_ns)
    sets = len(config.grid.parameter_sets()) * len(ck.horizons)
    with tqdm(total=sets, desc="search", unit="set", file=sys.stderr, disable=options.quiet,
              leave=False) as bar:  # fmt: skip
        result = run_ck_backtest(
            events, market, config, horizons_s=ck.horizons, settings=ck.settings,
            workers=options.workers, on_progress=bar.update,
        )  # fmt: skip
    report_object = build_ck_report(result)
    if extra:
        report_object.update(extra)

    def draw(path: Path) -> None:
        from sor.report.figures import write_ck_plot

        write_ck_plot(result, path)

    return _write_outputs(report_object, options, draw)
