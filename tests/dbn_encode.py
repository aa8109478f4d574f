"""Encode a Databento CSV as DBN, record for record, for tests that compare the two inputs."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import databento_dbn as dbn
import zstandard

from sor.core.timestamps import parse_timestamp

UNDEFINED_PRICE = 2**63 - 1


def _nanos(text: str) -> int:
    return int(Decimal(text) * 1_000_000_000)


def _px(text: str) -> int:
    return _nanos(text) if text else UNDEFINED_PRICE


def csv_to_dbn(source: Path, target: Path) -> Path:
    """Encode an MBP-1 or MBP-10 CSV as a DBN file, record for record."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    depth = 10 if "bid_px_09" in rows[0] else 1
    meta = dbn.Metadata(
        dataset="XNAS.ITCH",
        start=0,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.MBP_10 if depth == 10 else dbn.Schema.MBP_1,
        symbols=["AAPL"],
    )
    payload = [bytes(meta.encode())]  # joined once: adding to bytes copies them each time
    message = dbn.MBP10Msg if depth == 10 else dbn.MBP1Msg
    for row in rows:
        levels = [
            dbn.BidAskPair(
                bid_px=_px(row[f"bid_px_{k:02d}"]),
                ask_px=_px(row[f"ask_px_{k:02d}"]),
                bid_sz=int(row[f"bid_sz_{k:02d}"]),
                ask_sz=int(row[f"ask_sz_{k:02d}"]),
                bid_ct=int(row[f"bid_ct_{k:02d}"]),
                ask_ct=int(row[f"ask_ct_{k:02d}"]),
            )
            for k in range(depth)
        ]
        record = message(
            publisher_id=int(row["publisher_id"]),
            instrument_id=int(row["instrument_id"]),
            ts_event=parse_timestamp(row["ts_event"]),
            price=_px(row["price"]),
            size=int(row["size"]),
            action=dbn.Action(row["action"]),
            side=dbn.Side(row["side"]),
            depth=int(row["depth"]),
            ts_recv=parse_timestamp(row["ts_recv"]),
            flags=int(row["flags"]),
            levels=levels if depth == 10 else levels[0],
        )
        payload.append(bytes(record))
    _write(target, b"".join(payload))
    return target


def mbo_csv_to_dbn(source: Path, target: Path) -> Path:
    """Encode a Databento MBO CSV (pretty timestamps and prices) as DBN, record for record."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    meta = dbn.Metadata(
        dataset="DBEQ.BASIC",
        start=0,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.MBO,
        symbols=["GOOGL"],
    )
    payload = [bytes(meta.encode())]
    for row in rows:
        record = dbn.MBOMsg(
            publisher_id=int(row["publisher_id"]),
            instrument_id=int(row["instrument_id"]),
            ts_event=parse_timestamp(row["ts_event"]),
            order_id=int(row["order_id"]),
            price=_px(row["price"]),
            size=int(row["size"]),
            action=dbn.Action(row["action"]),
            side=dbn.Side(row["side"]),
            ts_recv=parse_timestamp(row["ts_recv"]),
            flags=int(row["flags"]),
            sequence=int(row["sequence"]),
        )
        payload.append(bytes(record))  # 56 bytes: the metadata says no ts_out
    _write(target, b"".join(payload))
    return target


def _write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target``, zstd-compressed when its name ends in .zst."""
    if target.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    target.write_bytes(data)
