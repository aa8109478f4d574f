"""The run of ``sor stats --compare REAL GENERATED``: both files' stylized facts and fill
studies, held to each other fact by fact (:mod:`sor.stylized.compare`).

:func:`run` measures and compares; :func:`write` writes the report and the figure where the
flags say. A Python caller needs only these two and :class:`CompareSettings`.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.app.outputs import write_report_and_figure
from sor.app.runs import FIGURE_FORMATS, check_outputs
from sor.app.stats import StatsSettings
from sor.core.defaults import DEFAULT_FILLS_EVERY_S
from sor.core.errors import SorError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sor.app.fills import FillsResult

log = logging.getLogger("sor")


@dataclass(frozen=True)
class CompareSettings:
    """What one comparison measures: the facts' settings (both files alike) and the fill
    study's spacing."""

    stats: StatsSettings = field(default_factory=StatsSettings)
    fill_every_s: float = DEFAULT_FILLS_EVERY_S
    """Seconds between the fill study's orders (one per venue each time)."""


@dataclass(frozen=True)
class CompareResult:
    """Both files' facts and the comparison: the report and what its figure draws."""

    report: dict[str, Any]
    """The JSON report: ``compare`` (the comparison), ``real`` and ``generated`` (each
    file's ``sor stats`` report)."""

    @property
    def passed(self) -> bool:
        """Whether every compared fact passed."""
        return bool(self.report["compare"]["passed"])

    def text(self) -> str:
        """Return the report as the JSON text the command prints (no final newline)."""
        return json.dumps(self.report, indent=2)

    def table(self) -> str:
        """The comparison as the table the command writes on stderr."""
        from sor.stylized.compare import table

        return table(self.report["compare"])

    def figure(self) -> Figure:
        """Draw the comparison's figure."""
        from sor.stylized.compare_figure import compare_figure

        return compare_figure(self.report["compare"])

    def write_plot(self, path: str | Path) -> Path:
        """Draw the figure into ``path`` (format from the suffix, PNG without); return it."""
        from sor.stylized.compare_figure import write_compare_plot

        return write_compare_plot(self.report["compare"], path)


@dataclass(frozen=True)
class CompareOutputs:
    """Where the comparison writes besides stdout (None: not written)."""

    json_out: Path | None = None
    plot: Path | None = None

    def check(self, inputs: list[Path], lobster_book: Path | None = None) -> None:
        """Raise ``SorError`` unless every output can be written, apart from each other and
        from the input files (and a LOBSTER input's orderbook)."""
        from sor.data.lobster import input_files

        read = [file for path in inputs for file in input_files(path, lobster_book)]
        check_outputs([(self.json_out, "--json-out"), (self.plot, "--plot")], read)
        if self.plot is not None and self.plot.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
            raise SorError(f"--plot: {self.plot}: the figure's format comes from its suffix, "
                           "as for sor backtest --plot")  # fmt: skip


def run(real: Path, generated: Path, settings: CompareSettings) -> CompareResult:
    """Measure both files within the settings' window, run the fill study on each, and
    compare them.

    The real file's fill study uses the exact FIFO queue where it is order level (MBO or
    LOBSTER; its top-of-book venues the default fallback model), an MBP file the default
    queue model; the generated file's always the default queue model.

    Raises
    ------
    SorError
        A file cannot be read or has no rows in the window.
    """
    from sor.app import stats as app_stats
    from sor.core.paths import check_input_file
    from sor.stylized.compare import compare_reports

    # both files are there before the first is measured: a real day's study takes minutes
    for path in (real, generated):
        check_input_file(path)
    studies: list[tuple[dict[str, Any], dict[str, Any] | None, str | None, dict[str, Any]]] = []
    for path, exact in ((real, True), (generated, False)):
        stats = app_stats.run(path, settings.stats)
        shares, why, record = _fill_study(path, settings, exact=exact)
        studies.append((stats.report, shares, why, record))
    (real_stats, real_fills, real_why, real_record) = studies[0]
    (gen_stats, gen_fills, gen_why, gen_record) = studies[1]
    comparison = compare_reports(real_stats, gen_stats, real_fills, gen_fills,
                                 (real_why, gen_why))  # fmt: skip
    comparison = {
        "real": _head(real_stats, real_record), "generated": _head(gen_stats, gen_record),
        **comparison,
    }  # fmt: skip
    return CompareResult({"compare": comparison, "real": real_stats, "generated": gen_stats})


