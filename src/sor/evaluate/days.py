"""Find the day files of an evaluation, and split a file that holds several instruments.

Inputs are local paths, directories, globs, or fsspec URLs (``s3://bucket/day.csv``); the
client only lists them, and each worker reads its own day (:func:`local_copy`).
"""

from __future__ import annotations

import csv
import glob
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sor.core.errors import DataError, SorError

DAY_SUFFIXES = (".csv", ".dbn", ".dbn.zst")
"""Names a directory's files must end with to count as days (the readers' formats)."""
_GLOB_CHARS = frozenset("*?[")


def is_url(text: str) -> bool:
    """Whether ``text`` is an fsspec URL rather than a local path (``file://`` is local)."""
    return "://" in text and not text.startswith("file://")


def discover(inputs: Sequence[str]) -> list[str]:
    """Expand directories and globs into day files, in the order given, each once.

    A directory gives its files ending in one of ``DAY_SUFFIXES``, sorted by name; a glob its
    matches, sorted. A named file is taken whatever its suffix.

    Raises
    ------
    SorError
        An input matches nothing, or no day file is found at all.
    """
    found: list[str] = []
    for text in inputs:
        matches = _expand_url(text) if is_url(text) else _expand_local(text)
        if not matches:
            raise DataError("no day file found (an empty directory or glob)", path=text)
        found.extend(m for m in matches if m not in found)
    if not found:
        raise SorError("--data: no day file given")
    return found


def _expand_local(text: str) -> list[str]:
    path = Path(text.removeprefix("file://"))
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.is_file() and _is_day(p.name))
    if _GLOB_CHARS & set(text):
        return sorted(p for p in glob.glob(str(path)) if Path(p).is_file())
    if not path.is_file():
        raise DataError("no such data file", path=text)
    return [str(path)]


def _expand_url(text: str) -> list[str]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(text)
        if fs.isdir(path):
            names = [n for n in fs.ls(path, detail=False) if _is_day(n) and fs.isfile(n)]
        elif _GLOB_CHARS & set(path):
            names = [n for n in fs.glob(path) if fs.isfile(n)]
        elif fs.isfile(path):
            names = [path]
        else:
            raise DataError("no such data file", path=text)
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"cannot list: {exc}", path=text) from exc
    return sorted(fs.unstrip_protocol(n) for n in names)


def _is_day(name: str) -> bool:
    return name.lower().endswith(DAY_SUFFIXES)


@contextmanager
def local_copy(source: str) -> Iterator[Path]:
    """Give a local path to ``source``: itself when local, else a temporary copy."""
    if not is_url(source):
        yield Path(source.removeprefix("file://"))
        return
    import fsspec

    name = source.rstrip("/").rsplit("/", 1)[-1]
    with tempfile.TemporaryDirectory(prefix="sor-day-") as folder:
        target = Path(folder) / name
        try:
            with fsspec.open(source, "rb") as remote, target.open("wb") as local:
                shutil.copyfileobj(remote, local, 1 << 20)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read: {exc}", path=source) from exc
        yield target


@dataclass(frozen=True)
class Instrument:
    """One instrument of a day file: its ``instrument_id`` and ``symbol`` as written."""

    instrument_id: str
    symbol: str

    @property
    def label(self) -> str:
        """``instrument_id/symbol``, as the report names it."""
        return f"{self.instrument_id}/{self.symbol}"


def instruments(path: Path) -> list[Instrument]:
    """The instruments of a CSV day file in order of first appearance.

    Empty for DBN files, and for a CSV without ``instrument_id`` and ``symbol`` columns or
    that the scan cannot parse: such a file is read whole, and the reader reports its faults.
    """
    if path.name.lower().endswith((".dbn", ".dbn.zst")):
        return []
    import polars as pl

    try:
        pairs = (
            pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True)
            .select("instrument_id", "symbol")
            .drop_nulls()  # a line too short to say: the reader reports it
            .unique(maintain_order=True)
            .collect()
        )
    except (pl.exceptions.PolarsError, OSError):
        return []
    return [Instrument(str(i), str(s)) for i, s in pairs.iter_rows()]


def write_instrument(path: Path, instrument: Instrument, out: Path) -> None:
    """Write the header and the lines of ``instrument`` of the CSV ``path`` to ``out``,
    byte for byte (a line that cannot be split into fields stays with every instrument, so
    that the reader reports it)."""
    with path.open("rb") as source, out.open("wb") as target:
        header = source.readline()
        target.write(header)
        names = next(csv.reader([header.decode("utf-8", "replace")]))
        at_id, at_symbol = names.index("instrument_id"), names.index("symbol")
        for line in source:
            fields = next(csv.reader([line.decode("utf-8", "replace")]), [])
            if len(fields) <= max(at_id, at_symbol) or (
                fields[at_id] == instrument.instrument_id and fields[at_symbol] == instrument.symbol
            ):
                target.write(line)
