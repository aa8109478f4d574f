"""Time and peak memory of ``sor stats`` on a 10-million-row file.

Uses the memory benchmark's six-venue MBP-1 file of about 10,000,000 rows (generated once,
cached under ``.sor/bench/``), runs ``sor stats --no-plot`` on it in a child process and
reports the child's wall time and peak resident memory, beside a child that only imports
the package (the baseline of the same run). Goal: under 30 s and 1 GB.
Run: ``python benchmarks/bench_stats.py``, from a small process (a child's peak RSS
includes its parent's memory at fork time).
"""

from __future__ import annotations

import sys

from bench_memory import peak_rss_mb, ten_million_rows


def main() -> dict[str, float]:
    path = ten_million_rows()
    rows = sum(1 for _ in path.open("rb")) - 1
    baseline_mb, _ = peak_rss_mb([sys.executable, "-c", "import sor.cli, sor.stylized.summary"])
    command = [sys.executable, "-m", "sor", "stats", str(path), "--no-plot", "--quiet"]
    stats_mb, seconds = peak_rss_mb(command)
    print(f"sor stats: six-venue MBP-1 file, {rows:,} rows, {path.stat().st_size / 1e9:.2f} GB")
    print(f"  import only (baseline)   {baseline_mb:9.0f} MB peak RSS")
    print(f"  sor stats --no-plot      {stats_mb:9.0f} MB peak RSS in {seconds:.1f} s"
          "  (goal: < 1024 MB, < 30 s)")  # fmt: skip
    return {"rows": float(rows), "baseline_mb": baseline_mb, "stats_mb": stats_mb,
            "seconds": seconds}  # fmt: skip


if __name__ == "__main__":
    main()
