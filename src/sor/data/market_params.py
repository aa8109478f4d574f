"""A generated market's parameters as a TOML file (``sor generate --params-out`` and
``--params``): every venue's model, the efficient price, the order flow and the profile of
activity, so that a market fitted once (``sor generate --like``) makes any number of days.

The file is plain TOML (docs/generate.md shows one); reading it checks every key and
value, so a hand-edited file that is wrong says where in one line.
"""

from __future__ import annotations

import dataclasses
import math
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sor.core.errors import ConfigError
from sor.core.timestamps import parse_timestamp
from sor.data.generate import START_BID_CENTS, Activity, Bursts, FlowModel, VenueModel

FORMAT = 1
"""The version of the file's layout, written as ``format``."""
MAX_FILE_BYTES = 16 * 10**6
"""Largest parameters file read (64 venues of 1000 spread quantiles are about 1.5 MB)."""


@dataclass(frozen=True)
class MarketParams:
    """What ``sor generate`` needs beyond its window and seed to write a fitted market.

    Attributes
    ----------
    venues
        One model per venue, in the order written.
    price_moves
        Moves per second of the efficient price (all kinds).
    flow
        Informed flow, metaorders, impact and drift.
    start_price
        The efficient bid at the window's start, dollars (on the cent).
    move_ticks
        Ticks of the efficient price's smaller move (the larger is twice it).
    activity
        The time-of-day profile of every venue's rate; None: flat.
    bursts
        Market-wide bursts of activity; None: none.
    start, end
        The window the parameters were fitted on (ISO-8601): a file of the same window is
        written when no ``--start`` is given.
    source
        Where the parameters came from (the fitted file and its SHA-256, or empty), and
        what the fit measured: written for the reader, never read back as parameters.
    """

    venues: tuple[VenueModel, ...]
    price_moves: float = 0.35
    flow: FlowModel = field(default_factory=FlowModel)
    start_price: float = START_BID_CENTS / 100
    move_ticks: int = 1
    activity: Activity | None = None
    bursts: Bursts | None = None
    start: str | None = None
    end: str | None = None
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def start_bid_cents(self) -> int:
        """The start price in cents."""
        return round(self.start_price * 100)

    @property
    def mean_rate(self) -> float:
        """The venues' mean rate, rows per second: ``--rate`` sets it, keeping proportions."""
        return sum(venue.rate for venue in self.venues) / len(self.venues)

    def to_toml(self) -> str:
        """Write the parameters as TOML."""
        document: dict[str, Any] = {"format": FORMAT}
        if self.source:
            document["source"] = self.source
        market: dict[str, Any] = {"price_moves": self.price_moves, "move_ticks": self.move_ticks,
                                  "start_price": self.start_price}  # fmt: skip
        if self.start is not None:
            market["start"] = self.start
        if self.end is not None:
            market["end"] = self.end
        document["market"] = market
        document["flow"] = dataclasses.asdict(self.flow)
        if self.activity is not None:
            document["activity"] = {
                "start_s": self.activity.start_s,
                "bucket_s": self.activity.bucket_s,
                "multipliers": list(self.activity.multipliers),
            }
        if self.bursts is not None:
            document["bursts"] = dataclasses.asdict(self.bursts)
        document["venues"] = [
            {**dataclasses.asdict(venue), "spread_ticks": list(venue.spread_ticks)}
            for venue in self.venues
        ]
        return tomli_w.dumps(_finite(document))

    def write(self, path: Path) -> None:
        """Write the TOML to ``path``."""
        path.write_text(self.to_toml(), encoding="utf-8")


def read_params(path: Path) -> MarketParams:
    """Read and check a parameters file.

    Raises
    ------
    ConfigError
        The file cannot be read, is not TOML, or a key or value is wrong (the message
        names the key).
    """
    try:
        # a device or a pipe (/dev/zero, a FIFO) would be read forever: a file, and a bounded one
        if not stat.S_ISREG(path.stat().st_mode):
            raise ConfigError(f"--params: {path} is not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ConfigError(
                f"--params: {path} is larger than {MAX_FILE_BYTES // 10**6} MB: not a "
                "parameters file"
            )
        text = raw.decode("utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"--params: no such file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--params: cannot read {path}: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--params: {path} is not TOML: {exc}") from exc
    _check_keys(path, document)
    _check_types(path, document)
    try:
        model = _File.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"--params: {path}: {where}: {error['msg']}") from exc
    try:
        params = model.params()
        _check_window(params)
        params.flow.check()
        if params.bursts is not None:
            params.bursts.check()
        for venue in params.venues:
            venue.check()
    except ConfigError as exc:
        raise ConfigError(f"--params: {path}: {exc}") from exc
    if len({venue.publisher_id for venue in params.venues}) < len(params.venues):
        raise ConfigError(f"--params: {path}: two venues share a publisher_id")
    return params


