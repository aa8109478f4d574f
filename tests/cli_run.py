"""Run the ``sor`` command as a user does: in a subprocess, or in-process through ``main``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from sor.cli import main

REPO = Path(__file__).resolve().parents[1]


def sor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sor ARGS`` in ``cwd`` with this checkout's sources first."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "sor", *args], cwd=cwd, env=env, capture_output=True, text=True
    )


@dataclass(frozen=True)
class Outcome:
    """Exit status and output of one in-process run."""

    returncode: int
    stdout: str
    stderr: str


def run_main(args: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """Call the entry point ``sor.cli.main`` with ``args``; it always ends in ``sys.exit``."""
    with pytest.raises(SystemExit) as stop:
        main(list(args))
    captured = capsys.readouterr()
    code = stop.value.code
    return Outcome(code if isinstance(code, int) else 1, captured.out, captured.err)
