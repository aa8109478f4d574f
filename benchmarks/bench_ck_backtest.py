"""Model-ck backtest speed per parameter set on a nine-minute six-venue MBP-10 file.

One core (the router run alone, after the events are read once), beside the time to read
the events, in the same run (goal: under 10 s per parameter set).
Run: ``python benchmarks/bench_ck_backtest.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.search import RiskParameters
from sor.simulation.latency import OrderLatency
from sor.simulation.queue import attach_venues
from sor.strategies.ck import CKSettings, outflows, run_ck


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "market.csv"
        summary = generate_market(path, venues=6, depth=10)
        began = time.perf_counter()
        events, venues = attach_venues(read_events(path))
        read_s = time.perf_counter() - began
    fees = np.full(len(venues), 3_000_000, dtype=np.int64)
    rebates = np.full(len(venues), 2_000_000, dtype=np.int64)
    window = (int(events["ts_event"][0]), int(events["ts_event"][-1]))
    flows = outflows(events, len(venues))
    params = RiskParameters(0.05, 0.05, 0.0005)
    run_ck(events, venues, 5000, fees, rebates, params, 0.5, window, CKSettings(), flows=flows)
    figures = {"read_events_s": read_s}
    print(f"ck backtest: six-venue MBP-10 file, {summary.rows:,} rows, 5,000 shares, one core")
    print(f"  read the events (once per backtest)        {read_s:8.2f} s")
    sampled = CKSettings(OrderLatency(300_000, sigma=0.5, seed=7))
    for horizon, settings in ((0.2, CKSettings()), (2.0, CKSettings()), (30.0, CKSettings()),
                              (0.2, sampled)):  # fmt: skip
        began = time.perf_counter()
        run_ck(events, venues, 5000, fees, rebates, params, horizon, window, settings,
               flows=flows)  # fmt: skip
        took = time.perf_counter() - began
        latency = "sampled" if settings.latency.sampled else "constant"
        figures[f"per_set_T{horizon:g}_{latency}_s"] = took
        print(f"  one parameter set, T = {horizon:>4g} s, {latency:<8} latency "
              f"{took:8.3f} s  (goal: < 10)")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
