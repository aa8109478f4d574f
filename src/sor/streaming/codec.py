"""The stream's message schema (version 1): one JSON object per kept venue snapshot.

A snapshot message::

    {"v": 1, "type": "snapshot", "seq": 0, "ts_event": 1722519392491911683,
     "publisher_id": 2, "ask_px": "222.83", "ask_sz": 36, "bid_px": "222.81", "bid_sz": 421}

``seq`` numbers the kept snapshots from 0 in processing order (it identifies a message, so
a duplicate delivery is recognised); ``ts_event`` is ns since the epoch; prices are decimal
dollar strings, exact, ``null`` when the side shows no valid price. The stream ends with::

    {"v": 1, "type": "end", "count": N, "source": "...", "sha256": "...", "rows_read": R,
     "rows_in_window": W, "skipped": {"bad_price": 0}, "start_ns": null, "end_ns": null,
     "seed": null}

where ``count`` is the number of snapshot messages that precede it and the other fields
describe the input as the file-based run sees it (so both runs report the same metadata);
``start_ns``/``end_ns`` are the window bounds the producer applied, or null; ``seed`` is the
seed of generated data, or null.

A stream for ``--model ck`` carries every row of the window instead (``sor produce
--events``), in the order of :func:`sor.data.events.read_events`, one event message each::

    {"v": 1, "type": "event", "seq": 0, "ts_event": 1722519392491911683, "publisher_id": 2,
     "action": "T", "side": "A", "price": "222.81", "size": 100, "bid_px": "222.81",
     "bid_sz": 321, "ask_px": ["222.83", "222.84"], "ask_sz": [36, 500]}

``ask_px``/``ask_sz`` list the ask levels (one for MBP-1, ten for MBP-10); its end marker
says ``"content": "events"`` and counts the event messages. The snapshots are the first
event of each venue at each ``ts_event``, so a static backtest runs from such a stream too.
A marker without ``content`` (or ``"content": "snapshots"``) ends a snapshot stream.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import polars as pl

from sor.data.events import EVENT_DTYPE, LEVELS, snapshots_from_events
from sor.data.reader import MarketData
from sor.domain import NANOS_PER_DOLLAR, SNAPSHOT_DTYPE

SCHEMA_VERSION = 1


class MessageError(ValueError):
    """A message that does not follow the schema."""


def _price_text(nanos: int) -> str | None:
    if nanos <= 0:
        return None
    whole, fraction = divmod(nanos, NANOS_PER_DOLLAR)
    return f"{whole}.{fraction:09d}".rstrip("0").rstrip(".")


_PRICE_CACHE: dict[str, int] = {}
_PRICE_CACHE_SIZE = 1 << 16


def _cached_price_nanos(value: Any) -> int:
    """:func:`_price_nanos`, remembered for price strings: a stream repeats few prices."""
    if isinstance(value, str):
        nanos = _PRICE_CACHE.get(value)
        if nanos is None:
            nanos = _price_nanos(value)
            if len(_PRICE_CACHE) >= _PRICE_CACHE_SIZE:
                _PRICE_CACHE.clear()
            _PRICE_CACHE[value] = nanos
        return nanos
    return _price_nanos(value)


def _price_nanos(value: Any) -> int:
    """Parse a decimal dollar string ("222.83") to nano-dollars, exactly."""
    if value is None:
        return 0
    if isinstance(value, str):
        whole, _, fraction = value.partition(".")
        # the consumer's hot path: plain digits need no Decimal
        if whole.isdigit() and len(fraction) <= 9 and (not fraction or fraction.isdigit()):
            return int(whole) * NANOS_PER_DOLLAR + int(fraction.ljust(9, "0") or 0)
    try:
        amount = Decimal(str(value)) * NANOS_PER_DOLLAR
    except InvalidOperation as exc:
        raise MessageError(f"bad price {value!r}") from exc
    if not amount.is_finite() or amount != amount.to_integral_value():
        raise MessageError(f"bad price {value!r}")
    return max(0, int(amount))


def snapshot_message(seq: int, row: np.void) -> dict[str, Any]:
    """Return the message for snapshot number ``seq`` (a ``SNAPSHOT_DTYPE`` row)."""
    return {
        "v": SCHEMA_VERSION,
        "type": "snapshot",
        "seq": seq,
        "ts_event": int(row["ts_event"]),
        "publisher_id": int(row["publisher_id"]),
        "ask_px": _price_text(int(row["ask_px"])),
        "ask_sz": int(row["ask_sz"]),
        "bid_px": _price_text(int(row["bid_px"])),
        "bid_sz": int(row["bid_sz"]),
    }


def stream_depth(events: np.ndarray) -> int:
    """Return how many ask levels the events carry (the deepest with a price anywhere, >= 1)."""
    priced = np.flatnonzero((events["ask_px"] > 0).any(axis=0))
    return int(priced[-1]) + 1 if len(priced) else 1


def event_message(seq: int, row: np.void, depth: int) -> dict[str, Any]:
    """Return the message for event number ``seq`` (an ``EVENT_DTYPE`` row, ``depth`` levels)."""
    return {
        "v": SCHEMA_VERSION,
        "type": "event",
        "seq": seq,
        "ts_event": int(row["ts_event"]),
        "publisher_id": int(row["publisher_id"]),
        "action": row["action"].decode(),
        "side": row["side"].decode(),
        "price": _price_text(int(row["price"])),
        "size": int(row["size"]),
        "bid_px": _price_text(int(row["bid_px"])),
        "bid_sz": int(row["bid_sz"]),
        "ask_px": [_price_text(int(v)) for v in row["ask_px"][:depth]],
        "ask_sz": [int(v) for v in row["ask_sz"][:depth]],
    }


def end_message(
    market: MarketData,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
    seed: int | None = None,
    events: np.ndarray | None = None,
) -> dict[str, Any]:
    """Return the end-of-stream marker that follows the snapshots of ``market``, or the
    ``events`` when the stream carries every row."""
    return {
        "v": SCHEMA_VERSION,
        "type": "end",
        "content": "snapshots" if events is None else "events",
        "count": len(market.snapshots) if events is None else len(events),
        "source": market.source,
        "sha256": market.sha256,
        "rows_read": market.rows_read,
        "rows_in_window": market.rows_in_window,
        "skipped": dict(sorted(market.skipped.items())),
        "start_ns": start_ns,
        "end_ns": end_ns,
        "seed": seed,
    }


def market_from_messages(messages: list[dict[str, Any]], end: dict[str, Any]) -> MarketData:
    """Rebuild the ``MarketData`` a file-based run would have read, from the stream.

    From an event stream the snapshots are derived from the events, which are kept too.
    """
    if end.get("content") == "events":
        return market_from_events(events_from_messages(messages), end)
    return market_from_snapshots(snapshots_from_messages(messages), end)


def market_from_snapshots(snapshots: np.ndarray, end: dict[str, Any]) -> MarketData:
    """Rebuild the ``MarketData`` of a snapshot stream from its snapshots (in ``seq`` order)."""
    return _market(snapshots, end, len(snapshots))


def market_from_events(events: np.ndarray, end: dict[str, Any]) -> MarketData:
    """Rebuild the ``MarketData`` of an event stream from its events (in ``seq`` order)."""
    return _market(snapshots_from_events(events), end, len(events), events)


def _market(
    snapshots: np.ndarray, end: dict[str, Any], received: int, events: np.ndarray | None = None
) -> MarketData:
    return MarketData(
        snapshots=snapshots,
        source=str(end.get("source")),
        sha256=end.get("sha256"),
        rows_read=int(end.get("rows_read", received)),
        rows_in_window=int(end.get("rows_in_window", received)),
        skipped=dict(end.get("skipped") or {}),
        events=events,
    )


def encode(message: dict[str, Any]) -> bytes:
    """Serialise a message as compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":")).encode()


