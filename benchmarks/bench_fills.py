"""``sor fills`` speed: orders every second on every venue of the nine-minute six-venue demo
market, three horizons (goal: under 10 s), beside the time to read the events once.

Run: ``python benchmarks/bench_fills.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from sor.ck.fills import StudyOptions, study
from sor.ck.queue import attach_venues
from sor.data.events import read_events
from sor.data.generate import generate_market


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "market.csv"
        generate_market(path, venues=6, depth=10)
        began = time.perf_counter()
        events, venues = attach_venues(read_events(path))
        read_s = time.perf_counter() - began
    options = StudyOptions(every_s=1.0, size=200, horizons_s=(0.5, 2.0, 10.0))
    study(events[:1000], venues, options)  # compiles the kernels
    began = time.perf_counter()
    _, rows = study(events, venues, options)
    study_s = time.perf_counter() - began
    print(f"fill study: {len(events):,} events, {len(venues)} venues, {len(rows):,} orders")
    print(f"  read the events                {read_s:6.2f} s")
    print(f"  study (every 1 s, 3 horizons)  {study_s:6.2f} s")
    print(f"  total                          {read_s + study_s:6.2f} s  (goal: < 10)")


if __name__ == "__main__":
    main()
