"""The stream's message schema (version 2): one JSON object per message, in replays.

A topic may hold several replays (a long-lived topic collects one per ``sor produce``).
Every message names its replay by ``replay``, an id the producer draws. A replay is a
start marker, its data messages numbered by ``seq`` from 0, and an end marker::

    {"v": 2, "type": "start", "replay": "20240801T133632-1a2b3c4d",
     "created_ns": 1722519392000000000, "content": "snapshots",
     "source": "...", "sha256": "...", "rows_read": R, "rows_in_window": W,
     "skipped": {"bad_price": 0}, "start_ns": null, "end_ns": null, "seed": null}

    {"v": 2, "type": "snapshot", "replay": "...", "seq": 0, "ts_event": 1722519392491911683,
     "publisher_id": 2, "ask_px": "222.83", "ask_sz": 36, "bid_px": "222.81", "bid_sz": 421}

    {"v": 2, "type": "end", "replay": "...", "count": N, "checksum": "0f1e2d3c4b5a6978"}

The start marker describes the input as the file-based run sees it (so both runs report
the same metadata): ``start_ns``/``end_ns`` are the window the producer applied, or null;
``seed`` is the seed of generated data, or null. ``seq`` identifies a data message within
its replay, so a duplicate delivery is recognised. ``ts_event`` is ns since the epoch;
prices are decimal dollar strings, exact, ``null`` when the side shows no valid price.
``count`` is the number of data messages; ``checksum`` is the sum, modulo 2**64, of the
64-bit BLAKE2b digests of their payloads (:func:`payload_digests`), in 16 hex digits, so
a consumer can tell a complete replay from one whose content was altered. While a replay
paused by ``--speed`` waits, the producer sends ``{"v": 2, "type": "heartbeat", "replay":
"..."}`` now and then, so that a consumer tells a slow replay from a lost one.

A stream for ``--model ck`` carries every row of the window instead (``sor produce
--events``, ``"content": "events"``), in the order of :func:`sor.data.events.read_events`,
one event message each::

    {"v": 2, "type": "event", "replay": "...", "seq": 0, "ts_event": 1722519392491911683,
     "publisher_id": 2, "action": "T", "side": "A", "price": "222.81", "size": 100,
     "flags": 0, "bid_px": ["222.81", "222.8"], "bid_sz": [421, 100],
     "ask_px": ["222.83", "222.84"], "ask_sz": [36, 300]}

``bid_px``/``bid_sz`` and ``ask_px``/``ask_sz`` list the book's levels (one for MBP-1, ten
for MBP-10); ``flags`` is the record's Databento flags (``F_LAST``, 128, ends an event). The
snapshots are the first event of each venue at each ``ts_event``, so a static backtest runs
from such a stream too.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import numpy as np
import polars as pl

from sor.core.domain import MAX_PRICE_NANOS, MAX_PUBLISHER_ID, NANOS_PER_DOLLAR, SNAPSHOT_DTYPE
from sor.core.market import MarketData
from sor.data.events import EVENT_DTYPE, LEVELS, snapshots_from_events

SCHEMA_VERSION = 2
CONTENTS = {"snapshots": "snapshot", "events": "event"}
"""What a replay's start marker may announce, and the data message type of each."""
_REPLAY_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_PLAIN_PRICE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{0,9})?")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")
_INT_RANGES = {
    "seq": (0, 2**53),
    "count": (0, 2**53),
    "ts_event": (0, 2**63 - 1),
    "publisher_id": (0, MAX_PUBLISHER_ID),
    "size": (-(2**31), 2**32 - 1),
    "flags": (0, 255),
    "ask_sz": (-(2**31), 2**31 - 1),  # int32 in SNAPSHOT_DTYPE
    "bid_sz": (-(2**31), 2**31 - 1),
}
"""Inclusive bounds of each integer field: what the arrays that receive it hold."""


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
    """Parse a decimal dollar string ("222.83") to nano-dollars, exactly.

    Only ASCII decimal text is a price (``float()`` and ``Decimal`` would take "١٢" or
    "1_000"); a price beyond ``MAX_PRICE_NANOS`` is an error, a non-positive one means no
    quote (0).
    """
    if value is None:
        return 0
    if isinstance(value, str) and _PLAIN_PRICE.fullmatch(value):
        # the consumer's hot path: plain digits need no Decimal
        whole, _, fraction = value.partition(".")
        nanos = int(whole) * NANOS_PER_DOLLAR + int(fraction.ljust(9, "0") or 0)
    else:
        text = value if isinstance(value, str) else None
        if text is None or not _NUMBER.fullmatch(text):
            raise MessageError(f"bad price {_shown(value)}")
        amount = Decimal(text) * NANOS_PER_DOLLAR
        if amount != amount.to_integral_value():
            raise MessageError(f"bad price {_shown(value)}: finer than a nano-dollar")
        nanos = int(amount)
    if nanos > MAX_PRICE_NANOS:
        raise MessageError(f"bad price {_shown(value)}: beyond {MAX_PRICE_NANOS} nano-dollars")
    return max(0, nanos)


