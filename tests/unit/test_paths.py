"""Paths: an input that is not a readable regular file is told apart precisely, in one line,
by every command that reads one (missing, a directory, a FIFO, a symlink loop, a dangling
symlink); an output where no file can be created is refused before the run; an output's
temporary file never outlives the write."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import REPO, run_main
from sor.app.runs import write_atomically
from sor.core.paths import NO_SUCH_FILE, input_file_problem


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
    "missing": (lambda folder: folder / "absent.csv", NO_SUCH_FILE),
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


@pytest.mark.parametrize(
    ("command", "flag"),
    [("stats", "--plot"), ("fills", "--json-out"), ("fills", "--orders-out"),
     ("backtest", "--json-out")],
)  # fmt: skip
def test_an_output_where_no_file_can_be_created_is_refused_before_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, flag: str
) -> None:
    # /proc/version is a regular file, and root passes os.access on /proc: only creating
    # the temporary file beside it fails; the missing data shows the run never started
    data = str(tmp_path / "absent.csv")
    start = [command, data] if command == "stats" else [command, "--data", data, "--no-plot"]
    outcome = run_main([*start, flag, "/proc/version", "-q"], capsys)
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: {flag}: /proc/version: no file can be created in /proc: No such file or "
        "directory"
    ]


def test_an_output_symlink_is_checked_where_it_points(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "stats.png"
    link.symlink_to(tmp_path / "gone" / "stats.png")
    outcome = run_main(["stats", str(tmp_path / "absent.csv"), "--plot", str(link)], capsys)
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: --plot: {link}: the directory {tmp_path}/gone does not exist"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.png"]


# half a figure is written, then the process is sent SIGTERM, as `kill` would
INTERRUPTED_WRITE = """
import os, signal, sys
from pathlib import Path

import typer

from sor.app.runs import write_atomically
from sor.cli.common import user_errors


def write(path):
    path.write_bytes(b"\\x89PNG" + bytes(1 << 20))
    os.kill(os.getpid(), signal.SIGTERM)


try:
    with user_errors():
        write_atomically(Path(sys.argv[1]), "--plot", write, suffix=".png")
except typer.Exit as stop:
    sys.exit(stop.exit_code)
"""


def test_sigterm_while_writing_the_figure_leaves_no_temporary_file(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTED_WRITE, str(tmp_path / "stats.png")],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert done.stderr.splitlines() == ["sor: interrupted"]
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_leaves_no_temporary_file(tmp_path: Path) -> None:
    def write(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("the figure failed")

    with pytest.raises(RuntimeError, match="the figure failed"):
        write_atomically(tmp_path / "stats.png", "--plot", write, suffix=".png")
    assert list(tmp_path.iterdir()) == []
