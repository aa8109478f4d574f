"""The run of ``sor place``: one Cont-Kukanov placement problem, or the paper's section 5.1
study beside its tables.

:func:`run` solves a problem file and :func:`run_paper` runs the study; neither prints.
A Python caller needs only these two and :class:`PaperSettings`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.core.defaults import DEFAULT_PAPER_SAMPLES, DEFAULT_SEED
from sor.core.errors import SorError

if TYPE_CHECKING:
    from sor.ck.paper import PaperRow
    from sor.ck.place import PlaceResult

log = logging.getLogger("sor")


@dataclass(frozen=True)
class PlacementResult:
    """The answer to one problem file."""

    placement: PlaceResult
    """The allocation, each strategy's cost and the cost breakdown."""

    @property
    def report(self) -> dict[str, Any]:
        """The JSON object ``sor place PROBLEM`` prints."""
        return self.placement.to_dict()

    def text(self) -> str:
        """Return the report as the strict JSON text ``sor place`` prints (no final newline).

        Raises
        ------
        SorError
            A figure is not a finite number.
        """
        from sor.ck.place import dumps

        return dumps(self.report)


def run(problem: Path) -> PlacementResult:
    """Read, validate and solve the problem file ``problem`` (JSON).

    Raises
    ------
    SorError
        The file cannot be read, is not JSON, or a field is invalid
        (:func:`sor.ck.place.load_problem`).
    """
    from sor.ck import place as lib

    loaded = lib.load_problem(problem)
    from sor.app.compile import compile_groups

    compile_groups(("place",))
    return PlacementResult(lib.place(loaded))


@dataclass(frozen=True)
class PaperSettings:
    """What the paper's study runs and what it is held to, every value already checked."""

    samples: int = DEFAULT_PAPER_SAMPLES
    """Outflow samples per (S, K)."""
    seed: int = DEFAULT_SEED
    """Seed of the samples."""
    table1: Path | None = None
    """The paper's Table 1 as CSV; None: ours only, no comparison."""
    table2: Path | None = None
    """The paper's second table (the cost breakdown) as CSV; None: not compared."""

    @classmethod
    def from_flags(
        cls,
        *,
        samples: int = DEFAULT_PAPER_SAMPLES,
        seed: int = DEFAULT_SEED,
        paper: Path | None = None,
        paper_breakdown: Path | None = None,
        no_paper: bool = False,
    ) -> PaperSettings:
        """Build the settings from the flags of ``sor place --paper-table``: the tables
        given, else those shipped beside the project where present, none with
        ``no_paper``.

        Raises
        ------
        SorError
            ``no_paper`` comes with a table, or the breakdown is given without Table 1.
        """
        from sor.ck import paper as study

        if no_paper:
            if paper is not None or paper_breakdown is not None:
                raise SorError("--no-paper goes without --paper and --paper-breakdown")
            return cls(samples, seed)
        shared1, shared2 = study.shared_tables()
        table1 = paper if paper is not None else shared1
        table2 = paper_breakdown if paper_breakdown is not None else shared2
        if table1 is None and table2 is not None and paper_breakdown is not None:
            raise SorError("--paper-breakdown needs Table 1 (--paper FILE)")
        return cls(samples, seed, table1, table2 if table1 is not None else None)


@dataclass(frozen=True)
class PaperResult:
    """The paper's study: one row per (S, K), ours beside the paper's where given."""

    settings: PaperSettings
    rows: tuple[PaperRow, ...]

    @property
    def failures(self) -> list[str]:
        """Every breach of the acceptance rule (README); empty when the study passes."""
        from sor.ck.paper import failures

        return failures(self.rows)

    @property
    def report(self) -> dict[str, Any]:
        """The JSON object ``sor place --paper-table --json`` prints."""
        from sor.ck.paper import TOLERANCE_CENTS

        return {
            "samples": self.settings.samples,
            "seed": self.settings.seed,
            "tolerance_cents": TOLERANCE_CENTS,
            "rows": [row.to_dict() for row in self.rows],
            "failures": self.failures,
        }

    def text(self) -> str:
        """Return the report as the strict JSON text ``--json`` prints (no final newline)."""
        from sor.ck.place import dumps

        return dumps(self.report)

    def table(self) -> str:
        """Return the study as the text tables ``sor place --paper-table`` prints."""
        from sor.ck.paper import format_paper_table

        return format_paper_table(self.rows, samples=self.settings.samples,
                                  seed=self.settings.seed)  # fmt: skip


def run_paper(settings: PaperSettings) -> PaperResult:
    """Run the paper's section 5.1 study (S in 500/1000/5000, K in 1..5) beside its tables.

    Raises
    ------
    SorError
        A table of the paper cannot be read or is malformed (:func:`sor.ck.paper.load_paper`).
    """
    from sor.ck import paper as study

    figures = None
    if settings.table1 is not None:
        figures = study.load_paper(settings.table1, settings.table2)
    from sor.app.compile import compile_groups

    compile_groups(("place",))
    rows = study.paper_table(samples=settings.samples, seed=settings.seed, paper=figures)
    return PaperResult(settings, tuple(rows))


def check_json_out(json_out: Path | None, inputs: tuple[Path | None, ...] = ()) -> None:
    """Raise ``SorError`` unless ``json_out`` (None: not written) can be written and names
    none of the ``inputs``: tried before anything is solved."""
    from sor.app.runs import check_outputs

    check_outputs([(json_out, "--json-out")], inputs)


def write_json(text: str, json_out: Path) -> None:
    """Write ``text`` (a result's ``.text()``) and a newline to ``json_out`` atomically, and
    say so on stderr as every command does."""
    from sor.app.runs import write_atomically

    write_atomically(json_out, "--json-out", lambda p: p.write_text(text + "\n"))
    log.info("wrote %s", json_out)