def encode_snapshots(snapshots: np.ndarray, *, first_seq: int = 0) -> list[bytes]:
    """Encode snapshot messages at once: ``encode(snapshot_message(seq, row))`` for ``seq``
    from ``first_seq``, byte for byte, built column-wise (the producer's hot path)."""
    frame = pl.DataFrame(
        {name: snapshots[name] for name in SNAPSHOT_DTYPE.names or ()}
    ).with_row_index("seq", offset=first_seq)
    return _encoded(
        frame,
        pl.lit(f'{{"v":{SCHEMA_VERSION},"type":"snapshot","seq":'), _text("seq"),
        pl.lit(',"ts_event":'), _text("ts_event"),
        pl.lit(',"publisher_id":'), _text("publisher_id"),
        pl.lit(',"ask_px":'), _price_json(pl.col("ask_px")),
        pl.lit(',"ask_sz":'), _text("ask_sz"),
        pl.lit(',"bid_px":'), _price_json(pl.col("bid_px")),
        pl.lit(',"bid_sz":'), _text("bid_sz"),
        pl.lit("}"),
    )  # fmt: skip


def _text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String)


def _encoded(frame: pl.DataFrame, *parts: pl.Expr) -> list[bytes]:
    """The messages that the concatenation of ``parts`` writes for each row, as bytes."""
    payloads: list[bytes] = frame.select(pl.concat_str(*parts).cast(pl.Binary).alias("m"))[
        "m"
    ].to_list()
    return payloads


