"""Shared fixtures: small data files and the real sample when it is present."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden"
REAL_SAMPLE = REPO.parent / "shared" / "data" / "l1_day_head.csv"


@pytest.fixture
def tiny_csv() -> Path:
    """A hand-written MBP-1 file whose results are worked out in tests/golden/README.md."""
    return GOLDEN / "tiny_mbp1.csv"


@pytest.fixture
def real_sample() -> Path:
    """The first rows of the real l1_day.csv, from ../shared (skipped when absent)."""
    if not REAL_SAMPLE.is_file():
        pytest.skip(f"{REAL_SAMPLE} is not present")
    return REAL_SAMPLE


_EXACT_COSTS: dict[tuple[object, ...], float] = {}


@pytest.fixture(scope="module")
def exact_costs_once() -> Iterator[None]:
    """Compute each exact cost of the paper study once per test process.

    :func:`sor.ck.exact.exact_cents_per_share` is a pure function of its arguments, and each
    run of the study (``sor place --paper-table``) asks for the same ones again: the simple
    allocations do not depend on the samples, and the tests run the same study through the
    command and the library. Each run costs about 3 s of CPU in it; the sampled figures,
    the rule and the output are still computed every time.
    """
    from sor.ck import paper

    real = paper.exact_cents_per_share

    def once(x: np.ndarray, params: Any, mean: float, common_weight: float) -> float:
        allocation = np.asarray(x)
        key = (allocation.tobytes(), allocation.dtype.str, allocation.shape, params, mean,
               common_weight)  # fmt: skip
        if key not in _EXACT_COSTS:
            _EXACT_COSTS[key] = real(x, params, mean, common_weight)
        return _EXACT_COSTS[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(paper, "exact_cents_per_share", once)
        yield
