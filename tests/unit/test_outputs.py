"""No output may name an input or another output, however the path is written, and an
output written through a symlink updates its target."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sor.cli import app
from sor.data.generate import generate_market


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("outputs") / "v.csv"
    generate_market(path, venues=2, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:52Z")  # fmt: skip
    return path


def _run(args: list[str], cwd: Path) -> tuple[int, str]:
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [*args, "--quiet"])
    finally:
        os.chdir(previous)
    return result.exit_code, result.output


def _names_of(market: Path, tmp_path: Path) -> list[str]:
    """The input written three other ways: relative with ./, through a symlink, and via a
    detour through its parent."""
    link = tmp_path / "link.csv"
    link.symlink_to(market)
    return [
        f"./{market.name}",
        str(link),
        str(market.parent / ".." / market.parent.name / market.name),
    ]


@pytest.mark.parametrize(
    ("command", "flag"),
    [(["backtest", "--no-plot"], "--json-out"), (["backtest", "--json-out", "o.json"], "--plot"),
     (["fills", "--every", "5", "--no-plot"], "--orders-out"),
     (["fills", "--every", "5", "--no-plot"], "--json-out"), (["stats"], "--plot")],
)  # fmt: skip
def test_an_output_naming_the_input_is_refused_however_written(
    market: Path, tmp_path: Path, command: list[str], flag: str
) -> None:
    before = market.read_bytes()
    for name in _names_of(market, tmp_path):
        data = [str(market)] if command[0] == "stats" else ["--data", str(market)]
        status, output = _run([command[0], *data, *command[1:], flag, name], market.parent)
        assert status == 2, output
        assert f"{flag}: {Path(name)} is the input file" in output, output
        assert len(output.splitlines()) == 1
    assert market.read_bytes() == before


@pytest.mark.parametrize(
    ("command", "first", "second"),
    [(["backtest"], "--json-out", "--plot"), (["fills", "--every", "5"], "--orders-out", "--plot"),
     (["fills", "--every", "5", "--no-plot"], "--orders-out", "--json-out")],
)  # fmt: skip
def test_two_outputs_naming_one_file_are_refused(
    market: Path, tmp_path: Path, command: list[str], first: str, second: str
) -> None:
    out = tmp_path / "same.png"
    status, output = _run([command[0], "--data", str(market), *command[1:], first, str(out),
                           second, f"./{out.name}"], tmp_path)  # fmt: skip
    assert status == 2 and f"{first} and {second} name the same file" in output, output
    assert not out.exists()


def test_sor_evaluate_refuses_to_write_over_a_day(market: Path, tmp_path: Path) -> None:
    days = tmp_path / "days"
    days.mkdir()
    for name in ("2024-08-01.csv", "2024-08-02.csv"):
        (days / name).write_bytes(market.read_bytes())
    before = (days / "2024-08-02.csv").read_bytes()
    status, output = _run(["evaluate", "--data", str(days), "--train-days", "1", "--no-plot",
                           "--json-out", str(days / "2024-08-02.csv")], tmp_path)  # fmt: skip
    assert status == 2 and "is the input file" in output, output
    assert (days / "2024-08-02.csv").read_bytes() == before


def test_an_output_through_a_symlink_updates_its_target(market: Path, tmp_path: Path) -> None:
    target = tmp_path / "reports" / "latest.json"
    target.parent.mkdir()
    target.write_text("{}")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    status, output = _run(["backtest", "--data", str(market), "--no-plot", "--json-out",
                           str(link)], tmp_path)  # fmt: skip
    assert status == 0, output
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "optimized" in json.loads(target.read_text())


def test_no_output_is_written_over_the_orderbook_file_beside_a_lobster_input(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from sor.cli import app

    stem = "X_2012-06-21_34200000_57600000"
    message = tmp_path / f"{stem}_message_1.csv"
    book = tmp_path / f"{stem}_orderbook_1.csv"
    message.write_text("34200.5,1,11,100,2238100,1\n")
    book.write_text("2238300,500,2238100,100\n")
    for args in (["convert", str(message), "--out", str(book)],
                 ["backtest", "--data", str(message), "--json-out", str(book), "--no-plot"],
                 ["fills", "--data", str(message), "--orders-out", str(book), "--no-plot"],
                 ["stats", str(message), "--plot", str(book)]):  # fmt: skip
        result = CliRunner().invoke(app, [*args, "--quiet"])
        assert result.exit_code == 2, (args, result.output)
        assert f"is the input file {book}" in result.output, args
        assert book.read_text() == "2238300,500,2238100,100\n"
