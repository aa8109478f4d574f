"""The parameter search of SEMANTICS.md section 6, run in parallel threads.

The replay kernels release the GIL, so a thread pool uses every core without copying the
market into worker processes.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from sor.errors import ConfigError

T = TypeVar("T")


@dataclass(frozen=True, order=True)
class RiskParameters:
    """One point of the grid: the penalties of the Cont-Kukanov cost, dollars per share."""

    lambda_over: float
    lambda_under: float
    theta_queue: float

    def as_dict(self) -> dict[str, float]:
        """Return the parameters under their report names."""
        return {
            "lambda_over": self.lambda_over,
            "lambda_under": self.lambda_under,
            "theta_queue": self.theta_queue,
        }


DEFAULT_LAMBDA_OVER = (0.1, 0.2, 0.4, 0.6, 0.8)
DEFAULT_LAMBDA_UNDER = (0.1, 0.2, 0.4, 0.6, 0.8)
DEFAULT_THETA_QUEUE = (0.1, 0.2, 0.4, 0.6, 0.8)


@dataclass(frozen=True)
class SearchGrid:
    """The three lists whose Cartesian product is searched, in the given order."""

    lambda_over: tuple[float, ...] = DEFAULT_LAMBDA_OVER
    lambda_under: tuple[float, ...] = DEFAULT_LAMBDA_UNDER
    theta_queue: tuple[float, ...] = DEFAULT_THETA_QUEUE

    def __post_init__(self) -> None:
        for name in ("lambda_over", "lambda_under", "theta_queue"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name}: the search list is empty")
            if any(not isinstance(v, int | float) or v != v or v < 0 for v in values):
                raise ConfigError(f"{name}: values must be non-negative numbers, got {values}")

    def parameter_sets(self) -> list[RiskParameters]:
        """Return the Cartesian product, ``lambda_over`` varying slowest."""
        return [
            RiskParameters(float(o), float(u), float(t))
            for o, u, t in itertools.product(self.lambda_over, self.lambda_under, self.theta_queue)
        ]


def run_grid(
    evaluate: Callable[[RiskParameters], T],
    parameter_sets: Sequence[RiskParameters],
    *,
    workers: int | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[T]:
    """Evaluate every parameter set on ``workers`` threads (default: all cores).

    Results come back in the order of ``parameter_sets``; ``on_done`` is called once per
    finished set (for a progress bar).
    """
    count = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(evaluate, params) for params in parameter_sets]
        results = []
        for future in futures:
            results.append(future.result())
            if on_done is not None:
                on_done()
    return results


def best_index(outcomes: Sequence[tuple[int, int]]) -> int:
    """Pick the best set from ``(unfilled shares, total cash in nano-dollars)`` per set.

    Fewest unfilled shares first, then least cash; ties go to the earliest set.
    """
    if not outcomes:
        raise ValueError("no parameter sets were evaluated")
    return min(range(len(outcomes)), key=lambda i: (outcomes[i][0], outcomes[i][1], i))
