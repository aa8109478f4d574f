"""Find the day files of an evaluation, and give each worker a local copy of its day.

Inputs are local paths, directories, globs, or fsspec URLs (``s3://bucket/day.csv``); the
client only lists them, and each worker reads its own day (:func:`local_copy`).
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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
    matches, sorted. A named file is taken whatever its suffix. A LOBSTER orderbook file is
    never a day: it goes with its message file.

    Raises
    ------
    SorError
        An input matches nothing, or no day file is found at all.
    """
    found: list[str] = []
    seen: set[str] = set()
    for text in inputs:
        matches = _expand_url(text) if is_url(text) else _expand_local(text)
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
            names = [n for n in fs.glob(path) if fs.isfile(n) and not _is_book(n)]
        elif fs.isfile(path):
            names = [path]
        else:
            raise DataError("no such data file", path=text)
    except (OSError, ValueError, ImportError) as exc:
        raise DataError(f"cannot list: {exc}", path=text) from exc
    return sorted(fs.unstrip_protocol(n) for n in names)


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
def local_copy(source: str) -> Iterator[Path]:
    """Give a local path to ``source``: itself when local, else a temporary copy."""
    if not is_url(source):
        yield Path(source.removeprefix("file://"))
        return
    import fsspec

    base, name = source.rstrip("/").rsplit("/", 1)
    with tempfile.TemporaryDirectory(prefix="sor-day-") as folder:
        for file in (name, *_companions(name)):
            url = f"{base}/{file}"
            try:
                with fsspec.open(url, "rb") as remote, (Path(folder) / file).open("wb") as local:
                    shutil.copyfileobj(remote, local, 1 << 20)
            except (OSError, ValueError) as exc:
                raise DataError(f"cannot read: {exc}", path=url) from exc
        yield Path(folder) / name
