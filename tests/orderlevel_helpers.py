"""Order-level records written by hand, as the readers would read them, for the tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sor.data.mbo import MboRecords, rebuild_events

D = 1_000_000_000  # one dollar in nano-dollars
MBO_HEADER = ("ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,price,size,"
              "channel_id,order_id,flags,ts_in_delta,sequence,symbol")  # fmt: skip


def mbo_records(*rows: tuple, venue: int = 39) -> MboRecords:
    """Records of (ts, action, side, price $, size, order id[, flags[, venue]]): flags
    default to F_LAST (each record ends its event); ``venue`` is the publisher id."""
    n = len(rows)
    columns: dict[str, np.ndarray] = {
        "ts_event": np.zeros(n, np.int64),
        "publisher_id": np.full(n, venue, np.int32),
        "action": np.zeros(n, np.uint8),
        "side": np.zeros(n, np.uint8),
        "price": np.zeros(n, np.int64),
        "size": np.zeros(n, np.int64),
        "order_id": np.zeros(n, np.int64),
        "flags": np.full(n, 128, np.uint8),
    }
    for i, (ts, action, side, price, size, order_id, *rest) in enumerate(rows):
        columns["ts_event"][i] = ts
        columns["action"][i] = ord(action)
        columns["side"][i] = ord(side)
        columns["price"][i] = round(price * D) if price else 0
        columns["size"][i] = size
        columns["order_id"][i] = order_id
        if rest:
            columns["flags"][i] = rest[0]
        if len(rest) > 1:
            columns["publisher_id"][i] = rest[1]
    return MboRecords(Path("hand.csv"), columns, n)


def mbo_events(*rows: tuple, venue: int = 39) -> np.ndarray:
    """The events of :func:`mbo_records` (checked: no bad record)."""
    return rebuild_events(mbo_records(*rows, venue=venue), skip_bad_rows=False).events


def write_mbo_csv(path: Path, *rows: tuple, venue: int = 39, symbol: str = "GOOGL") -> Path:
    """Write :func:`mbo_records` rows as a Databento MBO CSV (pretty timestamps and prices)."""
    from sor.data.reader import format_timestamp

    lines = [MBO_HEADER]
    for seq, (ts, action, side, price, size, order_id, *rest) in enumerate(rows):
        flags = rest[0] if rest else 128
        publisher = rest[1] if len(rest) > 1 else venue
        stamp = format_timestamp(ts)
        px = f"{price:.9f}".rstrip("0").rstrip(".") if price else ""
        lines.append(f"{stamp},{stamp},160,{publisher},7152,{action},{side},{px},{size},0,"
                     f"{order_id},{flags},0,{seq},{symbol}")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path
