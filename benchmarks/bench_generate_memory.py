"""Peak memory of ``sor generate`` at two file lengths: it should not grow with the file.

Writes a busy six-venue MBP-10 market (``--rate 1000``) of two and of eight minutes, each
with ``sor generate`` in a child process, and reports each child's peak resident memory
beside that of a child that only imports the command (the baseline of the same run). Goal:
the long file's peak within 1.25 x the short one's (the rows are written a chunk at a time).
Run: ``python benchmarks/bench_generate_memory.py`` (or ``make bench``), from a small
process: a child's peak RSS includes its parent's memory at fork time.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from bench_memory import peak_rss_mb

START = "2024-08-01T13:36:32Z"
LENGTHS = {"2 min": "2024-08-01T13:38:32Z", "8 min": "2024-08-01T13:44:32Z"}


def main() -> dict[str, float]:
    figures = {}
    baseline_mb, _ = peak_rss_mb(
        [sys.executable, "-c", "import sor.cli, sor.cli.generate, sor.data.generate"]
    )
    print("generate memory: six venues, MBP-10, --rate 1000 (goal: 8 min <= 1.25 x 2 min)")
    print(f"  import only (baseline)             {baseline_mb:9.0f} MB peak RSS")
    with tempfile.TemporaryDirectory(prefix="sor-bench-") as folder:
        path = Path(folder) / "market.csv"
        for name, end in LENGTHS.items():
            peak_mb, seconds = peak_rss_mb(
                [sys.executable, "-m", "sor", "generate", "--out", str(path), "--rate", "1000",
                 "--start", START, "--end", end, "--quiet"]
            )  # fmt: skip
            rows = sum(1 for _ in path.open("rb")) - 1
            size_gb = path.stat().st_size / 1e9
            print(f"  {name}: {rows:>9,} rows, {size_gb:4.2f} GB  {peak_mb:9.0f} MB peak RSS "
                  f"in {seconds:.1f} s")  # fmt: skip
            figures[name] = peak_mb
            os.unlink(path)
    ratio = figures["8 min"] / figures["2 min"]
    print(f"  ratio 8 min / 2 min                {ratio:9.2f}")
    return {"baseline_mb": baseline_mb, **figures, "ratio": ratio}


if __name__ == "__main__":
    main()