ENCODE_CHUNK = 100_000
"""Messages :func:`encode_stream` encodes at a time: bounds memory on long replays."""


def encode_stream(rows: np.ndarray, *, events: bool) -> Iterator[bytes]:
    """Yield the messages of a whole stream in ``seq`` order (``seq`` = position in
    ``rows``): snapshot messages, or event messages with the whole stream's ask depth;
    encoded ``ENCODE_CHUNK`` at a time, so a long replay never holds them all."""
    depth = stream_depth(rows) if events else 0
    for first in range(0, len(rows), ENCODE_CHUNK):
        chunk = rows[first : first + ENCODE_CHUNK]
        if events:
            yield from encode_events(chunk, first_seq=first, depth=depth)
        else:
            yield from encode_snapshots(chunk, first_seq=first)


def _price_json(nanos: pl.Expr) -> pl.Expr:
    """The JSON of a price column as :func:`_price_text` writes it: a decimal string or null."""
    fraction = (nanos % NANOS_PER_DOLLAR).cast(pl.String).str.zfill(9).str.strip_chars_end("0")
    text = pl.concat_str(
        (nanos // NANOS_PER_DOLLAR).cast(pl.String),
        pl.when(fraction == "").then(pl.lit("")).otherwise(pl.lit(".") + fraction),
    )
    return pl.when(nanos > 0).then(pl.lit('"') + text + pl.lit('"')).otherwise(pl.lit("null"))


def encode_events(
    events: np.ndarray, *, first_seq: int = 0, depth: int | None = None
) -> list[bytes]:
    """Encode event messages at once: ``encode(event_message(seq, row, depth))`` for ``seq``
    from ``first_seq``, byte for byte, built column-wise (the producer's hot path).

    ``depth`` defaults to ``stream_depth(events)``; a stream encoded in chunks passes the
    whole stream's, so every message carries the same levels.
    """
    depth = stream_depth(events) if depth is None else depth
    columns: dict[str, np.ndarray] = {
        name: events[name]
        for name in ("ts_event", "publisher_id", "price", "size", "bid_px", "bid_sz")
    }
    for k in range(depth):
        columns[f"ask_px_{k}"] = events["ask_px"][:, k]
        columns[f"ask_sz_{k}"] = events["ask_sz"][:, k]
    frame = pl.DataFrame(columns).with_row_index("seq", offset=first_seq)
    for name in ("action", "side"):
        letters = events[name].tolist()
        quoted = {v: json.dumps(v.decode()) for v in set(letters)}  # escaped, whatever the byte
        frame = frame.with_columns(pl.Series(name, [quoted[v] for v in letters], pl.String))

    return _encoded(
        frame,
        pl.lit(f'{{"v":{SCHEMA_VERSION},"type":"event","seq":'), _text("seq"),
        pl.lit(',"ts_event":'), _text("ts_event"),
        pl.lit(',"publisher_id":'), _text("publisher_id"),
        pl.lit(',"action":'), pl.col("action"),
        pl.lit(',"side":'), pl.col("side"),
        pl.lit(',"price":'), _price_json(pl.col("price")),
        pl.lit(',"size":'), _text("size"),
        pl.lit(',"bid_px":'), _price_json(pl.col("bid_px")),
        pl.lit(',"bid_sz":'), _text("bid_sz"),
        pl.lit(',"ask_px":['),
        pl.concat_str([_price_json(pl.col(f"ask_px_{k}")) for k in range(depth)], separator=","),
        pl.lit('],"ask_sz":['),
        pl.concat_str([_text(f"ask_sz_{k}") for k in range(depth)], separator=","),
        pl.lit("]}"),
    )  # fmt: skip


def decode(payload: bytes | None) -> dict[str, Any]:
    """Parse and validate one message; raise ``MessageError`` when it breaks the schema."""
    if payload is None:
        raise MessageError("empty message")
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"not JSON: {exc}") from exc
    return validate(message)


