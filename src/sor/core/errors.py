"""User-facing errors: the CLI prints their message and exits non-zero, never a traceback."""

from __future__ import annotations


class SorError(Exception):
    """An error caused by the user's input or environment, with a message fit to print."""


class DataError(SorError):
    """A problem with an input data file, located by file, line and column where known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        where = ", ".join(
            part
            for part in (
                path,
                f"line {line}" if line is not None else None,
                f"column {column!r}" if column is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(SorError):
    """An invalid run parameter or configuration file entry."""
