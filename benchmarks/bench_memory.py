"""Peak memory of a full ``sor backtest`` on a 10-million-row file.

Generates (once, cached under ``.sor/bench/``) a six-venue MBP-1 file of about 10,000,000
rows, runs ``sor backtest --no-plot`` on it in a child process and reports the child's peak
resident memory, beside the peak of a child that only imports the package (the baseline of
the same run). Run: ``python benchmarks/bench_memory.py`` (or ``make bench``), from a small
process: a child's peak RSS includes its parent's memory at fork time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from sor.data.generate import generate_market

ROWS = 10_000_000
CACHE = Path(__file__).resolve().parents[1] / ".sor" / "bench"


def _peak_rss_mb(command: list[str]) -> tuple[float, float]:
    """Run ``command`` and return (peak RSS in MB, wall seconds) of that child alone."""
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    return usage.ru_maxrss / 1024, time.perf_counter() - began


def main() -> dict[str, float]:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / "mbp1_10m.csv"
    if not path.exists():
        seconds = ROWS / (6 * 111.0)
        start_s = 1722519392  # 2024-08-01T13:36:32Z
        end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_s + seconds))
        print(f"generating {path} (about {ROWS:,} rows, once)...", file=sys.stderr)
        generate_market(path, venues=6, depth=1, end=end)
    rows = sum(1 for _ in path.open("rb")) - 1
    baseline_mb, _ = _peak_rss_mb([sys.executable, "-c", "import sor.cli, sor.static.backtest"])
    sor_mb, seconds = _peak_rss_mb(
        [
            sys.executable,
            "-m",
            "sor",
            "backtest",
            "--data",
            str(path),
            "--no-plot",
            "--quiet",
            "--json-out",
            os.devnull,
        ]
    )
    print(f"memory: six-venue MBP-1 file, {rows:,} rows, {path.stat().st_size / 1e9:.2f} GB")
    print(f"  import only (baseline)          {baseline_mb:9.0f} MB peak RSS")
    print(
        f"  sor backtest, 125-point grid    {sor_mb:9.0f} MB peak RSS in {seconds:.1f} s"
        "  (goal: < 1024 MB)"
    )
    return {"rows": float(rows), "baseline_mb": baseline_mb, "backtest_mb": sor_mb}


if __name__ == "__main__":
    main()
