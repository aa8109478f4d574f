"""Read Databento MBP-1/MBP-10 and MBO DBN files (plain or zstd) with every record checked.

A DBN file is a preamble (``DBN``, a version byte, the metadata's length as a little-endian
u32), the metadata, then fixed-size records: for one schema every record has the same
layout, which starts with a header whose first byte is the record's length in 4-byte words
and whose second is its rtype (see ``databento_dbn.MBP1Msg``). Decoders trust that framing:
bytes appended to a file become records of arbitrary values, and a file cut mid-record
loses its last record without a word. Here the metadata's few needed fields are read at
their offsets, the records are viewed in place as a numpy structured array (no copy of a
plain file: it is memory-mapped), and every record's length and rtype, ``ts_event``,
prices, top-of-book sizes, action and side are checked in vectorised passes; a record that
fails is a bad row (an error naming its byte offset, or skipped and counted with
``skip_bad_rows``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sor.core.domain import MAX_PRICE_NANOS
from sor.core.errors import DataError
from sor.core.timestamps import format_timestamp
from sor.data.instruments import check_dbn_instrument
from sor.data.reader import DEFAULT_MAX_TS_DISTANCE_NS, timestamps_out_of_range

log = logging.getLogger(__name__)

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_PREAMBLE = 8  # b"DBN", version byte, u32 length of the metadata that follows
_UNDEFINED_PRICE = 2**63 - 1  # Databento's "no price"
_MAX_SNAPSHOT_SIZE = 2**31 - 1  # sizes are int32 in SNAPSHOT_DTYPE
_RTYPES = {"mbp-1": 0x01, "mbp-10": 0x0A, "mbo": 0xA0}
_LEVELS = {"mbp-1": 1, "mbp-10": 10, "mbo": 0}
_SCHEMAS = ("mbo", "mbp-1", "mbp-10", "tbbo", "trades", "ohlcv-1s", "ohlcv-1m", "ohlcv-1h",
            "ohlcv-1d", "definition", "statistics", "status", "imbalance", "ohlcv-eod",
            "cmbp-1", "cbbo-1s", "cbbo-1m", "tcbbo", "bbo-1s", "bbo-1m")  # fmt: skip
"""DBN's schema names by their u16 code in the metadata (0xFFFF: mixed)."""
_SCHEMA_OFFSET = 24  # after the preamble and the 16-byte dataset name
_TS_OUT_OFFSET = {1: 60, 2: 52, 3: 52}  # version 1 has an 8-byte record count before it
_HEADER_AND_BODY = [
    ("length", "u1"), ("rtype", "u1"), ("publisher_id", "<u2"), ("instrument_id", "<u4"),
    ("ts_event", "<u8"), ("price", "<i8"), ("size", "<u4"), ("action", "S1"), ("side", "S1"),
    ("flags", "u1"), ("depth", "u1"), ("ts_recv", "<u8"), ("ts_in_delta", "<i4"),
    ("sequence", "<u4"),
]  # fmt: skip
_LEVEL = [("bid_px", "<i8"), ("ask_px", "<i8"), ("bid_sz", "<u4"), ("ask_sz", "<u4"),
          ("bid_ct", "<u4"), ("ask_ct", "<u4")]  # fmt: skip
_MBO = [
    ("length", "u1"), ("rtype", "u1"), ("publisher_id", "<u2"), ("instrument_id", "<u4"),
    ("ts_event", "<u8"), ("order_id", "<u8"), ("price", "<i8"), ("size", "<u4"),
    ("flags", "u1"), ("channel_id", "u1"), ("action", "S1"), ("side", "S1"),
    ("ts_recv", "<u8"), ("ts_in_delta", "<i4"), ("sequence", "<u4"),
]  # fmt: skip
"""``databento_dbn.MBOMsg``: 56 bytes."""
_SIZE_FIELDS = ("ask_sz_00", "bid_sz_00")
"""The sizes that go into the int32 snapshots; trade and deeper sizes are kept as int64."""
_CODES = {"action": b"ACMRTFN", "side": b"ABN"}
"""DBN's values of the one-character enums (``databento_dbn.Action``, ``Side``)."""


def record_dtype(schema: str, *, ts_out: bool = False) -> np.dtype:
    """Return the layout of one ``schema`` record (80 bytes MBP-1, 368 MBP-10, 56 MBO; +8
    with ts_out)."""
    fields = list(_MBO if schema == "mbo" else _HEADER_AND_BODY)
    for k in range(_LEVELS[schema]):
        fields += [(f"{name}_{k:02d}", kind) for name, kind in _LEVEL]
    if ts_out:
        fields.append(("ts_out", "<u8"))
    return np.dtype(fields)


