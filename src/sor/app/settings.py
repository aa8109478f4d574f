"""The TOML configuration file: per-venue fees and rebates, the search grid, order and window.

Example::

    [order]
    size = 5000
    side = "buy"          # or "sell"
    start = "2024-08-01T13:36:32Z"
    end = "2024-08-01T13:45:32Z"

    [costs]
    fee = 0.003       # taker fee, $/share, every venue unless overridden below
    rebate = 0.002    # maker rebate, $/share

    [costs.venues.XNAS]   # a publisher_id ("2") or a venue name
    fee = 0.0030
    rebate = 0.0025

    [search]
    lambda_over = [0.1, 0.4]
    lambda_under = [0.1, 0.4]
    theta_queue = [0.1, 0.4]

    [dask]                # sor evaluate only
    scheduler = "tcp://10.0.0.5:8786"   # else a local cluster
    workers = 2                         # the local cluster's worker processes

    [ck]                  # --model ck only; ignored, with a warning, by --model static
    horizon = [0.2, 0.5, 2]
    latency_us = 100
    latency_sigma = 0.0
    latency_seed = 7
    queue_model = "conservative"  # or "probabilistic", or "fifo" (order-level input)
    fallback_queue_model = "conservative"  # fifo's model where a venue has no order ids
    crossing_fill = "displayed"   # or "whole": asks crossing a resting order fill all of it
    trade_fill = "displayed"      # or "whole": hftbacktest's rules for trades

Precedence: each setting comes from its command-line flag, else its ``SOR_`` environment
variable (for the settings that have one), else this file, else its default; an empty flag
or variable counts as not given. The variables (:data:`ENVIRONMENT`)::

    SOR_CONFIG            the configuration file             (--config wins)
    SOR_KAFKA_BOOTSTRAP   broker HOST:PORT                   (--bootstrap wins; beats [kafka] bootstrap)
    SOR_KAFKA_TOPIC       Kafka topic                        (--topic wins; beats [kafka] topic)
    SOR_DASK_SCHEDULER    sor evaluate's scheduler address   (--scheduler wins; beats [dask])

Every value, from the file or from a flag, is checked by the same annotated types below
(:class:`BacktestFlags` and :class:`GenerateFlags` carry the flags), before any data is
read: a NaN fee or an empty search list is an error, never a silent fallback.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, cast

from pydantic import AfterValidator, BaseModel, Field, ValidationError
from pydantic_core import ErrorDetails

from sor.core.defaults import (
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_FEE,
    DEFAULT_FILLS_EVERY_S,
    DEFAULT_GAP_TIMEOUT_S,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_REBATE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    DEFAULT_TRADE_FILL,
    DEFAULT_TRAIN_DAYS,
    DEFAULT_WORKER_TIMEOUT_S,
)
from sor.core.domain import MAX_ORDER_SIZE, NANOS_PER_DOLLAR, STEP, VENUE_NAMES, VenueCosts
from sor.core.errors import ConfigError
from sor.core.validated import Validated

if TYPE_CHECKING:
    from sor.data.generate import FlowModel

MAX_FEE_DOLLARS = 1.0
"""Largest fee or rebate magnitude, $/share: a thousand times the access-fee cap, and it
keeps every price plus fee inside int64 nano-dollars."""
MAX_TICK_DOLLARS = 1.0
"""Largest price grid of ``sor stats``, $: a hundred times a US equity's 0.01 $."""
MAX_LATENCY_US = 60e6
"""Largest order-entry latency (its median when sampled), microseconds: a minute."""
MAX_LATENCY_SIGMA = 3.0
"""Largest log-sd of a sampled latency: its 99th percentile is then 1000 times the median."""
MAX_HORIZON_S = 86_400.0
MIN_HORIZON_S = 0.001
"""Shortest decision horizon, seconds: a decision costs milliseconds, so shorter horizons
would run for hours on a day of data (and sit below any order-entry latency)."""
"""Longest decision horizon, seconds: a day, the longest window a file holds."""
MAX_SEED = 2**63 - 1
"""Largest seed: reports and stream markers carry it as an int64."""
MAX_RATE = 10_000.0
"""Most messages per second per venue ``sor generate`` makes (the real file: about 110)."""
MAX_PRICE_MOVES = 1_000.0
"""Most moves per second of the generated efficient price (the default: 0.35)."""
MAX_DAYS = 10_000
"""Most days ``sor generate --days`` writes: forty years of weekdays."""
MAX_METAORDER_SECONDS = 86_400.0
"""Longest mean metaorder of the generated market: a day
(``sor.data.generate.MAX_METAORDER_SECONDS``)."""


