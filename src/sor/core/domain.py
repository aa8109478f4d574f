"""Value types shared by the data layer, the allocators, the simulator and the report.

Money inside the engine is integer nano-dollars (1e-9 $, Databento's fixed-point unit), so
that sums over fills are exact; the edges convert to decimal dollars.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from sor.core.defaults import DEFAULT_FEE, DEFAULT_REBATE

NANOS_PER_DOLLAR = 1_000_000_000
NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_HOUR = 3600 * NANOS_PER_SECOND
STEP = 100
"""Allocation granularity of the static router, in shares."""

VENUE_NAMES = {2: "XNAS", 9: "XNYS", 43: "ARCX", 5: "BATS", 8: "EDGX", 38: "IEX"}
"""Databento publisher ids of the venues the generator models, and their names."""


MAX_PRICE_NANOS = 2**62
"""Largest price a row may carry, in nano-dollars (about 4.6e9 $). Databento's int64
fixed-point prices reach 9.2e9 $; the bound leaves room to add a fee without overflow.
A larger price is a bad value, never a quote."""
MAX_SIZE = 2**32 - 1
"""Largest size a row may carry: Databento's sizes are uint32."""
MAX_PUBLISHER_ID = 2**16 - 1
"""Largest publisher_id: Databento's publisher ids are uint16."""
MAX_ORDER_SIZE = 10**12
"""Largest parent order, in shares. Money stays exact well beyond 1e12 $ of notional
(``sor.static.allocator.check_notional`` states the bound on the notional itself)."""

SNAPSHOT_DTYPE = np.dtype(
    [
        ("ts_event", np.int64),  # ns since the Unix epoch, UTC
        ("publisher_id", np.int32),
        ("ask_px", np.int64),  # nano-dollars; 0 when the venue shows no valid ask
        ("ask_sz", np.int32),  # shares (int32: memory matters on long files)
        ("bid_px", np.int64),  # nano-dollars; 0 when the venue shows no valid bid
        ("bid_sz", np.int32),
    ]
)
"""One kept venue row: the venue's top of book after the event (docs/semantics.md sections 1 and 2)."""


def dollars_to_nanos(dollars: float) -> int:
    """Convert a decimal dollar amount (price, fee or rebate) to integer nano-dollars."""
    return round(Fraction(str(dollars)) * NANOS_PER_DOLLAR)


def nanos_to_dollars(nanos: int) -> float:
    """Convert integer nano-dollars to the nearest float dollar amount."""
    return nanos / NANOS_PER_DOLLAR


@dataclass(frozen=True)
class VenueQuote:
    """One venue as the allocator sees it: best ask, the size available to us, fee and rebate.

    Prices, fees and rebates are dollars per share; ``ask_size`` is in shares.
    """

    ask: float
    ask_size: int
    fee: float = DEFAULT_FEE
    rebate: float = DEFAULT_REBATE


@dataclass(frozen=True)
class VenueCosts:
    """Taker fee and maker rebate per venue, dollars per share, with defaults for the rest."""

    default_fee: float = DEFAULT_FEE
    default_rebate: float = DEFAULT_REBATE
    fees: tuple[tuple[int, float], ...] = ()
    rebates: tuple[tuple[int, float], ...] = ()

    def fee(self, publisher_id: int) -> float:
        """Return the taker fee of ``publisher_id`` in dollars per share."""
        return dict(self.fees).get(publisher_id, self.default_fee)

    def rebate(self, publisher_id: int) -> float:
        """Return the maker rebate of ``publisher_id`` in dollars per share."""
        return dict(self.rebates).get(publisher_id, self.default_rebate)

    def fee_nanos(self, publisher_ids: np.ndarray) -> np.ndarray:
        """Return the taker fees of ``publisher_ids`` in nano-dollars, aligned with the input."""
        return np.array([dollars_to_nanos(self.fee(int(p))) for p in publisher_ids], dtype=np.int64)


@dataclass(frozen=True)
class Fill:
    """One execution of ours: ``quantity`` shares at ``price`` (dollars) at one venue."""

    ts_event: int
    publisher_id: int
    quantity: int
    price: float
    fee: float


@dataclass(frozen=True)
class StrategyResult:
    """What one strategy did over the window.

    ``total_cash_nanos`` is exact; ``completion_ts`` is the ``ts_event`` of the fill that
    completed the order, or None when the order did not complete. ``passive_fill`` is the
    shares of ``total_fill`` filled by resting limit orders: always 0 on the snapshots,
    where every order is marketable; model ck's queue simulator sets it.
    """

    name: str
    order_size: int
    total_fill: int
    total_cash_nanos: int
    completion_ts: int | None
    fills: tuple[Fill, ...] = field(default=(), repr=False)
    passive_fill: int = 0

    @property
    def unfilled(self) -> int:
        """Shares of the order left unbought."""
        return self.order_size - self.total_fill

    @property
    def total_cash(self) -> float:
        """Dollars spent, fees included."""
        return nanos_to_dollars(self.total_cash_nanos)

    @property
    def avg_fill_px(self) -> float | None:
        """Average price paid per share, fees included; None when nothing filled."""
        if self.total_fill == 0:
            return None
        return float(Fraction(self.total_cash_nanos, self.total_fill * NANOS_PER_DOLLAR))


@dataclass(frozen=True, order=True)
class RiskParameters:
    """One point of the grid: the penalties of the Cont-Kukanov cost, dollars per share."""

    lambda_over: float
    lambda_under: float
    theta_queue: float

    def as_dict(self) -> dict[str, float]:
        """Return the parameters under their report names."""
        return {
            "lambda_over": self.lambda_over,
            "lambda_under": self.lambda_under,
            "theta_queue": self.theta_queue,
        }
