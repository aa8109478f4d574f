"""`sor generate --like` on files at the edges of what it fits (docs/generate.md, "A market
like a real one"): a window of a few rows, a spread wider than a venue model may draw, a
parameters file whose profile is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from sor.data.generate import generate_market
from sor.stylized.fit import fit_market

START, END = "2024-08-01T13:36:32Z", "2024-08-01T13:36:42Z"


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Ten seconds of a two-venue MBP-1 market, as the CSV's lines."""
    out = tmp_path_factory.mktemp("edges") / "market.csv"
    generate_market(out, seed=1, start=START, end=END, depth=1, venues=2, rate_per_venue=20.0)
    return out.read_text().splitlines(keepends=True)


def test_a_window_of_a_few_rows_fits_without_a_round_failing(
    lines: list[str], tmp_path: Path
) -> None:
    # two rows a few milliseconds apart: a round's simulation of that window has no row
    path = tmp_path / "short.csv"
    path.write_text("".join(lines[:3]))
    params = fit_market(path, rounds=2)
    assert params.venues