def _order_size(value: int) -> int:
    from sor.static.allocator import validate_order_size

    try:
        validate_order_size(value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return value


def _distinct(values: tuple[float, ...]) -> tuple[float, ...]:
    """No two values of a list flag share a label (``f"{v:g}"``): the report keys its
    results by them, and two equal ones would count twice under one key."""
    labels = [f"{v:g}" for v in values]
    repeated = next((label for label in labels if labels.count(label) > 1), None)
    if repeated is not None:
        raise ValueError(f"{repeated} is given twice (or two values print as {repeated})")
    return values


def _whole_nanos(value: float) -> float:
    """A price step (``sor stats --tick``) is a whole number of nano-dollars, at least one:
    prices are held as integer nano-dollars, so a finer step cannot be told apart from 0."""
    nanos = Fraction(repr(value)) * NANOS_PER_DOLLAR
    if nanos < 1:
        raise ValueError(
            f"must be at least 1e-09 (one nano-dollar, the finest price the data holds), "
            f"got {value!r}"
        )
    if nanos.denominator != 1:
        raise ValueError(
            f"must be a whole number of nano-dollars (prices are held in them), got {value!r}"
        )
    return value


def _plain_symbol(value: str) -> str:
    """A symbol is a plain name: ``--days`` makes file names of it, which must stay in
    their directory."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,21}", value) is None or ".." in value:
        raise ValueError(
            "must be a plain symbol: 1 to 22 letters, digits, '.', '_' or '-', starting with "
            f"a letter or digit, no '..' and no path, got {value!r}"
        )
    return value


def _timestamp(value: str) -> str:
    from sor.core.timestamps import parse_timestamp

    parse_timestamp(value)  # its ValueError names the text and the expected form
    return value


Dollars = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_FEE_DOLLARS, le=MAX_FEE_DOLLARS)]
"""A fee or rebate, $/share. Either may be negative: an inverted venue pays takers (negative
fee) and charges makers (negative rebate); an ask plus its fee must stay positive, which
``sor.static.allocator.check_notional`` checks against the data."""
Penalty = Annotated[float, Field(allow_inf_nan=False, ge=0)]
"""A search value (lambda_over, lambda_under, theta_queue), $/share."""
PenaltyList = Annotated[tuple[Penalty, ...], Field(min_length=1, strict=False)]
Horizons = Annotated[
    tuple[Annotated[float, Field(allow_inf_nan=False, ge=MIN_HORIZON_S, le=MAX_HORIZON_S)], ...],
    Field(min_length=1, strict=False),
]
"""Decision horizons of model ck, seconds."""
LatencyUs = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_LATENCY_US)]
LatencySigma = Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_LATENCY_SIGMA)]
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED)]
QueueModelName = Literal[
    "probabilistic", "conservative", "fifo"
]  # QueueModel.names(), as the help lists them
FallbackQueueModelName = Literal["probabilistic", "conservative"]  # the L2 models
FillRuleName = Literal["displayed", "whole"]  # FillRule.names()
Model = Literal["static", "ck"]
SideName = Literal["buy", "sell"]  # Side.names()
OrderSize = Annotated[int, Field(strict=True), AfterValidator(_order_size)]
Timestamp = Annotated[str, AfterValidator(_timestamp)]
Workers = Annotated[int, Field(strict=True, ge=1)]
TsDistance = Annotated[float, Field(allow_inf_nan=False, gt=0, le=24 * 366 * 10)]
"""Hours a timestamp may lie from the input's median before its row is bad."""
Share = Annotated[float, Field(allow_inf_nan=False, ge=0, le=1)]
"""A share, 0 to 1."""
Seconds = Annotated[float, Field(allow_inf_nan=False, ge=MIN_HORIZON_S, le=MAX_HORIZON_S)]
"""An interval or horizon of ``sor stats``, seconds: a millisecond to a day."""
MAX_LAGS = 10_000
"""Most trade-sign autocorrelation lags ``sor stats`` computes."""
ArrivalShares = Annotated[int, Field(strict=True, ge=STEP, le=MAX_ORDER_SIZE)]
"""The median size of the orders ``--arrivals`` draws, shares: at least one lot of 100."""
MAX_ARRIVAL_SIGMA = 3.0
"""Largest log-sd of the drawn orders' sizes: its 99th percentile is then 1000 times the
median."""
Speed = Annotated[float, Field(allow_inf_nan=False, ge=0)]
"""A replay speed: 1 real time, 10 ten times faster, 0 flat out."""


class VenueCostEntry(Validated):
    """Fee and rebate of one venue, dollars per share."""

    fee: Dollars | None = None
    rebate: Dollars | None = None


class CostsSection(Validated):
    """Default fee and rebate, and per-venue overrides keyed by publisher id or name."""

    fee: Dollars = DEFAULT_FEE
    rebate: Dollars = DEFAULT_REBATE
    venues: dict[str, VenueCostEntry] = Field(default_factory=dict)


class OrderSection(Validated):
    """The parent order and the window."""

    size: OrderSize | None = None
    side: SideName | None = None
    start: Timestamp | None = None
    end: Timestamp | None = None


class SearchSection(Validated):
    """The search lists; a list left out takes the chosen model's default."""

    lambda_over: PenaltyList | None = None
    lambda_under: PenaltyList | None = None
    theta_queue: PenaltyList | None = None


class CkSection(Validated):
    """The model-ck settings; a key left out takes its flag's default."""

    horizon: Horizons | None = None
    latency_us: LatencyUs | None = None
    latency_sigma: LatencySigma | None = None
    latency_seed: Seed | None = None
    queue_model: QueueModelName | None = None
    fallback_queue_model: FallbackQueueModelName | None = None
    crossing_fill: FillRuleName | None = None
    trade_fill: FillRuleName | None = None


class KafkaSection(Validated):
    """Where the stream lives; ``client`` entries pass through to the Kafka client."""

    bootstrap: str | None = None
    topic: str | None = None
    client: dict[str, str] = Field(default_factory=dict)


class DaskSection(Validated):
    """Where ``sor evaluate`` runs: an existing cluster's scheduler, else a local cluster."""

    scheduler: str | None = None
    workers: Workers | None = None


class FileConfig(Validated):
    """The whole configuration file."""

    order: OrderSection = Field(default_factory=OrderSection)
    costs: CostsSection = Field(default_factory=CostsSection)
    search: SearchSection = Field(default_factory=SearchSection)
    ck: CkSection = Field(default_factory=CkSection)
    kafka: KafkaSection = Field(default_factory=KafkaSection)
    dask: DaskSection = Field(default_factory=DaskSection)


class BacktestFlags(Validated):
    """The numeric and choice flags of ``sor backtest``, under their names with ``_``."""

    order_size: OrderSize | None = None
    side: SideName | None = None
    start: Timestamp | None = None
    end: Timestamp | None = None
    fee: Dollars | None = None
    rebate: Dollars | None = None
    lambda_over: PenaltyList | None = None
    lambda_under: PenaltyList | None = None
    theta_queue: PenaltyList | None = None
    model: Model = "static"
    horizon: Horizons | None = None
    latency_us: LatencyUs | None = None
    latency_sigma: LatencySigma | None = None
    latency_seed: Seed | None = None
    queue_model: QueueModelName | None = None
    fallback_queue_model: FallbackQueueModelName | None = None
    crossing_fill: FillRuleName | None = None
    trade_fill: FillRuleName | None = None
    speed: Speed = 0.0
    workers: Workers | None = None
    seed: Seed = DEFAULT_SEED
    gap_timeout: Annotated[float, Field(allow_inf_nan=False, gt=0, le=86_400)] = (
        DEFAULT_GAP_TIMEOUT_S
    )
    max_ts_distance: TsDistance = DEFAULT_MAX_TS_DISTANCE_H
    order_horizon: Annotated[float, Field(allow_inf_nan=False, gt=0)] | None = None
    """Seconds after its time an order of a blotter without an end ends."""
    arrivals: Annotated[float, Field(allow_inf_nan=False, gt=0)] | None = None
    """Orders per hour to draw (``sor.data.arrivals``): the blotter when none is given."""
    arrival_size_median: ArrivalShares | None = None
    arrival_size_sigma: (
        Annotated[float, Field(allow_inf_nan=False, ge=0, le=MAX_ARRIVAL_SIGMA)] | None
    ) = None
    arrival_sides: Literal["buy", "sell", "both"] | None = None


ARRIVAL_FLAGS = ("arrival_size_median", "arrival_size_sigma", "arrival_sides")
"""The flags that shape ``--arrivals``' law, and apply to it only."""


class EvaluateFlags(BacktestFlags):
    """The flags of ``sor evaluate``: the backtest's, and the evaluation's own."""

    train_days: Annotated[int, Field(strict=True, ge=1)] = DEFAULT_TRAIN_DAYS
    resamples: Annotated[int, Field(strict=True, ge=100, le=10_000_000)] = DEFAULT_RESAMPLES
    worker_timeout: Annotated[float, Field(allow_inf_nan=False, gt=0, le=86_400)] = (
        DEFAULT_WORKER_TIMEOUT_S
    )
    read_timeout: Annotated[float, Field(allow_inf_nan=False, gt=0, le=86_400)] = (
        DEFAULT_READ_TIMEOUT_S
    )
    max_download: Annotated[int, Field(strict=True, ge=1)] = DEFAULT_MAX_DOWNLOAD_BYTES


class GenerateFlags(Validated):
    """The flags of ``sor generate``."""

    venues: Annotated[int, Field(strict=True, ge=1, le=MAX_FITTED_VENUES)] | None = None
    """None: the market's (6 by default, a fitted market's all)."""
    seed: Seed
    start: Timestamp | None = None
    end: Timestamp | None = None
    depth: Literal[1, 10]
    symbol: Annotated[str, AfterValidator(_plain_symbol)] = "AAPL"
    rate: Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_RATE)] | None = None
    price_moves: Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_PRICE_MOVES)] | None = (
        None
    )
    days: Annotated[int, Field(strict=True, ge=1, le=MAX_DAYS)] | None = None
    informed: Share | None = None
    metaorder_share: Share | None = None
    metaorder_seconds: (
        Annotated[float, Field(allow_inf_nan=False, gt=0, le=MAX_METAORDER_SECONDS)] | None
    ) = None
    impact: Share | None = None
    drift: Annotated[float, Field(allow_inf_nan=False, ge=-0.5, le=0.5)] | None = None
    no_adverse_selection: bool = False
    market_schema: Literal["mbp", "mbo"] = Field("mbp", alias="schema")
    """``--schema``: ``mbp`` writes the book's rows, ``mbo`` the orders."""

    def flow_model(self, base: FlowModel | None = None) -> FlowModel:
        """Return the market's order-flow model: ``base`` (the defaults of ``FlowModel``
        when None) where a flag is not given, all adverse selection off with
        ``--no-adverse-selection``.

        Raises
        ------
        ConfigError
            ``--no-adverse-selection`` comes with a flag it switches off, or
            ``--informed`` and ``--metaorder-share`` add up to more than 1.
        """
        from sor.data.generate import FlowModel

        given = {name: getattr(self, name) for name in FLOW_FLAGS}
        given = {name: value for name, value in given.items() if value is not None}
        if self.no_adverse_selection:
            clash = sorted(set(given) & {"informed", "metaorder_share", "impact"})
            if clash:
                flag = "--" + clash[0].replace("_", "-")
                raise ConfigError(f"--no-adverse-selection switches {flag} off: give one of them")
            off = FlowModel.off() if base is None else dataclasses.replace(
                base, informed=0.0, metaorder_share=0.0, impact=0.0)  # fmt: skip
            return dataclasses.replace(off, **given)
        flow = dataclasses.replace(base if base is not None else FlowModel(), **given)
        if flow.informed + flow.metaorder_share > 1:
            raise ConfigError(
                f"--informed {flow.informed:g} and --metaorder-share {flow.metaorder_share:g} "
                "add up to more than 1 (both are shares of the trades)"
            )
        return flow


