"""DBN input (plain and zstd) through the databento package gives what the CSV gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dbn_encode import csv_to_dbn
from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market


@pytest.mark.parametrize("name", ["tiny.dbn", "tiny.dbn.zst"])
def test_dbn_gives_the_same_snapshots_as_csv(tiny_csv: Path, tmp_path: Path, name: str) -> None:
    from_csv = read_market(tiny_csv)
    from_dbn = read_market(csv_to_dbn(tiny_csv, tmp_path / name))
    assert from_dbn.rows_read == from_csv.rows_read
    np.testing.assert_array_equal(from_dbn.snapshots, from_csv.snapshots)


def test_corrupt_dbn_is_a_clear_error(tmp_path: Path) -> None:
    from sor.core.errors import DataError

    path = tmp_path / "broken.dbn"
    path.write_bytes(b"DBN\x01garbage")
    with pytest.raises(DataError, match="cannot read as DBN"):
        read_market(path)


@pytest.mark.parametrize("name", ["tiny.dbn", "tiny.dbn.zst"])
def test_dbn_gives_the_same_events_as_csv(tiny_csv: Path, tmp_path: Path, name: str) -> None:
    from_csv = read_events(tiny_csv)
    from_dbn = read_events(csv_to_dbn(tiny_csv, tmp_path / name))
    assert from_csv.size > 0
    np.testing.assert_array_equal(from_dbn, from_csv)


def test_mbp10_dbn_gives_the_same_events_as_csv(tmp_path: Path) -> None:
    source = tmp_path / "mbp10.csv"
    generate_market(
        source, venues=2, seed=4, start="2024-08-01T13:36:32Z", end="2024-08-01T13:36:37Z"
    )
    from_csv = read_events(source)
    from_dbn = read_events(csv_to_dbn(source, tmp_path / "mbp10.dbn"))
    assert set(from_csv["action"]) == {b"A", b"C", b"T"}
    assert (from_csv["ask_px"][:, 9] > 0).all()  # all ten levels carried
    np.testing.assert_array_equal(from_dbn, from_csv)
    # the window applies to both alike
    start = int(from_csv["ts_event"][len(from_csv) // 3])
    end = int(from_csv["ts_event"][2 * len(from_csv) // 3])
    np.testing.assert_array_equal(
        read_events(tmp_path / "mbp10.dbn", start_ns=start, end_ns=end),
        read_events(source, start_ns=start, end_ns=end),
    )
