"""Hostile DBN input: every bad file is one located error line (exit 2) or, with
--skip-bad-rows, a run whose report counts what was skipped; never a traceback, never a
figure computed from bytes that are not records, never a runaway.

The command runs through its entry point in this process (one case in a process of its own).
"""

from __future__ import annotations

import json
import random
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cli_run import Outcome, run_as_command, sor
from dbn_encode import csv_to_dbn
from sor.core.domain import MAX_PRICE_NANOS
from sor.core.errors import DataError
from sor.data.dbn import record_dtype
from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market

REPO = Path(__file__).resolve().parents[2]
MBP1, MBP10 = 80, 368  # record sizes in bytes
TS_OFFSET, ACTION_OFFSET, ASK_PX_OFFSET, ASK_SZ_OFFSET = 8, 28, 56, 68  # in an MBP-1 record
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _market(tmp: Path, depth: int) -> bytes:
    source = tmp / f"mbp{depth}.csv"
    generate_market(
        source, venues=3, seed=7, start="2024-08-01T13:36:32Z", end="2024-08-01T13:36:34Z",
        depth=depth,
    )  # fmt: skip
    return csv_to_dbn(source, tmp / f"mbp{depth}.dbn").read_bytes()


@pytest.fixture(scope="module")
def mbp1(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _market(tmp_path_factory.mktemp("hostile"), 1)


@pytest.fixture(scope="module")
def mbp10(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return _market(tmp_path_factory.mktemp("hostile"), 10)


def _records_start(data: bytes) -> int:
    return 8 + int(struct.unpack_from("<I", data, 4)[0])


def _sor(capfd: pytest.CaptureFixture[str] | None, path: Path, *extra: str) -> Outcome:
    """Run ``sor backtest`` on ``path`` in this process, or in its own without ``capfd``."""
    command = ["backtest", "--data", str(path), "--no-plot", "-q", *extra]
    if capfd is None:
        done = sor(*command, cwd=path.parent)
        return Outcome(done.returncode, done.stdout, done.stderr)
    return run_as_command(command, capfd, path.parent)


def _assert_one_line_error(done: Outcome, *fragments: str) -> str:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def _report(done: Outcome) -> dict:
    assert done.returncode == 0, done.stderr
    report: dict = json.loads(done.stdout)
    return report


def _write(path: Path, data: bytes) -> Path:
    if path.name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def _garbage(length: int, seed: int = 0) -> bytes:
    """Random bytes whose first byte is never a record length (so never a cut record)."""
    body = random.Random(seed).randbytes(length)
    return bytes([0xFF]) + body[1:]


def _put(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


def _record(data: bytes, index: int) -> int:
    """Byte offset of record ``index`` (from 0) of an MBP-1 file."""
    return _records_start(data) + index * MBP1


# (name, make the bad bytes from a good MBP-1 file, fragments of the message, skipped counts)
Case = tuple[str, Callable[[bytes], bytes], Callable[[bytes], list[str]], dict[str, int]]
CASES: list[Case] = [
    (
        "appended-13",
        lambda d: d + _garbage(13),
        lambda d: [f"byte {len(d)}: the 13 bytes after the last whole record are not a DBN"],
        {"bad_record": 1},
    ),
    (
        "appended-one-record-length",
        lambda d: d + _garbage(MBP1),
        lambda d: [f"byte {len(d)}: the 80 bytes after the last whole record are not DBN mbp-1"],
        {"bad_record": 1},
    ),
    (
        "appended-1000",  # 12 whole slots and 40 bytes: counted per slot, the rest once
        lambda d: d + _garbage(1000),
        lambda d: [f"byte {len(d)}: the 1000 bytes", "13 bad record(s)"],
        {"bad_record": 13},
    ),
    (
        "appended-fake-record",  # a plausible header, random values
        lambda d: d + bytes([MBP1 // 4, 0x01]) + _garbage(MBP1 - 2, seed=3),
        lambda d: [f"byte {len(d)}: record", "ts_event"],
        {"timestamp_out_of_range": 1},
    ),
    (
        "cut-mid-record",
        lambda d: d[:-40],
        lambda d: [f"byte {len(d) - MBP1}: partial record (40 of 80 bytes) at the end"],
        {"bad_record": 1},
    ),
    (
        "year-2100",
        lambda d: _put(d, _record(d, 5) + TS_OFFSET, "<Q", 4_102_444_800 * 10**9),
        lambda d: [f"byte {_record(d, 5)}: record 6 has ts_event 4102444800000000000"],
        {"timestamp_out_of_range": 1},
    ),
    (
        "year-1678",  # int64's earliest time, which DBN's unsigned ts_event reads past 2262
        lambda d: _put(d, _record(d, 7) + TS_OFFSET, "<q", -(2**63) + 1),
        lambda d: [f"byte {_record(d, 7)}: record 8 has ts_event", "before 1990"],
        {"timestamp_out_of_range": 1},
    ),
    (
        "price-above-bound",
        lambda d: _put(d, _record(d, 9) + ASK_PX_OFFSET, "<q", MAX_PRICE_NANOS + 1),
        lambda d: [f"byte {_record(d, 9)}: record 10 has ask_px_00 {MAX_PRICE_NANOS + 1}"],
        {"bad_price": 1},
    ),
    (
        "size-past-int32",
        lambda d: _put(d, _record(d, 2) + ASK_SZ_OFFSET, "<I", 2**31),
        lambda d: [f"byte {_record(d, 2)}: record 3 has ask_sz_00 2147483648"],
        {"bad_size": 1},
    ),
    (
        "action-not-dbn",
        lambda d: _put(d, _record(d, 1) + ACTION_OFFSET, "<B", 0xC1),
        lambda d: [f"byte {_record(d, 1)}: record 2 has action 0xc1, not a DBN action"],
        {"bad_action": 1},
    ),
    (
        "wrong-length-byte",
        lambda d: _put(d, _record(d, 4), "<B", 7),
        lambda d: [f"byte {_record(d, 4)}: record 5 is not a DBN mbp-1 record (length 28 bytes"],
        {"bad_record": 1},
    ),
    (
        "wrong-rtype",
        lambda d: _put(d, _record(d, 4) + 1, "<B", 0x0A),
        lambda d: [f"byte {_record(d, 4)}: record 5 is not a DBN mbp-1 record", "rtype 0x0a"],
        {"bad_record": 1},
    ),
]


_ZSTD_CASES = ("appended-one-record-length", "cut-mid-record", "year-2100", "wrong-rtype")


@pytest.mark.parametrize(
    ("case", "suffix"),
    [
        *[pytest.param(case, ".dbn", id=case[0]) for case in CASES],
        *[pytest.param(c, ".dbn.zst", id=f"{c[0]}-zstd") for c in CASES if c[0] in _ZSTD_CASES],
    ],
)
def test_bad_record_is_a_located_error_or_counted_when_skipped(
    mbp1: bytes, tmp_path: Path, case: Case, suffix: str, capfd: pytest.CaptureFixture[str]
) -> None:
    name, make, fragments, skipped = case
    path = _write(tmp_path / f"{name}{suffix}", make(mbp1))
    expected = fragments(mbp1)
    if suffix == ".dbn.zst":
        expected = [f.replace("byte ", "decompressed byte ", 1) for f in expected]
    line = _assert_one_line_error(_sor(capfd, path), str(path), *expected)
    assert "--skip-bad-rows" in line
    report = _report(_sor(capfd, path, "--skip-bad-rows"))
    assert report["run"]["skipped_rows"] == skipped


def test_skipped_garbage_leaves_the_clean_file_s_report(
    mbp1: bytes, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    clean = _report(_sor(capfd, _write(tmp_path / "clean.dbn", mbp1)))
    dirty = _report(
        _sor(capfd, _write(tmp_path / "dirty.dbn", mbp1 + _garbage(MBP1)), "--skip-bad-rows")
    )
    assert dirty["run"].pop("skipped_rows") == {"bad_record": 1}
    assert clean["run"].pop("skipped_rows") == {}
    assert dirty["run"].pop("rows_read") == clean["run"].pop("rows_read") + 1
    for report in (clean, dirty):
        del report["run"]["input"], report["run"]["input_sha256"]
    assert dirty == clean


@pytest.mark.parametrize(
    ("name", "make", "fragment", "skipped"),
    [
        ("appended", lambda d: d + _garbage(MBP10), "bytes after the last whole record", 1),
        ("cut", lambda d: d[:-100], "partial record (268 of 368 bytes)", 1),
        (
            "year-2100",
            lambda d: _put(d, _records_start(d) + MBP10 + TS_OFFSET, "<Q", 4_102_444_800 * 10**9),
            "record 2 has ts_event 4102444800000000000",
            1,
        ),
    ],
)
def test_model_ck_reads_bad_mbp10_records_as_the_snapshots_do(
    mbp10: bytes,
    tmp_path: Path,
    name: str,
    make: Callable[[bytes], bytes],
    fragment: str,
    skipped: int,
    capfd: pytest.CaptureFixture[str],
) -> None:
    path = _write(tmp_path / f"{name}.dbn", make(mbp10))
    _assert_one_line_error(_sor(capfd, path, "--model", "ck"), str(path), fragment)
    report = _report(_sor(capfd, path, "--model", "ck", "--skip-bad-rows"))
    assert sum(report["run"]["skipped_rows"].values()) == skipped


@pytest.mark.parametrize(
    ("name", "data", "fragment"),
    [
        ("empty.dbn", lambda d: b"", "cannot read as DBN: the file is empty"),
        ("empty.dbn.zst", lambda d: b"", "cannot read as DBN: the file is empty"),
        ("csv.dbn", lambda d: b"ts_event,publisher_id\n1,2\n", "does not start with 'DBN'"),
        ("random.dbn", lambda d: _garbage(500), "does not start with 'DBN'"),
        ("cut-metadata.dbn", lambda d: d[: _records_start(d) - 10], "ends inside the metadata"),
        ("cut-preamble.dbn", lambda d: d[:5], "ends inside the metadata"),
        ("bad-zstd.dbn.zst", lambda d: _ZSTD_MAGIC + _garbage(50), "bad zstd data"),
        ("version-7.dbn", lambda d: d[:3] + b"\x07" + d[4:], "DBN version 7 is not supported"),
        ("trades.dbn", lambda d: d[:24] + b"\x04\x00" + d[26:], "DBN schema is 'trades'"),
        (
            # a metadata length short of the metadata (databento_dbn's decoder panics on it)
            "short-metadata-length.dbn",
            lambda d: _put(d, 4, "<I", _records_start(d) - 8 - 89),
            "bytes after the metadata are not DBN mbp-1 records",
        ),
        ("cut-zstd.dbn.zst", None, "the zstd stream is cut short"),
        ("zstd-then-garbage.dbn.zst", None, "bytes after the last zstd frame are not zstd data"),
    ],
)
def test_file_that_is_not_dbn_is_one_error(
    mbp1: bytes,
    tmp_path: Path,
    name: str,
    data: Callable[[bytes], bytes] | None,
    fragment: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / name
    compressed = zstandard.ZstdCompressor().compress(mbp1)
    if name == "cut-zstd.dbn.zst":
        path.write_bytes(compressed[:-20])
    elif name == "zstd-then-garbage.dbn.zst":
        path.write_bytes(compressed + _garbage(30))
    else:
        assert data is not None
        path.write_bytes(data(mbp1))
    _assert_one_line_error(_sor(capfd, path), str(path), fragment)
    if name == "zstd-then-garbage.dbn.zst":  # a whole frame of records came first
        skipped = _report(_sor(capfd, path, "--skip-bad-rows"))["run"]["skipped_rows"]
        assert skipped == {"bad_record": 1}
    else:  # nothing can be kept
        _assert_one_line_error(_sor(capfd, path, "--skip-bad-rows"), str(path), fragment)


def _with_metadata(data: bytes, *, version: int = 3, ts_out: bool = False) -> bytes:
    """Re-encode an MBP-1 file with another metadata version or with ts_out records."""
    import databento_dbn as dbn

    meta = dbn.Metadata(
        dataset="XNAS.ITCH", start=0, stype_in=dbn.SType.RAW_SYMBOL,
        stype_out=dbn.SType.INSTRUMENT_ID, schema=dbn.Schema.MBP_1, symbols=["AAPL"],
        ts_out=ts_out, version=version,
    )  # fmt: skip
    records = np.frombuffer(data[_records_start(data) :], dtype=record_dtype("mbp-1"))
    if ts_out:
        widened = np.zeros(len(records), dtype=record_dtype("mbp-1", ts_out=True))
        for name in records.dtype.names or ():
            widened[name] = records[name]
        widened["length"] += 2  # the header's length counts the 8 bytes of ts_out
        widened["ts_out"] = records["ts_recv"] + 1000
        records = widened
    return bytes(meta.encode()) + records.tobytes()


@pytest.mark.parametrize(("version", "ts_out"), [(1, False), (2, False), (3, True), (1, True)])
def test_other_metadata_versions_and_ts_out_read_alike(
    mbp1: bytes, tmp_path: Path, version: int, ts_out: bool
) -> None:
    plain = read_market(_write(tmp_path / "v3.dbn", mbp1))
    other = _with_metadata(mbp1, version=version, ts_out=ts_out)
    assert other[3] == version
    read = read_market(_write(tmp_path / "other.dbn", other))
    assert read.rows_read == plain.rows_read > 0
    np.testing.assert_array_equal(read.snapshots, plain.snapshots)
    with pytest.raises(DataError, match="partial record"):
        read_market(_write(tmp_path / "cut.dbn", other[:-10]))


def test_record_layout_is_databento_s() -> None:
    import databento_dbn

    for schema, message in (("mbp-1", databento_dbn.MBP1Msg), ("mbp-10", databento_dbn.MBP10Msg)):
        assert record_dtype(schema) == np.dtype(message._dtypes)
        assert record_dtype(schema).itemsize == message.size_hint


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "append", "flips-and-append"]))
    out = bytearray(data)
    if kind in ("flip", "flips-and-append"):
        for _ in range(draw(st.integers(1, 8))):
            at = draw(st.integers(0, len(out) - 1))
            out[at] ^= draw(st.integers(1, 255))
    if kind == "truncate":
        del out[draw(st.integers(0, len(out) - 1)) :]
    if kind in ("append", "flips-and-append"):
        out += draw(st.binary(min_size=1, max_size=400))
    return bytes(out)


@st.composite
def _mutated(draw: st.DrawFn, data: bytes) -> bytes:
    return _mutate(data, draw)


@pytest.fixture(scope="module")
def small_dbn(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    tiny = REPO / "tests" / "golden" / "tiny_mbp1.csv"
    return csv_to_dbn(tiny, tmp_path_factory.mktemp("fuzz") / "tiny.dbn").read_bytes()


@pytest.mark.timeout(240)
@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_dbn_reads_or_fails_with_one_line(
    small_dbn: bytes, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    suffix = data.draw(st.sampled_from([".dbn", ".dbn.zst"]))
    mutated = data.draw(_mutated(small_dbn))
    if suffix == ".dbn.zst" and data.draw(st.booleans()):
        mutated = _mutate(zstandard.ZstdCompressor().compress(small_dbn), data.draw)
        path = tmp_path_factory.mktemp("fuzz") / f"m{suffix}"
        path.write_bytes(mutated)
    else:
        path = _write(tmp_path_factory.mktemp("fuzz") / f"m{suffix}", mutated)
    skip = data.draw(st.booleans())
    try:
        market = read_market(path, skip_bad_rows=skip)
        events = read_events(path, skip_bad_rows=skip)
    except DataError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        event("error")
        return
    event(f"read, skipped {sorted(market.skipped)}")
    # whatever was kept is a record of this market: its times, prices and sizes in range
    snapshots = market.snapshots
    assert len(events) == market.rows_read - sum(market.skipped.values())
    assert len(snapshots) <= len(events)
    if len(snapshots):
        assert snapshots["ts_event"].min() >= 631_152_000_000_000_000
        assert int(snapshots["ts_event"].max() - snapshots["ts_event"].min()) <= 2 * 86_400 * 10**9
        assert snapshots["ask_px"].max() <= MAX_PRICE_NANOS
        assert (snapshots["ask_sz"] >= 0).all() and (snapshots["bid_sz"] >= 0).all()


@pytest.mark.timeout(300)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_mutated_dbn_through_the_cli_exits_0_or_2_with_one_line(
    small_dbn: bytes,
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
    capfd: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "m.dbn"
    path.write_bytes(data.draw(_mutated(small_dbn)))
    # ck decides every --horizon over the window: a mutated span of up to two days at the
    # default 0.2 s is a minutes-long run (or the decisions cap's refusal, which names the
    # flag, not the file), so it decides every minute here: the bytes are what is tested
    extra = data.draw(
        st.sampled_from([[], ["--skip-bad-rows"], ["--model", "ck", "--horizon", "60"]])
    )
    done = _sor(capfd, path, *extra)
    assert "Traceback" not in done.stderr
    event(f"exit {done.returncode}")
    if done.returncode == 0:
        assert isinstance(json.loads(done.stdout)["run"]["skipped_rows"], dict)
    else:
        # a skipped record is reported on its own line before an error found later (here: a
        # price the mutation made too large for exact arithmetic); the error is one line
        lines = done.stderr.strip().splitlines()
        if "--skip-bad-rows" in extra and len(lines) == 2 and lines[0].startswith("sor: skipped"):
            done = Outcome(2, done.stdout, lines[1])
        _assert_one_line_error(done, str(path))


def test_a_file_of_two_instruments_is_refused_in_one_line_even_with_rows_skipped(
    small_dbn: bytes, tmp_path: Path
) -> None:
    from sor.data.dbn import _metadata, _stream

    whole = tmp_path / "one.dbn"
    whole.write_bytes(small_dbn)
    _, _, start = _metadata(whole, _stream(whole)[0])
    records = np.frombuffer(small_dbn[start:], dtype=record_dtype("mbp-1")).copy()
    records["instrument_id"][len(records) // 2 :] += 1
    path = tmp_path / "two.dbn"
    path.write_bytes(small_dbn[:start] + records.tobytes() + b"\x00" * 7)  # a broken tail
    done = _sor(None, path, "--skip-bad-rows")  # the one case run as a process of its own
    assert "more than one instrument" in _assert_one_line_error(done, str(path))
