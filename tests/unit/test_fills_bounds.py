"""``sor fills`` knows its work before it runs: orders and event passes under their caps,
refused in one line above them; an order that cannot fit is an error, a horizon that cannot
fit a warning; latencies bounded as for ``sor backtest --model ck``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sor.ck.fills import Orders, slots


def _greedy_slots(orders: Orders) -> list[int]:
    """The passes as first written: for each order, in venue then time order, the lowest
    pass whose last order is cancelled by the time it rests."""
    out = [0] * len(orders)
    ends: dict[int, list[int]] = {}
    for i in np.lexsort((orders.place_ns, orders.venue)):
        taken = ends.setdefault(int(orders.venue[i]), [])
        slot = next((s for s, end in enumerate(taken) if end <= orders.place_ns[i]), len(taken))
        if slot == len(taken):
            taken.append(0)
        taken[slot] = int(orders.cancel_ns[i])
        out[i] = slot
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(0, 30)), max_size=60))
def test_passes_are_the_lowest_free_ones(rows: list[tuple[int, int, int]]) -> None:
    venue = np.array([r[0] for r in rows], np.int64)
    place = np.array([r[1] for r in rows], np.int64)
    orders = Orders(venue, place, place + np.array([r[2] for r in rows], np.int64),
                    np.full(len(rows), 100, np.int64))  # fmt: skip
    assert slots(orders).tolist() == _greedy_slots(orders)
