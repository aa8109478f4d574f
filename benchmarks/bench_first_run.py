"""The first run after installing: compiled at install, it costs what a warm run costs.

Each figure is a fresh process with an empty numba cache of its own (``NUMBA_CACHE_DIR``),
as after ``pip install``: the install step (``python -m sor.core.kernels``, which the Makefile
runs), the first backtest after it, a warm one, and, for comparison, a first backtest with
no install step (it compiles on first use, saying so).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sor.data.generate import generate_market


def _timed(command: list[str], cache: Path) -> float:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - began


def main() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "market.csv"
        generate_market(data, venues=6)  # the demo's nine-minute market
        backtest = [sys.executable, "-m", "sor", "backtest", "--data", str(data), "--no-plot",
                    "-q", "--json-out", str(Path(folder) / "o.json")]  # fmt: skip
        installed, cold = Path(folder) / "installed", Path(folder) / "cold"
        install = _timed([sys.executable, "-m", "sor.core.kernels"], installed)
        first = _timed(backtest, installed)
        warm = min(_timed(backtest, installed) for _ in range(2))
        uninstalled = _timed(backtest, cold)
    print("first run: sor backtest --data (demo market, 358,851 rows), fresh numba cache")
    print(f"  install step (python -m sor.core.kernels)  {install:6.1f} s")
    print(f"  first backtest after it               {first:6.1f} s  "
          f"({first / warm:.2f} x warm; goal <= 1.5)")  # fmt: skip
    print(f"  warm backtest (baseline)              {warm:6.1f} s")
    print(f"  first backtest with no install step   {uninstalled:6.1f} s  (compiles, says so)")
    return {"install_s": install, "first_s": first, "warm_s": warm, "cold_s": uninstalled}


if __name__ == "__main__":
    main()
