"""Speed and memory of a blotter's backtest under model ck (``sor backtest --model ck
--orders``).

Generates the demo market (six venues, MBP-10, nine minutes: what ``sor generate`` writes
by default) and a seeded blotter of 200 parent orders (times uniform over the market's
span, sizes of 1,000 to 20,000 shares, both sides; :func:`bench_orders.write_blotter`),
each with a window of 60 s (``--order-horizon 60``: at most to the end of the data), then
runs in child processes, after a warm-up that compiles or loads the kernels, with the
default grid and horizons and ``--workers 2``:
- one single-order ck backtest of the same file (the baseline);
- the blotter's backtest: the market and its events read once, every order routed by the
  router at every point of the search and by every baseline, and the TCA report;
- the same with a tenth of the orders, for the memory.

Goal: the 200 orders in under 60 s, command included; the peak RSS follows the market, not
the count of orders (as for 20 orders). Beside each wall time, the CPU seconds of the
command and its workers: on a shared machine they vary less than the wall time. Run: ``python benchmarks/bench_ck_orders.py``, from
a small process (a child's peak RSS includes its parent's memory at fork time).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_orders import prepare
from sor.core.defaults import DEFAULT_HORIZONS_S
from sor.core.search import SearchGrid

ORDERS = 200
ORDER_HORIZON_S = 60
WORKERS = 2
GOAL_S = 60.0


def measure(command: list[str]) -> tuple[float, float, float]:
    """Run ``command``; return its peak RSS (MB: of its largest process, the command or a
    worker), wall seconds and CPU seconds (the command and its workers)."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    wall = time.perf_counter() - began
    return usage.ru_maxrss / 1024, wall, usage.ru_utime + usage.ru_stime


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        # every run is a child: this process stays small (a child's peak RSS counts its
        # parent's memory when it starts)
        subprocess.run([sys.executable, __file__, "--prepare", name], check=True)
        market_path = folder / "demo.csv"
        command = [sys.executable, "-m", "sor", "backtest", "--data", str(market_path),
                   "--model", "ck", "--workers", str(WORKERS), "--no-plot", "--quiet",
                   "--json-out", os.devnull]  # fmt: skip
        orders = ["--order-horizon", str(ORDER_HORIZON_S), "--orders"]
        import_mb, _, _ = measure([sys.executable, "-c", "import sor.cli, sor.ck.orders"])
        measure([*command, *orders, str(folder / "warm.csv")])  # compile or load the kernels
        single_mb, single_s, single_cpu = measure(command)
        tenth_mb, tenth_s, tenth_cpu = measure([*command, *orders, str(folder / "tenth.csv")])
        orders_mb, orders_s, orders_cpu = measure([*command, *orders, str(folder / "orders.csv")])
        rows = sum(1 for _ in market_path.open("rb")) - 1
    points = len(SearchGrid.of_model("ck").parameter_sets()) * len(DEFAULT_HORIZONS_S)
    print(f"ck blotter backtest: six-venue MBP-10 demo file, {rows:,} rows, {ORDERS} orders "
          f"of 1,000 to 20,000 shares, {ORDER_HORIZON_S} s windows, {points} points of the "
          f"search, --workers {WORKERS}, each run a whole command")  # fmt: skip
    print(f"  one single-order ck backtest (baseline)  {single_s:8.1f} s  ({single_cpu:.1f} s CPU)")
    print(f"  the blotter: {ORDERS // 10} orders                  {tenth_s:8.1f} s"
          f"  ({tenth_cpu:.1f} s CPU)")  # fmt: skip
    print(f"  the blotter: {ORDERS} orders                 {orders_s:8.1f} s"
          f"  ({orders_cpu:.1f} s CPU; goal: < {GOAL_S:.0f} s; {ORDERS / orders_s:.1f} "
          f"orders/s, {orders_s / single_s:.1f} x the baseline)")  # fmt: skip
    print(f"  peak RSS, import only                    {import_mb:8.0f} MB")
    print(f"  peak RSS, one order                      {single_mb:8.0f} MB")
    print(f"  peak RSS, the blotter: {ORDERS // 10} orders        {tenth_mb:8.0f} MB")
    print(f"  peak RSS, the blotter: {ORDERS} orders       {orders_mb:8.0f} MB"
          f"  (goal: as for {ORDERS // 10})")  # fmt: skip
    return {"rows": float(rows), "orders": float(ORDERS), "points": float(points),
            "single_s": single_s, "tenth_s": tenth_s, "orders_s": orders_s,
            "single_cpu_s": single_cpu, "tenth_cpu_s": tenth_cpu, "orders_cpu_s": orders_cpu,
            "import_mb": import_mb, "single_mb": single_mb, "tenth_mb": tenth_mb,
            "orders_mb": orders_mb}  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1:2] == ["--prepare"]:
        prepare(Path(sys.argv[2]), ORDERS, warm=2)
    else:
        main()
