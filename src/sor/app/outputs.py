"""Where a command's outputs go: checked before any work, written whole or not at all."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from sor.core.errors import SorError

FIGURE_FORMATS = frozenset({"", "png", "pdf", "svg", "svgz", "ps", "eps", "jpg", "jpeg", "webp"})
"""Suffixes of the figure's formats (matplotlib's); no suffix writes PNG."""


def check_figure_format(path: Path | None, flag: str = "--plot") -> None:
    """Raise ``SorError`` unless the figure's suffix names a format matplotlib writes (none:
    PNG)."""
    if path is not None and path.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
        raise SorError(
            f"{flag}: {path}: the figure's format comes from its suffix: one of "
            f"{', '.join('.' + f for f in sorted(FIGURE_FORMATS) if f)}, or none for PNG"
        )


def check_outputs(
    outputs: Sequence[tuple[Path | None, str]], inputs: Sequence[Path | None] = ()
) -> None:
    """Raise ``SorError`` unless every output (path, flag; None: not written) can be
    written, none names an input file and no two name the same file. Paths are compared as
    the files they resolve to (``./v.csv``, an absolute path and a symlink to it are one)."""
    given = [(path, flag) for path, flag in outputs if path is not None]
    for path, flag in given:
        check_output(path, flag)
    read = {_resolved(p): p for p in inputs if p is not None}
    seen: dict[Path, str] = {}
    for path, flag in given:
        if _is_special(path):
            continue  # /dev/null and pipes take any number of writers
        target = _resolved(path)
        if target in read:
            raise SorError(f"{flag}: {path} is the input file {read[target]}; write elsewhere")
        if target in seen:
            raise SorError(f"{seen[target]} and {flag} name the same file, {path}")
        seen[target] = flag


def _resolved(path: Path) -> Path:
    """The file ``path`` names, through symlinks (its target's, for a dangling one)."""
    return Path(os.path.realpath(path))


def check_output(path: Path, flag: str) -> None:
    """Raise ``SorError`` unless ``path`` can be written: not a directory, in a writable one
    (its target's, through a symlink), or a writable device or pipe (``/dev/null``,
    ``/dev/stdout``), which is written in place.

    The directory is asked for a file, which is removed at once: what matters is that the
    temporary file of :func:`write_atomically` can be made there, and only creating one
    tells (``os.access`` grants root every directory, ``/proc`` included)."""
    if path.is_dir():
        raise SorError(f"{flag}: {path} is a directory; give a file name")
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise SorError(f"{flag}: {path} is not writable")
        return
    folder = _resolved(path).parent if path.is_symlink() else path.parent
    if not folder.is_dir():
        raise SorError(f"{flag}: {path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SorError(f"{flag}: {path}: the directory {folder} is not writable")
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise SorError(
            f"{flag}: {path}: no file can be created in {folder}: {exc.strerror or exc}"
        ) from None
    os.close(handle)
    os.unlink(probe)


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a directory."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def write_atomically(
    path: Path, flag: str, write: Callable[[Path], object], *, suffix: str = ""
) -> None:
    """Write ``path`` through ``write`` into a temporary file beside it, then rename it: a
    failure never leaves a half-written file. The temporary file keeps the suffix of
    ``path`` (``suffix`` when it has none): it tells matplotlib the figure's format.

    A device or a pipe (``/dev/null``, ``/dev/stdout``) gets the finished file's bytes
    copied in, in place: renaming a file onto it would replace it, and some writers (the
    figure's) need a file they can seek in.

    The temporary file is removed on every way out: an error, Ctrl-C, and SIGTERM or
    SIGHUP, which end the command as Ctrl-C does while it is written (``sor: interrupted``)
    rather than at once, as they otherwise would."""
    special = _is_special(path)
    if not special:
        # through a symlink: its target gets the new content, the link stays
        path = _resolved(path)
    folder = Path(tempfile.gettempdir()) if special else path.parent
    temporary = folder / f".{path.name}.{os.getpid()}.tmp{path.suffix or suffix}"
    with contextlib.ExitStack() as stack:
        if threading.current_thread() is threading.main_thread():  # where handlers can be set
            from sor.streaming.broker import stop_on_signals

            stack.enter_context(stop_on_signals())
        _write_then_rename(temporary, path, flag, write, special)


def write_report_and_figure(
    json_out: Path | None,
    text: Callable[[], str],
    plot: Path | None,
    draw: Callable[[Path], object],
) -> None:
    """Write a command's JSON report (``text()``, to ``json_out``) and its figure (``draw``,
    to ``plot``), each atomically where named, and say so on the log."""
    import logging

    log = logging.getLogger("sor")
    if json_out is not None:
        report = text()
        write_atomically(json_out, "--json-out", lambda p: p.write_text(report + "\n"))
        log.info("wrote %s", json_out)
    if plot is not None:
        write_atomically(plot, "--plot", draw, suffix=".png")
        log.info("wrote %s", plot)


def _write_then_rename(
    temporary: Path, path: Path, flag: str, write: Callable[[Path], object], special: bool
) -> None:
    """Write ``temporary``, then rename it to ``path`` (copy it in, ``special``); remove it
    whatever happens."""
    try:
        write(temporary)
        if special:
            with temporary.open("rb") as source, path.open("wb") as target:
                shutil.copyfileobj(source, target)
        else:
            os.replace(temporary, path)
    except OSError as exc:
        raise SorError(f"{flag}: cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