def write(result: CompareResult, outputs: CompareOutputs) -> None:
    """Write the report and the figure, each atomically, where ``outputs`` names them."""
    write_report_and_figure(outputs.json_out, result.text, outputs.plot, result.write_plot)


def _head(stats: dict[str, Any], fills: dict[str, Any]) -> dict[str, Any]:
    """What the comparison says of one file: which, its span and how its fills were run."""
    keys = ("file", "sha256", "rows", "start", "end", "seconds")
    return {**{key: stats[key] for key in keys}, "fill_study": fills}


def _fill_study(
    path: Path, settings: CompareSettings, *, exact: bool
) -> tuple[dict[str, Any] | None, str | None, dict[str, Any]]:
    """Run the comparison's fill study on ``path``: the orders placed and filled per venue
    (and overall) and horizon, or None and why none ran, and the study's record."""
    from sor.app import fills as app_fills
    from sor.ck.fills import StudyOptions
    from sor.ck.queue import FIFO, QUEUE_MODELS
    from sor.core.defaults import (
        DEFAULT_FALLBACK_QUEUE_MODEL,
        DEFAULT_LATENCY_US,
        DEFAULT_QUEUE_MODEL,
    )
    from sor.data.orderlevel import input_kind
    from sor.stylized.compare import FILL_HORIZONS_S, FILL_SIZE

    order_level = input_kind(path, settings.stats.source) != "mbp"
    model = FIFO if exact and order_level else QUEUE_MODELS[DEFAULT_QUEUE_MODEL]
    study = StudyOptions(
        every_s=settings.fill_every_s, sizes=(FILL_SIZE,), horizons_s=FILL_HORIZONS_S,
        queue_model=model, latency_ns=round(DEFAULT_LATENCY_US * 1_000),
        fallback_queue_model=QUEUE_MODELS[DEFAULT_FALLBACK_QUEUE_MODEL],
    )  # fmt: skip
    fills = app_fills.FillsSettings(
        study, DEFAULT_LATENCY_US, skip_bad_rows=settings.stats.skip_bad_rows,
        source=settings.stats.source, start_ns=settings.stats.start_ns,
        end_ns=settings.stats.end_ns,
    )  # fmt: skip
    record: dict[str, Any] = {"every_s": settings.fill_every_s, "size": FILL_SIZE,
                              "horizons_s": list(FILL_HORIZONS_S), "side": "buy",
                              "latency_us": DEFAULT_LATENCY_US}  # fmt: skip
    try:
        result = app_fills.run(path, fills)
    except SorError as error:
        log.warning("warning: %s: no fill study: %s", path, error)
        return None, f"no fill study ({error})", {**record, "error": str(error)}
    run = result.report["run"]
    keys = ("queue_model", "fallback_queue_model", "venue_queue_models", "orders_placed")
    record.update({key: run[key] for key in keys if key in run})
    return _shares(result), None, record


def _shares(result: FillsResult) -> dict[str, dict[str, tuple[int, int]]]:
    """Orders placed and orders with any fill, per venue (and ``overall``, pooled) and
    horizon."""
    counts: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for row in result.orders:
        key = f"{row.horizon_s:g}"
        for scope in (str(row.venue), "overall"):
            counts[scope][key][0] += 1
            counts[scope][key][1] += row.filled > 0
    return {scope: {h: (n, k) for h, (n, k) in by_h.items()} for scope, by_h in counts.items()}
