"""The kernels compile once per installation, saying so on one line, never again."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_kernels_compile_once_and_say_so(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NUMBA_CACHE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "sor.core.kernels"]
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == ["sor: compiling the kernels, first run only"]
    assert len(list(tmp_path.glob("sor-kernels-*.stamp"))) == 1
    assert any(tmp_path.rglob("*.nbc"))  # numba's cache is where the stamp is
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and again.stderr == ""
