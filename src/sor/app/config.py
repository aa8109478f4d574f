"""The one run configuration of a backtest, resolved once, whoever starts the run.

Every setting of a backtest comes from the first source that gives it: the flag (or the
keyword of :func:`sor.backtest`), then its ``SOR_`` variable where it has one, then the
TOML configuration file, then its default (``sor.core.defaults``, each written once there).
:func:`read_settings` validates the flags and reads the file; :meth:`BacktestOptions.resolve`
picks each setting and checks the whole once, before any data is read. The command line
(``sor backtest``, ``sor evaluate``) and the Python API go through the same two calls, so
they cannot drift apart: the same settings give the same report, byte for byte.

The result is frozen and passed down; :meth:`BacktestOptions.config` is the models'
:class:`~sor.static.backtest.BacktestConfig`, built once.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sor.app.settings import (
    CK_ONLY,
    BacktestFlags,
    FileConfig,
    check_flags,
    config_path,
    load_config,
    pick,
)
from sor.core.defaults import (
    DEFAULT_ARRIVAL_SIDES,
    DEFAULT_ARRIVAL_SIZE_MEDIAN,
    DEFAULT_ARRIVAL_SIZE_SIGMA,
    DEFAULT_CROSSING_FILL,
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_FIGURE,
    DEFAULT_LATENCY_SIGMA,
    DEFAULT_LATENCY_US,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_ORDER_SIZE,
    DEFAULT_QUEUE_MODEL,
    DEFAULT_REPORT,
    DEFAULT_SEED,
    DEFAULT_SIDE,
    DEFAULT_TRADE_FILL,
)
from sor.core.domain import NANOS_PER_HOUR, NANOS_PER_SECOND
from sor.core.errors import ConfigError
from sor.core.timestamps import parse_timestamp
from sor.core.types import Side

if TYPE_CHECKING:
    from sor.ck.router import CKSettings
    from sor.data.arrivals import ArrivalLaw, SideChoice
    from sor.data.orderlevel import SourceOptions
    from sor.static.backtest import BacktestConfig

F = TypeVar("F", bound=BacktestFlags)


def read_settings(
    model: type[F],
    values: Mapping[str, Any],
    config: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[F, FileConfig, Path | None]:
    """Validate the flags ``values`` (under their names with ``_``) with ``model``, and read
    the configuration file: ``config``, else ``SOR_CONFIG``.

    Returns
    -------
    tuple
        The validated flags, the file's settings (its defaults when there is no file) and
        the file's path (None for none).

    Raises
    ------
    ConfigError
        A value is out of its range (the message names its flag), or the file is missing
        or invalid.
    """
    flags = check_flags(model, values)
    config_file = config_path(config, environ)
    return flags, load_config(config_file), config_file


def timestamp_flag(name: str, text: str | None) -> int | None:
    """Parse ``--name``'s timestamp to ns since the epoch; None stays None."""
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"--{name}: {exc}") from exc


def source_options(lobster_book: Path | None, publisher: int | None) -> SourceOptions | None:
    """How to read a LOBSTER input: its orderbook file and its venue; None for defaults.

    Raises
    ------
    SorError
        The orderbook file is not a readable regular file, or the publisher is outside
        Databento's range.
    """
    from sor.core.paths import input_file_problem
    from sor.data.orderlevel import SourceOptions

    if lobster_book is None and publisher is None:
        return None
    problem = None if lobster_book is None else input_file_problem(lobster_book)
    if problem is not None:
        raise ConfigError(f"--lobster-book: {lobster_book}: {problem}")
    if publisher is not None and not 0 <= publisher <= 65_535:
        raise ConfigError(
            f"--publisher: must be 0 to 65535 (a Databento publisher_id), got {publisher}"
        )
    return SourceOptions(lobster_book=lobster_book, publisher=publisher)


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
        from sor.ck.router import CKSettings
        from sor.core.defaults import DEFAULT_HORIZONS_S
        from sor.core.types import FillRule, QueueModel

        latency = OrderLatency(
            round((DEFAULT_LATENCY_US if latency_us is None else latency_us) * 1000),
            DEFAULT_LATENCY_SIGMA if latency_sigma is None else latency_sigma,
            DEFAULT_SEED if latency_seed is None else latency_seed,
        )
        return cls(
            horizons or DEFAULT_HORIZONS_S,
            CKSettings(
                latency,
                int(QueueModel.parse(queue_model or DEFAULT_QUEUE_MODEL)),
                int(FillRule.parse(crossing_fill or DEFAULT_CROSSING_FILL)),
                int(FillRule.parse(trade_fill or DEFAULT_TRADE_FILL)),
                int(QueueModel.parse(fallback_queue_model or DEFAULT_FALLBACK_QUEUE_MODEL)),
            ),
        )


