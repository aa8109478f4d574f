"""Find the day files of an evaluation, and give each worker a local copy of its day.

Inputs are local paths, directories, globs, or fsspec URLs (``s3://bucket/day.csv``); the
client only lists them, and each worker reads its own day (:func:`local_copy`). Every wait on
an HTTP server has a deadline (:data:`DEFAULT_READ_TIMEOUT_S`) and every copy a size limit
(:data:`DEFAULT_MAX_DOWNLOAD_BYTES`): a server that stalls or sends without end stops the
run instead of holding it, or filling the disk.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sor.core.defaults import DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_READ_TIMEOUT_S
from sor.core.errors import DataError, SorError
from sor.core.paths import NO_SUCH_FILE, check_input_file

CHUNK_BYTES = 1 << 20
DAY_SUFFIXES = (".csv", ".dbn", ".dbn.zst")
"""Names a directory's files must end with to count as days (the readers' formats)."""
_GLOB_CHARS = frozenset("*?[")


def is_url(text: str) -> bool:
    """Whether ``text`` is an fsspec URL rather than a local path (``file://`` is local)."""
    return "://" in text and not text.startswith("file://")


def storage_options(url: str, read_timeout_s: float) -> dict[str, Any]:
    """The fsspec options of ``url``: an HTTP(S) server has ``read_timeout_s`` seconds to
    connect and between two reads (aiohttp's own default waits five minutes for a whole
    answer, however slow), and its file is read once from the start, which needs no
    support for ranges; other protocols keep their client's time-outs."""
    if url.split("://", 1)[0].lower() not in ("http", "https"):
        return {}
    import aiohttp

    wait = aiohttp.ClientTimeout(total=None, sock_connect=read_timeout_s, sock_read=read_timeout_s)
    return {"client_kwargs": {"timeout": wait}, "block_size": 0}


def discover(inputs: Sequence[str], *, read_timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> list[str]:
    """Expand directories and globs into day files, in the order given, each once.

    A directory gives its files ending in one of ``DAY_SUFFIXES``, sorted by name; a glob its
    matches, sorted. A named file is taken whatever its suffix. A LOBSTER orderbook file is
    never a day: it goes with its message file. A URL's server has ``read_timeout_s``
    seconds per answer (:func:`storage_options`).

    Raises
    ------
    SorError
        An input matches nothing, or no day file is found at all.
    """
    found: list[str] = []
    seen: set[str] = set()
    for text in inputs:
        matches = _expand_url(text, read_timeout_s) if is_url(text) else _expand_local(text)
        if not matches:
            raise DataError("no day file found (an empty directory or glob)", path=text)
        for match in matches:
            # one file reached by two paths (a relative and an absolute one) counts once
            key = match if is_url(match) else os.path.realpath(match)
            if key not in seen:
                seen.add(key)
                found.append(match)
    if not found:
        raise SorError("--data: no day file given")
    return found


def _expand_local(text: str) -> list[str]:
    path = Path(text.removeprefix("file://"))
    if path.is_dir():
        return sorted(str(p) for p in path.iterdir() if p.is_file() and _is_day(p.name))
    if _GLOB_CHARS & set(text):
        return sorted(p for p in glob.glob(str(path)) if Path(p).is_file() and not _is_book(p))
    check_input_file(path)  # missing, a FIFO, a symlink loop...: said precisely
    return [str(path)]


def _expand_url(text: str, read_timeout_s: float) -> list[str]:
    import fsspec

    try:
        fs, path = fsspec.core.url_to_fs(text, **storage_options(text, read_timeout_s))
        if _is_day(path) and not _GLOB_CHARS & set(path):
            # a day file by its name: asked whether it is a directory, an HTTP server sends
            # the file, read whole into memory when its type is not said (a page's links)
            names = [path] if fs.info(path)["type"] == "file" else []
        elif fs.isdir(path):
            names = [n for n in fs.ls(path, detail=False) if _is_day(n) and fs.isfile(n)]
        elif _GLOB_CHARS & set(path):
            names = [n for n in fs.glob(path) if fs.isfile(n) and not _is_book(n)]
        else:
            names = [path] if fs.isfile(path) else []
        if not names:
            raise DataError(NO_SUCH_FILE, path=text)
    except _read_errors() as exc:
        raise _read_error(exc, text, read_timeout_s, "cannot list") from exc
    return sorted(fs.unstrip_protocol(n) for n in names)


def _read_errors() -> tuple[type[Exception], ...]:
    """What reading a URL raises when its server or the network fails: ``OSError`` and
    ``ValueError`` from fsspec, the HTTP client's own errors, which are neither, and the
    ``ImportError`` of a protocol whose package is not installed."""
    try:
        from aiohttp import ClientError
    except ImportError:  # no HTTP client: no HTTP URL either
        return (OSError, ValueError, ImportError)
    return (OSError, ValueError, ImportError, ClientError)


def _read_error(exc: Exception, url: str, read_timeout_s: float, doing: str) -> DataError:
    """The one-line error of a failed read of ``url``: a stall says so (fsspec reports an
    HTTP server that does not answer as a missing file, the time-out as its cause)."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, TimeoutError):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return DataError(
            f"the server sent nothing for {read_timeout_s:g} s (--read-timeout): it stalls "
            "or does not answer",
            path=url,
        )
    if isinstance(exc, FileNotFoundError):
        return DataError("no such data file", path=url)
    return DataError(f"{doing}: {exc}", path=url)


def _is_day(name: str) -> bool:
    return name.lower().endswith(DAY_SUFFIXES) and not _is_book(name)


def _is_book(name: str) -> bool:
    """Whether ``name`` is a LOBSTER orderbook file (it goes with its message file)."""
    from sor.data.lobster import NAME

    match = NAME.match(name.rstrip("/").rsplit("/", 1)[-1])
    return match is not None and match["kind"] == "orderbook"


def _companions(name: str) -> list[str]:
    """The files a day file needs beside it: a LOBSTER message file its orderbook file."""
    from sor.data.lobster import NAME

    match = NAME.match(name)
    if match is None or match["kind"] != "message":
        return []
    return [name.replace("_message_", "_orderbook_")]


@contextmanager
def local_copy(
    source: str,
    *,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
) -> Iterator[Path]:
    """Give a local path to ``source``: itself when local, else a temporary copy of at most
    ``max_bytes`` bytes per file, removed at the end whatever happens (an error, a limit,
    an interrupt of the block).

    Raises
    ------
    DataError
        The URL cannot be read, its server stalls for ``read_timeout_s`` seconds, or the
        file is larger than ``max_bytes``.
    """
    if not is_url(source):
        yield Path(source.removeprefix("file://"))
        return
    base, name = source.rstrip("/").rsplit("/", 1)
    with tempfile.TemporaryDirectory(prefix="sor-day-") as folder:
        for file in (name, *_companions(name)):
            _download(f"{base}/{file}", Path(folder) / file, max_bytes, read_timeout_s)
        yield Path(folder) / name


def _download(url: str, target: Path, max_bytes: int, read_timeout_s: float) -> None:
    """Copy ``url`` to ``target``, refusing it as soon as it passes ``max_bytes`` bytes (up
    front when the server says its size)."""
    import fsspec

    too_large = DataError(
        f"larger than --max-download ({max_bytes:,} bytes): raise it to read this day",
        path=url,
    )
    try:
        with (
            fsspec.open(url, "rb", **storage_options(url, read_timeout_s)) as remote,
            target.open("wb") as local,
        ):
            if (getattr(remote, "size", None) or 0) > max_bytes:
                raise too_large
            copied = 0
            while chunk := remote.read(CHUNK_BYTES):
                copied += len(chunk)
                if copied > max_bytes:
                    raise too_large
                local.write(chunk)
    except _read_errors() as exc:
        raise _read_error(exc, url, read_timeout_s, "cannot read") from exc
