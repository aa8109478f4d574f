"""An input path that is not a readable regular file is told apart precisely, in one line,
by every command that reads one: missing, a directory, a FIFO, a symlink loop, a dangling
symlink."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_run import run_main
from sor.core.paths import input_file_problem


def _fifo(folder: Path) -> Path:
    path = folder / "day.csv"
    os.mkfifo(path)
    return path


def _loop(folder: Path) -> Path:
    (folder / "a.csv").symlink_to(folder / "b.csv")
    (folder / "b.csv").symlink_to(folder / "a.csv")
    return folder / "a.csv"


def _dangling(folder: Path) -> Path:
    (folder / "day.csv").symlink_to(folder / "gone.csv")
    return folder / "day.csv"


def _folder(folder: Path) -> Path:
    (folder / "day.csv").mkdir()
    return folder / "day.csv"


CASES = {
    "missing": (lambda folder: folder / "absent.csv", "no such data file"),
    "a directory": (_folder, "is a directory, not a data file"),
    "a FIFO": (_fifo, "is not a regular file (a FIFO): sor reads a data file more than once"),
    "a symlink loop": (_loop, "is a symlink loop: following its links never reaches a file"),
    "a dangling symlink": (_dangling, "is a symlink to {folder}/gone.csv, which does not exist"),
}
COMMANDS = {
    "stats": lambda data: ["stats", data, "--no-plot"],
    "fills": lambda data: ["fills", "--data", data, "--no-plot"],
    "backtest": lambda data: [
        "backtest",
        "--data",
        data,
        "--no-plot",
        "--json-out",
        str(Path(data).parent / "o.json"),
    ],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_an_input_that_is_not_a_file_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, command: str
) -> None:
    make, problem = CASES[case]
    data = make(tmp_path)
    outcome = run_main([*COMMANDS[command](str(data)), "-q"], capsys)
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [f"sor: error: {data}: {problem.format(folder=tmp_path)}"]
    assert not (tmp_path / "o.json").exists()


def test_a_lobster_book_that_is_a_fifo_is_named_by_its_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _fifo(tmp_path)
    outcome = run_main(["stats", str(tmp_path / "m.csv"), "--lobster-book", str(book)], capsys)
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: --lobster-book: {book}: is not a regular file (a FIFO): sor reads a data "
        "file more than once"
    ]


def test_a_readable_file_has_no_problem(tmp_path: Path) -> None:
    (tmp_path / "day.csv").write_text("ts_event\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "day.csv")
    assert input_file_problem(tmp_path / "day.csv") is None
    assert input_file_problem(tmp_path / "link.csv") is None