def decode_batch(payloads: list[bytes | None]) -> list[dict[str, Any] | MessageError]:
    """Decode many messages with one JSON parse; each entry is a message or its error.

    The payloads are parsed as one JSON array when each is a single object (starts with
    ``{`` and ends with ``}``) and the array has one element per payload; otherwise, or on
    any parse error, each payload is decoded alone, so a bad message is still pinned to
    its own position.
    """
    if all(p is not None and p[:1] == b"{" and p[-1:] == b"}" for p in payloads):
        try:
            parsed = json.loads(b"[" + b",".join(payloads) + b"]")  # type: ignore[arg-type]
        except (UnicodeDecodeError, json.JSONDecodeError):
            parsed = None
        if parsed is not None and len(parsed) == len(payloads):
            return [_checked(validate, message) for message in parsed]
    return [_checked(decode, payload) for payload in payloads]


_COMMON_SCHEMA = {"v": pl.Int64, "type": pl.String, "seq": pl.Int64, "ts_event": pl.Int64,
                  "publisher_id": pl.Int64}  # fmt: skip
_SNAPSHOT_SCHEMA = {**_COMMON_SCHEMA, "ask_px": pl.String, "ask_sz": pl.Int64,
                    "bid_px": pl.String, "bid_sz": pl.Int64}  # fmt: skip
_EVENT_SCHEMA = {
    **_COMMON_SCHEMA, "action": pl.String, "side": pl.String, "price": pl.String,
    "size": pl.Int64, "bid_px": pl.String, "bid_sz": pl.Int64, "ask_px": pl.List(pl.String),
    "ask_sz": pl.List(pl.Int64),
}  # fmt: skip


def _parse_batch(
    payloads: list[bytes | None], kind: str, schema: dict[str, Any], integers: tuple[str, ...]
) -> pl.DataFrame | None:
    """One columnar parse of a batch of ``kind`` messages; None unless every payload is one
    such message with its integer fields present and ``seq >= 0``."""
    if not payloads or any(p is None or b"\n" in p for p in payloads):
        return None
    try:
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(payloads)), schema=schema)  # type: ignore[arg-type]
    except Exception:  # polars raises several types on a bad document
        return None
    if not (
        frame.height == len(payloads)
        and (frame["v"] == SCHEMA_VERSION).all()
        and (frame["type"] == kind).all()
        and frame.select(integers).null_count().sum_horizontal().item() == 0
        and (frame["seq"] >= 0).all()
    ):
        return None
    return frame


def _batch_prices(texts: pl.Series) -> np.ndarray | None:
    """Nano-dollars of price strings (0 for null), each distinct string parsed once by
    :func:`_price_nanos`; None when one is not a price."""
    try:
        table = {text: _cached_price_nanos(text) for text in texts.drop_nulls().unique()}
    except MessageError:
        return None
    out: np.ndarray = (
        texts.replace_strict(table, default=0, return_dtype=pl.Int64).fill_null(0).to_numpy()
    )
    return out


