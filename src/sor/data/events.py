"""Every row of a Databento MBP file as an event, for the queue-aware simulator (model ck).

Unlike the snapshots of SEMANTICS.md, nothing is deduplicated: trades and cancellations at
the bid are what move a resting order's queue position, so every row counts. Rows are
ordered by ``ts_event`` with a stable sort (file order among equal values).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from sor.data.reader import (
    _nanos_expr,
    _parse_expr,
    _snapshots,
    csv_format,
    csv_header,
    dbn_frame,
    dbn_prices,
    is_dbn,
)
from sor.errors import DataError

LEVELS = 10

EVENT_DTYPE = np.dtype(
    [
        ("ts_event", np.int64),
        ("publisher_id", np.int32),
        ("action", "S1"),  # A add, C cancel, T trade, F fill, M modify, R clear
        ("side", "S1"),  # B bid, A ask; for trades the aggressor: A = a sell hitting bids
        ("price", np.int64),  # nano-dollars
        ("size", np.int64),
        ("bid_px", np.int64),
        ("bid_sz", np.int64),
        ("ask_px", np.int64, (LEVELS,)),  # 0 where the level is absent
        ("ask_sz", np.int64, (LEVELS,)),
    ]
)


def _csv_frame(file: Path, start_ns: int, end_ns: int) -> pl.DataFrame:
    """The window's rows of a CSV with the columns of :func:`_to_events`."""
    needed = ("ts_event", "publisher_id", "action", "side", "price", "size", "bid_px_00",
              "bid_sz_00", "ask_px_00", "ask_sz_00")  # fmt: skip
    header = csv_header(file, needed, "--model ck needs them")
    levels = [k for k in range(LEVELS) if f"ask_px_{k:02d}" in header]
    wanted = [*needed, *(f"{n}_{k:02d}" for k in levels[1:] for n in ("ask_px", "ask_sz"))]
    try:
        with csv_format(file):
            return _csv_rows(file, wanted, levels, start_ns, end_ns)
    except pl.exceptions.PolarsError as exc:
        raise DataError(
            f"cannot read the events for --model ck: {exc}; run the static model with "
            "--skip-bad-rows to locate bad rows",
            path=str(file),
        ) from exc


def _csv_rows(
    file: Path, wanted: list[str], levels: list[int], start_ns: int, end_ns: int
) -> pl.DataFrame:
    return (
        pl.scan_csv(file, infer_schema=False)
        .select(wanted)
        .with_columns(_parse_expr("ts_event").alias("ts_event"))
        .filter(pl.col("ts_event").is_between(start_ns, end_ns))
        .select(
            pl.col("ts_event"),
            pl.col("publisher_id").cast(pl.Int32),
            pl.col("action"),
            pl.col("side"),
            _nanos_expr("price", ["price"]).alias("price"),
            pl.col("size").cast(pl.Int64).fill_null(0),
            _nanos_expr("bid_px_00", wanted).alias("bid_px"),
            pl.col("bid_sz_00").cast(pl.Int64).fill_null(0).alias("bid_sz"),
            *[_nanos_expr(f"ask_px_{k:02d}", wanted).alias(f"ask_px_{k}") for k in levels],
            *[
                pl.col(f"ask_sz_{k:02d}").cast(pl.Int64).fill_null(0).alias(f"ask_sz_{k}")
                for k in levels
            ],
        )
        .collect()
    )


def _dbn_frame(file: Path, start_ns: int, end_ns: int) -> pl.DataFrame:
    """The window's records of a DBN file with the columns of :func:`_to_events`."""
    records = dbn_frame(file)
    levels = [k for k in range(LEVELS) if f"ask_px_{k:02d}" in records.columns]
    ts = records["ts_event"].to_numpy(dtype=np.int64)
    keep = (ts >= start_ns) & (ts <= end_ns)
    columns: dict[str, np.ndarray] = {
        "ts_event": ts[keep],
        "publisher_id": records["publisher_id"].to_numpy(dtype=np.int32)[keep],
        "action": records["action"].to_numpy(dtype=str)[keep],
        "side": records["side"].to_numpy(dtype=str)[keep],
        "price": dbn_prices(records["price"].to_numpy(dtype=np.int64))[keep],
        "size": records["size"].to_numpy(dtype=np.int64)[keep],
        "bid_px": dbn_prices(records["bid_px_00"].to_numpy(dtype=np.int64))[keep],
        "bid_sz": records["bid_sz_00"].to_numpy(dtype=np.int64)[keep],
    }
    for k in levels:
        columns[f"ask_px_{k}"] = dbn_prices(records[f"ask_px_{k:02d}"].to_numpy(np.int64))[keep]
        columns[f"ask_sz_{k}"] = records[f"ask_sz_{k:02d}"].to_numpy(dtype=np.int64)[keep]
    return pl.DataFrame(columns)


def _to_events(frame: pl.DataFrame) -> np.ndarray:
    """Stable-sort the rows by ``ts_event`` into ``EVENT_DTYPE`` (absent ask levels stay 0)."""
    order = np.argsort(frame["ts_event"].to_numpy(), kind="stable")
    events = np.zeros(frame.height, dtype=EVENT_DTYPE)
    for name in ("ts_event", "publisher_id", "price", "size", "bid_px", "bid_sz"):
        events[name] = frame[name].to_numpy()[order]
    for name in ("action", "side"):
        events[name] = frame[name].to_numpy().astype("S1")[order]
    for k in range(LEVELS):
        if f"ask_px_{k}" in frame.columns:
            events["ask_px"][:, k] = frame[f"ask_px_{k}"].to_numpy()[order]
            events["ask_sz"][:, k] = frame[f"ask_sz_{k}"].to_numpy()[order]
    return events


def read_events(
    path: str | Path, *, start_ns: int | None = None, end_ns: int | None = None
) -> np.ndarray:
    """Read every row of the window as ``EVENT_DTYPE``, in ``ts_event`` order.

    ``path`` is a Databento MBP-1/MBP-10 CSV or DBN file (``.dbn``, ``.dbn.zst``); both give
    the same events for the same records.

    Raises
    ------
    DataError
        The file is missing, lacks a needed column, or a row cannot be parsed.
    """
    file = Path(path)
    if not file.is_file():
        raise DataError("no such data file", path=str(file))
    lo = start_ns if start_ns is not None else -(2**62)
    hi = end_ns if end_ns is not None else 2**62
    frame = _dbn_frame(file, lo, hi) if is_dbn(file) else _csv_frame(file, lo, hi)
    return _to_events(frame)


def snapshots_from_events(events: np.ndarray) -> np.ndarray:
    """Return the snapshots of SEMANTICS.md (first row of each venue at each ``ts_event``)
    of events in :func:`read_events` order: what :func:`sor.data.reader.read_market` keeps
    from the same rows."""
    columns = {
        "ts_event": events["ts_event"],
        "publisher_id": events["publisher_id"],
        "ask_px": events["ask_px"][:, 0],
        "ask_sz": events["ask_sz"][:, 0],
        "bid_px": events["bid_px"],
        "bid_sz": events["bid_sz"],
    }
    snapshots, _ = _snapshots(columns, start_ns=None, end_ns=None)
    return snapshots
