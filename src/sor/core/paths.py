"""What is wrong with a path given as an input file, said precisely: missing, a directory, a
FIFO, a symlink loop, a dangling symlink or unreadable."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from sor.core.errors import DataError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def input_file_problem(path: Path) -> str | None:
    """Say why ``path`` cannot be read as an input file, or return None when it can.

    An input must be a regular file: every reader opens it more than once (its SHA-256, a
    look at its head, then its rows), which a FIFO or a device cannot give twice.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return _unreachable(path, exc)
    if stat.S_ISREG(mode):
        return None if os.access(path, os.R_OK) else "cannot be read: permission denied"
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    if kind == "a directory":
        return "is a directory, not a data file"
    return f"is not a regular file ({kind}): sor reads a data file more than once"


NO_SUCH_FILE = (
    "no such data file (sor generate --out FILE writes a market; the README's section "
    "'Your own data' says where real ones come from)"
)
"""The problem of a data path where there is nothing: the README's examples name files, such
as l1_day.csv, that a new user has not got yet."""


def _unreachable(path: Path, exc: OSError) -> str:
    """The problem of a path whose ``stat`` failed with ``exc``."""
    if exc.errno == errno.ELOOP:
        return "is a symlink loop: following its links never reaches a file"
    if exc.errno == errno.ENOENT and path.is_symlink():
        return f"is a symlink to {os.readlink(path)}, which does not exist"
    if exc.errno == errno.ENOENT:
        return NO_SUCH_FILE
    return f"cannot be reached: {exc.strerror or exc}"


def check_input_file(path: str | Path) -> None:
    """Raise ``DataError`` naming ``path`` unless it is a readable regular file.

    Raises
    ------
    DataError
        What is wrong (:func:`input_file_problem`).
    """
    problem = input_file_problem(Path(path))
    if problem is not None:
        raise DataError(problem, path=str(path))


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
