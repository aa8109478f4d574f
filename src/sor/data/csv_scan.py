"""Check a CSV's shape before it is parsed: its head, then the structure of every line.

A file that is not a Databento MBP CSV must fail in bounded time and memory whatever its
size, so its head (header and first data lines) is read with a byte bound first. Then one
pass over the bytes, in fixed-size chunks, finds the lines that polars would read wrongly
or not at all: lines with too few or too many fields (polars pads or truncates them) and
lines that are not UTF-8 (polars rejects the whole file, without a line). Only those lines
are flagged; the values of the others are checked by the parse itself.

Lines and rows correspond one to one: every newline-terminated line after the header, and
a last unterminated one, is a row, blank lines included. Quotes are not special (Databento
never quotes a field), so that a stray quote cannot merge lines.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numba
import numpy as np

from sor.core.errors import DataError

HEAD_BYTES = 65536
"""The header must end within this many bytes, and so must each of the first data lines."""
HEAD_ROWS = 100
"""Data lines of the head looked at to tell the file's format and check its shape."""
NOT_MBP = "not a Databento MBP CSV"

RAGGED = 1
BAD_ENCODING = 2
REASONS = {RAGGED: "ragged_line", BAD_ENCODING: "bad_encoding"}
"""The report's reason for a line flagged by :func:`scan_lines`, by kind."""

_CHUNK = 1 << 22
_OUT = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_BOM = b"\xef\xbb\xbf"


