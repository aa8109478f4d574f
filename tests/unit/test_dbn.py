"""DBN input (plain and zstd) through the databento package gives what the CSV gives."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import databento_dbn as dbn
import numpy as np
import pytest
import zstandard

from sor.data.reader import parse_timestamp, read_market


def _nanos(text: str) -> int:
    return int(Decimal(text) * 1_000_000_000)


def csv_to_dbn(source: Path, target: Path) -> Path:
    """Encode an MBP-1 CSV as a DBN file, record for record."""
    meta = dbn.Metadata(
        dataset="XNAS.ITCH",
        start=0,
        stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID,
        schema=dbn.Schema.MBP_1,
        symbols=["AAPL"],
    )
    payload = bytes(meta.encode())
    with source.open(newline="") as handle:
        for row in csv.DictReader(handle):
            level = dbn.BidAskPair(
                bid_px=_nanos(row["bid_px_00"]),
                ask_px=_nanos(row["ask_px_00"]),
                bid_sz=int(row["bid_sz_00"]),
                ask_sz=int(row["ask_sz_00"]),
                bid_ct=int(row["bid_ct_00"]),
                ask_ct=int(row["ask_ct_00"]),
            )
            record = dbn.MBP1Msg(
                publisher_id=int(row["publisher_id"]),
                instrument_id=int(row["instrument_id"]),
                ts_event=parse_timestamp(row["ts_event"]),
                price=_nanos(row["price"]),
                size=int(row["size"]),
                action=dbn.Action.ADD,
                side=dbn.Side.ASK,
                depth=0,
                ts_recv=parse_timestamp(row["ts_recv"]),
                flags=int(row["flags"]),
                levels=level,
            )
            payload += bytes(record)
    if target.name.endswith(".zst"):
        payload = zstandard.ZstdCompressor().compress(payload)
    target.write_bytes(payload)
    return target


@pytest.mark.parametrize("name", ["tiny.dbn", "tiny.dbn.zst"])
def test_dbn_gives_the_same_snapshots_as_csv(tiny_csv: Path, tmp_path: Path, name: str) -> None:
    from_csv = read_market(tiny_csv)
    from_dbn = read_market(csv_to_dbn(tiny_csv, tmp_path / name))
    assert from_dbn.rows_read == from_csv.rows_read
    np.testing.assert_array_equal(from_dbn.snapshots, from_csv.snapshots)


def test_corrupt_dbn_is_a_clear_error(tmp_path: Path) -> None:
    from sor.errors import DataError

    path = tmp_path / "broken.dbn"
    path.write_bytes(b"DBN\x01garbage")
    with pytest.raises(DataError, match="cannot read as DBN"):
        read_market(path)
