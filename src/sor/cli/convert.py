"""``sor convert``: an order-level file (Databento MBO, LOBSTER) as Databento MBP-10 or MBP-1."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from sor.app.runs import check_outputs, write_atomically
from sor.cli.common import (
    LobsterBookFlag,
    Opt,
    PublisherFlag,
    QuietFlag,
    SkipBadRowsFlag,
    setup_logging,
    source_options,
    user_errors,
)
from sor.core.errors import SorError
from sor.core.paths import NO_SUCH_FILE

log = logging.getLogger("sor")


def convert(
    data: Annotated[
        Path, typer.Argument(help="Databento MBO (DBN or CSV) or LOBSTER message file.")
    ],
    out: Annotated[Path, Opt(help="The MBP file to write: .csv, .dbn or .dbn.zst.")],
    depth: Annotated[int, Opt(help="Book levels: 10 (MBP-10) or 1 (MBP-1).")] = 10,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    skip_bad_rows: SkipBadRowsFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Write an order-level file (MBO, LOBSTER) as Databento MBP.

    The rows are the events every command reads from the file: each venue's book is
    rebuilt from its orders, and every record becomes one row carrying its venue's book
    (after the record; before it for a trade), so a backtest of the output gives the
    figures of the input.

    \b
    Example: sor convert googl.mbo.dbn.zst --out googl.mbp10.csv
    Example: sor convert AMZN_2012-06-21_34200000_57600000_message_5.csv --out amzn.dbn
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.compile import compiling, input_groups
        from sor.data.convert import convert as write_mbp
        from sor.data.convert import output_format

        form = output_format(out)
        if not data.is_file():
            raise SorError(f"{data}: {NO_SUCH_FILE}")
        options = source_options(lobster_book, publisher)
        from sor.data.lobster import input_files

        check_outputs([(out, "--out")], input_files(data, lobster_book))
        done = []
        with compiling((), body=input_groups(data, options)):
            write_atomically(out, "--out", lambda target: done.append(write_mbp(
                data, form, target, depth=depth, skip_bad_rows=skip_bad_rows, options=options)))  # fmt: skip
        log.info("wrote %s: %d rows of MBP-%d from %s", out, done[0].rows, depth, done[0].kind)
