"""Run the ``sor`` command as a user does: in a subprocess, or in-process through ``main``."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings
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


# what a new interpreter prints of no warning (Python's default filters)
_SILENT = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


def run_as_command(args: Sequence[str], capfd: pytest.CaptureFixture[str], cwd: Path) -> Outcome:
    """Run ``sor ARGS`` in this process with the output ``sor(*args, cwd=cwd)`` would give.

    The working directory is ``cwd`` for the run; ``capfd`` takes what is written to the file
    descriptors too (a native library's message), and every warning a new interpreter would
    print is appended to stderr as its line. A case costs no interpreter start.
    """
    capfd.readouterr()  # the run's output alone, as a process of its own has
    with contextlib.chdir(cwd), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run_main(args, capfd)
    shown = "".join(
        f"{w.filename}:{w.lineno}: {w.category.__name__}: {w.message}\n"
        for w in caught
        if not issubclass(w.category, _SILENT)
    )
    return Outcome(outcome.returncode, outcome.stdout, outcome.stderr + shown)
