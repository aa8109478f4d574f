"""Order-entry latency: the time from a decision to its order acting on a venue's book.

Constant, or sampled from a lognormal law around a median: network and gateway delays are
positive and right-skewed, and a lognormal with a log-standard-deviation ``sigma`` gives
both with one number. Draws come from a seeded generator, so a run is reproducible and
every parameter set of a search sees the same sequence of delays (common random numbers:
the search compares parameters, not luck).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sor.core.defaults import DEFAULT_LATENCY_SIGMA, DEFAULT_LATENCY_US, DEFAULT_SEED
from sor.core.errors import ConfigError

MAX_DRAW_NS = 86_400 * 1_000_000_000
"""Ceiling of a sampled latency, ns: a day. An order that late never acts in a day's data,
and the ceiling keeps a far tail draw inside int64."""


@dataclass(frozen=True)
class OrderLatency:
    """Order-entry latency of the simulator.

    Attributes
    ----------
    median_ns : int
        The latency when constant, else the lognormal law's median, nanoseconds (>= 0).
    sigma : float
        Standard deviation of the latency's logarithm; 0 means constant.
    seed : int
        Seed of the generator of sampled latencies (unused when constant).
    """

    median_ns: int = round(DEFAULT_LATENCY_US * 1000)
    sigma: float = DEFAULT_LATENCY_SIGMA
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        # the options' names (--latency-us, --latency-sigma) tell a CLI user what to change
        if self.median_ns < 0:
            raise ConfigError(
                f"latency: the median (--latency-us) must be >= 0, got {self.median_ns} ns"
            )
        if not math.isfinite(self.sigma) or self.sigma < 0:
            raise ConfigError(
                f"latency: sigma (--latency-sigma) must be a finite number >= 0, got {self.sigma}"
            )
        if self.sigma > 0 and self.median_ns == 0:
            raise ConfigError("latency: a sampled latency needs a positive median (--latency-us)")

    @property
    def sampled(self) -> bool:
        """Whether latencies are drawn rather than constant."""
        return self.sigma > 0

    def generator(self) -> np.random.Generator | None:
        """Return a fresh generator for one run, or None when the latency is constant."""
        return np.random.default_rng(self.seed) if self.sampled else None

    def draw(self, rng: np.random.Generator | None, count: int) -> np.ndarray:
        """Return ``count`` latencies in whole nanoseconds (int64), at most ``MAX_DRAW_NS``.

        Constant latencies consume nothing from ``rng``; sampled ones consume exactly
        ``count`` normal draws, whatever they are used for.
        """
        if rng is None:
            return np.full(count, self.median_ns, dtype=np.int64)
        logs = math.log(self.median_ns) + self.sigma * rng.standard_normal(count)
        return np.rint(np.minimum(np.exp(logs), MAX_DRAW_NS)).astype(np.int64)

    def as_dict(self) -> dict[str, Any]:
        """Return the latency as recorded in the report."""
        if not self.sampled:
            return {"model": "constant", "ns": self.median_ns}
        return {
            "model": "lognormal",
            "median_ns": self.median_ns,
            "sigma": self.sigma,
            "seed": self.seed,
        }