def decode_snapshot_batch(
    payloads: list[bytes | None],
) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse a batch of snapshot messages at once into their ``seq`` and ``SNAPSHOT_DTYPE``
    rows: the consumer's hot path. None unless every payload is a well-formed snapshot
    message; the caller then decodes the batch message by message, pinning each bad one."""
    integers = ("seq", "ts_event", "publisher_id", "ask_sz", "bid_sz")
    frame = _parse_batch(payloads, "snapshot", _SNAPSHOT_SCHEMA, integers)
    if frame is None:
        return None
    rows = frame.height
    nanos = _batch_prices(pl.concat([frame["ask_px"], frame["bid_px"]]))
    if nanos is None:
        return None
    out = np.empty(rows, dtype=SNAPSHOT_DTYPE)
    for name in ("ts_event", "publisher_id", "ask_sz", "bid_sz"):
        out[name] = frame[name].to_numpy()
    out["ask_px"] = nanos[:rows]
    out["bid_px"] = nanos[rows:]
    return frame["seq"].to_numpy(), out


def decode_event_batch(payloads: list[bytes | None]) -> tuple[np.ndarray, np.ndarray] | None:
    """Parse a batch of event messages at once into their ``seq`` and ``EVENT_DTYPE`` rows.

    The consumer's hot path for event streams: one columnar parse instead of a dict per
    message, and each distinct price string parsed once. Returns None unless every payload
    is a well-formed event message and all carry the same number of ask levels (an end
    marker, a snapshot or a malformed message among them); the caller then decodes the
    batch message by message, which pins each bad one.
    """
    integers = ("seq", "ts_event", "publisher_id", "size", "bid_sz")
    frame = _parse_batch(payloads, "event", _EVENT_SCHEMA, integers)
    if frame is None:
        return None
    rows = frame.height
    depth = frame["ask_sz"].list.len()
    if not (
        (frame["action"].str.len_bytes() == 1).all()
        and (frame["side"].str.len_bytes() == 1).all()
        and depth.null_count() == 0
        and depth.n_unique() == 1
        and 1 <= depth[0] <= LEVELS
        and (frame["ask_px"].list.len() == depth).all()
    ):
        return None
    levels = int(depth[0])
    sizes = frame["ask_sz"].explode()
    if sizes.null_count():
        return None
    nanos = _batch_prices(pl.concat([frame["price"], frame["bid_px"], frame["ask_px"].explode()]))
    if nanos is None:
        return None
    out = np.zeros(rows, dtype=EVENT_DTYPE)
    for name in ("ts_event", "publisher_id", "size", "bid_sz"):
        out[name] = frame[name].to_numpy()
    for name in ("action", "side"):
        out[name] = frame[name].to_numpy().astype("S1")
    out["price"] = nanos[:rows]
    out["bid_px"] = nanos[rows : 2 * rows]
    out["ask_px"][:, :levels] = nanos[2 * rows :].reshape(rows, levels)
    out["ask_sz"][:, :levels] = sizes.to_numpy().reshape(rows, levels)
    return frame["seq"].to_numpy(), out


def _fill_levels(target: np.ndarray, levels: list[list[int]]) -> None:
    """Write each row's levels into ``target`` (rows x ``LEVELS``), leaving the rest 0."""
    depth = max(map(len, levels), default=0)
    if all(len(row) == depth for row in levels):  # one depth: no padding needed
        target[:, :depth] = np.array(levels, dtype=np.int64).reshape(-1, depth)
    else:
        for i, row in enumerate(levels):
            target[i, : len(row)] = row


def _checked(step: Any, value: Any) -> dict[str, Any] | MessageError:
    try:
        result: dict[str, Any] = step(value)
        return result
    except MessageError as exc:
        return exc


