"""Speed of reading a 10-million-record DBN file, every record checked.

Builds (once, cached under ``.sor/bench/``) an MBP-1 DBN file of 10,000,000 records, plain
and zstd-compressed, by repeating the records of a small generated market with increasing
times, then times :func:`sor.data.reader.read_market` on each, the record checks alone
(:func:`sor.data.dbn.read_dbn`), and, as a reference, databento's own decode of the same
file into an array (which checks nothing). Run: ``python benchmarks/bench_dbn.py``.
"""

from __future__ import annotations

import resource
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dbn_encode import csv_to_dbn
from sor.data.dbn import read_dbn, record_dtype
from sor.data.generate import generate_market
from sor.data.reader import read_market

RECORDS = 10_000_000
CACHE = Path(__file__).resolve().parents[1] / ".sor" / "bench"


def _build(path: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "seed.csv"
        generate_market(source, venues=6, depth=1, end="2024-08-01T13:36:42Z")
        small = csv_to_dbn(source, Path(tmp) / "seed.dbn").read_bytes()
    start = 8 + struct.unpack_from("<I", small, 4)[0]
    seed = np.frombuffer(small[start:], dtype=record_dtype("mbp-1"))
    records = np.resize(seed, RECORDS)
    step = 10_000  # ns: 10 million records span 100 s
    records["ts_event"] = seed["ts_event"][0] + np.arange(RECORDS, dtype=np.uint64) * step
    with path.open("wb") as handle:
        handle.write(small[:start])
        handle.write(records.tobytes())


def _timed(label: str, work: Callable[[], object]) -> None:
    began = time.perf_counter()
    work()
    print(f"  {label:<44} {time.perf_counter() - began:6.2f} s")


def main() -> None:
    CACHE.mkdir(parents=True, exist_ok=True)
    plain = CACHE / "mbp1_10m.dbn"
    packed = CACHE / "mbp1_10m.dbn.zst"
    if not plain.exists():
        print(f"building {plain} ({RECORDS:,} records, once)...", file=sys.stderr)
        _build(plain)
    if not packed.exists():
        with plain.open("rb") as source, packed.open("wb") as target:
            zstandard.ZstdCompressor().copy_stream(source, target)
    print(f"DBN: MBP-1, {RECORDS:,} records, {plain.stat().st_size / 1e9:.2f} GB plain")
    _timed("record checks alone (read_dbn), plain", lambda: read_dbn(plain))
    _timed("read_market, plain", lambda: read_market(plain))
    _timed("read_market, zstd", lambda: read_market(packed))

    def databento_decode() -> None:
        import databento

        databento.DBNStore.from_file(plain).to_ndarray()

    _timed("reference: databento to_ndarray (no checks)", databento_decode)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS of this process {peak:.0f} MB (a plain file is mapped, not read)")


if __name__ == "__main__":
    main()