MAX_FITTED_VENUES = 64
"""Most venues of a market (a fitted one; the default market has six)."""

FLOW_FLAGS = ("informed", "metaorder_share", "metaorder_seconds", "impact", "drift")
"""The flags of ``sor generate`` that set :class:`sor.data.generate.FlowModel`."""


class StatsFlags(Validated):
    """The numeric flags of ``sor stats``."""

    lags: Annotated[int, Field(strict=True, ge=1, le=MAX_LAGS)]
    intervals: Annotated[tuple[Seconds, ...], Field(min_length=1)]
    horizons: Annotated[tuple[Seconds, ...], Field(min_length=1)]
    tick: Annotated[
        float, Field(allow_inf_nan=False, gt=0, le=MAX_TICK_DOLLARS), AfterValidator(_whole_nanos)
    ]
    max_ts_distance: TsDistance = DEFAULT_MAX_TS_DISTANCE_H
    fill_every: Annotated[float, Field(allow_inf_nan=False, ge=1e-9)] = DEFAULT_FILLS_EVERY_S
    """Seconds between the orders of ``--compare``'s fill study."""


class ProduceFlags(Validated):
    """The numeric flags of ``sor produce``."""

    max_ts_distance: TsDistance = DEFAULT_MAX_TS_DISTANCE_H
    speed: Speed
    start: Timestamp | None = None
    end: Timestamp | None = None
    seed: Seed


