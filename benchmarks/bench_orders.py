"""Speed and memory of a blotter's backtest (``sor backtest --orders``), static model.

Generates the demo market (six venues, MBP-10, nine minutes: what ``sor generate`` writes
by default) and a seeded blotter of 1,000 parent orders (times uniform over the market's
span, sizes of 1,000 to 20,000 shares, both sides), then times, in process through
:func:`sor.backtest` and after a warm-up that compiles the kernels:
- one single-order backtest of the same file with the default grid (the baseline);
- the blotter's backtest with the same grid: the market read once, every order routed by
  the router under each parameter set and by the three baselines, and the TCA report.

Goal: the blotter under 3 x the baseline plus 1 ms per order per parameter set. Memory:
the peak RSS of each run in a child process (``sor backtest --no-plot``), beside a child
that only imports the package, and of a blotter of a tenth as many orders: the peak
follows the market, not the count of orders.
Run: ``python benchmarks/bench_orders.py``, from a small process (a child's peak RSS
includes its parent's memory at fork time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import sor
from bench_memory import peak_rss_mb
from sor.core.search import SearchGrid
from sor.data.generate import generate_market
from sor.data.reader import read_market

ORDERS = 1_000
SIZES = (1_000, 20_000)
SEED = 24
REPEATS = 3


def _best(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def write_blotter(path: Path, first_ns: int, last_ns: int, count: int = ORDERS) -> Path:
    """Write ``count`` orders: arrivals uniform over ``[first_ns, last_ns]``, sizes uniform
    over :data:`SIZES` in lots of 100, either side; seeded, so every run routes the same."""
    rng = np.random.default_rng(SEED)
    times = np.sort(rng.integers(first_ns, last_ns, size=count, endpoint=True))
    lots = rng.integers(SIZES[0] // 100, SIZES[1] // 100, size=count, endpoint=True)
    sides = rng.choice(["buy", "sell"], size=count)
    lines = ["id,time,side,size"]
    lines += [
        f"o{k},{t},{s},{lot * 100}"
        for k, (t, s, lot) in enumerate(zip(times, sides, lots, strict=True))
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def prepare(folder: Path, orders: int = ORDERS, warm: int = 10) -> None:
    """Write the demo market and the blotters: the timed one of ``orders``, a tenth of it
    for the memory and one of ``warm`` orders to warm up."""
    market_path = folder / "demo.csv"
    generate_market(market_path)
    market = read_market(market_path)
    assert market.first_ts is not None and market.last_ts is not None
    write_blotter(folder / "orders.csv", market.first_ts, market.last_ts, orders)
    write_blotter(folder / "tenth.csv", market.first_ts, market.last_ts, orders // 10)
    write_blotter(folder / "warm.csv", market.first_ts, market.last_ts, warm)


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        # The files are written by a child and the memory children run before any work
        # here: a child's peak RSS counts this process's memory when it starts.
        subprocess.run([sys.executable, __file__, "--prepare", name], check=True)
        market_path, blotter = folder / "demo.csv", folder / "orders.csv"
        command = [sys.executable, "-m", "sor", "backtest", "--data", str(market_path),
                   "--no-plot", "--quiet", "--json-out", os.devnull]  # fmt: skip
        import_mb, _ = peak_rss_mb([sys.executable, "-c", "import sor.cli, sor.static.orders"])
        single_mb, _ = peak_rss_mb(command)
        tenth_mb, _ = peak_rss_mb([*command, "--orders", str(folder / "tenth.csv")])
        orders_mb, _ = peak_rss_mb([*command, "--orders", str(blotter)])
        market = read_market(market_path)
        file_mb, market_mb = market_path.stat().st_size / 1e6, market.snapshots.nbytes / 1e6
        sets = len(SearchGrid.of_model("static").parameter_sets())
        sor.backtest(market_path, orders=folder / "warm.csv")  # compile or load the kernels
        single_s = _best(lambda: sor.backtest(market_path))
        orders_s = _best(lambda: sor.backtest(market_path, orders=blotter), repeats=2)
    budget_s = 3 * single_s + 1e-3 * ORDERS * sets
    print(f"blotter backtest: six-venue MBP-10 demo file, {market.rows_read:,} rows "
          f"({file_mb:.0f} MB; {market_mb:.1f} MB of snapshots), {ORDERS:,} orders of "
          f"{SIZES[0]:,} to {SIZES[1]:,} shares, {sets} parameter sets")  # fmt: skip
    print(f"  one single-order backtest (baseline)   {single_s * 1e3:9.1f} ms")
    print(f"  the blotter's backtest                 {orders_s * 1e3:9.1f} ms"
          f"  ({orders_s / ORDERS * 1e3:.2f} ms per order)")  # fmt: skip
    print(f"  budget: 3 x baseline + 1 ms x {ORDERS:,} x {sets}"
          f" {budget_s * 1e3:9.1f} ms")  # fmt: skip
    print(f"  ratio to the budget                    {orders_s / budget_s:9.3f}    (goal: < 1)")
    print(f"  ratio to the baseline                  {orders_s / single_s:9.1f} x")
    print(f"  peak RSS, import only                  {import_mb:9.0f} MB")
    print(f"  peak RSS, one order                    {single_mb:9.0f} MB")
    print(f"  peak RSS, the blotter: {ORDERS // 10:,} orders       {tenth_mb:9.0f} MB")
    print(f"  peak RSS, the blotter: {ORDERS:,} orders     {orders_mb:9.0f} MB"
          f"  (goal: as for {ORDERS // 10:,}; above one order by a few times the "
          f"market's {market_mb:.1f} MB of snapshots at most)")  # fmt: skip
    return {"rows": float(market.rows_read), "orders": float(ORDERS),
            "parameter_sets": float(sets), "single_s": single_s, "orders_s": orders_s,
            "budget_s": budget_s, "file_mb": file_mb, "market_mb": market_mb,
            "import_mb": import_mb, "single_mb": single_mb, "tenth_mb": tenth_mb,
            "orders_mb": orders_mb}  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--prepare"]:
        prepare(Path(sys.argv[2]))
    else:
        main()
