"""The queue simulator beside hftbacktest 2.4: agreement order by order, and speed of both.

200-share buys at each venue's best bid every 5 s on the nine-minute six-venue MBP-10 demo
market, cancelled after 0.5, 2 and 10 s, zero latency; conservative (hftbacktest's
``RiskAdverseQueueModel``) and probabilistic (``PowerProbQueueModel``, n = 1) queue models.
Prints, under each of our crossing rules (``displayed``, the default: asks coming down to a
resting buy's price fill at most the size they show; ``whole``: the whole remainder, as
hftbacktest does), the share of orders with identical fills (the same shares at the same
events), of orders that filled the same shares (at whatever moments) and the differences
by kind; then the time each simulator takes for the same orders (ours one pass per set of
non-overlapping orders; hftbacktest one backtest, its Python driver included).
Run: ``python benchmarks/bench_fill_agreement.py``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from hftbacktest_compare import compare, run
from sor.ck.fills import every, simulate
from sor.ck.queue import CONSERVATIVE, CROSSING_FILLS, attach_venues
from sor.data.events import read_events
from sor.data.generate import generate_market

SECOND = 1_000_000_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "market.csv"
        generate_market(path, venues=6, depth=10)
        events, venues = attach_venues(read_events(path))
    first = int(events["ts_event"][0]) + 2 * SECOND
    print(f"{len(events):,} events, {len(venues)} venues")
    for probabilistic in (False, True):
        model = "probabilistic" if probabilistic else "conservative"
        for horizon_s in (0.5, 2.0, 10.0):
            orders = every(len(venues), first, int(events["ts_event"][-1]), 5 * SECOND,
                           int(horizon_s * SECOND), 200)  # fmt: skip
            result = compare(events, venues, orders, probabilistic)
            print(f"  {model:13s} T = {horizon_s:4} s: {len(orders)} orders, "
                  f"{len(result['switched'])} of them filled otherwise by the crossing rule")  # fmt: skip
            for rule in CROSSING_FILLS:
                counts = result[rule]["counts"]
                same_shares = 100 * result[rule]["same_shares"] / len(orders)
                print(f"    crossing {rule:9s}: {100 * counts['same'] / len(orders):5.1f} % "
                      f"identical, {same_shares:5.1f} % the same shares, {counts}")  # fmt: skip
    orders = every(len(venues), first, int(events["ts_event"][-1]), 5 * SECOND, 2 * SECOND, 200)
    began = time.perf_counter()
    simulate(events, venues, orders, CONSERVATIVE)
    ours_s = time.perf_counter() - began
    began = time.perf_counter()
    run(events, len(venues), orders, (orders.place_ns[:0], orders.venue[:0]))
    theirs_s = time.perf_counter() - began
    print(f"speed, {len(orders)} orders of 2 s: ours {ours_s:.3f} s, hftbacktest {theirs_s:.3f} s "
          f"(feed conversion included), {theirs_s / ours_s:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