class FillsFlags(Validated):
    """The numeric flags of ``sor fills``."""

    every: Annotated[float, Field(allow_inf_nan=False, ge=1e-9)]
    """Seconds between placements: at least a nanosecond, the data's resolution."""
    size: Annotated[
        tuple[Annotated[int, Field(strict=True, ge=1, le=10**9)], ...],
        Field(min_length=1),
        AfterValidator(_distinct),
    ]
    horizon: Annotated[
        tuple[Annotated[float, Field(allow_inf_nan=False, gt=0, le=86_400)], ...],
        AfterValidator(_distinct),
    ]
    queue_model: QueueModelName
    latency_us: LatencyUs  # within a minute, as for sor backtest --model ck
    side: Literal["buy", "sell"]
    crossing_fill: FillRuleName
    trade_fill: FillRuleName = cast("FillRuleName", DEFAULT_TRADE_FILL)
    fallback_queue_model: FallbackQueueModelName = cast(
        "FallbackQueueModelName", DEFAULT_FALLBACK_QUEUE_MODEL
    )


CK_ONLY = tuple(CkSection.model_fields)
"""The settings that apply to ``--model ck`` only, under their flag names with ``_``."""

M = TypeVar("M", bound=BaseModel)


def check_flags(model: type[M], values: Mapping[str, Any]) -> M:
    """Validate command-line ``values`` with ``model``; raise ``ConfigError`` naming the flag.

    Only the first problem is told: one line, and the user fixes one flag at a time.
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-")
        raise ConfigError(f"{flag}: {describe(error)}") from None


def describe(error: ErrorDetails) -> str:
    """Say what is wrong with a value in words a user reads, e.g. ``must be >= 0, got -1``."""
    kind = error["type"]
    context = error.get("ctx") or {}
    value = error.get("input")
    got = f", got {value!r}" if isinstance(value, str) else f", got {_number(value)}"
    if kind == "finite_number":
        return f"must be a finite number{got}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{value!r} is not a valid integer"
    if kind in ("float_parsing", "float_type"):
        return f"{value!r} is not a valid number"
    if kind == "too_short":
        return "the list is empty"
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "literal_error":
        return f"must be {context['expected']}{got}"
    bounds = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bounds:  # the value as typed, a flag's text unquoted
        sign, key = bounds[kind]
        return f"must be {sign} {_number(context[key])}, got {_number(value)}"
    message = error["msg"].removeprefix("Input should be ")
    return f"must be {message}{got}" if message != error["msg"] else f"{message}{got}"


def _number(value: object) -> str:
    """Show a whole float without its ``.0`` (``>= 0``, not ``>= 0.0``); the rest as is."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return str(value)


