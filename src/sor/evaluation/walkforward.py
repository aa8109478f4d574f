"""Walk-forward tuning: choose each day's parameters from the days before it alone.

The rule (docs/evaluate.md) extends the single-day search rule of docs/semantics.md
section 7 to K days: a parameter set's score over the K training days is the pair (its
unfilled shares summed over them, its total cash in nano-dollars summed over them); the
best set has the fewest unfilled shares, then the least cash, then comes first in grid
order. With K = 1 it is the single-day rule applied to the day before. A sell's cash comes
in negated (:attr:`sor.evaluation.tasks.DayOutcome.choice_keys`): the least of it is the most
proceeds.
"""

from __future__ import annotations

from collections.abc import Sequence

from sor.core.search import best_index

Outcomes = Sequence[tuple[int, int]]
"""One day's ``(unfilled shares, total cash in nano-dollars)`` per parameter set."""


def choose(training: Sequence[Outcomes]) -> int:
    """Return the index of the best parameter set over the ``training`` days."""
    if not training:
        raise ValueError("no training day")
    sets = len(training[0])
    totals = [
        (sum(day[j][0] for day in training), sum(day[j][1] for day in training))
        for j in range(sets)
    ]
    return best_index(totals)


def walk_forward(days: Sequence[Outcomes], train_days: int) -> list[int | None]:
    """Return, per day in time order, the set chosen on the ``train_days`` days before it;
    None for the first ``train_days`` days, which have too few before them."""
    if train_days < 1:
        raise ValueError("train_days must be at least 1")
    return [None if d < train_days else choose(days[d - train_days : d]) for d in range(len(days))]
