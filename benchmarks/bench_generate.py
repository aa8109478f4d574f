"""Rows per second of the generator, with and without its adverse selection, in one run.

Writes the default market (nine minutes, six venues, MBP-10; ``sor generate --out F``) and
a one-hour six-venue MBP-1 market, each with ``FlowModel.off()`` (the baseline: the
generator of earlier versions, byte for byte) and with the default flow model (informed
trades, metaorders, impact), best of three after a warm-up that compiles the kernels.
Goal: the default model's rows/s at least half the baseline's.

Then, where the shared AMZN day is at hand (LOBSTER, ``../shared/data/lobster``, unzipped
to a temporary folder), ``sor generate --like``'s fit on the whole day (goal: under 30 s)
and the rows per second of the fitted market (goal: at least half the default market's).
Run: ``python benchmarks/bench_generate.py``.
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from sor.data.generate import FlowModel, generate_market

REPEATS = 3
AMZN = (Path(__file__).resolve().parents[2] / "shared" / "data" / "lobster"
        / "LOBSTER_SampleFile_AMZN_2012-06-21_5.zip")  # fmt: skip
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
        figures.update(_fitted(Path(folder)))
    return figures


def _fitted(folder: Path) -> dict[str, float]:
    """Time the fit to the whole AMZN day and the fitted market's rows per second."""
    from sor.stylized.fit import fit_market

    if not AMZN.is_file():
        print(f"  fit: skipped, {AMZN} is absent")
        return {}
    with zipfile.ZipFile(AMZN) as handle:
        handle.extractall(folder)
    message = next(folder.glob("*_message_5.csv"))
    began = time.perf_counter()
    params = fit_market(message)
    fit_s = time.perf_counter() - began
    out = folder / "like.csv"
    kwargs = {"start": params.start, "end": params.end, "depth": 10,
              "rate_per_venue": params.mean_rate, "price_moves": params.price_moves,
              "venue_models": params.venues,
              "start_bid_cents": params.start_bid_cents, "move_ticks": params.move_ticks,
              "activity": params.activity, "bursts": params.bursts}  # fmt: skip
    fitted, rows = _rows_per_second(out, params.flow, **kwargs)
    default, _ = _rows_per_second(out, FlowModel(), depth=10)
    print(f"  fit to the whole AMZN day: {fit_s:.1f} s (goal < 30 s)")
    print(f"  fitted AMZN day {rows:>10,} rows  {fitted:>10,.0f} rows/s  default market "
          f"{default:>10,.0f}  ratio {fitted / default:.2f} (goal >= 0.5)")  # fmt: skip
    return {"fit_s": fit_s, "fitted_ratio": fitted / default}


if __name__ == "__main__":
    main()
