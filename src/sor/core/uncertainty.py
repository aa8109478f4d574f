"""How far a share or a mean from a study's units may lie from the truth: the Wilson
interval of a proportion and the clustered standard error of a weighted mean.

Both treat their units (orders, blocks of time) as independent draws; where there are
fewer than :data:`MIN_UNITS` of them, they give no figure and a sentence saying why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z_95 = 1.959963984540054
"""The standard normal's 97.5 % quantile: a two-sided 95 % interval."""
MIN_UNITS = 30
"""The fewest independent units (orders; blocks of time) an interval or a standard error is
given from: with fewer, the normal approximation both rest on is too rough to print."""


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval of the proportion ``successes / trials``.

    Unlike the normal (Wald) interval it stays inside [0, 1] and does not collapse to a
    point at 0 or 1: 0 of 10 gives 0 to 0.2775.

    Raises
    ------
    ValueError
        ``trials`` is not positive, or ``successes`` lies outside 0 to ``trials``.
    """
    if trials <= 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials and trials > 0, got {successes}/{trials}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # at 0 and at every trial the ends are exactly 0 and 1; rounding would leave 1e-17
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    return low, 1.0 if successes == trials else min(1.0, centre + half)


@dataclass(frozen=True)
class MeanError:
    """A weighted mean and its standard error over independent clusters of values.

    ``standard_error`` is None where ``why`` says why there is none (fewer than the
    clusters it needs); ``mean`` is None without any value.
    """

    mean: float | None
    standard_error: float | None
    clusters: int
    why: str | None


def clustered_standard_error(
    values: np.ndarray,
    weights: np.ndarray,
    clusters: np.ndarray,
    *,
    min_clusters: int = MIN_UNITS,
    cluster: str = "cluster",
) -> MeanError:
    """Return the ``weights``-weighted mean of ``values`` (NaN values left out) and its
    standard error, values of one cluster taken as one independent draw.

    The mean is a ratio (sum of weight x value over sum of weight); its standard error is
    the linearised one, sqrt(G / (G - 1) x sum over clusters of (sum of weight x (value -
    mean))^2) / sum of weight, over the G clusters holding a value. With one value per
    cluster and equal weights it is the sample standard deviation over sqrt(n). With fewer
    than ``min_clusters`` clusters there is no standard error, and ``why`` says so naming
    a cluster ``cluster`` (a singular noun).
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    clusters = np.asarray(clusters)
    known = ~np.isnan(values) & (weights > 0)
    values, weights, clusters = values[known], weights[known], clusters[known]
    total = float(weights.sum())
    if not len(values) or total <= 0:
        return MeanError(None, None, 0, f"no {cluster} with a value")
    mean = float(values @ weights / total)
    labels, index = np.unique(clusters, return_inverse=True)
    g = len(labels)
    if g < min_clusters:
        noun = cluster if g == 1 else f"{cluster}s"
        return MeanError(mean, None, g, f"{g} {noun}, fewer than the {min_clusters} a standard "
                                        "error needs")  # fmt: skip
    totals = np.bincount(index, weights=weights * (values - mean), minlength=g)
    error = math.sqrt(g / (g - 1) * float(totals @ totals)) / total
    return MeanError(mean, error, g, None)


def paired_difference_interval(
    both: int, first_only: int, second_only: int, neither: int, z: float = Z_95
) -> tuple[float, float]:
    """Return the interval of ``p1 - p2`` from paired yes/no outcomes: each unit's outcome
    under the first and the second condition (``both`` yes, ``first_only``, ``second_only``,
    ``neither``), so that ``p1 = (both + first_only) / n`` and ``p2 = (both + second_only) /
    n``.

    Newcombe's (1998) method 10: the Wilson intervals of ``p1`` and ``p2`` combined with the
    correlation of the pairs, ``phi = (both x neither - first_only x second_only) / sqrt(the
    four margins' product)``, which his method moves toward 0 by n / 2 when positive (and
    sets to 0 when a margin is empty). It stays inside [-1, 1] and does not collapse to a
    point when no unit's outcome differs between the two.

    Raises
    ------
    ValueError
        A count is negative, or all are 0.
    """
    counts = (both, first_only, second_only, neither)
    n = sum(counts)
    if min(counts) < 0 or n <= 0:
        raise ValueError(f"need counts >= 0 and at least one unit, got {counts}")
    p1, p2 = (both + first_only) / n, (both + second_only) / n
    low1, high1 = wilson_interval(both + first_only, n, z)
    low2, high2 = wilson_interval(both + second_only, n, z)
    margins = (
        (both + first_only)
        * (second_only + neither)
        * (both + second_only)
        * (first_only + neither)
    )
    cross = both * neither - first_only * second_only
    if margins == 0 or 0 <= cross <= n / 2:
        phi = 0.0
    else:
        phi = (cross - n / 2 if cross > 0 else cross) / math.sqrt(margins)
    below = math.sqrt(
        max(0.0, (p1 - low1) ** 2 - 2 * phi * (p1 - low1) * (high2 - p2) + (high2 - p2) ** 2)
    )
    above = math.sqrt(
        max(0.0, (high1 - p1) ** 2 - 2 * phi * (high1 - p1) * (p2 - low2) + (p2 - low2) ** 2)
    )
    difference = (first_only - second_only) / n
    return max(-1.0, difference - below), min(1.0, difference + above)


def paired_mean_difference_interval(
    differences: np.ndarray, z: float = Z_95, *, unit: str = "unit"
) -> tuple[float, float] | str:
    """Return the normal (Wald) interval of the mean of paired ``differences`` (one a unit):
    the mean plus or minus ``z`` sample standard deviations over sqrt(n); or, where there is
    none, why: fewer than :data:`MIN_UNITS` units, or every unit's difference the same (no
    spread to measure: a zero-width interval would claim a certainty the units cannot give),
    naming a unit ``unit`` (a singular noun).
    """
    differences = np.asarray(differences, dtype=np.float64)
    n = len(differences)
    if n < MIN_UNITS:
        return f"{n} {unit}{'' if n == 1 else 's'}, fewer than the {MIN_UNITS} an interval needs"
    spread = float(np.std(differences, ddof=1))
    if spread == 0.0:
        return f"every {unit}'s difference is {float(differences[0]):g}: no spread to measure"
    mean = float(np.mean(differences))
    half = z * spread / math.sqrt(n)
    return mean - half, mean + half