def arrival_law(flags: BacktestFlags) -> ArrivalLaw | None:
    """The law of ``--arrivals`` (its defaults where a flag is not given); None without it."""
    if flags.arrivals is None:
        return None
    from sor.data.arrivals import ArrivalLaw

    median, sigma = flags.arrival_size_median, flags.arrival_size_sigma
    return ArrivalLaw(
        rate_per_hour=flags.arrivals,
        size_median=DEFAULT_ARRIVAL_SIZE_MEDIAN if median is None else median,
        size_sigma=DEFAULT_ARRIVAL_SIZE_SIGMA if sigma is None else sigma,
        sides=flags.arrival_sides or cast("SideChoice", DEFAULT_ARRIVAL_SIDES),
    )


def check_model_options(flags: BacktestFlags, file_config: FileConfig, path: object) -> None:
    """Refuse a ck-only flag with --model static; warn about such a key of the file."""
    import logging

    if flags.model == "ck":
        return
    for name in CK_ONLY:
        if getattr(flags, name) is not None:
            flag = "--" + name.replace("_", "-")
            raise ConfigError(f"{flag} applies to --model ck only (this run: --model static)")
    for name in sorted(file_config.ck.model_fields_set):
        logging.getLogger("sor").warning(
            "warning: %s: [ck] %s applies to --model ck only; ignored", path, name
        )


