"""The ``sor place`` command: solve one Cont-Kukanov placement problem, or the paper's study.

Registered in :mod:`sor.cli` with ``app.command()(place)``. stdout carries only the answer;
an error in the input ends the command with a one-line message on stderr and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sor.cli.common import setup_logging, user_errors
from sor.core.defaults import DEFAULT_PAPER_SAMPLES, DEFAULT_SEED
from sor.core.errors import SorError

MAX_SAMPLES = 1_000_000
"""Most outflow samples per (S, K) of --paper-table: a hundred times the default."""


def place(
    problem: Annotated[
        Path | None,
        typer.Argument(
            help="Problem file (JSON): order, costs, venues and outflow model or samples."
        ),
    ] = None,
    paper_table: Annotated[
        bool,
        typer.Option(
            "--paper-table",
            help="Run the paper's section 5.1 study (S in 500/1000/5000, K in 1..5) instead.",
        ),
    ] = False,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the --paper-table rows as JSON, not a table.")
    ] = False,
    samples: Annotated[
        int,
        typer.Option(
            "--samples", min=1, max=MAX_SAMPLES, help="--paper-table: outflow samples per (S, K)."
        ),
    ] = DEFAULT_PAPER_SAMPLES,
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, max=2**63 - 1, help="--paper-table: seed of the samples."),
    ] = DEFAULT_SEED,
    paper: Annotated[
        Path | None,
        typer.Option(
            "--paper",
            help="--paper-table: the paper's Table 1 as CSV (S, K, the costs market_only, "
            "single_limit, equal_split, optimal in cents per share, optionally the allocation "
            "alloc_M_pct, alloc_L1_pct to alloc_L5_pct, alloc_total_pct).  [default: "
            "ck_table1.csv in $SOR_SHARED_DIR/data or ../shared/data, where present]",
        ),
    ] = None,
    paper_breakdown: Annotated[
        Path | None,
        typer.Option(
            "--paper-breakdown",
            help="--paper-table: the paper's second table as CSV (S, K, fees, impact, "
            "penalties, total, underfill_shares, overfill_shares, p_underfill_pct, "
            "p_overfill_pct).  [default: ck_table2.csv in $SOR_SHARED_DIR/data or "
            "../shared/data, where present]",
        ),
    ] = None,
    no_paper: Annotated[
        bool,
        typer.Option("--no-paper", help="--paper-table: ours only, no comparison."),
    ] = False,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json-out",
            help="Write the JSON to this file too (with --paper-table, the rows --json prints).",
        ),
    ] = None,
) -> None:
    """Place one order with the Cont-Kukanov model.

    Prints the allocation, each allocation's cost in cents/share and the cost breakdown as
    JSON for a problem file (and writes it to --json-out too).

    --paper-table runs the paper's section 5.1 study instead, beside its Tables 1 and 2,
    and exits with status 1 if ours breaks the acceptance rule (README).

    \b
    Example: sor place problem.json --json-out placement.json
    Example: sor place --paper-table --samples 10000 --seed 7
    """
    from sor.app import place as app_place

    setup_logging(False)  # the one line of a first run's compilation
    with user_errors():
        app_place.check_json_out(json_out, (problem, paper, paper_breakdown))
        if paper_table:
            if problem is not None:
                raise SorError("give either a PROBLEM file or --paper-table, not both")
            settings = app_place.PaperSettings.from_flags(
                samples=samples, seed=seed, paper=paper, paper_breakdown=paper_breakdown,
                no_paper=no_paper,
            )  # fmt: skip
            study = app_place.run_paper(settings)
            if json_out is not None:
                app_place.write_json(study.text(), json_out)
            typer.echo(study.text() if json_output else study.table())
            broken = study.failures
            if broken:
                typer.echo(f"sor: the paper check failed: {'; '.join(broken)}", err=True)
                raise typer.Exit(1)
            return
        if paper is not None or paper_breakdown is not None or no_paper:
            raise SorError("--paper, --paper-breakdown and --no-paper go with --paper-table")
        if problem is None:
            raise SorError("give a PROBLEM file (JSON) or --paper-table")
        text = app_place.run(problem).text()
        if json_out is not None:
            app_place.write_json(text, json_out)
        typer.echo(text)
