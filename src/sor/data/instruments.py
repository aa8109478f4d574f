"""The instruments of a day file: each row's ``instrument_id`` and ``symbol``.

``sor`` routes one instrument per input. The readers check it (:func:`instrument_key`,
:func:`check_one_instrument`) and refuse a file that mixes several, whose venues' books
would otherwise be merged into one; ``sor evaluate`` splits such a file, CSV or DBN, by
instrument (:func:`instruments`, :func:`write_instrument`) and evaluates each part as its
own day.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from sor.core.errors import DataError

_LISTED = 5


def is_dbn(path: Path) -> bool:
    """Whether ``path`` names a DBN file (:func:`sor.data.reader.is_dbn`)."""
    from sor.data.reader import is_dbn as named_dbn  # the reader imports this module

    return named_dbn(path)


class MixedInstrumentsError(DataError):
    """The input holds the rows of several instruments."""


@dataclass(frozen=True)
class Instrument:
    """One instrument of a day file: its ``instrument_id`` and ``symbol`` as written."""

    instrument_id: str
    symbol: str

    @property
    def label(self) -> str:
        """``instrument_id/symbol``, as the report names it (the id alone without a
        symbol: a DBN record carries none)."""
        return f"{self.instrument_id}/{self.symbol}" if self.symbol else self.instrument_id


def instruments(path: Path) -> list[Instrument]:
    """The instruments of a day file in order of first appearance: ``(instrument_id,
    symbol)`` pairs of a CSV, ``instrument_id`` values of a DBN file (no symbol).

    Empty for a CSV without an ``instrument_id`` column, and for a file that
    the scan cannot read: such a file is read whole, and the reader reports its faults.
    """
    if is_dbn(path):
        from sor.data.dbn import instrument_ids

        try:
            return [Instrument(str(i), "") for i in instrument_ids(path)]
        except (DataError, OSError):
            return []
    try:
        pairs = _pairs(path).unique(maintain_order=True).collect()
    except (pl.exceptions.PolarsError, OSError):
        return []
    return [Instrument(str(i), str(s)) for i, s in pairs.iter_rows()]


def _pairs(path: Path) -> pl.LazyFrame:
    """Each line's ``(instrument_id, symbol)`` of the CSV ``path``; the symbol empty when
    the file has no such column (the id alone tells instruments apart)."""
    lines = pl.scan_csv(path, infer_schema=False, truncate_ragged_lines=True)
    symbol = pl.col("symbol") if "symbol" in lines.collect_schema() else pl.lit("")
    # a line too short to say: the reader reports it
    return lines.select(pl.col("instrument_id"), symbol.alias("symbol")).drop_nulls()


def write_instrument(path: Path, instrument: Instrument, out: Path) -> None:
    """Write the header and the lines of ``instrument`` of the CSV ``path`` to ``out``,
    byte for byte (a line that cannot be split into fields stays with every instrument, so
    that the reader reports it); of a DBN file, its metadata and records, uncompressed
    (:func:`sor.data.dbn.write_instrument_records`)."""
    if is_dbn(path):
        from sor.data.dbn import write_instrument_records

        write_instrument_records(path, int(instrument.instrument_id), out)
        return
    with path.open("rb") as source, out.open("wb") as target:
        header = source.readline()
        target.write(header)
        names = next(csv.reader([header.decode("utf-8", "replace")]))
        at_id = names.index("instrument_id")
        at_symbol = names.index("symbol") if "symbol" in names else None
        last = max(at_id, at_symbol or 0)
        for line in source:
            fields = next(csv.reader([line.decode("utf-8", "replace")]), [])
            if len(fields) <= last or (
                fields[at_id] == instrument.instrument_id
                and (at_symbol is None or fields[at_symbol] == instrument.symbol)
            ):
                target.write(line)


def first_instrument(path: Path) -> Instrument | None:
    """The instrument of the CSV's first row that names one; None for a DBN file or a CSV
    without an ``instrument_id`` column (the symbol is empty without a ``symbol`` column)."""
    if is_dbn(path):
        return None
    try:
        pairs = _pairs(path).head(1).collect()
    except (pl.exceptions.PolarsError, OSError):
        return None
    return next((Instrument(str(i), str(s)) for i, s in pairs.iter_rows()), None)


def instrument_key(header: list[str]) -> pl.Expr | None:
    """A row's ``instrument_id`` as an integer (-1 when it names none: blank or not a
    number), or None when ``header`` lacks the column.

    Databento numbers each instrument of a dataset: the id alone tells instruments apart
    (the ``symbol`` column, written last on each line, would cost a parse of every line).
    """
    if "instrument_id" not in header:
        return None
    text = pl.col("instrument_id").str.strip_chars()
    return text.cast(pl.Int64, strict=False).fill_null(-1)


def check_one_instrument(path: Path, keys: np.ndarray, reference: int | None) -> int | None:
    """Raise unless every key of ``keys`` (:func:`instrument_key`) that names an instrument
    equals ``reference`` (the first such key seen, or None before any); return the
    reference for the next batch of keys.

    Raises
    ------
    MixedInstrumentsError
        Two keys differ: the message lists the file's instruments.
    """
    named = keys[keys >= 0]
    if not len(named):
        return reference
    first = int(named[0]) if reference is None else reference
    if (named != first).any():
        raise mixed_instruments(path)
    return first


def check_dbn_instrument(path: Path, instrument_ids: np.ndarray) -> None:
    """Raise :class:`MixedInstrumentsError` unless the records share one ``instrument_id``
    (one comparison per record; the ids are listed only for the message)."""
    if len(instrument_ids) and (instrument_ids != instrument_ids[0]).any():
        values, first = np.unique(instrument_ids, return_index=True)
        raise _mixed(path, [str(v) for v in values[np.argsort(first)]])


def mixed_instruments(path: Path) -> MixedInstrumentsError:
    """The error for the CSV ``path``, which holds several instruments."""
    return _mixed(path, [i.label for i in instruments(path)])


def _mixed(path: Path, labels: list[str]) -> MixedInstrumentsError:
    listed = ", ".join(labels[:_LISTED]) + (", ..." if len(labels) > _LISTED else "")
    return MixedInstrumentsError(
        f"holds the rows of more than one instrument ({listed}); sor reads one per input: "
        "give one instrument's rows (sor evaluate splits such a file by instrument itself)",
        path=str(path),
    )
