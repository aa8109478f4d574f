"""Every default of a run is written once, in sor/core/defaults.py, which imports nothing of
the project: the help, the configuration file and the models cannot disagree."""

from __future__ import annotations

import ast
from pathlib import Path

import sor

PACKAGE = Path(sor.__file__).resolve().parent
DEFAULTS = PACKAGE / "core" / "defaults.py"


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_the_defaults_module_imports_nothing_of_the_project() -> None:
    for node in ast.walk(_tree(DEFAULTS)):
        if isinstance(node, ast.ImportFrom):
            assert node.module in ("__future__",), node.module
        assert not isinstance(node, ast.Import), ast.dump(node)


def test_no_other_module_writes_a_default_of_its_own() -> None:
    """A name ``DEFAULT_*`` defined elsewhere is built from the defaults module's values
    (a grid, a value in ns), never from a number or a text of its own."""
    written = {
        target.id
        for node in _tree(DEFAULTS).body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert {"DEFAULT_SEED", "DEFAULT_ORDER_SIZE", "DEFAULT_HORIZONS_S"} <= written
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == DEFAULTS:
            continue
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.Assign | ast.AnnAssign) or node.value is None:
                continue
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            if not any(name.startswith("DEFAULT_") for name in names):
                continue
            used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}
            if not used & written:
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {names}")
    assert offenders == []


def test_the_fill_study_and_model_ck_rest_orders_alike_by_default() -> None:
    """``sor fills`` measures what the ck router's passive orders meet: the same queue model,
    latency and fill rules unless a flag says otherwise."""
    from sor.ck.fills import StudyOptions
    from sor.ck.router import CKSettings

    assert StudyOptions().settings == CKSettings()
