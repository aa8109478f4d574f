"""The queue simulator beside hftbacktest 2.4: agreement order by order, and speed of both.

200-share buys at each venue's best bid every 5 s on the nine-minute six-venue MBP-10 demo
market, cancelled after 0.5, 2 and 10 s, zero latency; conservative (hftbacktest's
``RiskAdverseQueueModel``) and probabilistic (``PowerProbQueueModel``, n = 1) queue models.
Prints, under each set of fill rules (``displayed``, ours, the default: sellers at or below a
resting buy's price fill at most what they show, trades at its price advance it by the
displayed drop and trades below fill at most their size; ``whole``: hftbacktest's, the whole
remainder and the trade's size), the share of orders with identical fills (the same shares at the same
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

from hftbacktest_compare import RULES, compare, run
from sor.ck.fills import every, simulate
from sor.ck.queue import CONSERVATIVE, attach_venues
from sor.ck.router import CKSettings
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
                  f"{len(result['switched'])} of them filled otherwise by the fill rules")  # fmt: skip
            for rule in RULES:
                counts = result[rule]["counts"]
                same_shares = 100 * result[rule]["same_shares"] / len(orders)
                print(f"    rules {rule:9s}: {100 * counts['same'] / len(orders):5.1f} % "
                      f"identical, {same_shares:5.1f} % the same shares, {counts}")  # fmt: skip
    orders = every(len(venues), first, int(events["ts_event"][-1]), 5 * SECOND, 2 * SECOND, 200)
    began = time.perf_counter()
    simulate(events, venues, orders, CKSettings(queue_model=CONSERVATIVE))
    ours_s = time.perf_counter() - began
    began = time.perf_counter()
    run(events, len(venues), orders, (orders.place_ns[:0], orders.venue[:0]))
    theirs_s = time.perf_counter() - began
    print(f"speed, {len(orders)} orders of 2 s: ours {ours_s:.3f} s, hftbacktest {theirs_s:.3f} s "
          f"(feed conversion included), {theirs_s / ours_s:.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
