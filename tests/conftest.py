"""Shared fixtures: small data files and the real sample when it is present."""

from __future__ import annotations

from pathlib import Path

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