@dataclasses.dataclass(frozen=True)
class BacktestOptions:
    """The one configuration of a backtest run: every setting resolved, checked, frozen.

    Build it with :meth:`resolve` from validated flags and the configuration file; a
    field left at its default takes the default of ``sor.core.defaults``.
    """

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
    json_out: Path = Path(DEFAULT_REPORT)
    plot: Path | None = Path(DEFAULT_FIGURE)
    file_config: FileConfig = dataclasses.field(default_factory=FileConfig)
    source: SourceOptions | None = None
    seed: int = DEFAULT_SEED
    """Seed of the generated data, when no data is given."""
    ck: CKOptions | None = None
    """Model ck's horizons and simulator settings (its defaults when the model is ck and
    none are given); None for the static model."""
    orders: Path | None = None
    """The blotter of parent orders (``--orders``), each routed on its own window; None
    for the one order of the window."""
    orders_report: Path | None = None
    """Where ``--orders-report`` writes one row per order and strategy; None: nowhere."""
    order_horizon: float | None = None
    """Seconds after its time an order without an end ends (``--order-horizon``, at most
    with the data); None: with the data."""
    arrivals: ArrivalLaw | None = None
    """The law ``--arrivals`` draws the blotter from, seeded by :attr:`seed`; None: the
    blotter is ``orders`` (or there is none)."""
    orders_out: Path | None = None
    """Where ``--orders-out`` writes the drawn blotter; None: nowhere."""

    def __post_init__(self) -> None:
        if self.model == "ck" and self.ck is None:
            object.__setattr__(self, "ck", CKOptions.build())

    @classmethod
    def resolve(
        cls,
        flags: BacktestFlags,
        file_config: FileConfig,
        config_file: Path | None = None,
        *,
        json_out: Path = Path(DEFAULT_REPORT),
        plot: Path | None = Path(DEFAULT_FIGURE),
        quiet: bool = False,
        skip_bad_rows: bool = False,
        source: SourceOptions | None = None,
        orders: Path | None = None,
        orders_report: Path | None = None,
        orders_out: Path | None = None,
    ) -> BacktestOptions:
        """Take each setting from its flag, else the configuration file, else its default,
        and check the whole (the window, the fees, the model's settings) before any data is
        read.

        Raises
        ------
        SorError
            A ck-only setting with the static model, a window that ends before it starts,
            an unknown venue in the file's fees.
        """
        check_model_options(flags, file_config, config_file)
        search = file_config.search
        options = cls(
            start=pick(flags.start, file_config.order.start),
            end=pick(flags.end, file_config.order.end),
            order_size=pick(flags.order_size, file_config.order.size),
            side=pick(flags.side, file_config.order.side) or DEFAULT_SIDE,
            fee=flags.fee,
            rebate=flags.rebate,
            lambda_over=pick(flags.lambda_over, search.lambda_over),
            lambda_under=pick(flags.lambda_under, search.lambda_under),
            theta_queue=pick(flags.theta_queue, search.theta_queue),
            model=flags.model,
            skip_bad_rows=skip_bad_rows,
            max_ts_distance_ns=round(flags.max_ts_distance * NANOS_PER_HOUR),
            workers=flags.workers,
            quiet=quiet,
            json_out=json_out,
            plot=plot,
            file_config=file_config,
            source=source,
            seed=flags.seed,
            ck=CKOptions.resolve(flags, file_config) if flags.model == "ck" else None,
            orders=orders,
            orders_report=orders_report,
            order_horizon=flags.order_horizon,
            arrivals=arrival_law(flags),
            orders_out=orders_out,
        )
        options.run  # noqa: B018 -- the window and the fees, checked before any data is read
        return options

    @property
    def blotter(self) -> bool:
        """True when the run routes a blotter: ``--orders``'s, or the one ``--arrivals``
        draws."""
        return self.orders is not None or self.arrivals is not None

    @property
    def order_horizon_ns(self) -> int | None:
        """:attr:`order_horizon` in whole ns, at least 1 and at most 2^62 (no file spans as
        much: a huge horizon is the data's end, not an overflow); None for none."""
        if self.order_horizon is None:
            return None
        return max(1, round(min(self.order_horizon * NANOS_PER_SECOND, 2.0**62)))

    @functools.cached_property
    def run(self) -> BacktestConfig:
        """The models' configuration of this run, without a seed or a window from the data.

        Raises
        ------
        SorError
            The window's start comes after its end, or a setting is invalid.
        """
        from sor.app.settings import venue_costs
        from sor.core.search import SearchGrid
        from sor.static.backtest import BacktestConfig

        start, end = timestamp_flag("start", self.start), timestamp_flag("end", self.end)
        if start is not None and end is not None and start > end:
            raise ConfigError(f"the window's start {self.start} comes after its end {self.end}")
        return BacktestConfig(
            order_size=self.order_size if self.order_size is not None else DEFAULT_ORDER_SIZE,
            start_ns=start,
            end_ns=end,
            costs=venue_costs(self.file_config.costs, fee=self.fee, rebate=self.rebate),
            grid=SearchGrid.of_model(
                self.model, self.lambda_over, self.lambda_under, self.theta_queue
            ),
            model=self.model,
            side=Side.parse(self.side),
        )

    def check_outputs(self, inputs: Sequence[Path | None] = ()) -> None:
        """Raise ``SorError`` unless the report and the figure can be written where asked,
        apart from each other and from every input file."""
        from sor.app.outputs import check_figure_format, check_outputs

        check_outputs(
            [(self.json_out, "--json-out"), (self.plot, "--plot"),
             (self.orders_report, "--orders-report"), (self.orders_out, "--orders-out")],
            [*inputs, self.orders],
        )  # fmt: skip
        check_figure_format(self.plot)

    def config(
        self, *, seed: int | None, start_ns: int | None = None, end_ns: int | None = None
    ) -> BacktestConfig:
        """Return :attr:`run` with the data's seed and window; explicit --start/--end win
        over the given window."""
        run = self.run
        return dataclasses.replace(
            run,
            seed=seed,
            start_ns=run.start_ns if self.start is not None else start_ns,
            end_ns=run.end_ns if self.end is not None else end_ns,
        )