def _shown(value: Any) -> str:
    """A value for a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def new_replay_id() -> str:
    """Return a fresh replay id: the UTC time it was drawn and 8 random hex digits."""
    import secrets
    from datetime import UTC, datetime

    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def payload_digests(payloads: list[bytes]) -> np.ndarray:
    """Return the 64-bit BLAKE2b digest of each payload, as unsigned integers."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(p, digest_size=8).digest(), "little") for p in payloads],
        dtype=np.uint64,
    )


def checksum_text(total: int) -> str:
    """The end marker's ``checksum``: a sum of digests modulo 2**64, in 16 hex digits."""
    return f"{total % 2**64:016x}"


def snapshot_message(seq: int, row: np.void, *, replay: str) -> dict[str, Any]:
    """Return the message for snapshot number ``seq`` (a ``SNAPSHOT_DTYPE`` row), as a dict:
    what :func:`encode_snapshots`, the one snapshot encoder, writes for it."""
    rows = np.array([row], dtype=SNAPSHOT_DTYPE)
    message: dict[str, Any] = json.loads(encode_snapshots(rows, replay=replay, first_seq=seq)[0])
    return message


def stream_depth(events: np.ndarray) -> int:
    """Return how many levels the events carry (the deepest with a price anywhere, >= 1)."""
    priced = np.flatnonzero(((events["ask_px"] > 0) | (events["bid_px"] > 0)).any(axis=0))
    return int(priced[-1]) + 1 if len(priced) else 1


def event_message(seq: int, row: np.void, depth: int, *, replay: str) -> dict[str, Any]:
    """Return the message for event number ``seq`` (an ``EVENT_DTYPE`` row, ``depth`` levels),
    as a dict: what :func:`encode_events`, the one event encoder, writes for it."""
    rows = np.array([row], dtype=EVENT_DTYPE)
    message: dict[str, Any] = json.loads(
        encode_events(rows, replay=replay, first_seq=seq, depth=depth)[0]
    )
    return message


def start_message(
    market: MarketData,
    *,
    replay: str,
    start_ns: int | None = None,
    end_ns: int | None = None,
    seed: int | None = None,
    events: bool = False,
    created_ns: int = 0,
) -> dict[str, Any]:
    """Return the marker that opens replay ``replay`` of ``market``'s snapshots, or of every
    event when ``events``: the input's metadata as the file-based run reports it, and when
    the replay was created (ns since the epoch, wall clock)."""
    return {
        "v": SCHEMA_VERSION,
        "type": "start",
        "replay": replay,
        "created_ns": created_ns,
        "content": "events" if events else "snapshots",
        "source": market.source,
        "sha256": market.sha256,
        "rows_read": market.rows_read,
        "rows_in_window": market.rows_in_window,
        "skipped": dict(sorted(market.skipped.items())),
        "start_ns": start_ns,
        "end_ns": end_ns,
        "seed": seed,
    }


