"""Model-ck backtest speed per parameter set on a nine-minute six-venue MBP-10 file.

One core (the router run alone, after the events are read once), beside the time to read
the events, in the same run (goal: under 10 s per parameter set). Then the search of
``sor backtest --model ck`` (its default grid and horizons, and a larger grid) on one worker
and on two, in the same run: wall times and speed-up (the workers are forked processes on
Linux; the speed-up is bounded by the free cores).
Run: ``python benchmarks/bench_ck_backtest.py``.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path

import numpy as np

from sor.ck.backtest import DEFAULT_CK_GRID
from sor.ck.latency import OrderLatency
from sor.ck.queue import attach_venues
from sor.ck.router import CKResult, CKSettings, arrival, outflows, run_ck
from sor.core.defaults import DEFAULT_HORIZONS_S
from sor.core.domain import RiskParameters
from sor.core.search import SearchGrid, run_grid
from sor.data.events import read_events
from sor.data.generate import generate_market

LARGER_GRID = SearchGrid((0.05,), (0.01, 0.02, 0.05, 0.1, 0.2), (0.0005, 0.001, 0.005, 0.01, 0.05))
LARGER_HORIZONS_S = (0.1, 0.2, 0.5, 2.0)


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
    arrival_ns = arrival(events, venues)[0]

    def evaluate(point: tuple[RiskParameters, float]) -> CKResult:
        # as sor.ck.backtest.run_ck_backtest evaluates each point of its search
        params, horizon = point
        return run_ck(events, venues, 5000, fees, rebates, params, horizon, window,
                      CKSettings(), flows=flows, arrival_ns=arrival_ns)  # fmt: skip

    for label, grid, horizons in (
        ("default search", DEFAULT_CK_GRID, DEFAULT_HORIZONS_S),
        ("larger search ", LARGER_GRID, LARGER_HORIZONS_S),
    ):
        points = list(itertools.product(grid.parameter_sets(), horizons))
        best: dict[int, float] = {}
        results: dict[int, list[CKResult]] = {}
        for workers in (1, 2, 1, 2):  # interleaved, best of two: the machine's load varies
            began = time.perf_counter()
            results[workers] = run_grid(evaluate, points, workers=workers, processes=True)
            best[workers] = min(best.get(workers, float("inf")), time.perf_counter() - began)
        assert results[1] == results[2], "the search differs between one worker and two"
        key = label.strip().replace(" ", "_")
        figures[f"{key}_1_worker_s"], figures[f"{key}_2_workers_s"] = best[1], best[2]
        print(f"  {label} ({len(points):3d} points), 1 worker {best[1]:7.3f} s, "
              f"2 workers {best[2]:7.3f} s, speed-up {best[1] / best[2]:4.2f}x")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