@dataclass(frozen=True)
class DbnRecords:
    """The checked records of one DBN file.

    Attributes
    ----------
    schema
        ``"mbp-1"``, ``"mbp-10"`` or ``"mbo"``.
    records
        Every whole record slot of the file as a structured array of :func:`record_dtype`,
        in file order (a view into the mapped or decompressed bytes), bad ones included.
    keep
        Mask of the good records over ``records``; None when every record is good.
    rows_read
        Records read: the whole slots, plus one for bad bytes at the end of the file.
    skipped
        Bad records per reason (``bad_record``, ``timestamp_out_of_range``,
        ``bad_price``, ``bad_size``, ``bad_action``, ``bad_side``), when
        skipped.
    """

    schema: str
    records: np.ndarray
    keep: np.ndarray | None = None
    rows_read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def levels(self) -> int:
        """Book levels per record: 1 (MBP-1), 10 (MBP-10) or 0 (MBO: orders, no book)."""
        return _LEVELS[self.schema]

    def column(self, name: str, dtype: type | str = np.int64) -> np.ndarray:
        """Return field ``name`` of the good records as a new array of ``dtype``."""
        values = self.records[name]
        if self.keep is not None:
            values = values[self.keep]
        out: np.ndarray = values.astype(dtype)  # unsigned ts_event wraps, and is checked
        return out


def read_dbn(
    path: Path,
    *,
    skip_bad_rows: bool = False,
    max_ts_distance_ns: int = DEFAULT_MAX_TS_DISTANCE_NS,
) -> DbnRecords:
    """Read and check the records of a Databento MBP-1/MBP-10 DBN file (plain or zstd).

    A record is bad when its length or rtype is not its schema's (``bad_record``; so are
    bytes at the end that do not make a whole record), when its ``ts_event`` cannot be the
    input's (:func:`sor.data.reader.timestamps_out_of_range`, with ``max_ts_distance_ns``),
    when a price exceeds ``MAX_PRICE_NANOS`` (other than Databento's undefined price), when
    a top-of-book size exceeds int32, or when its action or side is not one of DBN's. The
    good records must share one ``instrument_id`` (:mod:`sor.data.instruments`).

    Raises
    ------
    DataError
        The file is empty, not DBN, cut inside its metadata or of another schema; a
        record is bad and ``skip_bad_rows`` is false (the message names the byte offset,
        counted in the decompressed stream for zstd files); or the good records name more
        than one instrument (:class:`sor.data.instruments.MixedInstrumentsError`).
    """
    stream, tail = _stream(path)
    try:
        schema, ts_out, start = _metadata(path, stream)
    except DataError as exc:
        if tail is None:
            raise
        # the zstd data ended or broke before the metadata was whole: say so
        raise DataError(f"cannot read as DBN: {tail.message}", path=str(path)) from exc
    dtype = record_dtype(schema, ts_out=ts_out)
    layout = _Layout(
        schema,
        start,
        len(stream),
        "byte" if isinstance(stream, np.memmap) else "decompressed byte",
        max_ts_distance_ns,
    )
    whole = (len(stream) - start) // dtype.itemsize
    end_of_records = start + whole * dtype.itemsize
    records = stream[start:end_of_records].view(dtype)
    reasons = _reasons(records, schema, dtype.itemsize, max_ts_distance_ns)
    if end_of_records < len(stream) and tail is None:
        rest = stream[end_of_records:]
        tail = _fragment(rest, schema, dtype.itemsize, layout.at(end_of_records))
    bad = np.flatnonzero(reasons)
    if (len(bad) or tail is not None) and (not skip_bad_rows or len(bad) == len(records)):
        # with no good record there is nothing to skip to: the first problem is the error
        message = _first_problem(records, reasons, tail, layout, skipping=skip_bad_rows)
        raise DataError(message, path=str(path))
    skipped = {
        _REASON_NAMES[code]: int(count)
        for code, count in zip(*np.unique(reasons[bad], return_counts=True), strict=True)
    }
    if tail is not None:
        skipped["bad_record"] = skipped.get("bad_record", 0) + 1
    checked = DbnRecords(
        schema=schema,
        records=records,
        keep=reasons == 0 if len(bad) else None,
        rows_read=whole + (tail is not None),
        skipped=dict(sorted(skipped.items())),
    )
    # before the warning: a file refused says so in one line
    check_dbn_instrument(path, checked.column("instrument_id"))
    if skipped:
        log.warning("skipped %d bad record(s) in %s: %s", sum(skipped.values()), path, skipped)
    return checked


