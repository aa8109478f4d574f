"""The percentile bootstrap of a mean over days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sor.core.defaults import DEFAULT_RESAMPLES

CONFIDENCE = 0.95
_CHUNK = 1 << 22
"""Resampled indices drawn at a time: bounds memory on long evaluations."""


@dataclass(frozen=True)
class Interval:
    """A mean over days and its bootstrap interval (None without any day)."""

    mean: float | None
    low: float | None
    high: float | None
    days: int


def bootstrap_mean(
    values: Sequence[float],
    *,
    seed: int,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
) -> Interval:
    """Return the mean of ``values`` and its percentile-bootstrap interval.

    Each of ``resamples`` resamples draws ``len(values)`` days with replacement (indices
    from ``numpy.random.default_rng(seed).integers``, one resample after the other) and
    takes their mean; the interval runs from the ``(1 - confidence) / 2`` to the
    ``(1 + confidence) / 2`` quantile of those means (numpy's linear interpolation).
    """
    data = np.asarray(values, dtype=np.float64)
    n = len(data)
    if n == 0:
        return Interval(None, None, None, 0)
    rng = np.random.default_rng(seed)
    per_chunk = max(1, _CHUNK // n)
    means = np.empty(resamples, dtype=np.float64)
    for first in range(0, resamples, per_chunk):
        count = min(per_chunk, resamples - first)
        means[first : first + count] = data[rng.integers(0, n, size=(count, n))].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Interval(float(data.mean()), float(low), float(high), n)
