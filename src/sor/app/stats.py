"""The run of ``sor stats``: the stylized facts of one file, their JSON and their figure.

:func:`run` reads the file and measures it; :func:`write` writes the figure where the
flags say. A Python caller needs only these two and :class:`StatsSettings`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.app.outputs import write_report_and_figure
from sor.app.runs import FIGURE_FORMATS, check_outputs, timestamp_flag
from sor.core.defaults import DEFAULT_MAX_TS_DISTANCE_H
from sor.core.domain import NANOS_PER_HOUR
from sor.core.errors import SorError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sor.app.settings import StatsFlags
    from sor.data.orderlevel import SourceOptions
    from sor.stylized.facts import FactSettings
    from sor.stylized.summary import Stats

log = logging.getLogger("sor")


def _default_facts() -> FactSettings:
    from sor.stylized.facts import FactSettings

    return FactSettings()


@dataclass(frozen=True)
class StatsSettings:
    """What one ``sor stats`` run measures and reads, every value already checked."""

    facts: FactSettings = field(default_factory=_default_facts)
    """The tick, the lags, the OFI intervals and the markout horizons."""
    start_ns: int | None = None
    """The window's first ``ts_event``, ns; None: from the file's start."""
    end_ns: int | None = None
    """The window's last ``ts_event``, ns; None: to the file's end."""
    skip_bad_rows: bool = False
    max_ts_distance_ns: int = round(DEFAULT_MAX_TS_DISTANCE_H * NANOS_PER_HOUR)
    """How far a ``ts_event`` may lie from the file's median before its row is bad, ns."""
    source: SourceOptions | None = None
    """How to read a LOBSTER input; None for the defaults."""

    @classmethod
    def from_flags(
        cls,
        flags: StatsFlags,
        *,
        window: tuple[int | None, int | None] = (None, None),
        skip_bad_rows: bool = False,
        source: SourceOptions | None = None,
    ) -> StatsSettings:
        """Build the settings from the validated flags of ``sor stats`` and the ``window``
        of :func:`window`."""
        from sor.core.domain import dollars_to_nanos
        from sor.stylized.facts import FactSettings

        facts = FactSettings(
            tick_nanos=dollars_to_nanos(flags.tick), lags=flags.lags,
            intervals_s=flags.intervals, horizons_s=flags.horizons,
        )  # fmt: skip
        return cls(facts, window[0], window[1], skip_bad_rows,
                   round(flags.max_ts_distance * NANOS_PER_HOUR), source)  # fmt: skip


def window(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    """Read the window ``--start``/``--end`` (ISO-8601 UTC, or None), ns.

    Raises
    ------
    SorError
        A time cannot be read, or the start comes after the end.
    """
    bounds = (timestamp_flag("start", start), timestamp_flag("end", end))
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        raise SorError("--start comes after --end: the window is empty")
    return bounds


@dataclass(frozen=True)
class StatsResult:
    """The stylized facts of a file: the report and what its figure draws."""

    stats: Stats

    @property
    def report(self) -> dict[str, Any]:
        """The JSON report, as ``sor stats`` prints it."""
        return self.stats.report

    def text(self) -> str:
        """Return the report as the JSON text ``sor stats`` prints (no final newline)."""
        return json.dumps(self.report, indent=2)

    def figure(self) -> Figure:
        """Draw the four-panel figure of the facts."""
        from sor.stylized.figures import stats_figure

        return stats_figure(self.stats)

    def write_plot(self, path: str | Path) -> Path:
        """Draw the figure into ``path`` (format from the suffix, PNG without); return it."""
        from sor.stylized.figures import write_stats_plot

        return write_stats_plot(self.stats, path)


@dataclass(frozen=True)
class StatsOutputs:
    """Where ``sor stats`` writes besides stdout: the figure and the report (None: not
    written)."""

    plot: Path | None = None
    json_out: Path | None = None
    """The JSON report's file (None: stdout only)."""

    def check(self, data: Path, lobster_book: Path | None = None) -> None:
        """Raise ``SorError`` unless the report and the figure can be written (the figure
        in a format its suffix names), apart from each other and the input files (``data``
        and its LOBSTER orderbook)."""
        from sor.data.lobster import input_files

        check_outputs([(self.json_out, "--json-out"), (self.plot, "--plot")],
                      input_files(data, lobster_book))  # fmt: skip
        if self.plot is None:
            return
        if self.plot.suffix.lower().lstrip(".") not in FIGURE_FORMATS:
            raise SorError(f"--plot: {self.plot}: the figure's format comes from its suffix, "
                           "as for sor backtest --plot")  # fmt: skip


def run(data: Path, settings: StatsSettings) -> StatsResult:
    """Measure the stylized facts of ``data`` within the settings' window.

    Raises
    ------
    SorError
        ``data`` cannot be read or has no rows in the window.
    """
    from sor.app.compile import compiling, input_groups
    from sor.stylized.summary import file_stats

    log.info("reading %s", data)
    with compiling((), body=(*input_groups(data, settings.source), "stats")):
        stats = file_stats(
            data, settings.facts, skip_bad_rows=settings.skip_bad_rows,
            max_ts_distance_ns=settings.max_ts_distance_ns, start_ns=settings.start_ns,
            end_ns=settings.end_ns, source=settings.source,
        )  # fmt: skip
    return StatsResult(stats)


def write(result: StatsResult, outputs: StatsOutputs) -> None:
    """Write the report and the figure, each atomically, where ``outputs`` names them."""
    write_report_and_figure(outputs.json_out, result.text, outputs.plot, result.write_plot)
