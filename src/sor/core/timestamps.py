"""Timestamps as the project writes and reads them: ns since the epoch, ISO-8601 text."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_timestamp(text: str) -> int:
    """Parse an ISO-8601 timestamp (UTC unless an offset is given) to ns since the epoch.

    Accepts a date, a date and time, fractional seconds down to nanoseconds, and a ``Z`` or
    ``+HH:MM`` suffix, e.g. ``2024-08-01T13:36:32.491911683Z``.
    """
    raw = text.strip()
    body, fraction = raw, ""
    if "." in raw:
        body, rest = raw.split(".", 1)
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, suffix = rest[:digits], rest[digits:]
        body += suffix
        if not fraction or len(fraction) > 9:
            raise ValueError(f"invalid timestamp {text!r}: bad fractional seconds")
    try:
        moment = datetime.fromisoformat(body.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"invalid timestamp {text!r}: expected ISO-8601 such as 2024-08-01T13:36:32.5Z"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = moment - datetime(1970, 1, 1, tzinfo=UTC)
    seconds = whole.days * 86_400 + whole.seconds
    return seconds * 1_000_000_000 + whole.microseconds * 1_000 + int(fraction.ljust(9, "0") or 0)


def format_timestamp(ts_ns: int) -> str:
    """Format ns since the epoch as Databento does: ``2024-08-01T13:36:32.491911683Z``."""
    seconds, nanos = divmod(int(ts_ns), 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"
