"""The static router run live on a stream, reporting fills as they happen.

It applies the same rules as the backtest's router (docs/semantics.md sections 3 to 5, and
section 10 for a sell, which takes the bids): a
timestamp is complete when a snapshot with a later ``ts_event`` arrives (or the stream
ends); then the router acts once on the state. Its fills equal the backtest router's.
"""

from __future__ import annotations

import bisect
import logging
from typing import Any

import numpy as np

from sor.core.domain import VenueCosts, dollars_to_nanos, nanos_to_dollars
from sor.core.errors import SorError
from sor.core.timestamps import format_timestamp
from sor.core.types import Side
from sor.static.allocator import TOO_LARGE, check_notional, too_large_message
from sor.static.replay import route_step

log = logging.getLogger(__name__)


class LiveRouter:
    """Feed snapshot messages in ``seq`` order with ``on_snapshot``; call ``finish`` at the end.

    The state is the replay's (one slot per venue, in publisher id order), and each act is
    the replay's step (:func:`sor.static.replay.route_step`), so that a sell or any rule
    is written once.
    """

    def __init__(
        self,
        order_size: int,
        costs: VenueCosts,
        *,
        window: tuple[int | None, int | None] = (None, None),
        side: Side | str = Side.BUY,
    ) -> None:
        self.order_size = order_size
        self.costs = costs
        self.side = Side.parse(side)
        self.sell = self.side is Side.SELL
        self._quote_keys = ("bid_px_nanos", "bid_sz") if self.sell else ("ask_px_nanos", "ask_sz")
        self.window = window
        """Inclusive ``ts_event`` bounds (None: open) outside which snapshots are ignored."""
        self.reset()

    def reset(self, _replay: str | None = None) -> None:
        """Start afresh (the stream switched to another replay): no fills, no quotes."""
        self.filled = 0
        self.cash_nanos = 0
        self.fills: list[tuple[int, int, int, int]] = []
        self._venues: list[int] = []  # publisher ids, ascending: the state's slots
        self._state: np.ndarray = np.zeros((4, 0), dtype=np.int64)  # price, size, consumed, fee
        self._ts: int | None = None

    def on_snapshot(self, message: dict[str, Any]) -> None:
        """Take one decoded snapshot message (in ``seq`` order)."""
        ts = message["ts_event"]
        first, last = self.window
        if (first is not None and ts < first) or (last is not None and ts > last):
            return
        if self._ts is not None and ts != self._ts:
            self._act(self._ts)
        self._ts = ts
        slot = self._slot(message["publisher_id"])
        price, size = self._quote_keys
        self._state[0, slot] = message[price]
        self._state[1, slot] = message[size]
        self._state[2, slot] = 0

    def finish(self) -> None:
        """Act on the last timestamp."""
        if self._ts is not None:
            self._act(self._ts)
            self._ts = None

    def _slot(self, venue: int) -> int:
        """Return the venue's slot, opening one (in publisher id order) on its first row."""
        slot = bisect.bisect_left(self._venues, venue)
        if slot == len(self._venues) or self._venues[slot] != venue:
            self._venues.insert(slot, venue)
            fee = dollars_to_nanos(self.costs.fee(venue))
            self._state = np.insert(self._state, slot, [0, 0, 0, fee], axis=1)
        return slot

    def _act(self, ts: int) -> None:
        remaining = self.order_size - self.filled
        px, size, consumed, fee = self._state
        shown = (px > 0) & (size - consumed > 0)
        if remaining <= 0 or not shown.any():
            return
        units = px[shown] + fee[shown]
        check_notional(remaining, int(units.max()), int(units.min()))
        n_venues = len(self._venues)
        venue = np.empty(n_venues, dtype=np.int64)
        qty = np.empty(n_venues, dtype=np.int64)
        scratch = np.empty((5, n_venues), dtype=np.int64)
        # rows of a C-contiguous array: the step updates ``consumed`` in the state itself
        n = route_step(remaining, px, size, consumed, fee, scratch, venue, qty, self.sell)
        if n == TOO_LARGE:
            raise SorError(f"at {format_timestamp(ts)}: {too_large_message(remaining)}")
        sign = self.side.sign  # a sell's cash is its proceeds, net of the fee
        for v, quantity in zip(venue[:n].tolist(), qty[:n].tolist(), strict=True):
            price = int(px[v])
            publisher = self._venues[v]
            self.filled += quantity
            self.cash_nanos += quantity * (price + sign * int(fee[v]))
            self.fills.append((ts, publisher, quantity, price))
            log.info(
                "live fill %s: %d @ %.4f on publisher %d (%d/%d filled)",
                format_timestamp(ts),
                quantity,
                nanos_to_dollars(price),
                publisher,
                self.filled,
                self.order_size,
            )
