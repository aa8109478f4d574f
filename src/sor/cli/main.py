"""The ``sor`` command: thin wrappers that parse, call the library and print.

stdout carries only the JSON report; logs and progress go to stderr. Errors in the user's
input end the command with a one-line message and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from typer import BadParameter, TyperException
from typer._click.exceptions import MissingParameter, NoArgsIsHelpError

from sor import __version__
from sor.cli.backtest import backtest
from sor.cli.broker import broker
from sor.cli.convert import convert
from sor.cli.demo import demo
from sor.cli.evaluate import evaluate
from sor.cli.fills import fills
from sor.cli.generate import generate
from sor.cli.place import place
from sor.cli.produce import produce
from sor.cli.replays import replays
from sor.cli.stats import stats

app = typer.Typer(
    help=(
        "Smart order router backtester: route a parent buy or sell order across venues on "
        "Databento (MBP or MBO) or LOBSTER data, with the static Cont-Kukanov allocator or "
        "the full Cont-Kukanov model on a queue simulator (--model ck), and compare it with "
        "Best Ask (Best Bid on a sell), TWAP and VWAP; backtest blotters of many "
        "orders (--orders) and evaluate the routers over many days (sor evaluate).\n\n\b\n"
        "Examples:\n"  # \b: click keeps the lines as they are
        "  sor generate --out market.csv --venues 6 --seed 7\n"
        "  sor backtest --data market.csv --order-size 5000\n"
        "  sor backtest --data market.csv --side sell --model ck\n"
        "  sor backtest --data market.csv --orders blotter.csv\n"
        "  sor evaluate --data days/ --train-days 5\n"
        "  sor demo\n"
        "  sor --version"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain text: "[mock_l1_stream]" in a help is text, not markup
)


def _print_version(wanted: bool) -> None:
    """Print the version and end the command when ``--version`` is given."""
    if wanted:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Take the options that come before the command (``sor --version``)."""


def version() -> None:
    """Print the version (as sor --version does).

    Example: sor version
    """
    typer.echo(__version__)


def main(args: Sequence[str] | None = None) -> None:
    """Entry point of the ``sor`` command (``args``: the command line, default ``sys.argv``).

    Runs the app outside click's standalone mode, so that its usage and type errors
    (``--order-size abc``, an unknown option) print as one line and exit with status 2, the
    same as every other error of the user's input.
    """
    command = typer.main.get_command(app)
    try:
        status = command.main(args=args, standalone_mode=False)
    except TyperException as exc:
        if isinstance(exc, NoArgsIsHelpError):  # bare `sor`: the help is the answer
            sys.stderr.write(exc.format_message() + "\n")
        else:
            sys.stderr.write(f"sor: error: {_usage_message(exc)}\n")
        sys.exit(2)
    except typer.Abort:
        sys.stderr.write("sor: aborted\n")
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


def _usage_message(exc: TyperException) -> str:
    """One line for click's error: ``--order-size: 'abc' is not a valid integer``."""
    from pydantic import ValidationError

    from sor.app.settings import describe

    if isinstance(exc, BadParameter) and not isinstance(exc, MissingParameter) and exc.param:
        cause = exc.__cause__
        reason = describe(cause.errors()[0]) if isinstance(cause, ValidationError) else exc.message
        text = f"{exc.param.get_error_hint().replace(chr(39), '')}: {reason}"
    else:
        text = exc.format_message()
    return " ".join(text.split()).rstrip(".")


app.command()(generate)
app.command()(backtest)
app.command()(demo)
app.command()(produce)
app.command()(broker)
app.command()(place)
app.command()(replays)
app.command()(evaluate)
app.command()(convert)
app.command()(stats)
app.command()(fills)
app.command()(version)