def _problems(errors: Sequence[ErrorDetails]) -> str:
    """Join the problems of a file, one per key (a bad list item, not also "too short")."""
    told: dict[str, str] = {}
    for error in errors:
        key = ".".join(str(p) for p in error["loc"] if not isinstance(p, int))
        told.setdefault(key, f"{key}: {describe(error)}")
    return "; ".join(told.values())


def load_config(path: str | Path | None) -> FileConfig:
    """Read and validate a TOML configuration file; None gives the defaults."""
    if path is None:
        return FileConfig()
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such configuration file") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"{file}: a directory, not a configuration file") from exc
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the configuration file: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {_problems(exc.errors())}") from None


def venue_id(key: str) -> int:
    """Resolve a venue key (a publisher id such as ``"2"`` or a name such as ``"XNAS"``)."""
    text = key.strip()
    if text.isdigit():
        return int(text)
    by_name = {name: pid for pid, name in VENUE_NAMES.items()}
    if text.upper() in by_name:
        return by_name[text.upper()]
    known = ", ".join(f"{name} ({pid})" for pid, name in sorted(VENUE_NAMES.items()))
    raise ConfigError(
        f"unknown venue {key!r} in [costs.venues]; use a publisher_id or one of {known}"
    )


def venue_costs(
    section: CostsSection, *, fee: float | None = None, rebate: float | None = None
) -> VenueCosts:
    """Build the fee schedule.

    ``fee``/``rebate`` come from the command line and win over the file: each sets that
    figure for every venue, per-venue entries of the file included.
    """
    fees = []
    rebates = []
    for key, entry in section.venues.items():
        pid = venue_id(key)
        if entry.fee is not None and fee is None:
            fees.append((pid, entry.fee))
        if entry.rebate is not None and rebate is None:
            rebates.append((pid, entry.rebate))
    return VenueCosts(
        default_fee=section.fee if fee is None else fee,
        default_rebate=section.rebate if rebate is None else rebate,
        fees=tuple(sorted(fees)),
        rebates=tuple(sorted(rebates)),
    )


