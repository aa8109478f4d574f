"""Hostile CSV input: every bad file is one line on stderr and exit 2, or skipped rows.

Each case runs ``sor backtest`` as a user would, through the command's entry point in this
process (one case in a process of its own): a refusal must print nothing on stdout (no
figure from bad input) and exactly one line on stderr naming the file, and the line and
column where they are known; with ``--skip-bad-rows`` the run succeeds and counts the rows
it dropped per reason.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_run import Outcome, run_as_command, sor
from sor.core.errors import DataError
from sor.data.events import read_events, snapshots_from_events
from sor.data.generate import generate_market
from sor.data.reader import read_market

GRID = ["--lambda-over", "0.1", "--lambda-under", "0.2", "--theta-queue", "0.3"]
CK = ["--model", "ck", "--order-size", "500", "--horizon", "0.5", "--lambda-under", "0.05",
      "--theta-queue", "0.005", "--lambda-over", "0.05"]  # fmt: skip
BIG = 2 * 1024**3  # a sparse file of this size costs no disk


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated MBP-1 file (20 fields): three venues over three seconds."""
    path = tmp_path_factory.mktemp("hostile") / "clean.csv"
    generate_market(path, venues=3, seed=5, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:35Z", depth=1)  # fmt: skip
    return path


def _sor(capfd: pytest.CaptureFixture[str] | None, *args: str, cwd: Path) -> Outcome:
    """Run ``sor backtest ARGS`` in this process, or in a process of its own without ``capfd``."""
    command = ["backtest", *args, "--no-plot", "-q"]
    if capfd is None:
        done = sor(*command, cwd=cwd)
        return Outcome(done.returncode, done.stdout, done.stderr)
    return run_as_command(command, capfd, cwd)


def _refused(capfd: pytest.CaptureFixture[str] | None, path: Path, *extra: str) -> str:
    """Run on ``path``; assert a one-line refusal and return that line."""
    done = _sor(capfd, "--data", str(path), *GRID, *extra, cwd=path.parent)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"sor: error: {path}"), lines[0]
    return lines[0]


def _skipped(capfd: pytest.CaptureFixture[str], path: Path, *extra: str) -> dict[str, int]:
    """Run on ``path`` with --skip-bad-rows; assert success and return run.skipped_rows."""
    out = path.with_suffix(".json")
    done = _sor(capfd, "--data", str(path), *GRID, *extra, "--skip-bad-rows", "--json-out",
                str(out), cwd=path.parent)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Warning:" not in done.stderr, done.stderr
    skipped: dict[str, int] = json.loads(out.read_text())["run"]["skipped_rows"]
    return skipped


def _cases(cases: list[tuple[object, ...]], ids: list[str], ck: set[str]) -> list[object]:
    """Every case with the static model, and those named in ``ck`` with model ck too (its
    refusals come from the same reader; its skips exercise the events path)."""
    return [
        pytest.param(*case, model, id=f"{name}-{label}")
        for model, label in (([], "static"), (CK, "ck"))
        for case, name in zip(cases, ids, strict=True)
        if model == [] or name in ck
    ]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")


def _with_value(clean: Path, target: Path, row: int, column: str, value: bytes) -> Path:
    """Copy ``clean`` with the value of ``column`` in data row ``row`` (line row + 2) set."""
    lines = _lines(clean)
    header = lines[0].split(b",")
    cells = lines[row + 1].split(b",")
    cells[header.index(column.encode())] = value
    lines[row + 1] = b",".join(cells)
    target.write_bytes(b"\n".join(lines))
    return target


def _set(line: bytes, clean: Path, column: str, value: bytes) -> bytes:
    """Return ``line`` of ``clean`` with the value of ``column`` set."""
    cells = line.split(b",")
    cells[_lines(clean)[0].split(b",").index(column.encode())] = value
    return b",".join(cells)


def _with_line(clean: Path, target: Path, row: int, line: bytes) -> Path:
    lines = _lines(clean)
    lines[row + 1] = line
    target.write_bytes(b"\n".join(lines))
    return target


# 1. timestamps