_BAD_FRAME, _BAD_TS, _BAD_PRICE, _BAD_SIZE, _BAD_ACTION, _BAD_SIDE = 1, 2, 3, 4, 5, 6
_REASON_NAMES = {
    _BAD_FRAME: "bad_record",
    _BAD_TS: "timestamp_out_of_range",
    _BAD_PRICE: "bad_price",
    _BAD_SIZE: "bad_size",
    _BAD_ACTION: "bad_action",
    _BAD_SIDE: "bad_side",
}


@dataclass(frozen=True)
class _Tail:
    """Bytes at the end of the stream that are not a whole record, or a broken zstd end."""

    message: str


def _stream(path: Path) -> tuple[np.ndarray, _Tail | None]:
    """Return the file's DBN bytes (decompressed when zstd) and any bad end of a zstd file."""
    if path.stat().st_size == 0:
        raise DataError("cannot read as DBN: the file is empty", path=str(path))
    with path.open("rb") as handle:
        magic = handle.read(len(_ZSTD_MAGIC))
    if magic != _ZSTD_MAGIC:
        return np.memmap(path, dtype=np.uint8, mode="r"), None
    return _decompress(path)


def _decompress(path: Path) -> tuple[np.ndarray, _Tail | None]:
    """Decompress every zstd frame; a broken or cut frame after the first ends the stream."""
    import zstandard

    data = memoryview(path.read_bytes())
    parts: list[bytes] = []
    position = 0
    tail = None
    context = zstandard.ZstdDecompressor()
    while position < len(data):
        frame = context.decompressobj()
        try:
            parts.append(frame.decompress(data[position:]))
        except zstandard.ZstdError as exc:
            if not parts:
                raise DataError(
                    f"cannot read as DBN: bad zstd data: {exc}", path=str(path)
                ) from exc
            tail = _Tail(
                f"byte {position}: the {len(data) - position} bytes after the last zstd frame "
                f"are not zstd data ({exc})"
            )
            break
        if not frame.eof:
            tail = _Tail(f"byte {len(data)}: the zstd stream is cut short inside a frame")
            break
        position = len(data) - len(frame.unused_data)
    return np.frombuffer(b"".join(parts), dtype=np.uint8), tail


def _metadata(path: Path, stream: np.ndarray) -> tuple[str, bool, int]:
    """Read the metadata's fixed part; return the schema, whether records carry ts_out, and
    where the records start.

    The fields are read here rather than by ``databento_dbn.Metadata.decode``, which on
    some corrupt metadata panics and prints a Rust backtrace to stderr; the variable part
    (symbols, mappings) is skipped, as nothing here uses it.
    """
    if bytes(stream[:3]) != b"DBN":
        raise DataError(
            "cannot read as DBN: the data does not start with 'DBN' (expected a Databento DBN "
            "file, plain or zstd-compressed)",
            path=str(path),
        )
    length = _PREAMBLE
    if len(stream) >= _PREAMBLE:
        length += int.from_bytes(bytes(stream[4:_PREAMBLE]), "little")
    if len(stream) < length:
        raise DataError(
            f"cannot read as DBN: byte {len(stream)}: the data ends inside the metadata "
            f"({len(stream)} of {length} bytes)",
            path=str(path),
        )
    version = int(stream[3])
    if version not in _TS_OUT_OFFSET:
        raise DataError(
            f"cannot read as DBN: DBN version {version} is not supported (1 to 3)", path=str(path)
        )
    if length <= _TS_OUT_OFFSET[version]:
        raise DataError(
            f"cannot read as DBN: the metadata is {length} bytes, too short for DBN "
            f"version {version}",
            path=str(path),
        )
    code = int.from_bytes(bytes(stream[_SCHEMA_OFFSET : _SCHEMA_OFFSET + 2]), "little")
    schema = _SCHEMAS[code] if code < len(_SCHEMAS) else "mixed" if code == 0xFFFF else str(code)
    if schema not in _RTYPES:
        raise DataError(f"DBN schema is {schema!r}; expected mbp-1, mbp-10 or mbo", path=str(path))
    return schema, bool(stream[_TS_OUT_OFFSET[version]]), length


