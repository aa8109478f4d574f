"""The ``sor place`` command: solve one Cont-Kukanov placement problem, or the paper's study.

Registered in :mod:`sor.cli` with ``app.command()(place)``. stdout carries only the answer;
an error in the input ends the command with a one-line message on stderr and exit status 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sor.errors import SorError


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
        int, typer.Option("--samples", min=1, help="--paper-table: outflow samples per (S, K).")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="--paper-table: seed of the samples.")] = 7,
    paper: Annotated[
        Path | None,
        typer.Option(
            "--paper",
            help="--paper-table: the paper's Table 1 as CSV (S,K,market_only,single_limit,"
            "equal_split,optimal; cents per share) to print beside ours and check: exit "
            "status 1 if a figure differs by more than 0.05.",
        ),
    ] = None,
) -> None:
    """Place one order with the Cont-Kukanov model: the allocation and its cost in cents/share.

    Prints the allocation and each strategy's cost as JSON for a problem file.

    --paper-table runs the paper's section 5.1 study instead (ours beside its Table 1).

    Example: sor place problem.json

    Example: sor place --paper-table --samples 10000 --seed 7 --paper table1.csv
    """
    from sor import place as lib

    try:
        if paper_table:
            if problem is not None:
                raise SorError("give either a PROBLEM file or --paper-table, not both")
            figures = lib.load_paper_table(paper) if paper is not None else None
            rows = lib.paper_table(samples=samples, seed=seed, paper=figures)
            if json_output:
                document = {
                    "samples": samples,
                    "seed": seed,
                    "rows": [row.to_dict() for row in rows],
                }
                typer.echo(json.dumps(document, indent=2))
            else:
                typer.echo(lib.format_paper_table(rows, samples=samples, seed=seed))
            worst = lib.largest_gap(rows)
            if worst is not None and worst[0] > lib.PAPER_TOLERANCE_CENTS:
                gap, row, name = worst
                typer.echo(
                    f"sor: {name} at S={row.order_size}, K={row.venues} differs from Table 1 "
                    f"by {gap:.3f} cents per share (bound {lib.PAPER_TOLERANCE_CENTS})",
                    err=True,
                )
                raise typer.Exit(1)
            return
        if paper is not None:
            raise SorError("--paper goes with --paper-table")
        if problem is None:
            raise SorError("give a PROBLEM file (JSON) or --paper-table")
        result = lib.place(lib.load_problem(problem))
        typer.echo(json.dumps(result.to_dict(), indent=2))
    except SorError as exc:
        typer.echo(f"sor: error: {exc}", err=True)
        raise typer.Exit(2) from None
