"""Parent orders drawn when a user has no blotter (``--arrivals``): Poisson arrivals over
the market's span, sizes from a log-normal law around a median, the sides asked for.

Pure: given the span, the law and a seed, returns a :class:`~sor.data.blotter.Blotter`
like the one :func:`~sor.data.blotter.read_blotter` reads, whose :meth:`Blotter.table
<sor.data.blotter.Blotter.table>` written out (``--orders-out``) reads back to the same
orders. The same seed gives the same orders, on any machine: one
``numpy.random.default_rng(seed)`` draws, in this order, the count, the times, the sizes
and (for both sides) the sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from sor.core.domain import MAX_ORDER_SIZE, NANOS_PER_HOUR, STEP
from sor.core.errors import ConfigError
from sor.core.types import Side
from sor.data.blotter import OPEN_END, Blotter

MAX_ARRIVALS = 100_000
"""Most orders one draw may give, and most it may expect (rate x span): each order is a
backtest of its own, its outcome under every parameter set kept (about 25 KB with the
default grid of 125 sets), so the cap keeps a run within a few GB and hours."""

ARRIVALS = Path("--arrivals")
"""The name a drawn blotter goes by in messages, as a file's path would."""

SideChoice = Literal["buy", "sell", "both"]


@dataclass(frozen=True)
class ArrivalLaw:
    """How ``--arrivals`` draws orders.

    Attributes
    ----------
    rate_per_hour
        Mean orders per hour of the market's span (a Poisson process).
    size_median
        Median shares of an order.
    size_sigma
        Log-sd of the sizes around the median: each is ``median * exp(sigma * z)``, ``z``
        standard normal, rounded to a multiple of 100 shares (at least 100, at most
        ``MAX_ORDER_SIZE``); 0 gives every order the median's size.
    sides
        ``buy``, ``sell``, or ``both`` (each order either side with even odds).
    """

    rate_per_hour: float
    size_median: float
    size_sigma: float
    sides: SideChoice

    def as_dict(self) -> dict[str, Any]:
        """The law as the report gives it."""
        return {
            "rate_per_hour": self.rate_per_hour,
            "size_median": self.size_median,
            "size_sigma": self.size_sigma,
            "sides": self.sides,
        }


def draw_arrivals(
    first_ns: int,
    last_ns: int,
    law: ArrivalLaw,
    seed: int,
    *,
    path: Path = ARRIVALS,
    allow_none: bool = False,
) -> Blotter:
    """Draw the orders of ``law`` arriving over ``[first_ns, last_ns]`` (ns since the epoch,
    inclusive), seeded by ``seed``; each without an end (the data's, or the order horizon's)
    and with its row number as its id, as a blotter file without those columns reads.
    ``allow_none``: a draw of no order gives an empty blotter (one day of many may draw
    none) rather than an error.

    Raises
    ------
    ConfigError
        The span expects, or the draw gives, more than :data:`MAX_ARRIVALS` orders; or the
        draw gives none (unless ``allow_none``).
    """
    span_ns = last_ns - first_ns
    expected = law.rate_per_hour * span_ns / NANOS_PER_HOUR
    if expected > MAX_ARRIVALS:
        raise ConfigError(_too_many(law, span_ns, f"expects {expected:,.0f} orders"))
    rng = np.random.default_rng(seed)
    count = int(rng.poisson(expected))
    if count > MAX_ARRIVALS:
        raise ConfigError(_too_many(law, span_ns, f"drew {count:,} orders"))
    if count == 0 and not allow_none:
        raise ConfigError(
            f"--arrivals {law.rate_per_hour:g} per hour over the data's {_hours(span_ns)} "
            "drew no order: raise the rate or give a longer market"
        )
    # given their count, the times of a Poisson process are uniform over the span
    times = np.sort(rng.integers(first_ns, last_ns, size=count, endpoint=True))
    lots = np.floor(law.size_median * np.exp(law.size_sigma * rng.standard_normal(count)) / STEP
                    + 0.5)  # fmt: skip
    sizes = np.clip(lots, 1, MAX_ORDER_SIZE // STEP).astype(np.int64) * STEP
    if law.sides == "both":
        sides = tuple(Side.BUY if buy else Side.SELL for buy in rng.random(count) < 0.5)
    else:
        sides = (Side.parse(law.sides),) * count
    return Blotter(
        path=path,
        ids=tuple(str(k + 1) for k in range(count)),
        time_ns=times.astype(np.int64),
        end_ns=np.full(count, OPEN_END, dtype=np.int64),
        sides=sides,
        sizes=sizes,
        lines=tuple(range(2, count + 2)),
        carried=pl.DataFrame(),
    )


def _hours(span_ns: int) -> str:
    return f"{span_ns / NANOS_PER_HOUR:.3g} hours"


def _too_many(law: ArrivalLaw, span_ns: int, what: str) -> str:
    return (
        f"--arrivals {law.rate_per_hour:g} per hour over the data's {_hours(span_ns)} {what}, "
        f"more than the cap of {MAX_ARRIVALS:,} (sor.data.arrivals.MAX_ARRIVALS); lower "
        "--arrivals or give a shorter market"
    )
