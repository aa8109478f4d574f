"""Order-level input: rebuilding books from MBO, and sor fills --compare on a whole day.

1. Rebuild speed: the shared GOOGL MBO day (157,187 records) and a 5-million-record MBO
   file made from it (the day repeated with later times and fresh order ids, built once
   under ``.sor/bench/``). Timed: the compiled rebuild alone (records in memory to
   events), the whole read (file to events: decompress, check, rebuild, sort), and, as the
   baseline in the same run, databento's own ``DBNStore.to_df()`` of the same file. Peak
   memory of the whole read, in a fresh process, against the size of the events it
   returns (the decoded records) and of the file's raw records.
2. ``sor fills --compare`` on the shared AMZN day (LOBSTER, 5 levels): orders every
   second, 100, 1,000 and 5,000 shares, 2, 10 and 60 s, three queue models; and, as the
   baseline, the plain study of one model on the same orders.

Needs ``../shared/data``; says so and stops where it is absent. Run:
``python benchmarks/bench_orderlevel.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
GOOGL = SHARED / "dbeq-basic-20240403-googl.mbo.dbn.zst"
AMZN = SHARED / "lobster" / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip"
CACHE = Path(__file__).resolve().parents[1] / ".sor" / "bench"
BIG = 5_000_000
WEEK_NS = 7 * 86_400 * 10**9
"""The long file repeats a three-hour day over four days: its times stay inside this."""
SOR = [sys.executable, "-m", "sor"]


def _best(work: Callable[[], object], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return min(times)


def _big_file() -> Path:
    """The GOOGL day repeated to 5 million records, later times and fresh ids each time."""
    from sor.data.dbn import _metadata, _stream, record_dtype

    path = CACHE / "mbo_5m.dbn"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    stream, _ = _stream(GOOGL)
    _, _, start = _metadata(GOOGL, stream)
    seed = np.frombuffer(bytes(stream[start:]), dtype=record_dtype("mbo"))
    copies = -(-BIG // len(seed))
    span = int(seed["ts_event"].max() - seed["ts_event"].min()) + 1
    parts = []
    for k in range(copies):
        part = seed.copy()
        part["ts_event"] += np.uint64(k * span)
        part["ts_recv"] += np.uint64(k * span)
        ids = part["order_id"] != 0
        part["order_id"][ids] += np.uint64(k) << np.uint64(56)
        parts.append(part)
    records = np.concatenate(parts)[:BIG]
    with path.open("wb") as handle:
        handle.write(bytes(stream[:start]))
        handle.write(records.tobytes())
    return path


_PROBE = """
import resource, sys
from pathlib import Path
from sor.data.events import read_events
from sor.data.orderlevel import read_order_level

def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

read_order_level(Path(sys.argv[2]))  # a small file: imports, compiled kernels, caches
before = peak()
events = read_events(Path(sys.argv[1]), max_ts_distance_ns=int(sys.argv[3]))
print(events.nbytes, peak() - before)
"""


def _peak_of_read(path: Path) -> tuple[float, float]:
    """Growth of peak RSS (MB) while a warm process reads ``path`` to events (which stay
    alive), and the events' size (MB)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(path), str(GOOGL), str(WEEK_NS)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    nbytes, grown = (int(v) for v in out.stdout.split())
    return grown / 1e6, nbytes / 1e6


def rebuild() -> None:
    import databento

    from sor.data.mbo import read_mbo_records, rebuild_events
    from sor.data.orderlevel import _cache, read_order_level

    print("Rebuilding books from Databento MBO (one core)")
    files = (("GOOGL day", GOOGL), ("5 M records", _big_file()))
    # first, while this process is small: a child's peak RSS starts at its parent's size
    peaks = {label: _peak_of_read(path) for label, path in files}
    for label, path in files:
        records = read_mbo_records(path, skip_bad_rows=False, max_ts_distance_ns=WEEK_NS)
        n = len(records)
        rebuild_events(records, skip_bad_rows=False)  # compiled and warm

        def whole(p: Path = path) -> None:
            _cache.clear()
            read_order_level(p, max_ts_distance_ns=WEEK_NS)

        kernel = _best(lambda r=records: rebuild_events(r, skip_bad_rows=False))
        read = _best(whole)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = _best(lambda p=path: databento.DBNStore.from_file(p).to_df(), runs=2)
        extra, events_mb = peaks[label]
        raw_mb = n * 56 / 1e6
        print(f"  {label} ({n:,} records)")
        print(
            f"    rebuild (records -> events)      {kernel:7.3f} s  {n / kernel / 1e6:5.1f} M records/s"
        )
        print(
            f"    whole read (file -> events)      {read:7.3f} s  {n / read / 1e6:5.1f} M records/s"
        )
        print(f"    databento to_df(), same file     {frame:7.3f} s  {n / frame / 1e6:5.1f} M records/s"
              f"  (whole read {frame / read:.1f}x faster)")  # fmt: skip
        print(f"    peak memory of the read          {extra:7.0f} MB  ({extra / events_mb:.2f}x the "
              f"{events_mb:.0f} MB of events; raw records {raw_mb:.0f} MB)")  # fmt: skip


def compare() -> None:
    print("sor fills --compare on the AMZN day (LOBSTER, 5 levels)")
    with tempfile.TemporaryDirectory() as folder:
        with zipfile.ZipFile(AMZN) as handle:
            handle.extractall(folder)
        message = next(Path(folder).glob("*_message_5.csv"))
        args = ["fills", "--data", str(message), "--every", "1", "--size", "100,1000,5000",
                "--horizon", "2,10,60", "--no-plot", "--quiet"]  # fmt: skip
        subprocess.run([*SOR, *args[:3], "--every", "100", "--no-plot", "--quiet"],
                       capture_output=True, check=True)  # compiled and cached  # fmt: skip
        began = time.perf_counter()
        single = subprocess.run([*SOR, *args], capture_output=True, text=True, check=True)
        plain = time.perf_counter() - began
        began = time.perf_counter()
        both = subprocess.run([*SOR, *args, "--compare"], capture_output=True, text=True,
                              check=True)  # fmt: skip
        compared = time.perf_counter() - began
    del single
    cells = json.loads(both.stdout)["compare"]["2"]
    print(f"  --compare (FIFO and two models, 9 x 23,400 orders)  {compared:6.1f} s (goal < 60 s)")
    print(f"  baseline: the study of one model on the same orders  {plain:6.1f} s")
    print(f"  {'size':>5} {'horizon':>8}  {'FIFO frac':>9} {'full':>6}  "
          f"{'conservative frac':>17} {'full':>6} {'same':>6}  {'probabilistic same':>18}")  # fmt: skip
    for size, by_horizon in cells.items():
        for horizon, cell in by_horizon.items():
            fifo, cons, prob = cell["fifo"], cell["conservative"], cell["probabilistic"]
            print(f"  {size:>5} {horizon + ' s':>8}  {fifo['mean_filled_fraction']:9.4f} "
                  f"{fifo['p_full_fill']:6.4f}  {cons['mean_filled_fraction']:17.4f} "
                  f"{cons['p_full_fill']:6.4f} {100 * cons['identical_quantity']:5.1f}%  "
                  f"{100 * prob['identical_quantity']:17.1f}%")  # fmt: skip


def main() -> None:
    if not GOOGL.is_file() or not AMZN.is_file():
        print(f"bench_orderlevel: {SHARED} does not hold the shared real data; skipped")
        return
    rebuild()
    print()
    compare()


if __name__ == "__main__":
    main()
