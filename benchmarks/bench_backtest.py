"""Backtest speed against reading the same CSV into a DataFrame, in one run.

Generates a six-venue MBP-10 file of about 85,000 rows, then times (best of several runs,
after a warm-up that compiles the kernels):
- ``pandas.read_csv`` of the whole file (the baseline) and ``polars.read_csv`` for reference;
- the full backtest as ``sor backtest`` runs it without the plot: read, snapshots, the
  125-point search, the three baselines and the report;
- the same backtest of a sell (``--side sell``), whose goal is the buy's cost.

Run: ``python benchmarks/bench_backtest.py`` (or ``make bench``).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl

from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.report.builder import build_report, dumps
from sor.static.backtest import BacktestConfig, run_backtest

TARGET_ROWS = 85_000
REPEATS = 5


def _best(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def full_backtest(path: Path, side: str = "buy") -> str:
    """Do what ``sor backtest --data PATH --no-plot [--side sell]`` does, in process."""
    data = read_market(path)
    return dumps(build_report(run_backtest(data, BacktestConfig(side=side))))


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.csv"
        # about 111 messages per second per venue: 85,000 rows over six venues
        seconds = TARGET_ROWS / (6 * 111.0)
        end = pd.Timestamp("2024-08-01T13:36:32Z") + pd.Timedelta(seconds=seconds)
        summary = generate_market(path, venues=6, depth=10, end=end.isoformat())
        full_backtest(path)  # compile or load the cached kernels
        pandas_s = _best(lambda: pd.read_csv(path))
        polars_s = _best(lambda: pl.read_csv(path))
        backtest_s = _best(lambda: full_backtest(path))
        sell_s = _best(lambda: full_backtest(path, "sell"))
        size_mb = path.stat().st_size / 1e6
    figures = {
        "rows": float(summary.rows),
        "file_mb": size_mb,
        "pandas_read_csv_s": pandas_s,
        "polars_read_csv_s": polars_s,
        "full_backtest_125_sets_s": backtest_s,
        "ratio_to_pandas_read": backtest_s / pandas_s,
        "full_sell_backtest_125_sets_s": sell_s,
        "sell_to_buy_ratio": sell_s / backtest_s,
    }
    print(f"backtest speed: six-venue MBP-10 file, {summary.rows:,} rows, {size_mb:.1f} MB")
    print(f"  pandas.read_csv (baseline)      {pandas_s * 1e3:9.1f} ms")
    print(f"  polars.read_csv                 {polars_s * 1e3:9.1f} ms")
    print(f"  full backtest, 125-point grid   {backtest_s * 1e3:9.1f} ms")
    print(f"  ratio to the baseline           {backtest_s / pandas_s:9.2f} x  (goal: <= 3)")
    print(f"  the same backtest of a sell     {sell_s * 1e3:9.1f} ms")
    print(f"  sell to buy                     {sell_s / backtest_s:9.2f} x  (goal: 1)")
    return figures


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
