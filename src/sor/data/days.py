"""Many generated days (``sor generate --days N``): one file per weekday, days that differ.

Day ``i`` (0-based) draws its variation and its seed from its own random stream,
``numpy.random.default_rng(numpy.random.SeedSequence(seed, spawn_key=(i,)))``: three
standard normals ``z0, z1, z2``, then the day's seed ``integers(0, 2**63)``. So day ``i``
is the same file whatever the number of days, and can be rewritten alone with
``sor generate`` and the parameters the command logs for it.

- Volatility: the efficient price's moves per second times ``exp(VOL_SD z0 - VOL_SD^2/2)``
  (lognormal, mean one).
- Liquidity: the messages per second (so adds, cancellations and trades) times
  ``exp(RATE_SD z - RATE_SD^2/2)`` with ``z = 0.6 z0 + 0.8 z1``: busy days tend to be
  volatile days, as in real markets.
- Drift: the bias of the unpredictable moves is ``drift + DRIFT_SD z2`` (clipped to
  ``[-MAX_DRIFT, MAX_DRIFT]``).

Dates: the first day is the date of ``start`` (or the next weekday when it falls on a
weekend), then one weekday after another; every day covers the same time of day as the
window ``[start, end]``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from sor.core.domain import NANOS_PER_SECOND
from sor.core.errors import ConfigError
from sor.data.generate import MAX_DRIFT, FlowModel

VOL_SD = 0.3
"""Log-sd of a day's volatility multiplier."""
RATE_SD = 0.2
"""Log-sd of a day's message-rate multiplier."""
DRIFT_SD = 0.01
"""Sd of a day's drift around the given one (0.01: a 52/48 up/down bias at one sd)."""
_DAY_NS = 86_400 * NANOS_PER_SECOND


@dataclass(frozen=True)
class Day:
    """One generated day: where it goes and the parameters that make it."""

    index: int
    name: str
    seed: int
    start_ns: int
    end_ns: int
    rate_per_venue: float
    price_moves: float
    flow: FlowModel


def plan_days(
    days: int,
    *,
    seed: int,
    start_ns: int,
    end_ns: int,
    rate_per_venue: float,
    price_moves: float,
    flow: FlowModel,
    depth: int,
    symbol: str,
    schema: str = "mbp",
) -> list[Day]:
    """Return the ``days`` days of a run (see the module's docstring).

    File names are ``<symbol>-<YYYYMMDD>.mbp-<depth>.csv`` (``schema="mbo"``:
    ``<symbol>-<YYYYMMDD>.mbo.csv``): sorting them sorts the days.

    Raises
    ------
    ConfigError
        ``days`` is out of range or the window is a day or longer.
    """
    if days < 1:
        raise ConfigError(f"days must be at least 1, got {days}")
    if end_ns - start_ns >= _DAY_NS:
        raise ConfigError("the window of one day must be shorter than 24 hours")
    plan = []
    first = datetime.fromtimestamp(start_ns // NANOS_PER_SECOND, UTC).date()
    today = _weekday(first)
    for index in range(days):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))
        z0, z1, z2 = rng.standard_normal(3)
        day_seed = int(rng.integers(0, 2**63))
        shift = (today - first).days * _DAY_NS
        drift = float(np.clip(flow.drift + DRIFT_SD * z2, -MAX_DRIFT, MAX_DRIFT))
        plan.append(
            Day(
                index=index,
                name=f"{symbol.lower()}-{today:%Y%m%d}."
                + ("mbo" if schema == "mbo" else f"mbp-{depth}")
                + ".csv",
                seed=day_seed,
                start_ns=start_ns + shift,
                end_ns=end_ns + shift,
                rate_per_venue=rate_per_venue * _lognormal(RATE_SD, 0.6 * z0 + 0.8 * z1),
                price_moves=price_moves * _lognormal(VOL_SD, z0),
                flow=dataclasses.replace(flow, drift=drift),
            )
        )
        today = _weekday(today + timedelta(days=1))
    return plan


def _lognormal(sd: float, z: float) -> float:
    """A multiplier of mean one: ``exp(sd z - sd^2 / 2)``."""
    return math.exp(sd * z - sd * sd / 2)


def _weekday(day: date) -> date:
    """Return ``day``, or the Monday after it when it falls on a weekend."""
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
