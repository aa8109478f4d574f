"""The brute-force enumeration of docs/semantics.md section 5: the reference for the tests.

Exponential in the number of venues; it follows the rule's words literally (floats, the
full cost with penalties and rebates, the relative tie tolerance) so that the fast
allocator in ``static.py`` can be checked against it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sor.core.domain import STEP, VenueQuote
from sor.static.allocator import Allocation, split_cost, validate_order_size


def brute_force_allocate(
    order_size: int,
    venues: Sequence[VenueQuote],
    lambda_over: float = 0.0,
    lambda_under: float = 0.0,
    theta_queue: float = 0.0,
    step: int = STEP,
    sell: bool = False,
) -> Allocation:
    """Enumerate every split, keep those summing to ``order_size``, pick the least cost.

    Ties (within ``1e-9 * max(1, |least|)``) go to the lexicographically smallest split.
    With ``sell`` each venue's ``ask`` is its bid and a share costs ``fee - bid``.
    """
    validate_order_size(order_size, step)
    splits: list[list[int]] = [[]]
    for venue in venues:
        grown = []
        for alloc in splits:
            used = sum(alloc)
            most = min(order_size - used, venue.ask_size)
            for quantity in range(0, max(most, -1) + 1, step):
                grown.append([*alloc, quantity])
        splits = grown
    candidates = [
        (split_cost(s, venues, order_size, lambda_over, lambda_under, theta_queue, sell), s)
        for s in splits
        if sum(s) == order_size and venues
    ]
    if not candidates:
        return Allocation((), None)
    least = min(cost for cost, _ in candidates)
    tolerance = 1e-9 * max(1.0, abs(least))
    cost, split = min(
        ((c, s) for c, s in candidates if c - least <= tolerance), key=lambda item: item[1]
    )
    return Allocation(tuple(split), cost)
