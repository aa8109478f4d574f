"""The TOML configuration file: per-venue fees and rebates, the search grid, order and window.

Example::

    [order]
    size = 5000
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

Precedence: command-line flags, then ``SOR_`` environment variables, then this file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sor.domain import DEFAULT_FEE, DEFAULT_REBATE, VENUE_NAMES, VenueCosts
from sor.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VenueCostEntry(_Strict):
    """Fee and rebate of one venue, dollars per share."""

    fee: float | None = None
    rebate: float | None = None


class CostsSection(_Strict):
    """Default fee and rebate, and per-venue overrides keyed by publisher id or name."""

    fee: float = DEFAULT_FEE
    rebate: float = DEFAULT_REBATE
    venues: dict[str, VenueCostEntry] = Field(default_factory=dict)


class OrderSection(_Strict):
    """The parent order and the window."""

    size: int | None = None
    start: str | None = None
    end: str | None = None


class SearchSection(_Strict):
    """The search lists."""

    lambda_over: list[float] | None = None
    lambda_under: list[float] | None = None
    theta_queue: list[float] | None = None


class KafkaSection(_Strict):
    """Where the stream lives; ``client`` entries pass through to the Kafka client."""

    bootstrap: str | None = None
    topic: str | None = None
    client: dict[str, str] = Field(default_factory=dict)


class FileConfig(_Strict):
    """The whole configuration file."""

    order: OrderSection = Field(default_factory=OrderSection)
    costs: CostsSection = Field(default_factory=CostsSection)
    search: SearchSection = Field(default_factory=SearchSection)
    kafka: KafkaSection = Field(default_factory=KafkaSection)


def load_config(path: str | Path | None) -> FileConfig:
    """Read and validate a TOML configuration file; None gives the defaults."""
    if path is None:
        return FileConfig()
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{file}: no such configuration file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{file}: {problems}") from exc


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
