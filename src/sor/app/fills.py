"""The run of ``sor fills``: read a file's events, study how passive orders fill (or compare
the queue models with the exact queue), and write the report, the orders and the figure.

:func:`run` does the work and returns it; :func:`write` writes it where the flags say. A
Python caller needs only these two and :class:`FillsSettings`.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.app.outputs import write_report_and_figure
from sor.app.runs import check_outputs, write_atomically
from sor.core.errors import SorError
from sor.core.uncertainty import MIN_UNITS

if TYPE_CHECKING:
    import polars as pl
    from matplotlib.figure import Figure

    from sor.app.settings import FillsFlags
    from sor.ck.fills import OrderRow, StudyOptions
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger("sor")

ORDER_COLUMNS = ("horizon_s", "venue", "placed", "price", "queue_ahead", "filled",
                 "fill_times", "fill_sizes", "size", "nbbo_distance_bps")  # fmt: skip
"""The columns of ``--orders-out``: one row per order placed (with ``--compare``, FIFO's
fills)."""


UNCERTAINTY = {
    "p_any_fill_95": "Wilson 95 % interval of the share, over the cell's orders; null with "
    f"fewer than {MIN_UNITS} orders",
    "markout_se_bps": "standard error of the share-weighted mean markout over the orders that "
    "filled (each order's fills one unit; markout_orders counts them); null with fewer than "
    f"{MIN_UNITS} such orders",
    "independence": "orders are taken as independent: orders overlapping in time (a horizon "
    "longer than --every) and one price path shared by all make the figures less certain "
    "than the intervals say",
}
"""How the report's intervals are made, as ``run.uncertainty`` states it."""

COMPARE_UNCERTAINTY = {
    "p_any_fill_diff_95": "paired 95 % interval of the model's P(any fill) less FIFO's on the "
    "same orders (p_full_fill_diff_95 likewise): Newcombe's (1998) method 10, each order one "
    f"pair; null with fewer than {MIN_UNITS} orders",
    "mean_filled_fraction_diff_95": "normal 95 % interval of the mean per-order difference of "
    f"filled fractions; null with fewer than {MIN_UNITS} orders, or where every order differs "
    "by the same amount (no spread to measure; no_interval says which)",
    "independence": UNCERTAINTY["independence"],
}
"""How ``sor fills --compare`` states its uncertainty, as its ``run.uncertainty`` says."""


@dataclass(frozen=True)
class FillsSettings:
    """What one fill study runs, every value already checked."""

    study: StudyOptions
    """The orders placed, the queue model and the fill rules."""
    latency_us: float = 0.0
    """The order-entry latency as given, microseconds (the report records it so)."""
    compare: bool = False
    """Run the orders through the exact FIFO queue and each queue model instead."""
    skip_bad_rows: bool = False
    source: SourceOptions | None = None
    """How to read a LOBSTER input; None for the defaults."""
    start_ns: int | None = None
    """The window's first ``ts_event``, ns; None: from the file's start."""
    end_ns: int | None = None
    """The window's last ``ts_event``, ns; None: to the file's end."""

    @classmethod
    def from_flags(
        cls,
        flags: FillsFlags,
        *,
        compare: bool = False,
        skip_bad_rows: bool = False,
        source: SourceOptions | None = None,
    ) -> FillsSettings:
        """Build the settings from the validated flags of ``sor fills``."""
        from sor.ck.fills import StudyOptions
        from sor.ck.queue import CROSSING_FILLS, QUEUE_MODELS, TRADE_FILLS
        from sor.core.types import Side

        study = StudyOptions(
            every_s=flags.every, sizes=flags.size, horizons_s=flags.horizon,
            queue_model=QUEUE_MODELS[flags.queue_model],
            latency_ns=round(flags.latency_us * 1_000), side=Side.parse(flags.side),
            crossing_fill=CROSSING_FILLS[flags.crossing_fill],
            trade_fill=TRADE_FILLS[flags.trade_fill],
            fallback_queue_model=QUEUE_MODELS[flags.fallback_queue_model],
        )  # fmt: skip
        return cls(study, flags.latency_us, compare, skip_bad_rows, source)