def end_message(*, replay: str, count: int, checksum: int) -> dict[str, Any]:
    """Return the marker that closes replay ``replay`` after ``count`` data messages whose
    digests sum to ``checksum``."""
    return {
        "v": SCHEMA_VERSION,
        "type": "end",
        "replay": replay,
        "count": count,
        "checksum": checksum_text(checksum),
    }


def heartbeat_message(*, replay: str) -> dict[str, Any]:
    """Return the message a paused replay sends to show it is alive."""
    return {"v": SCHEMA_VERSION, "type": "heartbeat", "replay": replay}


def market_from_messages(messages: list[dict[str, Any]], start: dict[str, Any]) -> MarketData:
    """Rebuild the ``MarketData`` a file-based run would have read, from one replay's data
    messages and its start marker.

    From an event stream the snapshots are derived from the events, which are kept too.
    """
    if start.get("content") == "events":
        return market_from_events(events_from_messages(messages), start)
    return market_from_snapshots(snapshots_from_messages(messages), start)


def market_from_snapshots(snapshots: np.ndarray, start: dict[str, Any]) -> MarketData:
    """Rebuild the ``MarketData`` of a snapshot stream from its snapshots (in ``seq`` order)."""
    return _market(snapshots, start, len(snapshots))


def market_from_events(events: np.ndarray, start: dict[str, Any]) -> MarketData:
    """Rebuild the ``MarketData`` of an event stream from its events (in ``seq`` order)."""
    return _market(snapshots_from_events(events), start, len(events), events)


def _market(
    snapshots: np.ndarray, start: dict[str, Any], received: int, events: np.ndarray | None = None
) -> MarketData:
    return MarketData(
        snapshots=snapshots,
        source=str(start.get("source")),
        sha256=start.get("sha256"),
        rows_read=int(start.get("rows_read", received)),
        rows_in_window=int(start.get("rows_in_window", received)),
        skipped=dict(start.get("skipped") or {}),
        events=events,
    )


