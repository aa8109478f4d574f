"""``sor convert``: an order-level file (Databento MBO, LOBSTER) as Databento MBP-10 or MBP-1.

The rows are exactly the events the readers feed every command (:mod:`sor.data.orderlevel`):
one per record (a LOBSTER execution: a trade, a fill and the cancel that cuts the order),
each carrying its venue's book as the events do, so a backtest of the converted file
gives the figures of the order-level file. Written as CSV (Databento's layout: pretty
timestamps and prices, the columns of ``l1_day.csv``) or DBN (``.dbn``, zstd-compressed
with ``.dbn.zst``), chosen by the output's suffix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from sor.core.errors import ConfigError
from sor.data.events import LEVELS
from sor.data.orderlevel import OrderLevelData, SourceOptions, read_order_level

log = logging.getLogger(__name__)

_RTYPES = {1: 0x01, 10: 0x0A}


@dataclass(frozen=True)
class Converted:
    """What was written: the file, its rows, levels and the input's kind."""

    path: Path
    rows: int
    depth: int
    kind: str


def output_format(out: Path) -> str:
    """Return what ``out`` asks for by its suffix: ``"csv"``, ``"dbn"`` or ``"dbn.zst"``.

    Raises
    ------
    ConfigError
        ``out`` has no suffix ``sor convert`` writes.
    """
    for suffix in (".dbn.zst", ".dbn", ".csv"):
        if out.name.endswith(suffix):
            return suffix.lstrip(".")
    raise ConfigError(f"--out: name a .csv, .dbn or .dbn.zst file, got {out.name!r}")


def convert(
    source: Path,
    form: str,
    target: Path,
    *,
    depth: int = LEVELS,
    skip_bad_rows: bool = False,
    options: SourceOptions | None = None,
) -> Converted:
    """Write the events of the order-level file ``source`` to ``target`` as MBP-``depth``
    in the format ``form`` (:func:`output_format`).

    Raises
    ------
    ConfigError
        ``depth`` is not 1 or 10.
    DataError
        ``source`` is not an order-level file, or holds a bad record (unless
        ``skip_bad_rows``).
    """
    if depth not in _RTYPES:
        raise ConfigError(f"--depth must be 1 (MBP-1) or 10 (MBP-10), got {depth}")
    data = read_order_level(source, skip_bad_rows=skip_bad_rows, options=options, details=True)
    columns = _columns(data, source, depth)
    if form == "csv":
        _write_csv(columns, depth, target)
    else:
        _write_dbn(columns, depth, target, compress=form == "dbn.zst")
    return Converted(target, len(data.events), depth, data.kind)


def _columns(data: OrderLevelData, source: Path, depth: int) -> dict[str, np.ndarray]:
    """The MBP columns of every event, as integers (prices in nano-dollars, 0 absent)."""
    events = data.events
    n = len(events)
    if data.records is not None:  # MBO: the records' own fields
        records = data.records
        ts_recv = records.get("ts_recv", events["ts_event"])
        instrument = records.get("instrument_id", np.zeros(n, np.int64))
        delta = records.get("ts_in_delta", np.zeros(n, np.int64))
        sequence = records.get("sequence", events["seq"])
        symbol = _symbols(source, instrument)
    else:  # LOBSTER: the ticker of the file name
        from sor.data.generate import instrument_id
        from sor.data.lobster import lobster_name

        named = lobster_name(source)
        ticker = named.ticker if named is not None else source.stem
        ts_recv, delta, sequence = events["ts_event"], np.zeros(n, np.int64), events["seq"]
        instrument = np.full(n, instrument_id(ticker), np.int64)
        symbol = np.full(n, ticker, dtype=object)
    counts = {
        "bid_ct": data.bid_ct if data.bid_ct is not None else np.zeros((n, LEVELS), np.int64),
        "ask_ct": data.ask_ct if data.ask_ct is not None else np.zeros((n, LEVELS), np.int64),
    }
    columns: dict[str, np.ndarray] = {
        "ts_recv": np.asarray(ts_recv, np.int64),
        "ts_event": events["ts_event"],
        "rtype": np.full(n, _RTYPES[depth], np.int64),
        "publisher_id": events["publisher_id"].astype(np.int64),
        "instrument_id": np.asarray(instrument, np.int64),
        "action": events["action"],
        "side": events["side"],
        "depth": _depth(events),
        "price": events["price"],
        "size": events["size"],
        "flags": events["flags"].astype(np.int64),
        "ts_in_delta": np.asarray(delta, np.int64),
        "sequence": np.asarray(sequence, np.int64),
        "symbol": symbol,
    }
    for k in range(depth):
        for name in ("bid_px", "ask_px", "bid_sz", "ask_sz"):
            columns[f"{name}_{k:02d}"] = events[name][:, k]
        for name in ("bid_ct", "ask_ct"):
            columns[f"{name}_{k:02d}"] = counts[name][:, k]
    return columns


