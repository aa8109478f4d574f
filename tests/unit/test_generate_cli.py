"""`sor generate` against a hostile user: every refusal is one line and exit status 2,
before any file is written (docs/generate.md)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_run import run_main
from sor.app.settings import GenerateFlags, check_flags
from sor.core.errors import ConfigError

START = "2024-08-01T13:36:32Z"
END = "2024-08-01T13:36:34Z"  # two seconds
SMALL = ["--start", START, "--end", END, "--venues", "1", "--depth", "1", "--quiet"]


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``sor ARGS``; return its one line of error, after checking the exit status."""
    outcome = run_main(args, capsys)
    assert outcome.returncode == 2, outcome.stderr
    assert outcome.stdout == ""
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sor: error: "), outcome.stderr
    return lines[0]


@pytest.mark.parametrize("symbol", ["../x", "a/b", "/etc/x", "..", "x..y", "", "a\nb", "-x"])
def test_a_symbol_that_is_not_a_plain_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    out = tmp_path / "days"
    line = _refused(["generate", "--out", str(out), "--days", "1", "--symbol", symbol, *SMALL],
                    capsys)  # fmt: skip
    assert line.startswith("sor: error: --symbol: must be a plain symbol")
    assert list(tmp_path.iterdir()) == []  # not even --out's directory


@given(st.text(max_size=30))
def test_an_accepted_symbol_names_a_file_inside_out(symbol: str) -> None:
    values = {"venues": 1, "seed": 1, "start": START, "depth": 1, "rate": 1.0,
              "price_moves": 1.0, "symbol": symbol}  # fmt: skip
    try:
        check_flags(GenerateFlags, values)
    except ConfigError:
        return
    out = Path("/out")
    day = out / f"{symbol.lower()}-20240801.mbp-1.csv"  # sor.data.days's names
    assert os.path.normpath(day).startswith("/out/") and day.parent == out
    assert symbol.isprintable() and not symbol.startswith(("-", "."))