def encode(message: dict[str, Any]) -> bytes:
    """Serialise a message as compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":")).encode()


def encode_snapshots(snapshots: np.ndarray, *, replay: str, first_seq: int = 0) -> list[bytes]:
    """Encode the snapshot messages of ``snapshots``, numbered by ``seq`` from ``first_seq``:
    the one snapshot encoder, built column-wise (the producer's hot path)."""
    frame = pl.DataFrame(
        {name: snapshots[name] for name in SNAPSHOT_DTYPE.names or ()}
    ).with_row_index("seq", offset=first_seq)
    return _encoded(
        frame,
        pl.lit(f'{{"v":{SCHEMA_VERSION},"type":"snapshot","replay":{_replay_json(replay)},"seq":'),
        _text("seq"),
        pl.lit(',"ts_event":'), _text("ts_event"),
        pl.lit(',"publisher_id":'), _text("publisher_id"),
        pl.lit(',"ask_px":'), _price_json(pl.col("ask_px")),
        pl.lit(',"ask_sz":'), _text("ask_sz"),
        pl.lit(',"bid_px":'), _price_json(pl.col("bid_px")),
        pl.lit(',"bid_sz":'), _text("bid_sz"),
        pl.lit("}"),
    )  # fmt: skip


def _replay_json(replay: str) -> str:
    if not _REPLAY_ID.fullmatch(replay):
        raise ValueError(f"a replay id is 1 to 64 of A-Z a-z 0-9 _ . : -, got {replay!r}")
    return json.dumps(replay)


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


def encode_stream(rows: np.ndarray, *, events: bool, replay: str) -> Iterator[bytes]:
    """Yield the messages of a whole stream in ``seq`` order (``seq`` = position in
    ``rows``): snapshot messages, or event messages with the whole stream's ask depth;
    encoded ``ENCODE_CHUNK`` at a time, so a long replay never holds them all."""
    depth = stream_depth(rows) if events else 0
    for first in range(0, len(rows), ENCODE_CHUNK):
        chunk = rows[first : first + ENCODE_CHUNK]
        if events:
            yield from encode_events(chunk, replay=replay, first_seq=first, depth=depth)
        else:
            yield from encode_snapshots(chunk, replay=replay, first_seq=first)


def _price_json(nanos: pl.Expr) -> pl.Expr:
    """The JSON of a price column as :func:`_price_text` writes it: a decimal string or null."""
    fraction = (nanos % NANOS_PER_DOLLAR).cast(pl.String).str.zfill(9).str.strip_chars_end("0")
    text = pl.concat_str(
        (nanos // NANOS_PER_DOLLAR).cast(pl.String),
        pl.when(fraction == "").then(pl.lit("")).otherwise(pl.lit(".") + fraction),
    )
    return pl.when(nanos > 0).then(pl.lit('"') + text + pl.lit('"')).otherwise(pl.lit("null"))


def encode_events(
    events: np.ndarray, *, replay: str, first_seq: int = 0, depth: int | None = None
) -> list[bytes]:
    """Encode the event messages of ``events``, numbered by ``seq`` from ``first_seq``: the
    one event encoder, built column-wise (the producer's hot path).

    ``depth`` defaults to ``stream_depth(events)``; a stream encoded in chunks passes the
    whole stream's, so every message carries the same levels.
    """
    depth = stream_depth(events) if depth is None else depth
    columns: dict[str, np.ndarray] = {
        name: events[name] for name in ("ts_event", "publisher_id", "price", "size", "flags")
    }
    for name in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        for k in range(depth):
            columns[f"{name}_{k}"] = events[name][:, k]
    frame = pl.DataFrame(columns).with_row_index("seq", offset=first_seq)
    for name in ("action", "side"):
        letters = events[name].tolist()
        quoted = {v: json.dumps(v.decode()) for v in set(letters)}  # escaped, whatever the byte
        frame = frame.with_columns(pl.Series(name, [quoted[v] for v in letters], pl.String))

    return _encoded(
        frame,
        pl.lit(f'{{"v":{SCHEMA_VERSION},"type":"event","replay":{_replay_json(replay)},"seq":'),
        _text("seq"),
        pl.lit(',"ts_event":'), _text("ts_event"),
        pl.lit(',"publisher_id":'), _text("publisher_id"),
        pl.lit(',"action":'), pl.col("action"),
        pl.lit(',"side":'), pl.col("side"),
        pl.lit(',"price":'), _price_json(pl.col("price")),
        pl.lit(',"size":'), _text("size"),
        pl.lit(',"flags":'), _text("flags"),
        *_levels_json("bid", depth),
        *_levels_json("ask", depth),
        pl.lit("}"),
    )  # fmt: skip


def _levels_json(side: str, depth: int) -> list[pl.Expr]:
    """The ``,"bid_px":[...],"bid_sz":[...]`` (or ask) part of an event message."""
    return [
        pl.lit(f',"{side}_px":['),
        pl.concat_str([_price_json(pl.col(f"{side}_px_{k}")) for k in range(depth)], separator=","),
        pl.lit(f'],"{side}_sz":['),
        pl.concat_str([_text(f"{side}_sz_{k}") for k in range(depth)], separator=","),
        pl.lit("]"),
    ]


def decode(payload: bytes | None) -> dict[str, Any]:
    """Parse and validate one message; raise ``MessageError`` when it breaks the schema."""
    if payload is None:
        raise MessageError("empty message")
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"not JSON: {exc}") from exc
    except RecursionError:
        raise MessageError("not a sor message: JSON nested too deep") from None
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
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            parsed = None
        if parsed is not None and len(parsed) == len(payloads):
            return [_checked(validate, message) for message in parsed]
    return [_checked(decode, payload) for payload in payloads]


_COMMON_SCHEMA = {"v": pl.Int64, "type": pl.String, "replay": pl.String, "seq": pl.Int64,
                  "ts_event": pl.Int64, "publisher_id": pl.Int64}  # fmt: skip
_SNAPSHOT_SCHEMA = {**_COMMON_SCHEMA, "ask_px": pl.String, "ask_sz": pl.Int64,
                    "bid_px": pl.String, "bid_sz": pl.Int64}  # fmt: skip
_EVENT_SCHEMA = {
    **_COMMON_SCHEMA, "action": pl.String, "side": pl.String, "price": pl.String,
    "size": pl.Int64, "flags": pl.Int64, "bid_px": pl.List(pl.String),
    "bid_sz": pl.List(pl.Int64), "ask_px": pl.List(pl.String), "ask_sz": pl.List(pl.Int64),
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
        and frame["replay"].null_count() == 0
        and frame["replay"].str.contains(f"^{_REPLAY_ID.pattern}$").all()
        and frame.select(integers).null_count().sum_horizontal().item() == 0
        and all(frame[name].is_between(*_INT_RANGES[name]).all() for name in integers)
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse a batch of snapshot messages at once into their ``replay``, ``seq`` and
    ``SNAPSHOT_DTYPE`` rows: the consumer's hot path. None unless every payload is a well-formed snapshot
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
    return frame["replay"].to_numpy(), frame["seq"].to_numpy(), out


def decode_event_batch(
    payloads: list[bytes | None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse a batch of event messages at once into their ``replay``, ``seq`` and
    ``EVENT_DTYPE`` rows.

    The consumer's hot path for event streams: one columnar parse instead of a dict per
    message, and each distinct price string parsed once. Returns None unless every payload
    is a well-formed event message and all carry the same number of ask levels (an end
    marker, a snapshot or a malformed message among them); the caller then decodes the
    batch message by message, which pins each bad one.
    """
    integers = ("seq", "ts_event", "publisher_id", "size", "flags")
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
        and all((frame[name].list.len() == depth).all() for name in ("ask_px", "bid_px", "bid_sz"))
    ):
        return None
    levels = int(depth[0])
    sizes = pl.concat([frame["bid_sz"].explode(), frame["ask_sz"].explode()])
    if sizes.null_count() or not sizes.is_between(*_INT_RANGES["size"]).all():
        return None
    prices = [frame["price"], frame["bid_px"].explode(), frame["ask_px"].explode()]
    nanos = _batch_prices(pl.concat(prices))
    if nanos is None:
        return None
    out = np.zeros(rows, dtype=EVENT_DTYPE)
    for name in ("ts_event", "publisher_id", "size", "flags"):
        out[name] = frame[name].to_numpy()
    for name in ("action", "side"):
        out[name] = frame[name].to_numpy().astype("S1")
    out["price"] = nanos[:rows]
    book = rows * levels
    out["bid_px"][:, :levels] = nanos[rows : rows + book].reshape(rows, levels)
    out["ask_px"][:, :levels] = nanos[rows + book :].reshape(rows, levels)
    sizes_np = sizes.to_numpy()
    out["bid_sz"][:, :levels] = sizes_np[:book].reshape(rows, levels)
    out["ask_sz"][:, :levels] = sizes_np[book:].reshape(rows, levels)
    return frame["replay"].to_numpy(), frame["seq"].to_numpy(), out


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
    replay = message.get("replay")
    if not isinstance(replay, str) or not _REPLAY_ID.fullmatch(replay):
        raise MessageError("field 'replay' must be a replay id")
    if kind == "start":
        if message.get("content") not in CONTENTS:
            raise MessageError("start marker content must be 'snapshots' or 'events'")
        return message
    if kind == "end":
        _require_integers(message, ("count",))
        checksum = message.get("checksum")
        if not isinstance(checksum, str) or not re.fullmatch(r"[0-9a-f]{16}", checksum):
            raise MessageError("end marker without a valid checksum")
        return message
    if kind == "heartbeat":
        return message
    if kind == "event":
        return _validate_event(message)
    if kind != "snapshot":
        raise MessageError(f"unknown message type {_shown(kind)}")
    _require_integers(message, ("seq", "ts_event", "publisher_id", "ask_sz", "bid_sz"))
    message["ask_px_nanos"] = _cached_price_nanos(message.get("ask_px"))
    message["bid_px_nanos"] = _cached_price_nanos(message.get("bid_px"))
    return message


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_integers(message: dict[str, Any], names: tuple[str, ...]) -> None:
    for name in names:
        value: Any = message.get(name)
        if not _is_integer(value):
            raise MessageError(f"field {name!r} must be an integer")
        low, high = _INT_RANGES[name]
        if not low <= value <= high:
            raise MessageError(f"field {name!r} is {_shown(value)}, outside [{low}, {high}]")


def _validate_event(message: dict[str, Any]) -> dict[str, Any]:
    _require_integers(message, ("seq", "ts_event", "publisher_id", "size", "flags"))
    for name in ("action", "side"):
        value = message.get(name)
        if not isinstance(value, str) or len(value.encode()) != 1:
            raise MessageError(f"field {name!r} must be one ASCII character")
    depth = None
    for side in ("bid", "ask"):
        prices, sizes = message.get(f"{side}_px"), message.get(f"{side}_sz")
        if not isinstance(prices, list) or not isinstance(sizes, list):
            raise MessageError(f"fields '{side}_px' and '{side}_sz' must be lists")
        low, high = _INT_RANGES["size"]
        if (
            not 1 <= len(prices) <= LEVELS
            or len(sizes) != len(prices)
            or depth not in (None, len(prices))
            or not all(_is_integer(v) and low <= v <= high for v in sizes)
        ):
            raise MessageError(
                f"'bid_px'/'bid_sz'/'ask_px'/'ask_sz' must hold the same 1 to {LEVELS} levels, "
                f"sizes integers in [{low}, {high}]"
            )
        depth = len(prices)
        message[f"{side}_px_nanos"] = [_cached_price_nanos(v) for v in prices]
    message["price_nanos"] = _cached_price_nanos(message.get("price"))
    return message


def events_from_messages(messages: list[dict[str, Any]]) -> np.ndarray:
    """Rebuild ``EVENT_DTYPE`` rows from decoded event messages, in ``seq`` order, through
    :func:`decode_event_batch`, the one event decoder."""
    return _rows_of_messages(messages, decode_event_batch, EVENT_DTYPE)


def snapshots_from_messages(messages: list[dict[str, Any]]) -> np.ndarray:
    """Rebuild ``SNAPSHOT_DTYPE`` rows from decoded snapshot messages, in ``seq`` order,
    through :func:`decode_snapshot_batch`, the one snapshot decoder."""
    return _rows_of_messages(messages, decode_snapshot_batch, SNAPSHOT_DTYPE)


_DERIVED = ("price_nanos", "bid_px_nanos", "ask_px_nanos")
"""What :func:`validate` adds to a message: not part of it on the wire."""


def _rows_of_messages(messages: list[dict[str, Any]], decoder: Any, dtype: np.dtype) -> np.ndarray:
    """The rows of checked messages: each written back as the wire has it and decoded by
    ``decoder`` (one message at a time where their depths differ, which one batch refuses)."""
    ordered = sorted(messages, key=lambda m: m["seq"])
    payloads = [encode({k: v for k, v in m.items() if k not in _DERIVED}) for m in ordered]
    decoded = decoder(payloads) if payloads else None
    if decoded is None:
        parts = [decoder([payload]) for payload in payloads]
        if any(part is None for part in parts):
            raise MessageError("a message the schema takes that its decoder refuses")
        return np.concatenate([np.zeros(0, dtype), *(part[2] for part in parts)])
    rows: np.ndarray = decoded[2]
    return rows
