"""Print every benchmark's figures: ``make bench``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bench_allocator
import bench_backtest
import bench_ck
import bench_ck_backtest
import bench_dbn
import bench_event_stream
import bench_generate
import bench_streaming

if __name__ == "__main__":
    for bench in (
        bench_allocator,
        bench_backtest,
        bench_streaming,
        bench_event_stream,
        bench_ck,
        bench_ck_backtest,
        bench_dbn,
        bench_generate,
    ):
        bench.main()
        print()
    # Each in its own small process: a child's peak RSS counts the parent's memory at fork
    # time, and this one has grown by now.
    for script in (
        "bench_reject.py",
        "bench_memory.py",
        "bench_generate_memory.py",
        "bench_stats.py",
        "bench_deploy_memory.py",
        "bench_first_run.py",
        "bench_fills.py",
        "bench_fill_agreement.py",
        "bench_orders.py",
        "bench_ck_orders.py",
        "bench_orderlevel.py",  # needs ../shared/data; says so where it is absent
        "bench_evaluate.py",  # last: minutes, and about 3.5 GB of temporary day files
    ):
        subprocess.run([sys.executable, str(Path(__file__).with_name(script))], check=True)
        print()