class _Bytes(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...
    def readinto(self, buffer: memoryview, /) -> int: ...


@contextmanager
def open_csv_bytes(path: Path) -> Iterator[_Bytes]:
    """Open ``path`` for reading its CSV bytes, decompressing gzip or zstd as polars does."""
    with path.open("rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP_MAGIC):
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped
        elif magic == _ZSTD_MAGIC:
            import zstandard

            with zstandard.ZstdDecompressor().stream_reader(raw) as unzstd:
                yield unzstd
        else:
            yield raw


def _read_errors() -> tuple[type[Exception], ...]:
    """The errors that reading (and decompressing) a file raises on a bad file."""
    import zstandard

    return (OSError, EOFError, ValueError, zstandard.ZstdError)


@dataclass(frozen=True)
class CsvHead:
    """The header and the first data lines of a CSV.

    Attributes
    ----------
    columns
        The header's column names (BOM and line end removed).
    lines
        Up to :data:`HEAD_ROWS` first data lines that have as many fields as the header and
        are UTF-8, as text without the line end.
    """

    columns: list[str]
    lines: list[str]

    def rows(self) -> list[dict[str, str]]:
        """Return the head's data lines as column name -> text."""
        return [dict(zip(self.columns, line.split(","), strict=True)) for line in self.lines]


def read_head(path: Path) -> CsvHead:
    """Read and check the head of the CSV at ``path``, reading at most twice HEAD_BYTES.

    Raises
    ------
    DataError
        The file cannot be read, or its head is not that of a Databento MBP CSV: no
        header line within :data:`HEAD_BYTES`, a header that is not UTF-8 or repeats a
        name, a first data line longer than :data:`HEAD_BYTES`, or data lines none of
        which has the header's fields.
    """
    try:
        with open_csv_bytes(path) as handle:
            data = handle.read(2 * HEAD_BYTES)
    except _read_errors() as exc:
        raise DataError(f"cannot read as CSV: {exc}", path=str(path)) from exc
    complete = len(data) < 2 * HEAD_BYTES  # the whole (decompressed) file is in ``data``
    if not data:
        what = "the file is empty" if not path.stat().st_size else "it decompresses to nothing"
        raise DataError(f"{NOT_MBP}: {what}", path=str(path))
    end = data.find(b"\n", 0, HEAD_BYTES)
    if end < 0 and not (complete and len(data) <= HEAD_BYTES):
        raise DataError(
            f"{NOT_MBP}: no header line in the first {HEAD_BYTES} bytes", path=str(path)
        )
    first = data[: end if end >= 0 else len(data)].removeprefix(_BOM).removesuffix(b"\r")
    try:
        columns = first.decode("utf-8").split(",")
    except UnicodeDecodeError:
        raise DataError(f"{NOT_MBP}: its header line is not UTF-8 text", path=str(path)) from None
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise DataError(f"{NOT_MBP}: column {repeated[0]!r} appears twice", path=str(path))
    lines = _head_lines(path, data[end + 1 :] if end >= 0 else b"", complete, len(columns))
    return CsvHead(columns, lines)


def _head_lines(path: Path, body: bytes, complete: bool, fields: int) -> list[str]:
    """Return the good first data lines of ``body`` (the bytes after the header)."""
    pieces = body.split(b"\n")
    if not complete:
        pieces.pop()  # cut by the read bound: not a whole line
    elif pieces and not pieces[-1]:
        pieces.pop()  # the file ends with a newline
    if not pieces and not complete:
        raise DataError(f"{NOT_MBP}: line 2 is longer than {HEAD_BYTES} bytes", path=str(path))
    good: list[str] = []
    for piece in pieces[:HEAD_ROWS]:
        try:
            text = piece.removesuffix(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            continue
        if text.count(",") + 1 == fields:
            good.append(text)
    if pieces and not good:
        cells = pieces[0].count(b",") + 1
        raise DataError(
            f"{NOT_MBP}: none of its first {min(len(pieces), HEAD_ROWS)} data line(s) is "
            f"UTF-8 with the header's {fields} fields (line 2 has {cells})",
            path=str(path),
        )
    return good


@dataclass(frozen=True)
class LineScan:
    """The lines of a CSV that cannot be parsed as rows, found by :func:`scan_lines`.

    Attributes
    ----------
    rows
        Data rows in the file (lines after the header, as polars reads them).
    bad_rows
        Data row index (0-based; its line is ``row + 2``) of each flagged line, ascending.
    kinds
        :data:`RAGGED` or :data:`BAD_ENCODING` per flagged line.
    details
        The line's field count (ragged) or the 0-based field holding the first byte that is
        not UTF-8 (encoding), per flagged line.
    complete
        False when the scan stopped at the first flagged line (``rows`` is then a lower
        bound).
    """

    rows: int
    bad_rows: np.ndarray
    kinds: np.ndarray
    details: np.ndarray
    complete: bool = True

    def mask(self, rows: int) -> np.ndarray:
        """Return the flagged rows as a boolean mask over ``rows`` rows."""
        out = np.zeros(rows, dtype=bool)
        out[self.bad_rows[self.bad_rows < rows]] = True
        return out

    def counts(self) -> dict[str, int]:
        """Return the flagged lines counted per reason."""
        kinds, counts = np.unique(self.kinds, return_counts=True)
        return {REASONS[int(k)]: int(c) for k, c in zip(kinds, counts, strict=True)}


# scan state, carried from chunk to chunk
_ROW, _COMMAS, _NEED, _LOW, _HIGH, _BADFIELD, _LENGTH, _IN_HEADER, _FOUND = range(9)


def scan_lines(path: Path, fields: int, *, stop_at_first: bool = False) -> LineScan:
    """Flag the data lines of ``path`` whose field count is not ``fields`` or that are not
    UTF-8, in one pass over its (decompressed) bytes with memory bounded by the chunk size
    and the number of flagged lines.

    With ``stop_at_first`` the pass ends at the first flagged line.
    """
    state = np.zeros(9, dtype=np.int64)
    state[_IN_HEADER] = 1
    state[_BADFIELD] = -1
    rows_out = np.empty(_OUT, dtype=np.int64)
    kinds_out = np.empty(_OUT, dtype=np.int8)
    details_out = np.empty(_OUT, dtype=np.int32)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    buffer = bytearray(_CHUNK)
    view = memoryview(buffer)
    stopped = False
    try:
        with open_csv_bytes(path) as handle:
            while not stopped:
                size = handle.readinto(view)
                if not size:
                    break
                chunk = np.frombuffer(buffer, dtype=np.uint8, count=size)
                start = 0
                while start < size:
                    start = _scan(chunk, start, state, fields - 1, rows_out, kinds_out,
                                  details_out, stop_at_first)  # fmt: skip
                    n = int(state[_FOUND])
                    found.append((rows_out[:n].copy(), kinds_out[:n].copy(),
                                  details_out[:n].copy()))  # fmt: skip
                    state[_FOUND] = 0
                    if stop_at_first and n:
                        stopped = True
                        break
    except _read_errors() as exc:
        raise DataError(f"cannot read as CSV: {exc}", path=str(path)) from exc
    if not stopped and state[_LENGTH] > 0:
        _end_line(state, fields - 1, rows_out, kinds_out, details_out)
        n = int(state[_FOUND])
        found.append((rows_out[:n].copy(), kinds_out[:n].copy(), details_out[:n].copy()))
    return LineScan(
        rows=int(state[_ROW]),
        bad_rows=np.concatenate([f[0] for f in found]) if found else np.zeros(0, np.int64),
        kinds=np.concatenate([f[1] for f in found]) if found else np.zeros(0, np.int8),
        details=np.concatenate([f[2] for f in found]) if found else np.zeros(0, np.int32),
        complete=not stopped,
    )


@numba.njit(cache=True)
def _end_line(state, commas, rows_out, kinds_out, details_out):
    """Close the last line, unterminated: record it when flagged, and count it."""
    state[_FOUND] = _close(state[_ROW], state[_COMMAS], state[_NEED], state[_BADFIELD],
                           state[_FOUND], commas, rows_out, kinds_out, details_out)  # fmt: skip
    state[_ROW] += 1


@numba.njit(cache=True, inline="always")
def _close(row, seen, need, badfield, found, commas, rows_out, kinds_out, details_out):
    """Record line ``row`` when flagged; return the new count of flagged lines."""
    if need > 0 and badfield < 0:  # a multi-byte character cut by the line end
        badfield = seen
    if badfield >= 0:
        rows_out[found] = row
        kinds_out[found] = BAD_ENCODING
        details_out[found] = badfield
        return found + 1
    if seen != commas:
        rows_out[found] = row
        kinds_out[found] = RAGGED
        details_out[found] = seen + 1
        return found + 1
    return found


@numba.njit(cache=True)
def _scan(chunk, start, state, commas, rows_out, kinds_out, details_out, stop_at_first):
    """Scan ``chunk`` from ``start``; return where it stopped (the end, a full output
    buffer, or the first flagged line when ``stop_at_first``).

    UTF-8 is checked strictly (no overlong forms, surrogates or code points past
    U+10FFFF), as polars checks it. The state lives in locals in the loop (speed).
    """
    row, seen, need = state[_ROW], state[_COMMAS], state[_NEED]
    low, high, badfield = state[_LOW], state[_HIGH], state[_BADFIELD]
    length, in_header, found = state[_LENGTH], state[_IN_HEADER], state[_FOUND]
    limit = len(rows_out)
    i = start
    n = len(chunk)
    while i < n:
        if need == 0 and not in_header:
            # the common case, ASCII within a line: count commas only
            j = i
            while j < n:
                c = chunk[j]
                if c >= 0x80 or c == 10:
                    break
                seen += c == 44
                j += 1
            length += j - i
            i = j
            if i == n:
                break
        b = chunk[i]
        i += 1
        if in_header:
            if b == 10:
                in_header = 0
            continue
        if b == 10:
            found = _close(row, seen, need, badfield, found, commas, rows_out, kinds_out,
                           details_out)  # fmt: skip
            row += 1
            seen = 0
            need = 0
            badfield = -1
            length = 0
            if found == limit or (stop_at_first and found > 0):
                break
            continue
        length += 1
        if need == 0 and b < 0x80:
            if b == 44:
                seen += 1
            continue
        if need > 0:
            if low <= b <= high:
                need -= 1
                low = 0x80
                high = 0xBF
                continue
            if badfield < 0:
                badfield = seen
            need = 0
            if b < 0x80:
                if b == 44:
                    seen += 1
                continue
        low = 0x80
        high = 0xBF
        if 0xC2 <= b <= 0xDF:
            need = 1
        elif 0xE0 <= b <= 0xEF:
            need = 2
            if b == 0xE0:
                low = 0xA0
            elif b == 0xED:
                high = 0x9F
        elif 0xF0 <= b <= 0xF4:
            need = 3
            if b == 0xF0:
                low = 0x90
            elif b == 0xF4:
                high = 0x8F
        elif badfield < 0:
            badfield = seen
    state[_ROW], state[_COMMAS], state[_NEED] = row, seen, need
    state[_LOW], state[_HIGH], state[_BADFIELD] = low, high, badfield
    state[_LENGTH], state[_IN_HEADER], state[_FOUND] = length, in_header, found
    return i
