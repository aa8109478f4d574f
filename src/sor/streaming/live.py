"""The static router run live on a stream, reporting fills as they happen.

It applies the same rules as the backtest's router (docs/semantics.md sections 3 to 5, and
section 10 for a sell, which takes the bids): a
timestamp is complete when a snapshot with a later ``ts_event`` arrives (or the stream
ends); then the router acts once on the state. Its fills equal the backtest router's.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from sor.core.domain import VenueCosts, dollars_to_nanos, nanos_to_dollars
from sor.core.errors import SorError
from sor.data.reader import format_timestamp
from sor.static.allocator import TOO_LARGE, check_notional, static_split, too_large_message

log = logging.getLogger(__name__)


class LiveRouter:
    """Feed snapshot messages in ``seq`` order with ``on_snapshot``; call ``finish`` at the end."""

    def __init__(
        self,
        order_size: int,
        costs: VenueCosts,
        *,
        window: tuple[int | None, int | None] = (None, None),
        side: str = "buy",
    ) -> None:
        self.order_size = order_size
        self.sell = side == "sell"
        self._quote_keys = ("bid_px_nanos", "bid_sz") if self.sell else ("ask_px_nanos", "ask_sz")
        self.costs = costs
        self.window = window
        """Inclusive ``ts_event`` bounds (None: open) outside which snapshots are ignored."""
        self.reset()

    def reset(self, _replay: str | None = None) -> None:
        """Start afresh (the stream switched to another replay): no fills, no quotes."""
        self.filled = 0
        self.cash_nanos = 0
        self.fills: list[tuple[int, int, int, int]] = []
        self._quotes: dict[int, tuple[int, int]] = {}
        self._consumed: dict[int, int] = {}
        self._fees: dict[int, int] = {}
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
        venue = message["publisher_id"]
        price, size = self._quote_keys
        self._quotes[venue] = (message[price], message[size])
        self._consumed[venue] = 0
        if venue not in self._fees:
            self._fees[venue] = dollars_to_nanos(self.costs.fee(venue))

    def finish(self) -> None:
        """Act on the last timestamp."""
        if self._ts is not None:
            self._act(self._ts)
            self._ts = None

    def _act(self, ts: int) -> None:
        remaining = self.order_size - self.filled
        if remaining <= 0:
            return
        venues = [
            v
            for v in sorted(self._quotes)
            if self._quotes[v][0] > 0 and self._quotes[v][1] - self._consumed[v] > 0
        ]
        if not venues:
            return
        ask = np.array([self._quotes[v][0] for v in venues], dtype=np.int64)
        size = np.array([self._quotes[v][1] - self._consumed[v] for v in venues], dtype=np.int64)
        fee = np.array([self._fees[v] for v in venues], dtype=np.int64)
        split = np.zeros(len(venues), dtype=np.int64)
        check_notional(remaining, int((ask + fee).max()), int((ask + fee).min()))
        status = static_split(remaining, ask, size, fee, split, self.sell)
        if status == TOO_LARGE:
            raise SorError(f"at {format_timestamp(ts)}: {too_large_message(remaining)}")
        if status < 0:
            return
        for venue, quantity, price, venue_fee in zip(venues, split, ask, fee, strict=True):
            if quantity <= 0:
                continue
            self._consumed[venue] += int(quantity)
            self.filled += int(quantity)
            # a sell's cash is its proceeds, net of the fee
            self.cash_nanos += int(quantity) * int(
                price - venue_fee if self.sell else price + venue_fee
            )
            self.fills.append((ts, venue, int(quantity), int(price)))
            log.info(
                "live fill %s: %d @ %.4f on publisher %d (%d/%d filled)",
                format_timestamp(ts),
                quantity,
                nanos_to_dollars(int(price)),
                venue,
                self.filled,
                self.order_size,
            )
