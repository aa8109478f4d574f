"""A command compiles the kernels it runs, and only those, once per installation: one line
on stderr says which and about how long; a second run says nothing (sor.app.compile)."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import REPO
from sor.app.compile import GROUPS, input_groups, missing, model_groups, model_plan, stamp
from sor.data.generate import generate_market

ANNOUNCEMENT = re.compile(
    r"sor: compiling the kernels of (?P<what>.+), once for this installation "
    r"\(about (?P<seconds>\d+) s\)"
)
BELOW_APP = tuple(sorted(
    folder.name for folder in (REPO / "src" / "sor").iterdir()
    if (folder / "__init__.py").exists() and folder.name not in ("app", "cli")
))  # fmt: skip
"""The packages under the application layer: none of them compiles anything ahead."""


def _sor(args: list[str], cache: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ARGS`` as after a plain install: numba's cache in ``cache`` only."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def _announced(stderr: str) -> list[str]:
    """The lines of ``stderr`` that announce a compilation."""
    return [line for line in stderr.splitlines() if "compiling" in line]


def _stamped(cache: Path) -> set[str]:
    """The groups stamped compiled in ``cache``."""
    return {p.name.split("-")[2] for p in cache.glob("sor-kernels-*.stamp")}


def test_a_first_backtest_compiles_its_model_alone_and_a_second_says_nothing(
    tmp_path: Path,
) -> None:
    data, cache = tmp_path / "m.csv", tmp_path / "cache"
    generate_market(data, venues=2, end="2024-08-01T13:36:40Z")
    backtest = ["sor", "backtest", "--data", str(data), "--no-plot", "--json-out", "o.json"]

    first = _sor(backtest, cache, tmp_path)
    assert first.returncode == 0, first.stderr
    (line,) = _announced(first.stderr)
    match = ANNOUNCEMENT.fullmatch(line)
    assert match, line
    assert match["what"] == "the file reader, the static router and the static model"
    assert int(match["seconds"]) >= 1
    assert _stamped(cache) == {"read", "route", "static"}  # not model ck's

    again = _sor(backtest, cache, tmp_path)
    assert again.returncode == 0, again.stderr
    assert _announced(again.stderr) == []
    assert again.stdout == first.stdout

    ck = _sor([*backtest, "--model", "ck", "--horizon", "1"], cache, tmp_path)
    assert ck.returncode == 0, ck.stderr
    (line,) = _announced(ck.stderr)
    match = ANNOUNCEMENT.fullmatch(line)
    assert match and match["what"] == "the placement solver, the queue simulator and model ck"
    assert _stamped(cache) == {"read", "route", "static", "queue", "place", "ck"}
    assert ck.stdout == _sor([*backtest, "--model", "ck", "--horizon", "1"], cache, tmp_path).stdout


def test_the_install_step_compiles_the_groups_named_once(tmp_path: Path) -> None:
    first = _sor(["sor.app.compile", "stats"], tmp_path, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines() == [
        "sor: compiling the kernels of the statistics, once for this installation (about 1 s)"
    ]
    assert _stamped(tmp_path) == {"stats"}
    assert any(tmp_path.rglob("*.nbc"))  # numba's cache is where the stamp is
    again = _sor(["sor.app.compile", "stats"], tmp_path, tmp_path)
    assert again.returncode == 0 and again.stderr == ""


def test_an_unknown_group_is_one_line_and_status_2(tmp_path: Path) -> None:
    outcome = _sor(["sor.app.compile", "stats", "everything"], tmp_path, tmp_path)
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: unknown kernel group everything; known: {', '.join(GROUPS)}"
    ]
    assert list(tmp_path.iterdir()) == []  # nothing compiled, nothing stamped


def test_the_groups_follow_the_input_and_the_model(tmp_path: Path) -> None:
    mbo = tmp_path / "day.mbo.csv"
    mbo.write_text("ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,price,size,"
                   "channel_id,order_id,flags,ts_in_delta,sequence,symbol\n")  # fmt: skip
    assert input_groups(None) == ("generate", "read")
    assert input_groups(mbo) == ("read", "mbo")
    assert input_groups(tmp_path / "absent.csv") == ("read",)  # the reader says what is wrong
    assert model_groups("static") == ("route", "static")
    assert model_groups("ck") == ("route", "static", "place", "queue", "ck")  # and the baselines
    for model in ("static", "ck"):  # the longest in another process, the rest in this one
        ahead, after = model_plan(model)
        assert set(ahead) | set(after) == set(model_groups(model))
        assert not set(ahead) & set(after)
    with pytest.raises(ValueError, match="unknown kernel groups: nope"):
        missing(["read", "nope"])


def test_a_stamp_names_its_group_and_follows_numbas_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numba

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    paths = {name: stamp(name) for name in GROUPS}
    assert all(path.parent == tmp_path for path in paths.values())
    assert len(set(paths.values())) == len(GROUPS)
    assert all(path.name.startswith(f"sor-kernels-{name}-") for name, path in paths.items())


def test_no_module_below_the_application_layer_compiles_ahead() -> None:
    package = REPO / "src" / "sor"
    assert {"core", "data", "static", "ck", "report", "streaming"} < set(BELOW_APP)
    for folder in BELOW_APP:
        for path in (package / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                upward = [
                    n
                    for n in names
                    if n.startswith(("sor.app", "sor.cli", "sor.api", "sor.core.kernels"))
                ]
                assert not upward, f"{path.relative_to(package)} imports {upward}"