def validate(message: Any) -> dict[str, Any]:
    """Check a parsed message against the schema and add its prices in nano-dollars."""
    if not isinstance(message, dict) or message.get("v") != SCHEMA_VERSION:
        raise MessageError(f"not a version-{SCHEMA_VERSION} sor message")
    kind = message.get("type")
    if kind == "end":
        if not isinstance(message.get("count"), int) or message["count"] < 0:
            raise MessageError("end marker without a valid count")
        if message.get("content", "snapshots") not in ("snapshots", "events"):
            raise MessageError("end marker content must be 'snapshots' or 'events'")
        return message
    if kind == "event":
        return _validate_event(message)
    if kind != "snapshot":
        raise MessageError(f"unknown message type {kind!r}")
    _require_integers(message, ("seq", "ts_event", "publisher_id", "ask_sz", "bid_sz"))
    message["ask_px_nanos"] = _cached_price_nanos(message.get("ask_px"))
    message["bid_px_nanos"] = _cached_price_nanos(message.get("bid_px"))
    return message


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_integers(message: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        if not _is_integer(message.get(name)):
            raise MessageError(f"field {name!r} must be an integer")
    if message["seq"] < 0:
        raise MessageError("field 'seq' must be non-negative")


def _validate_event(message: dict[str, Any]) -> dict[str, Any]:
    _require_integers(message, ("seq", "ts_event", "publisher_id", "size", "bid_sz"))
    for name in ("action", "side"):
        value = message.get(name)
        if not isinstance(value, str) or len(value.encode()) != 1:
            raise MessageError(f"field {name!r} must be one ASCII character")
    asks, sizes = message.get("ask_px"), message.get("ask_sz")
    if not isinstance(asks, list) or not isinstance(sizes, list) or len(asks) != len(sizes):
        raise MessageError("fields 'ask_px' and 'ask_sz' must be lists of equal length")
    if not 1 <= len(asks) <= LEVELS or not all(_is_integer(v) for v in sizes):
        raise MessageError(f"'ask_px'/'ask_sz' must hold 1 to {LEVELS} levels, sizes integers")
    message["price_nanos"] = _cached_price_nanos(message.get("price"))
    message["bid_px_nanos"] = _cached_price_nanos(message.get("bid_px"))
    message["ask_px_nanos"] = [_cached_price_nanos(v) for v in asks]
    return message


def events_from_messages(messages: list[dict[str, Any]]) -> np.ndarray:
    """Rebuild ``EVENT_DTYPE`` rows from decoded event messages, in ``seq`` order."""
    ordered = sorted(messages, key=lambda m: m["seq"])
    out = np.zeros(len(ordered), dtype=EVENT_DTYPE)
    for name, key in (("ts_event", "ts_event"), ("publisher_id", "publisher_id"),
                      ("price", "price_nanos"), ("size", "size"), ("bid_px", "bid_px_nanos"),
                      ("bid_sz", "bid_sz")):  # fmt: skip
        out[name] = np.fromiter((m[key] for m in ordered), dtype=np.int64, count=len(ordered))
    for name in ("action", "side"):
        out[name] = [m[name].encode() for m in ordered]
    for name, key in (("ask_px", "ask_px_nanos"), ("ask_sz", "ask_sz")):
        _fill_levels(out[name], [m[key] for m in ordered])
    return out


def snapshots_from_messages(messages: list[dict[str, Any]]) -> np.ndarray:
    """Rebuild ``SNAPSHOT_DTYPE`` rows from decoded snapshot messages, in ``seq`` order."""
    ordered = sorted(messages, key=lambda m: m["seq"])
    out = np.empty(len(ordered), dtype=SNAPSHOT_DTYPE)
    for name, key in (
        ("ts_event", "ts_event"),
        ("publisher_id", "publisher_id"),
        ("ask_px", "ask_px_nanos"),
        ("ask_sz", "ask_sz"),
        ("bid_px", "bid_px_nanos"),
        ("bid_sz", "bid_sz"),
    ):
        out[name] = np.fromiter((m[key] for m in ordered), dtype=np.int64, count=len(ordered))
    return out