def _depth(events: np.ndarray) -> np.ndarray:
    """The level of each row's price on the side it concerns (a trade: the resting side),
    in the row's book; 0 where it is not shown."""
    resting_bid = np.where(events["action"] == b"T", events["side"] == b"A",
                           events["side"] == b"B")  # fmt: skip
    prices = np.where(resting_bid[:, None], events["bid_px"], events["ask_px"])
    hit = prices == events["price"][:, None]
    out: np.ndarray = np.where(hit.any(axis=1), hit.argmax(axis=1), 0).astype(np.int64)
    return out


def _symbols(source: Path, instrument: np.ndarray) -> np.ndarray:
    """The symbol of each row's instrument: the CSV's ``symbol`` column, or the DBN
    metadata's mapping of instrument ids; empty where neither says."""
    from sor.data.reader import is_dbn

    names: dict[int, str] = {}
    if is_dbn(source):
        names = _dbn_symbols(source)
    else:
        try:
            pairs = (
                pl.scan_csv(source, infer_schema=False, truncate_ragged_lines=True)
                .select("instrument_id", "symbol")
                .unique()
                .collect()
            )
            names = {int(i): str(s) for i, s in pairs.iter_rows() if i is not None and s}
        except (pl.exceptions.PolarsError, ValueError):
            names = {}
    lookup = np.array([names.get(int(i), "") for i in np.unique(instrument)], dtype=object)
    if not len(lookup):
        return np.zeros(0, dtype=object)
    return lookup[np.searchsorted(np.unique(instrument), instrument)]


def _dbn_symbols(source: Path) -> dict[int, str]:
    """Instrument id to symbol from a DBN file's metadata (empty when it cannot say)."""
    import databento_dbn

    from sor.data.dbn import _stream

    stream, _ = _stream(source)
    length = 8 + int.from_bytes(bytes(stream[4:8]), "little")
    try:
        metadata = databento_dbn.Metadata.decode(bytes(stream[:length]))
    except Exception:  # a metadata the library cannot read: no symbols, not an error
        return {}
    out = {}
    for mapping in metadata.mappings.items() if isinstance(metadata.mappings, dict) else []:
        raw, intervals = mapping
        for interval in intervals:
            try:
                out[int(interval["symbol"])] = str(raw)
            except (KeyError, TypeError, ValueError):
                continue
    return out


def _prices(nanos: pl.Expr) -> pl.Expr:
    """Nano-dollars as Databento's pretty decimal (``222.81``), exactly; null where 0."""
    whole = (nanos // 1_000_000_000).cast(pl.String)
    part = (nanos % 1_000_000_000).cast(pl.String).str.zfill(9).str.strip_chars_end("0")
    text = pl.when(part == "").then(whole).otherwise(whole + "." + part)
    return pl.when(nanos > 0).then(text)  # null, written as an empty field, where absent


def _write_csv(columns: dict[str, np.ndarray], depth: int, out: Path) -> None:
    from sor.data.generate import mbp_columns

    frame = pl.DataFrame({
        name: (values.astype("U1") if values.dtype.kind == "S"
               else pl.Series(name, values, dtype=pl.String) if name == "symbol" else values)
        for name, values in columns.items()
    })  # fmt: skip
    iso = "%Y-%m-%dT%H:%M:%S%.9fZ"
    prices = [name for name in frame.columns if name == "price" or "_px_" in name]
    frame = frame.with_columns(
        pl.col("ts_recv").cast(pl.Datetime("ns")).dt.strftime(iso),
        pl.col("ts_event").cast(pl.Datetime("ns")).dt.strftime(iso),
        *[_prices(pl.col(name)).alias(name) for name in prices],
    ).select(mbp_columns(depth))
    frame.write_csv(out)


def _write_dbn(columns: dict[str, np.ndarray], depth: int, out: Path, *, compress: bool) -> None:
    import databento_dbn
    import zstandard

    from sor.data.dbn import record_dtype

    schema = "mbp-10" if depth == 10 else "mbp-1"
    dtype = record_dtype(schema)
    n = len(columns["ts_event"])
    records = np.zeros(n, dtype)
    records["length"] = dtype.itemsize // 4
    records["rtype"] = _RTYPES[depth]
    undefined = np.iinfo(np.int64).max
    for name in dtype.names or ():
        if name in ("length", "rtype"):
            continue
        values = columns[name]
        if name == "price" or "_px_" in name:
            values = np.where(values > 0, values, undefined)
        records[name] = values
    symbols = sorted({s for s in columns["symbol"] if s})
    metadata = databento_dbn.Metadata(
        dataset="",
        start=int(columns["ts_event"].min()) if n else 0,
        stype_in=databento_dbn.SType.from_str("raw_symbol"),
        stype_out=databento_dbn.SType.from_str("instrument_id"),
        schema=databento_dbn.Schema.from_str(schema),
        symbols=symbols,
    )
    payload = bytes(metadata.encode()) + records.tobytes()
    if compress:
        payload = zstandard.ZstdCompressor().compress(payload)
    out.write_bytes(payload)
