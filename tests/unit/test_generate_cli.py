"""`sor generate` against a hostile user: every refusal is one line and exit status 2,
before any file is written, and no run leaves a partial file behind (docs/generate.md)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cli_run import REPO, run_main
from sor.app.settings import GenerateFlags, check_flags
from sor.core.errors import ConfigError

START = "2024-08-01T13:36:32Z"
END = "2024-08-01T13:36:34Z"  # two seconds
SMALL = ["--start", START, "--end", END, "--venues", "1", "--depth", "1", "--quiet"]


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``sor ARGS``; return its one line of error, after checking the exit status."""
    outcome = run_main(args, capsys)
    assert outcome.returncode == 2, outcome.stderr
    assert outcome.stdout == ""
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("sor: error: "), outcome.stderr
    return lines[0]


@pytest.mark.parametrize("symbol", ["../x", "a/b", "/etc/x", "..", "x..y", "", "a\nb", "-x"])
def test_a_symbol_that_is_not_a_plain_name_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], symbol: str
) -> None:
    out = tmp_path / "days"
    line = _refused(["generate", "--out", str(out), "--days", "1", "--symbol", symbol, *SMALL],
                    capsys)  # fmt: skip
    assert line.startswith("sor: error: --symbol: must be a plain symbol")
    assert list(tmp_path.iterdir()) == []  # not even --out's directory


@given(st.text(max_size=30))
def test_an_accepted_symbol_names_a_file_inside_out(symbol: str) -> None:
    values = {"venues": 1, "seed": 1, "start": START, "depth": 1, "rate": 1.0,
              "price_moves": 1.0, "symbol": symbol}  # fmt: skip
    try:
        check_flags(GenerateFlags, values)
    except ConfigError:
        return
    out = Path("/out")
    day = out / f"{symbol.lower()}-20240801.mbp-1.csv"  # sor.data.days's names
    assert os.path.normpath(day).startswith("/out/") and day.parent == out
    assert symbol.isprintable() and not symbol.startswith(("-", "."))


def test_a_symbol_differing_only_by_case_is_refused_and_the_days_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "days"
    assert run_main(["generate", "--out", str(out), "--days", "2", *SMALL], capsys).returncode == 0
    before = {path.name: path.read_bytes() for path in out.iterdir()}
    line = _refused(
        ["generate", "--out", str(out), "--days", "2", "--symbol", "aapl", *SMALL], capsys
    )
    assert line == (
        f"sor: error: --symbol aapl: {out}/aapl-20240801.mbp-1.csv holds a day of AAPL, which "
        "differs only by case and shares its file names: write the two symbols into "
        "different --out directories"
    )
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before
    # the same symbol rewrites its days, the same bytes for the same flags
    assert run_main(["generate", "--out", str(out), "--days", "2", *SMALL], capsys).returncode == 0
    assert {path.name: path.read_bytes() for path in out.iterdir()} == before


def test_a_day_file_holding_something_else_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "days"
    out.mkdir()
    (out / "aapl-20240801.mbp-1.csv").write_text("my notes\n")
    line = _refused(["generate", "--out", str(out), "--days", "1", *SMALL], capsys)
    assert line == (
        f"sor: error: --out: {out}/aapl-20240801.mbp-1.csv holds another file, not a day of "
        "AAPL: move it or write elsewhere"
    )
    assert (out / "aapl-20240801.mbp-1.csv").read_text() == "my notes\n"


