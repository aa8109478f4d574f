"""One instrument per input: a file mixing several is refused, not merged into one book."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cli_run import run_main
from dbn_encode import csv_to_dbn
from sor.core.errors import DataError
from sor.data.events import read_events
from sor.data.generate import generate_market, instrument_id
from sor.data.instruments import MixedInstrumentsError, first_instrument
from sor.data.reader import read_market

WINDOW = {"start": "2024-08-01T13:36:32Z", "end": "2024-08-01T13:36:40Z"}


def _symbol(tmp_path: Path, symbol: str, seed: int) -> Path:
    path = tmp_path / f"{symbol}.csv"
    generate_market(path, venues=2, seed=seed, symbol=symbol, **WINDOW)
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """AAPL's rows, then one MSFT row in the middle of them, as one file."""
    aapl = _symbol(tmp_path, "AAPL", 1).read_bytes().splitlines(keepends=True)
    msft = _symbol(tmp_path, "MSFT", 2).read_bytes().splitlines(keepends=True)
    middle = len(aapl) // 2
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join([*aapl[:middle], msft[1], *aapl[middle:]]))
    return path


def test_each_symbol_of_the_generator_has_its_own_instrument_id() -> None:
    assert instrument_id("AAPL") == 38  # the default market is unchanged
    ids = {instrument_id(s) for s in ("AAPL", "MSFT", "SPY", "QQQ")}
    assert len(ids) == 4
    assert all(0 < i < 2**31 for i in ids)


def test_a_file_of_one_instrument_reads_and_names_it(tmp_path: Path) -> None:
    path = _symbol(tmp_path, "MSFT", 2)
    assert read_market(path).rows_read > 0
    assert read_events(path).size > 0
    found = first_instrument(path)
    assert found is not None and found.label == f"{instrument_id('MSFT')}/MSFT"


def test_both_readers_refuse_a_file_of_two_instruments(mixed: Path) -> None:
    labels = f"38/AAPL, {instrument_id('MSFT')}/MSFT"
    with pytest.raises(MixedInstrumentsError, match=labels):
        read_market(mixed)
    with pytest.raises(MixedInstrumentsError, match=labels):
        read_events(mixed)


def test_bad_rows_naming_another_instrument_are_skipped_not_refused(tmp_path: Path) -> None:
    lines = _symbol(tmp_path, "AAPL", 1).read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    fields = lines[5].rstrip("\n").split(",")
    fields[header.index("instrument_id")] = "99"
    ragged = ",".join([*fields, "x"]) + "\n"  # one field too many
    fields[header.index("ask_px_00")] = "abc"
    unparseable = ",".join(fields) + "\n"
    path = tmp_path / "stray.csv"
    path.write_text("".join([*lines[:5], ragged, unparseable, *lines[5:]]))
    with pytest.raises(DataError, match="line 6: 75 field"):
        read_market(path)
    market = read_market(path, skip_bad_rows=True)
    assert market.skipped == {"ragged_line": 1, "bad_price": 1}
    assert market.rows_read == len(lines) + 1
    assert read_events(path, skip_bad_rows=True).size == len(lines) - 1


def test_a_row_naming_no_instrument_counts_as_the_files(tmp_path: Path) -> None:
    lines = _symbol(tmp_path, "AAPL", 1).read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b",38,", b",,", 1)
    path = tmp_path / "blank.csv"
    path.write_bytes(b"".join(lines))
    assert read_market(path).rows_read == len(lines) - 1


def test_a_dbn_file_of_two_instruments_is_refused(
    mixed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dbn = csv_to_dbn(mixed, tmp_path / "mixed.dbn")
    with pytest.raises(MixedInstrumentsError, match=f"38, {instrument_id('MSFT')}"):
        read_market(dbn)
    with pytest.raises(MixedInstrumentsError, match="more than one instrument"):
        read_events(dbn)
    for command in (["stats", "--no-plot", str(dbn)], ["fills", "--no-plot", "--data", str(dbn)]):
        outcome = run_main(command, capsys)
        assert outcome.returncode == 2 and outcome.stdout == ""
        assert "more than one instrument" in outcome.stderr, outcome.stderr


def test_sor_generate_symbol_writes_the_symbol_and_its_own_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "msft.csv"
    args = ["generate", "--out", str(out), "--symbol", "MSFT", "--venues", "2", "--end",
            "2024-08-01T13:36:36Z"]  # fmt: skip
    assert run_main(args, capsys).returncode == 0
    found = first_instrument(out)
    assert found is not None and found.label == f"{instrument_id('MSFT')}/MSFT"
    bad = run_main([*args[:4], "MS,FT"], capsys)
    assert bad.returncode == 2 and "--symbol" in bad.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["backtest", "--no-plot", "-q", "--data"],
        ["backtest", "--model", "ck", "--no-plot", "-q", "--data"],
        ["fills", "--no-plot", "--data"],
        ["stats", "--no-plot"],
    ],
)
def test_every_command_says_so_in_one_line(
    mixed: Path, tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.json"
    extra = ["--json-out", str(out)] if command[0] == "backtest" else []
    outcome = run_main([*command, str(mixed), *extra], capsys)
    assert outcome.returncode == 2
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("sor: error:")]
    assert len(errors) == 1 and "more than one instrument" in errors[0], outcome.stderr
    assert "Traceback" not in outcome.stderr and "sor evaluate splits" in errors[0]
    assert outcome.stdout == "" and not out.exists()


def test_the_one_instrument_rule_costs_no_extra_pass(mixed: Path) -> None:
    # the check rides on the reader's parse: the first instrument's key is all it keeps
    from sor.data.instruments import check_one_instrument

    keys = np.array([-1, 7, 7, -1, 7])
    assert check_one_instrument(mixed, keys, None) == 7
    assert check_one_instrument(mixed, np.array([-1]), None) is None
    with pytest.raises(MixedInstrumentsError):
        check_one_instrument(mixed, np.array([7, 8]), None)
    with pytest.raises(MixedInstrumentsError):
        check_one_instrument(mixed, np.array([8]), 7)