@pytest.mark.parametrize(
    ("value", "model"),
    _cases(
        [
            (b"2263-01-01T00:00:00.000000000Z",),  # past int64 nanoseconds: polars wraps it
            (b"2100-01-01T00:00:00.000000000Z",),
            (b"1500-01-01T00:00:00.000000000Z",),
            (b"1980-01-01T00:00:00.000000000Z",),
        ],
        ["2263", "2100", "1500", "1980"],
        ck={"2263", "2100"},
    ),
)
def test_a_timestamp_out_of_range_is_a_bad_row(
    clean: Path, tmp_path: Path, value: bytes, model: list[str], capfd: pytest.CaptureFixture[str]
) -> None:
    path = _with_value(clean, tmp_path / "ts.csv", 7, "ts_event", value)
    message = _refused(capfd, path, *model)
    assert "line 9, column 'ts_event'" in message
    assert value.decode() in message and "--skip-bad-rows" in message
    assert _skipped(capfd, path, *model) == {"timestamp_out_of_range": 1}


def test_integer_nanoseconds_past_int64_are_a_bad_timestamp(
    clean: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(clean)
    header = lines[0].split(b",")
    at = header.index(b"ts_event")
    from sor.core.timestamps import parse_timestamp

    for k in range(1, len(lines)):
        cells = lines[k].split(b",")
        if len(cells) > at:
            cells[at] = str(parse_timestamp(cells[at].decode())).encode()
            lines[k] = b",".join(cells)
    path = tmp_path / "ns.csv"
    path.write_bytes(b"\n".join(lines))
    assert _refused(capfd, _with_value(path, path, 3, "ts_event", b"99999999999999999999"))
    assert _skipped(capfd, path) == {"bad_timestamp": 1}


def test_the_distance_to_the_median_is_a_parameter(
    clean: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    hours_away = _with_value(clean, tmp_path / "h.csv", 4, "ts_event",
                             b"2024-08-01T15:36:32.000000000Z")  # fmt: skip
    assert read_market(hours_away).rows_read == read_market(clean).rows_read
    hour = 3600 * 10**9
    with pytest.raises(DataError, match="out of range") as err:
        read_market(hours_away, max_ts_distance_ns=hour)
    assert (err.value.line, err.value.column) == (6, "ts_event")
    with pytest.raises(DataError, match="out of range"):
        read_events(hours_away, max_ts_distance_ns=hour)
    kept = read_market(hours_away, max_ts_distance_ns=hour, skip_bad_rows=True)
    assert kept.skipped == {"timestamp_out_of_range": 1}
    events = read_events(hours_away, max_ts_distance_ns=hour, skip_bad_rows=True)
    np.testing.assert_array_equal(snapshots_from_events(events), kept.snapshots)
    # the command's flag, in hours
    assert "out of range" in _refused(capfd, hours_away, "--max-ts-distance", "1")
    assert _skipped(capfd, hours_away, "--max-ts-distance", "1") == {"timestamp_out_of_range": 1}
    assert _skipped(capfd, hours_away) == {}


# 2. files that are not Databento MBP CSV fail fast


@pytest.mark.timeout(60)
def test_a_big_file_of_zero_bytes_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "z.csv"
    with path.open("wb") as handle:
        handle.truncate(BIG)
    message = _refused(None, path)  # the one case run as a process of its own
    assert message.endswith("not a Databento MBP CSV: no header line in the first 65536 bytes")


@pytest.mark.timeout(60)
def test_a_header_then_zero_bytes_fails_fast(
    clean: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "hz.csv"
    with path.open("wb") as handle:
        handle.write(_lines(clean)[0] + b"\n")
        handle.truncate(BIG)
    assert _refused(capfd, path).endswith(
        "not a Databento MBP CSV: line 2 is longer than 65536 bytes"
    )


@pytest.mark.timeout(60)
def test_compressed_zero_bytes_fail_fast(
    clean: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "zeros.csv.gz"
    path.write_bytes(gzip.compress(_lines(clean)[0] + b"\n" + bytes(64 << 20), 1))
    assert _refused(capfd, path).endswith("line 2 is longer than 65536 bytes")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "the file is empty"),
        (b"\x00\x01\x02garbage", "missing column(s)"),
        (b"\xff\xfeheader\n1,2\n", "header line is not UTF-8"),
        (b"a,b,a\n1,2,3\n", "column 'a' appears twice"),
    ],
)
def test_a_file_that_is_not_mbp_is_one_line(
    tmp_path: Path, content: bytes, expected: str, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    assert expected in _refused(capfd, path)


def test_a_head_of_lines_unlike_the_header_is_not_mbp(
    clean: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "short.csv"
    path.write_bytes(_lines(clean)[0] + b"\n" + b"1,2\n" * 200)
    message = _refused(capfd, path)
    assert "not a Databento MBP CSV: none of its first 100 data line(s)" in message


def test_gzip_and_zstd_stay_accepted(
    clean: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    import zstandard

    zipped = tmp_path / "data.csv.gz"
    zipped.write_bytes(gzip.compress(clean.read_bytes()))
    squeezed = tmp_path / "data.csv"  # compressed whatever the name
    squeezed.write_bytes(zstandard.ZstdCompressor().compress(clean.read_bytes()))
    plain = read_market(clean)
    for path in (zipped, squeezed):
        np.testing.assert_array_equal(read_market(path).snapshots, plain.snapshots)
        np.testing.assert_array_equal(read_events(path), read_events(clean))
    assert _skipped(capfd, zipped) == {}
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(zipped.read_bytes()[: len(zipped.read_bytes()) // 2])
    assert "cannot read as CSV" in _refused(capfd, broken)


# 3. ragged lines and bytes that are not UTF-8


@pytest.mark.parametrize(
    ("change", "expected", "model"),
    _cases(
        [
            (lambda line, _: line + b",extra", "21 field(s) where the header has 20"),
            (lambda line, _: line.rsplit(b",", 3)[0], "17 field(s) where the header has 20"),
            (lambda line, _: b"", "1 field(s) where the header has 20"),
            (lambda line, _: line.replace(b"AAPL", b"AA\xffPL"), "column 'symbol': bytes that are not UTF-8"),
            (lambda line, clean: _set(line, clean, "ask_px_00", b"222.8\xe2"), "column 'ask_px_00': bytes"),
        ],
        ["too_many", "too_few", "blank", "bad_byte", "cut_sequence"],
        ck={"too_many", "bad_byte"},
    ),
)  # fmt: skip
def test_a_line_that_is_not_a_row_is_a_bad_row(
    clean: Path,
    tmp_path: Path,
    change: Callable[[bytes, Path], bytes],
    expected: str,
    model: list[str],
    capfd: pytest.CaptureFixture[str],
) -> None:
    row = 11
    line = change(_lines(clean)[row + 1], clean)
    path = _with_line(clean, tmp_path / "ragged.csv", row, line)
    message = _refused(capfd, path, *model)
    assert f"line {row + 2}" in message and expected in message
    reason = "bad_encoding" if "UTF-8" in expected or "bytes" in expected else "ragged_line"
    assert _skipped(capfd, path, *model) == {reason: 1}


def test_every_bad_line_is_counted_and_the_events_match(clean: Path, tmp_path: Path) -> None:
    lines = _lines(clean)
    lines[5] += b",x"
    lines[9] = b"\xff" + lines[9]
    lines[12] = b"1,2,3"
    lines[20] = b""
    lines[30] = _set(lines[30], clean, "ts_event", b'"2024-08-01T13:36:33Z"')  # not unquoted
    path = tmp_path / "many.csv"
    path.write_bytes(b"\n".join(lines))
    market = read_market(path, skip_bad_rows=True)
    assert market.skipped == {"ragged_line": 3, "bad_encoding": 1, "bad_timestamp": 1}
    assert market.rows_read == read_market(clean).rows_read
    events = read_events(path, skip_bad_rows=True)
    np.testing.assert_array_equal(snapshots_from_events(events), market.snapshots)
    assert len(events) == len(read_events(clean)) - 5
    with pytest.raises(DataError) as first:
        read_market(path)
    assert first.value.line == 6


# 4. values outside Databento's types


@pytest.mark.parametrize(
    ("column", "value", "reason", "expected", "model"),
    _cases(
        [
            ("publisher_id", b"70000", "bad_publisher_id", "outside Databento's range 0 to 65535"),
            ("publisher_id", b"-1", "bad_publisher_id", "outside Databento's range 0 to 65535"),
            ("ask_sz_00", b"5000000000", "bad_size", "'5000000000' is above"),
            ("ask_sz_00", b"3000000000", "bad_size", "the largest top-of-book size"),
            ("bid_sz_00", b"12.5", "bad_size", "cannot parse '12.5' as a size"),
            ("ask_px_00", b"9000000000", "bad_price", "above the largest price"),
            ("bid_px_00", b"1e300", "bad_price", "above the largest price"),
        ],
        ["venue", "negative_venue", "size", "book_size", "fraction", "price", "huge_price"],
        ck={"venue", "size", "price"},
    ),
)
def test_a_value_outside_databentos_types_is_a_bad_row(
    clean: Path, tmp_path: Path, column: str, value: bytes, reason: str, expected: str,
    model: list[str], capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    path = _with_value(clean, tmp_path / "v.csv", 10, column, value)
    message = _refused(capfd, path, *model)
    assert f"line 12, column '{column}'" in message and expected in message
    assert _skipped(capfd, path, *model) == {reason: 1}


def test_a_trade_size_past_uint32_is_read_as_absent(clean: Path, tmp_path: Path) -> None:
    path = _with_value(clean, tmp_path / "trade.csv", 10, "size", b"5000000000")
    with pytest.raises(DataError, match="line 12, column 'size'"):
        read_events(path)
    events = read_events(path, skip_bad_rows=True)
    assert len(events) == len(read_events(clean))
    assert 5_000_000_000 not in events["size"].tolist()


@pytest.mark.parametrize(
    ("column", "value"),
    [("ask_px_00", b"-1"), ("ask_px_00", b"inf"), ("ask_px_00", b"nan"), ("ask_px_00", b""),
     ("ask_px_00", b"0"), ("ask_sz_00", b"0"), ("ask_sz_00", b"-5000000000"), ("bid_sz_00", b"")],
)  # fmt: skip
def test_no_liquidity_is_not_a_bad_row(
    clean: Path, tmp_path: Path, column: str, value: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    path = _with_value(clean, tmp_path / "nl.csv", 0, column, value)
    first = read_market(path, skip_bad_rows=True)
    assert first.skipped == {}
    assert first.rows_read == read_market(clean).rows_read
    side = "ask" if column.startswith("ask") else "bid"
    quote = first.snapshots[0]
    assert quote[f"{side}_px"] == 0 or quote[f"{side}_sz"] == 0
    assert _skipped(capfd, path) == {}


# 5. fuzz: any mutation is a report or one line, never a traceback


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if kind == "truncate":
        return data[:at]
    if kind == "delete":
        return data[:at] + data[at + draw(st.integers(1, 40)) :]
    piece = draw(st.sampled_from([b",", b"\n", b",,", b"\r", b"\xff", b"\xc3", b'"', b"\x00",
                                  b"9999999999", b"-", b"e9", b"\xef\xbb\xbf"]))  # fmt: skip
    return data[:at] + piece + data[at:]


@st.composite
def _mutated(draw: st.DrawFn, source: bytes) -> bytes:
    data = source
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        data = _mutate(data, draw)
    return data


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("fuzz") / "small.csv"
    generate_market(path, venues=2, seed=8, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:36:33Z")  # fmt: skip
    lines = path.read_bytes().split(b"\n")
    return b"\n".join(lines[:40]) + b"\n"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), skip=st.booleans())
def test_a_mutated_file_is_a_report_or_one_line(
    small: bytes, tmp_path: Path, data: st.DataObject, skip: bool
) -> None:  # fmt: skip
    from typer.testing import CliRunner

    from sor.cli import app

    path = tmp_path / "fuzz.csv"
    path.write_bytes(data.draw(_mutated(small)))
    args = ["backtest", "--data", str(path), *GRID, "--no-plot", "-q", "--json-out",
            str(tmp_path / "report.json"), *(["--skip-bad-rows"] if skip else [])]  # fmt: skip
    done = CliRunner().invoke(app, args)
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    if done.exit_code == 0:
        assert json.loads(done.stdout)["run"]["input"] == str(path)
    else:
        assert done.exit_code == 2, done.output
        assert done.stdout == ""
        # one error line; with --skip-bad-rows the skips may be logged before it
        *before, error = done.stderr.splitlines()
        assert error.startswith("sor: error: "), done.stderr
        assert len(before) <= 2 * skip and all("skipped" in line for line in before)


@pytest.mark.parametrize("value", [b"AB", b"\xef\xbb\xbf"])
def test_an_action_of_more_than_one_character_is_read_as_absent(
    clean: Path, tmp_path: Path, value: bytes
) -> None:
    # one byte of "AB" would have been kept, the BOM would have failed to encode
    path = _with_value(clean, tmp_path / "action.csv", 10, "action", value)
    with pytest.raises(DataError, match=r"line 12, column 'action': cannot parse .* as an action"):
        read_events(path)
    events = read_events(path, skip_bad_rows=True)
    assert len(events) == len(read_events(clean))
    assert events["action"].tolist().count(b"") == 1