def _reasons(records: np.ndarray, schema: str, size: int, max_ts_distance_ns: int) -> np.ndarray:
    """Return per record 0 (good) or the code of the first check it fails."""
    reasons = np.zeros(len(records), dtype=np.uint8)
    framed = (records["length"] == size // 4) & (records["rtype"] == _RTYPES[schema])
    reasons[~framed] = _BAD_FRAME
    ts = records["ts_event"].astype(np.int64)  # past 2**63 wraps negative: before 1990
    good = np.flatnonzero(framed)
    reasons[good[timestamps_out_of_range(ts[good], max_ts_distance_ns)]] = _BAD_TS
    del ts, good
    prices = np.zeros(len(records), dtype=bool)
    for name in _price_fields(records.dtype):
        prices |= (records[name] > MAX_PRICE_NANOS) & (records[name] != _UNDEFINED_PRICE)
    reasons[prices & (reasons == 0)] = _BAD_PRICE
    sizes = np.zeros(len(records), dtype=bool)
    for name in _SIZE_FIELDS:
        if name in (records.dtype.names or ()):
            sizes |= records[name] > _MAX_SNAPSHOT_SIZE
    reasons[sizes & (reasons == 0)] = _BAD_SIZE
    for name, code in (("action", _BAD_ACTION), ("side", _BAD_SIDE)):
        known = np.isin(records[name].view(np.uint8), np.frombuffer(_CODES[name], np.uint8))
        reasons[~known & (reasons == 0)] = code
    return reasons


def _price_fields(dtype: np.dtype) -> list[str]:
    return [name for name in dtype.names or () if name == "price" or "_px_" in name]


def _fragment(rest: np.ndarray, schema: str, size: int, at: str) -> _Tail:
    """Describe the bytes after the last whole record (``at`` names their offset): a cut
    record, or foreign bytes."""
    if len(rest) >= 2 and rest[0] == size // 4 and rest[1] == _RTYPES[schema]:
        return _Tail(f"{at}: partial record ({len(rest)} of {size} bytes) at the end of the file")
    return _Tail(f"{at}: the {len(rest)} bytes after the last whole record are not a DBN record")


@dataclass(frozen=True)
class _Layout:
    """Where the records lie, to name byte offsets: ``unit`` is "byte", or "decompressed
    byte" for zstd files (offsets count in the decompressed stream)."""

    schema: str
    start: int
    end: int
    unit: str
    max_ts_distance_ns: int

    def at(self, offset: int) -> str:
        return f"{self.unit} {offset}"


def _first_problem(
    records: np.ndarray,
    reasons: np.ndarray,
    tail: _Tail | None,
    layout: _Layout,
    *,
    skipping: bool = False,
) -> str:
    """The message of the file's first bad record, with the count of bad ones (when
    ``skipping``, every record is bad)."""
    bad = np.flatnonzero(reasons)
    count = len(bad) + (tail is not None)
    hint = (
        f"; no good record to keep ({count} bad)"
        if skipping
        else f"; {count} bad record(s) found, use --skip-bad-rows to count and skip them"
    )
    size = records.dtype.itemsize
    if not len(bad):
        assert tail is not None
        return f"{tail.message}{hint}"
    first = int(bad[0])
    offset = layout.start + first * size
    if reasons[first] == _BAD_FRAME and (reasons[first:] == _BAD_FRAME).all():
        # every slot from the first bad one on is foreign: bytes appended to the file, or
        # a wrong metadata length when no record precedes them
        after = "the metadata" if first == 0 else "the last whole record"
        return (
            f"{layout.at(offset)}: the {layout.end - offset} bytes after {after} are not DBN "
            f"{layout.schema} records{hint}"
        )
    what = _describe(records[first], int(reasons[first]), layout)
    return f"{layout.at(offset)}: record {first + 1} {what}{hint}"


def _describe(record: np.void, code: int, layout: _Layout) -> str:
    """Say what is wrong with one bad record (``code`` from :func:`_reasons`)."""
    if code == _BAD_FRAME:
        size = record.dtype.itemsize
        return (
            f"is not a DBN {layout.schema} record (length {int(record['length']) * 4} bytes, "
            f"rtype 0x{int(record['rtype']):02x}; expected {size} bytes, "
            f"rtype 0x{_RTYPES[layout.schema]:02x})"
        )
    if code == _BAD_TS:
        ts = int(record["ts_event"])
        hours = layout.max_ts_distance_ns / 3_600_000_000_000
        return (
            f"has ts_event {ts}{_iso(ts)}, before 1990 or more than {hours:g} h from the "
            "input's median time"
        )
    if code == _BAD_PRICE:
        name = next(
            n
            for n in _price_fields(record.dtype)
            if MAX_PRICE_NANOS < int(record[n]) != _UNDEFINED_PRICE
        )
        return f"has {name} {int(record[name])}, above the largest price {MAX_PRICE_NANOS} (nano-dollars)"
    if code == _BAD_SIZE:
        name = next(n for n in _SIZE_FIELDS if int(record[n]) > _MAX_SNAPSHOT_SIZE)
        return f"has {name} {int(record[name])}, above the largest size {_MAX_SNAPSHOT_SIZE}"
    name = "action" if code == _BAD_ACTION else "side"
    known = ", ".join(chr(c) for c in _CODES[name])
    value = bytes(record[name])[:1] or b"\0"  # numpy drops a trailing NUL
    return f"has {name} 0x{value[0]:02x}, not a DBN {name} (one of {known})"


def _iso(ts_ns: int) -> str:
    """`` (2100-01-01T00:00:00.000000000Z)`` when the time can be written, else nothing."""
    try:
        return f" ({format_timestamp(ts_ns)})"
    except (OverflowError, OSError, ValueError):
        return ""


def _slots(path: Path) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """The stream's bytes, where its records start, its whole record slots, and whether
    each slot is framed as a record (length and rtype of the schema)."""
    stream, _ = _stream(path)
    schema, ts_out, start = _metadata(path, stream)
    dtype = record_dtype(schema, ts_out=ts_out)
    whole = (len(stream) - start) // dtype.itemsize
    records = stream[start : start + whole * dtype.itemsize].view(dtype)
    framed = _reasons(records, schema, dtype.itemsize, 2**62) != _BAD_FRAME
    return stream, start, records, framed


def dbn_schema(path: Path) -> str:
    """Return the schema the metadata of the DBN file ``path`` names (``"mbo"``,
    ``"mbp-10"``...), reading only its head.

    Raises
    ------
    DataError
        The file is not DBN, or its metadata names a schema ``sor`` does not read.
    """
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head[:4] == _ZSTD_MAGIC:
        import zstandard

        try:
            reader = zstandard.ZstdDecompressor().stream_reader(head)
            head = reader.read(_SCHEMA_OFFSET + 2)
        except zstandard.ZstdError as exc:
            raise DataError(f"cannot read as DBN: bad zstd data: {exc}", path=str(path)) from exc
    if head[:3] != b"DBN" or len(head) < _SCHEMA_OFFSET + 2:
        raise DataError(
            "cannot read as DBN: the data does not start with 'DBN' (expected a Databento DBN "
            "file, plain or zstd-compressed)",
            path=str(path),
        )
    code = int.from_bytes(head[_SCHEMA_OFFSET : _SCHEMA_OFFSET + 2], "little")
    schema = _SCHEMAS[code] if code < len(_SCHEMAS) else "mixed" if code == 0xFFFF else str(code)
    if schema not in _RTYPES:
        raise DataError(f"DBN schema is {schema!r}; expected mbp-1, mbp-10 or mbo", path=str(path))
    return schema


def instrument_ids(path: Path) -> list[int]:
    """The ``instrument_id`` of the framed records of a DBN file, in order of first
    appearance."""
    _, _, records, framed = _slots(path)
    ids = records["instrument_id"][framed]
    values, first = np.unique(ids, return_index=True)
    return [int(v) for v in values[np.argsort(first)]]


def event_times(path: Path) -> np.ndarray:
    """The ``ts_event`` (ns, as int64) of the framed records of a DBN file, bad ones
    included, in file order."""
    _, _, records, framed = _slots(path)
    times: np.ndarray = records["ts_event"][framed].astype(np.int64)
    return times


def write_instrument_records(path: Path, instrument_id: int, out: Path) -> None:
    """Write the metadata and the records of ``instrument_id`` of the DBN ``path`` to
    ``out``, uncompressed, byte for byte (a slot that is not framed as a record, and any
    bytes after the last whole slot, stay with every instrument, so that the reader
    reports them)."""
    stream, start, records, framed = _slots(path)
    keep = ~framed | (records["instrument_id"] == instrument_id)
    end = start + records.nbytes
    with out.open("wb") as target:
        target.write(stream[:start].tobytes())
        target.write(records[keep].tobytes())
        target.write(stream[end:].tobytes())