@dataclass(frozen=True)
class FillsResult:
    """What a fill study found: the report and every order placed."""

    report: dict[str, Any]
    """The JSON report, as ``sor fills`` prints it."""
    orders: tuple[OrderRow, ...]
    """One row per order placed (with ``compare``, FIFO's fills)."""

    @property
    def table(self) -> pl.DataFrame:
        """The orders as a polars DataFrame, the columns of ``--orders-out`` with exact
        values: ``placed`` and ``fill_times`` UTC (ns), ``price_nanos``, ``fill_sizes``."""
        import polars as pl

        rows = self.orders
        return pl.DataFrame({
            "horizon_s": pl.Series([r.horizon_s for r in rows], dtype=pl.Float64),
            "venue": pl.Series([r.venue for r in rows], dtype=pl.Int64),
            "placed": pl.Series([r.placed_ns for r in rows], dtype=pl.Int64),
            "price_nanos": pl.Series([r.price_nanos for r in rows], dtype=pl.Int64),
            "queue_ahead": pl.Series([r.queue_ahead for r in rows], dtype=pl.Float64),
            "filled": pl.Series([r.filled for r in rows], dtype=pl.Int64),
            "fill_times": pl.Series([list(r.fill_ns) for r in rows], dtype=pl.List(pl.Int64)),
            "fill_sizes": pl.Series([list(r.fill_qty) for r in rows], dtype=pl.List(pl.Int64)),
            "size": pl.Series([r.size for r in rows], dtype=pl.Int64),
            "nbbo_distance_bps": pl.Series([r.nbbo_bps for r in rows], dtype=pl.Float64),
        }).with_columns(
            pl.col("placed").cast(pl.Datetime("ns", "UTC")),
            pl.col("fill_times").cast(pl.List(pl.Datetime("ns", "UTC"))),
        )  # fmt: skip

    @property
    def compared(self) -> bool:
        """Whether the run compared the queue models with the exact queue."""
        return "compare" in self.report

    def text(self) -> str:
        """Return the report as the JSON text ``sor fills`` prints (no final newline)."""
        return json.dumps(self.report, indent=2)

    def summary(self) -> str:
        """Return the comparison as a table: per venue, size and horizon, FIFO's mean
        filled fraction and P(full fill) beside each model's, and the share of orders it
        fills as FIFO does; "" for a study without the comparison."""
        return _summary(self.report) if self.compared else ""

    def figure(self) -> Figure:
        """Draw the study's figure (the comparison's, for a comparison)."""
        from sor.report.fills_figure import compare_figure, fills_figure

        return (compare_figure if self.compared else fills_figure)(self.report)

    def write_plot(self, path: str | Path) -> Path:
        """Draw the figure into ``path`` (format from the suffix, PNG without); return it."""
        from sor.report.fills_figure import write_compare_plot, write_fills_plot

        draw = write_compare_plot if self.compared else write_fills_plot
        return draw(self.report, path)


@dataclass(frozen=True)
class FillsOutputs:
    """Where ``sor fills`` writes: the report, the orders' CSV and the figure (None: not
    written)."""

    json_out: Path | None = None
    orders_out: Path | None = None
    plot: Path | None = None

    def check(self, data: Path, lobster_book: Path | None = None) -> None:
        """Raise ``SorError`` unless every output can be written, apart from each other and
        from the input files (``data`` and its LOBSTER orderbook)."""
        from sor.data.lobster import input_files

        check_outputs(
            [(self.orders_out, "--orders-out"), (self.json_out, "--json-out"),
             (self.plot, "--plot")],
            input_files(data, lobster_book),
        )  # fmt: skip


def run(data: Path, settings: FillsSettings) -> FillsResult:
    """Read every event of ``data`` and run the study (or the comparison with the exact
    queue).

    Raises
    ------
    SorError
        ``data`` cannot be read, the comparison is asked of a file without order ids, or no
        venue shows a complete book.
    """
    from sor.app.compile import compiling, input_groups
    from sor.ck import fills as study_of
    from sor.ck.queue import (
        attach_venues,
        fill_rule_entries,
        order_level_venues,
        queue_model_entries,
    )
    from sor.core.paths import check_input_file, file_sha256
    from sor.data.events import read_events
    from sor.report.markouts import MARKOUT_HORIZONS_S

    check_input_file(data)
    log.info("reading every event of %s", data)
    with compiling(("fills",), body=input_groups(data, settings.source)):
        events = read_events(data, source=settings.source, skip_bad_rows=settings.skip_bad_rows,
                             start_ns=settings.start_ns, end_ns=settings.end_ns)  # fmt: skip
    events, venues = attach_venues(events)
    options = settings.study
    exact = order_level_venues(events, venues)
    sizes = (
        {"size": options.sizes[0]} if len(options.sizes) == 1 else {"sizes": list(options.sizes)}
    )
    run: dict[str, Any] = {
        "data": str(data), "sha256": file_sha256(data), "events": len(events),
        "side": options.side.text, "every_s": options.every_s, **sizes,
        "horizons_s": list(options.horizons_s),
    }  # fmt: skip
    if settings.compare:
        if not exact.any():
            raise SorError(
                "--compare holds the queue models to the exact queue, which needs order-level "
                "data (Databento MBO with order ids, or LOBSTER): no venue of this input has it"
            )
        cells, rows = study_of.compare(events, venues, options)
        run.update({
            "models": ["fifo", *study_of.COMPARED],
            "venues_without_order_ids": [str(int(p)) for p, e in zip(venues, exact, strict=True)
                                         if not e],
            "latency_us": settings.latency_us, "orders_placed": len(rows),
            "agreement": study_of.AGREEMENT, "uncertainty": COMPARE_UNCERTAINTY,
            **fill_rule_entries(options.crossing_fill, options.trade_fill),
        })  # fmt: skip
        return FillsResult({"compare": cells, "run": run}, tuple(rows))
    stats, rows = study_of.study(events, venues, options)
    if not stats:
        raise SorError(f"--data: {data}: no venue shows a complete book; nothing to study")
    run.update({
        **queue_model_entries(options.queue_model, options.fallback_queue_model, venues, exact),
        "latency_us": settings.latency_us, "markout_horizons_s": list(MARKOUT_HORIZONS_S),
        "orders_placed": len(rows), "uncertainty": UNCERTAINTY,
        **fill_rule_entries(options.crossing_fill, options.trade_fill),
    })  # fmt: skip
    if len(options.sizes) == 1:
        report = {"venues": stats[str(options.sizes[0])], "run": run}
    else:
        report = {"sizes": {size: {"venues": cells} for size, cells in stats.items()}, "run": run}
    return FillsResult(report, tuple(rows))


