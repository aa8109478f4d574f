"""The first run after a plain ``pip install``: it compiles what it runs, and no more.

A fresh virtual environment gets ``pip install '.[embedded]'`` of this checkout (not
editable, no make step, from the index and wheels pip is configured with here). Then, for
each model, with an empty numba cache of its own (``NUMBA_CACHE_DIR``), as after that
install: the first ``sor backtest --data FILE --no-plot`` (it compiles the reader's and the
model's kernels, saying so on one line) and the warm ones after it, on the demo market.
Goal: the first run within 3 x the warm one (the best of two), for either model. What each
group's compile adds (``python -m sor.app.compile GROUP`` in turn into one fresh cache,
less a run that compiles nothing) is printed too: ``sor.app.compile`` announces such
figures.

``--venv DIR`` reuses an environment made by an earlier run instead of installing one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sor.data.generate import generate_market

REPO = Path(__file__).resolve().parents[1]
GOAL = 3.0
"""First run over warm run, at most."""
GROUPS = ("read", "route", "static", "queue", "place", "ck")
"""The groups a backtest of either model compiles."""


def _install(folder: Path) -> tuple[Path, float]:
    """Make a virtual environment in ``folder`` with this checkout installed from a copy of
    its sources (so that the build leaves nothing in the checkout); return its python and
    the seconds the install took."""
    source = folder / "source"
    shutil.copytree(REPO / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))  # fmt: skip
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, source / name)
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(folder / "venv")], check=True)
    python = folder / "venv" / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"{source}[embedded]"],
                   check=True)  # fmt: skip
    return python, time.perf_counter() - began


def _timed(command: list[str], cache: Path, cwd: Path) -> float:
    """Run ``command`` with numba's cache in ``cache``; return its wall seconds."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    env["NUMBA_CACHE_DIR"] = str(cache)
    began = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - began


def main(venv: Path | None = None) -> dict[str, float]:
    """Install (unless ``venv`` is given), time the runs and print the figures."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="sor-bench-first-run-") as name:
        folder = Path(name)
        if venv is None:
            python, figures["install_s"] = _install(folder)
        else:
            python = venv / "bin" / "python"
        data = folder / "market.csv"
        generate_market(data, venues=6)  # the demo's nine-minute market
        for model in ("static", "ck"):
            cache = folder / f"cache-{model}"
            backtest = [str(python), "-m", "sor", "backtest", "--data", str(data), "--no-plot",
                        "--model", model, "--json-out", str(folder / "o.json")]  # fmt: skip
            figures[f"{model}_first_s"] = _timed(backtest, cache, folder)
            figures[f"{model}_warm_s"] = min(_timed(backtest, cache, folder) for _ in range(2))
        nothing = [str(python), "-m", "sor.app.compile", "read"]
        _timed(nothing, folder / "cache-static", folder)  # files warm in the page cache
        idle = _timed(nothing, folder / "cache-static", folder)  # imports only: compiled
        for group in GROUPS:  # in turn, into one fresh cache: what each adds
            step = [str(python), "-m", "sor.app.compile", group]
            figures[f"{group}_compile_s"] = _timed(step, folder / "cache-groups", folder) - idle
    print("first run after a plain pip install: sor backtest --data (demo market, 362,973 "
          "rows) --no-plot, fresh numba cache")  # fmt: skip
    if "install_s" in figures:
        print(f"  pip install '.[embedded]' into a fresh venv  {figures['install_s']:6.1f} s")
    for model in ("static", "ck"):
        first, warm = figures[f"{model}_first_s"], figures[f"{model}_warm_s"]
        print(f"  {model:6s} first run {first:6.1f} s, warm run {warm:6.1f} s (baseline): "
              f"{first / warm:.2f} x warm (goal <= {GOAL:g} x)")  # fmt: skip
    print("  compiling each group in turn (python -m sor.app.compile GROUP): " + ", ".join(
        f"{group} {figures[f'{group}_compile_s']:.1f} s" for group in GROUPS))  # fmt: skip
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="an environment with sor installed")
    main(parser.parse_args().venv)