# --- where each setting comes from ------------------------------------------------------------

ENVIRONMENT: dict[str, str] = {
    "SOR_CONFIG": "the TOML configuration file, when --config is not given",
    "SOR_KAFKA_BOOTSTRAP": "the broker HOST:PORT, when --bootstrap is not given "
    "(sor backtest --stream, sor produce, sor replays); before [kafka] bootstrap",
    "SOR_KAFKA_TOPIC": "the Kafka topic, when --topic is not given; before [kafka] topic",
    "SOR_DASK_SCHEDULER": "the Dask scheduler of sor evaluate, when --scheduler is not given; "
    "before [dask] scheduler (none: a local cluster)",
}
"""Every ``SOR_`` variable a ``sor`` command reads, and what it sets (the module's text)."""

T = TypeVar("T")


def pick(flag: T | None, file_value: T | None) -> T | None:
    """Return a setting without a ``SOR_`` variable: the flag when given, else the file's."""
    return flag if flag is not None else file_value


def pick_text(
    flag: str | None,
    file_value: str | None,
    variable: str,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Return a text setting from the first source that gives it: the flag, then the ``SOR_``
    ``variable``, then the configuration file.

    An empty text counts as not given, so that a deploy unit may pass ``--topic "$SOR_X"``
    with the variable unset.
    """
    assert variable in ENVIRONMENT, variable  # every variable read is documented
    text = (os.environ if environ is None else environ).get(variable)
    return flag or text or file_value or None


def config_path(flag: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The configuration file: ``--config``, else ``SOR_CONFIG``; None for none."""
    text = pick_text(str(flag) if flag is not None else None, None, "SOR_CONFIG", environ)
    return Path(text) if text is not None else None


class KafkaSettings(Validated):
    """Where a command's stream lives, each value from flag, ``SOR_`` variable or the file."""

    bootstrap: str | None
    """Broker HOST:PORT; None where the command then uses its own default."""
    topic: str
    client: dict[str, str]
    """Settings passed through to the Kafka client (SASL, TLS): the file's [kafka.client]."""

    @classmethod
    def resolve(
        cls,
        file_config: FileConfig,
        *,
        bootstrap: str | None = None,
        topic: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> KafkaSettings:
        """Take the ``bootstrap`` and ``topic`` flags, else their ``SOR_`` variables, else the
        file's [kafka] section; the topic defaults to ``mock_l1_stream``."""
        from sor.core.defaults import DEFAULT_TOPIC

        kafka = file_config.kafka
        address = pick_text(bootstrap, kafka.bootstrap, "SOR_KAFKA_BOOTSTRAP", environ)
        name = pick_text(topic, kafka.topic, "SOR_KAFKA_TOPIC", environ)
        return cls(bootstrap=address, topic=name or DEFAULT_TOPIC, client=dict(kafka.client))