def write(result: FillsResult, outputs: FillsOutputs) -> None:
    """Write the orders' CSV, the report and the figure, each atomically, where ``outputs``
    names them."""
    if outputs.orders_out is not None:
        write_atomically(
            outputs.orders_out, "--orders-out", lambda p: write_orders(p, result.orders)
        )
        log.info("wrote %s", outputs.orders_out)
    write_report_and_figure(outputs.json_out, result.text, outputs.plot, result.write_plot)


def _summary(report: dict[str, Any]) -> str:
    """The comparison of ``report`` as a table (:meth:`FillsResult.summary`)."""
    from sor.ck.fills import COMPARED

    head = f"{'venue':>6} {'size':>6} {'horizon':>8} {'orders':>7}  {'fifo frac/full':>15}"
    head += "".join(f"  {name + ' frac/full/same':>31}" for name in COMPARED)
    lines = [head]
    for venue, by_size in report["compare"].items():
        for size, by_horizon in by_size.items():
            for horizon, cell in by_horizon.items():
                fifo = cell["fifo"]
                if fifo["mean_filled_fraction"] is None:
                    continue
                line = (f"{venue:>6} {size:>6} {horizon + ' s':>8} {cell['orders']:>7}  "
                        f"{fifo['mean_filled_fraction']:>7.4f}/{fifo['p_full_fill']:<7.4f}")  # fmt: skip
                for name in COMPARED:
                    m = cell[name]
                    mark = "" if m["agrees"] else " *"
                    line += (f"  {m['mean_filled_fraction']:>11.4f}/{m['p_full_fill']:.4f}/"
                             f"{m['identical_quantity']:.3f}{mark:<2}")  # fmt: skip
                lines.append(line)
    if any(line.rstrip().endswith("*") or " * " in line for line in lines[1:]):
        lines.append("* outside the agreement bounds of run.agreement")
    return "\n".join([*lines, *_paired_summary(report)])


def _paired_summary(report: dict[str, Any]) -> list[str]:
    """Each model's P(any fill) less FIFO's per cell with its paired 95 % interval over
    the orders (or why there is none), as lines under the comparison's table."""
    from sor.ck.fills import COMPARED

    head = f"{'venue':>6} {'size':>6} {'horizon':>8}" + "".join(f"  {m:<29}" for m in COMPARED)
    lines = ["", "P(any fill), model - FIFO on the same orders, paired 95 % interval:",
             head.rstrip()]  # fmt: skip
    reasons: set[str] = set()
    for venue, by_size in report["compare"].items():
        for size, by_horizon in by_size.items():
            for horizon, cell in by_horizon.items():
                if cell["fifo"]["mean_filled_fraction"] is None:
                    continue
                line = f"{venue:>6} {size:>6} {horizon + ' s':>8}"
                for name in COMPARED:
                    m = cell[name]
                    ends = m["p_any_fill_diff_95"]
                    shown = "no interval" if ends is None else f"[{ends[0]:+.4f}, {ends[1]:+.4f}]"
                    line += f"  {m['p_any_fill_diff']:+.4f} {shown:<21}"
                    if ends is None:
                        reasons.add(m["no_interval"])
                lines.append(line.rstrip())
    return [*lines, *sorted(reasons)] if len(lines) > 3 else []


def write_orders(path: Path, rows: tuple[OrderRow, ...] | list[OrderRow]) -> None:
    """Write the orders' rows as CSV (times ISO-8601 UTC, prices in dollars)."""
    from sor.core.timestamps import format_timestamp

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_COLUMNS)
        for row in rows:
            whole, part = divmod(row.price_nanos, 1_000_000_000)
            writer.writerow([
                f"{row.horizon_s:g}", row.venue, format_timestamp(row.placed_ns),
                f"{whole}.{part:09d}".rstrip("0").rstrip("."), f"{row.queue_ahead:g}",
                row.filled, ";".join(format_timestamp(t) for t in row.fill_ns),
                ";".join(str(q) for q in row.fill_qty), row.size,
                "" if row.nbbo_bps is None else f"{row.nbbo_bps:.6g}",
            ])  # fmt: skip