def test_two_days_written_to_one_file_through_a_symlink_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "days"
    out.mkdir()
    (out / "aapl-20240801.mbp-1.csv").symlink_to("aapl-20240802.mbp-1.csv")
    line = _refused(["generate", "--out", str(out), "--days", "2", *SMALL], capsys)
    assert line == (
        "sor: error: --out (aapl-20240801.mbp-1.csv) and --out (aapl-20240802.mbp-1.csv) name "
        f"the same file, {out}/aapl-20240802.mbp-1.csv"
    )
    assert [path.name for path in out.iterdir()] == ["aapl-20240801.mbp-1.csv"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rate", "10000", "--end", "2024-08-01T15:36:32Z"],
         "--rate 10000 x 6 venues x 7200 s makes about 4.3e+08 rows (about 166 GB of CSV), "
         "more than the cap of 1e+08 rows (about 38 GB): lower --rate or --venues or shorten "
         "the window"),
        (["--rate", "10000", "--end", "2024-08-01T13:46:32Z", "--days", "20"],
         "--rate 10000 x 6 venues x 600 s x 20 days makes about"),
        (["--price-moves", "1000", "--end", "2024-08-01T17:36:32Z"],
         "--price-moves 1000 over 14400 s makes about 1.4e+07 moves of the efficient price in "
         "a file, more than the cap of 2e+06: lower --price-moves or shorten the window"),
        (["--metaorder-seconds", "0.001", "--end", "2024-08-01T13:56:32Z"],
         "--metaorder-seconds 0.001 over 1200 s makes about 1.2e+06 metaorders in a file, more "
         "than the cap of 1e+06: raise --metaorder-seconds or shorten the window"),
    ],
)  # fmt: skip
def test_a_run_past_a_cap_is_refused_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    out = tmp_path / ("days" if "--days" in flags else "m.csv")
    line = _refused(["generate", "--out", str(out), "--start", START, *flags], capsys)
    assert line.startswith(f"sor: error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_the_run_says_its_size_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_main(["generate", "--out", str(tmp_path / "m.csv"), *SMALL[:-1]], capsys)
    assert outcome.returncode == 0
    assert outcome.stderr.splitlines()[0] == (
        "sor: writing about 222 rows (about 30 kB of CSV) in 1 file"
    )


def _sor(args: list[str], cwd: Path, **popen: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-m", "sor", *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen,
    )  # fmt: skip


def _small_files() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead


def test_a_failing_write_leaves_no_file(tmp_path: Path) -> None:
    child = _sor(["generate", "--out", "m.csv", "--quiet"], tmp_path, preexec_fn=_small_files)
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == 2
    assert stderr.splitlines() == [
        f"sor: error: --out: cannot write {tmp_path}/m.csv: File too large (os error 27)"
    ]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
@pytest.mark.parametrize("days", [False, True])
def test_an_interrupted_run_leaves_nothing(tmp_path: Path, stop: int, days: bool) -> None:
    out = ["--out", "new/days", "--days", "3"] if days else ["--out", "m.csv"]
    child = _sor(["generate", *out, "--rate", "2000", "--quiet"], tmp_path)
    folder = tmp_path / "new" / "days" if days else tmp_path
    deadline = time.monotonic() + 300
    while not any(path.name.endswith(".tmp.csv") for path in _listing(folder)):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(stop)
    _, stderr = child.communicate(timeout=300)
    assert (child.returncode, stderr) == (130, "sor: interrupted\n")
    assert list(tmp_path.iterdir()) == []  # no partial file, nor the directory it made


def _listing(folder: Path) -> list[Path]:
    return list(folder.iterdir()) if folder.is_dir() else []


def _hangups_ignored() -> None:  # in the child, before exec: as nohup starts it
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def test_a_run_started_ignoring_hangups_survives_one(tmp_path: Path) -> None:
    child = _sor(["generate", "--out", "m.csv", "--rate", "1000", "--end",
                  "2024-08-01T13:37:40Z", "--quiet"], tmp_path,
                 preexec_fn=_hangups_ignored)  # fmt: skip
    deadline = time.monotonic() + 300
    while not any(path.name.endswith(".tmp.csv") for path in _listing(tmp_path)):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    assert child.poll() is None  # the hangup comes mid-run
    child.send_signal(signal.SIGHUP)
    _, stderr = child.communicate(timeout=300)
    assert (child.returncode, stderr) == (0, "")
    assert [p.name for p in tmp_path.iterdir()] == ["m.csv"]