def _check_keys(path: Path, document: dict[str, Any]) -> None:
    """Refuse a key the venues' and the flow's tables do not have (the models are plain
    dataclasses, which pydantic lets pass with extra keys)."""
    tables: list[tuple[str, Any, type]] = [
        ("flow", document.get("flow"), FlowModel),
        ("bursts", document.get("bursts"), Bursts),
    ]
    venues = document.get("venues")
    if isinstance(venues, list):
        tables += [(f"venues.{i}", venue, VenueModel) for i, venue in enumerate(venues)]
    for where, table, model in tables:
        if isinstance(table, dict):
            known = {item.name for item in dataclasses.fields(model)}
            for key in table:
                if key not in known:
                    raise ConfigError(f"--params: {path}: {where}.{key}: not a parameter")


def _check_types(path: Path, document: dict[str, Any]) -> None:
    """Refuse a boolean or a string where a number goes, which pydantic would take for one
    (``rate = true`` as 1, ``format = "1"`` as 1): only ``source`` and the window's
    ``market.start`` and ``market.end`` hold text."""

    def walk(where: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{where}.{key}" if where else str(key), item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(f"{where}.{i}", item)
        elif isinstance(value, bool | str) and where not in ("market.start", "market.end"):
            kind = "a boolean" if isinstance(value, bool) else "text"
            raise ConfigError(f"--params: {path}: {where}: {kind} where a number goes")

    for key, value in document.items():
        if key != "source":
            walk(key, value)


def _check_window(params: MarketParams) -> None:
    """Refuse a window that is not two ISO-8601 timestamps, the end after the start."""
    bounds: dict[str, int] = {}
    for name, text in (("start", params.start), ("end", params.end)):
        if text is not None:
            try:
                bounds[name] = parse_timestamp(text)
            except ValueError as exc:
                raise ConfigError(f"market.{name}: {exc}") from exc
    if len(bounds) == 2 and bounds["end"] <= bounds["start"]:
        raise ConfigError(f"market.end {params.end} must come after market.start {params.start}")


def _finite(value: Any) -> Any:
    """Refuse a NaN or infinity, which TOML could hold but a fitted market never should."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"a market parameter is not finite: {value}")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


MAX_MULTIPLIER = 1000.0
"""Largest multiplier of the time-of-day profile (a fitted one stays near 1)."""

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class _Market(BaseModel):
    model_config = _STRICT
    price_moves: float = Field(ge=0)
    move_ticks: int = Field(default=1, ge=1, le=1000)
    start_price: float = Field(ge=1, lt=10**7)
    start: str | None = None
    end: str | None = None


class _Activity(BaseModel):
    model_config = _STRICT
    start_s: float = Field(ge=0, lt=86_400)
    bucket_s: float = Field(gt=0, le=86_400)
    multipliers: list[Annotated[float, Field(le=MAX_MULTIPLIER)]] = Field(
        min_length=1, max_length=288
    )


class _File(BaseModel):
    model_config = _STRICT
    format: int = Field(ge=FORMAT, le=FORMAT)
    source: dict[str, Any] = {}
    market: _Market
    flow: FlowModel = FlowModel()
    activity: _Activity | None = None
    bursts: Bursts | None = None
    venues: list[VenueModel] = Field(min_length=1, max_length=64)

    def params(self) -> MarketParams:
        activity = None
        if self.activity is not None:
            if any(not m > 0 for m in self.activity.multipliers):
                raise ConfigError("activity.multipliers must all be positive")
            if len(self.activity.multipliers) * self.activity.bucket_s > 86_400:
                # the profile repeats daily: a longer one would overlap itself
                raise ConfigError("activity: the buckets must cover at most a day")
            activity = Activity(self.activity.start_s, self.activity.bucket_s,
                                tuple(self.activity.multipliers))  # fmt: skip
        return MarketParams(
            venues=tuple(self.venues),
            price_moves=self.market.price_moves,
            flow=self.flow,
            start_price=self.market.start_price,
            move_ticks=self.market.move_ticks,
            activity=activity,
            bursts=self.bursts,
            start=self.market.start,
            end=self.market.end,
            source=self.source,
        )
