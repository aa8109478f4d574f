"""The classic scripts at the repository's root, run by a Python outside sor's environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script", ["backtest.py", "kafka_producer.py"])
def test_a_script_outside_the_environment_says_how_to_set_up(script: str, tmp_path: Path) -> None:
    # -I ignores PYTHONPATH and the user's site, -S every site-packages: the script finds
    # sor's sources beside it but none of its dependencies, as a bare system Python would
    outcome = subprocess.run(
        [sys.executable, "-I", "-S", str(REPO / script), "--help"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert outcome.returncode == 2, outcome.stderr
    assert outcome.stdout == ""
    (line,) = outcome.stderr.splitlines()
    assert line.startswith(f"sor: error: {script} needs sor's environment (No module named ")
    assert line.endswith(
        "set it up with `make demo`, or `python -m venv .venv && .venv/bin/pip install -e .`, "
        f"then run `.venv/bin/python {script}`"
    )
    assert list(tmp_path.iterdir()) == []
