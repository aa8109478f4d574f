"""Rows per second of the generator, with and without its adverse selection, in one run.

Writes the default market (nine minutes, six venues, MBP-10; ``sor generate --out F``) and
a one-hour six-venue MBP-1 market, each with ``FlowModel.off()`` (the baseline: the
generator of earlier versions, byte for byte) and with the default flow model (informed
trades, metaorders, impact), best of three after a warm-up that compiles the kernels.
Goal: the default model's rows/s at least half the baseline's.
Run: ``python benchmarks/bench_generate.py``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from sor.data.generate import FlowModel, generate_market

REPEATS = 3
MARKETS: dict[str, dict[str, Any]] = {
    "default market (9 min, MBP-10)": {"depth": 10},
    "one hour, MBP-1": {"depth": 1, "end": "2024-08-01T14:36:32Z"},
}


def _rows_per_second(path: Path, flow: FlowModel, **kwargs: Any) -> tuple[float, int]:
    best = float("inf")
    rows = 0
    for _ in range(REPEATS):
        began = time.perf_counter()
        rows = generate_market(path, flow=flow, **kwargs).rows
        best = min(best, time.perf_counter() - began)
    return rows / best, rows


def main() -> dict[str, float]:
    figures = {}
    with tempfile.TemporaryDirectory(prefix="sor-bench-") as folder:
        path = Path(folder) / "market.csv"
        generate_market(path, venues=1, end="2024-08-01T13:36:42Z")  # compile the kernels
        print(f"generator: rows/s, best of {REPEATS} (goal: flow model >= 0.5 x baseline)")
        for name, kwargs in MARKETS.items():
            base, rows = _rows_per_second(path, FlowModel.off(), **kwargs)
            flow, _ = _rows_per_second(path, FlowModel(), **kwargs)
            print(f"  {name:32s} {rows:>10,} rows  baseline (no adverse selection) "
                  f"{base:>10,.0f}  flow model {flow:>10,.0f}  ratio {flow / base:.2f}")  # fmt: skip
            figures[name] = flow / base
    return figures


if __name__ == "__main__":
    main()
