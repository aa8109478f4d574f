"""What a read of market data gives every model: the kept venue rows of one input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class MarketData:
    """The kept venue rows of one input, in processing order.

    Attributes
    ----------
    snapshots
        Structured array of ``SNAPSHOT_DTYPE``: the first row of each venue at each
        ``ts_event``, sorted by ``ts_event`` with file order kept among equal values.
    source
        Where the rows came from (a path or a Kafka topic), for the report.
    sha256
        Hex SHA-256 of the input file, when the input is a file.
    rows_read
        Data rows read from the input, before windowing.
    rows_in_window
        Rows whose ``ts_event`` lies in the window, before keeping one per venue and time.
    skipped
        Rows dropped because they could not be parsed, counted per reason.
    events
        Every row of the window as ``EVENT_DTYPE`` (model ck), when the input carried them
        (an event stream); None otherwise (files are read for events on demand).
    trades
        The window's trades (``sor.data.events.TRADE_DTYPE``: time, venue, price, size) when
        a run asked for them (a blotter's interval VWAP); None otherwise.
    """

    snapshots: np.ndarray
    source: str
    sha256: str | None = None
    rows_read: int = 0
    rows_in_window: int = 0
    skipped: Mapping[str, int] = field(default_factory=dict)
    events: np.ndarray | None = None
    trades: np.ndarray | None = None

    @property
    def venues(self) -> np.ndarray:
        """Distinct publisher ids in ascending order."""
        return np.unique(self.snapshots["publisher_id"])

    @property
    def first_ts(self) -> int | None:
        """First kept ``ts_event`` in ns, or None when nothing was kept."""
        return int(self.snapshots["ts_event"][0]) if len(self.snapshots) else None

    @property
    def last_ts(self) -> int | None:
        """Last kept ``ts_event`` in ns, or None when nothing was kept."""
        return int(self.snapshots["ts_event"][-1]) if len(self.snapshots) else None
