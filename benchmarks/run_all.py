"""Print every benchmark's figures: ``make bench``."""

from __future__ import annotations

import bench_allocator
import bench_backtest
import bench_ck
import bench_ck_backtest
import bench_memory
import bench_streaming

if __name__ == "__main__":
    for bench in (
        bench_allocator,
        bench_backtest,
        bench_streaming,
        bench_ck,
        bench_ck_backtest,
        bench_memory,
    ):
        bench.main()
        print()
