"""The command line: one module per command, the Typer application in :mod:`sor.cli.main`."""

from sor.cli.main import app, main

__all__ = ["app", "main"]
