"""Allocations per second for six venues: the exact allocator against the brute force.

Problems: a 5,000-share order over six venues quoting within a few cents, 100 to 1,000
shares each. Figures: the compiled kernel called in a compiled loop (how the backtest uses
it; goal >= 1,000,000 per second), the Python-level ``allocate()`` call, and the brute-force
reference on the same kind of problems. Run: ``python benchmarks/bench_allocator.py``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numba
import numpy as np

from sor.core.domain import VenueQuote
from sor.static.allocator import allocate, static_split

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from brute_force import brute_force_allocate

VENUES = 6
ORDER = 5000


@numba.njit(cache=True)
def _batch(asks: np.ndarray, sizes: np.ndarray, fees: np.ndarray) -> int:
    out = np.zeros(asks.shape[1], dtype=np.int64)
    checksum = 0
    for k in range(asks.shape[0]):
        static_split(ORDER, asks[k], sizes[k], fees[k], out)
        checksum += out[0]
    return checksum


def problems(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    asks = rng.integers(22_280, 22_284, (count, VENUES)).astype(np.int64) * 10_000_000
    sizes = rng.integers(100, 1001, (count, VENUES)).astype(np.int64)
    fees = rng.choice(np.array([0, 1_000_000, 2_500_000, 3_000_000]), (count, VENUES))
    return asks, sizes, fees.astype(np.int64)


def _quotes(asks: np.ndarray, sizes: np.ndarray, fees: np.ndarray, k: int) -> list[VenueQuote]:
    return [
        VenueQuote(float(a) / 1e9, int(s), float(f) / 1e9)
        for a, s, f in zip(asks[k], sizes[k], fees[k], strict=True)
    ]


def main() -> dict[str, float]:
    asks, sizes, fees = problems(1_000_000)
    _batch(asks[:10], sizes[:10], fees[:10])  # compile or load the cached kernel
    began = time.perf_counter()
    _batch(asks, sizes, fees)
    kernel_rate = len(asks) / (time.perf_counter() - began)

    calls = 20_000
    quotes = [_quotes(asks, sizes, fees, k) for k in range(calls)]
    began = time.perf_counter()
    for venues in quotes:
        allocate(ORDER, venues)
    python_rate = calls / (time.perf_counter() - began)

    brute = 5
    began = time.perf_counter()
    for venues in quotes[:brute]:
        brute_force_allocate(ORDER, venues)
    brute_rate = brute / (time.perf_counter() - began)

    print(f"allocator: {VENUES} venues, {ORDER:,}-share order")
    print(
        f"  exact kernel, compiled loop     {kernel_rate:14,.0f} allocations/s  (goal: >= 1,000,000)"
    )
    print(f"  allocate(), Python call         {python_rate:14,.0f} allocations/s")
    print(f"  brute-force reference           {brute_rate:14,.2f} allocations/s")
    print(f"  speed-up of the kernel          {kernel_rate / brute_rate:14,.0f} x")
    return {"kernel_per_s": kernel_rate, "python_per_s": python_rate, "brute_per_s": brute_rate}


if __name__ == "__main__":
    main()
