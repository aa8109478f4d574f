"""``sor fills``: the fill study of passive orders, venue by venue and horizon by horizon."""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sor.app.runs import check_outputs, write_atomically
from sor.cli.common import (
    CROSSING_FILL_CHOICES,
    FALLBACK_QUEUE_MODEL_HELP,
    TRADE_FILL_CHOICES,
    LobsterBookFlag,
    NoPlotFlag,
    Opt,
    PlotFlag,
    PublisherFlag,
    QuietFlag,
    SkipBadRowsFlag,
    float_list,
    int_list,
    setup_logging,
    source_options,
    user_errors,
)
from sor.core.defaults import (
    DEFAULT_CROSSING_FILL,
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_QUEUE_MODEL,
    DEFAULT_SIDE,
    DEFAULT_TRADE_FILL,
)
from sor.core.errors import SorError

if TYPE_CHECKING:
    from sor.app.settings import FillsFlags
    from sor.ck.fills import OrderRow
    from sor.data.orderlevel import SourceOptions

log = logging.getLogger("sor")

ORDER_COLUMNS = ("horizon_s", "venue", "placed", "price", "queue_ahead", "filled",
                 "fill_times", "fill_sizes", "size", "nbbo_distance_bps")  # fmt: skip
"""The columns of ``--orders-out``: one row per order placed (with ``--compare``, FIFO's
fills)."""


def fills(
    data: Annotated[
        Path, Opt(help="Databento MBP or MBO file (CSV or DBN), or a LOBSTER message file.")
    ],
    every: Annotated[float, Opt(help="Seconds between orders (one per venue each time).")] = 5.0,
    size: Annotated[
        str, Opt(help="Shares per order, comma-separated for several studies (100,1000).")
    ] = "200",
    horizon: Annotated[
        str, Opt(help="Seconds after which an order is cancelled, comma-separated.")
    ] = "0.5,2,10",
    queue_model: Annotated[
        str,
        Opt(
            help="conservative (the one checked against hftbacktest), probabilistic, or fifo "
            "(the exact queue from order ids: MBO or LOBSTER input)."
        ),
    ] = DEFAULT_QUEUE_MODEL,
    fallback_queue_model: Annotated[
        str, Opt(help=FALLBACK_QUEUE_MODEL_HELP[0].upper() + FALLBACK_QUEUE_MODEL_HELP[1:])
    ] = DEFAULT_FALLBACK_QUEUE_MODEL,
    latency_us: Annotated[
        float, Opt(help="Order-entry latency, microseconds: orders rest this much later.")
    ] = 0.0,
    side: Annotated[
        str, Opt(help="buy: rest at the best bid; sell: at the best ask.")
    ] = DEFAULT_SIDE,
    crossing_fill: Annotated[
        str, Opt(help=CROSSING_FILL_CHOICES[0].upper() + CROSSING_FILL_CHOICES[1:])
    ] = DEFAULT_CROSSING_FILL,
    trade_fill: Annotated[
        str, Opt(help=TRADE_FILL_CHOICES[0].upper() + TRADE_FILL_CHOICES[1:])
    ] = DEFAULT_TRADE_FILL,
    compare: Annotated[
        bool,
        Opt(
            "--compare",
            help="Order-level input: run the same orders through the exact FIFO queue and "
            "each queue model; print, per venue, size and horizon, how each model's fills "
            "compare with FIFO's.",
        ),
    ] = False,
    orders_out: Annotated[
        Path | None, Opt(help="CSV file of every order: time, venue, price, queue, fills.")
    ] = None,
    json_out: Annotated[
        Path | None, Opt(help="Write the JSON report to this file too (it goes to stdout).")
    ] = None,
    lobster_book: LobsterBookFlag = None,
    publisher: PublisherFlag = None,
    skip_bad_rows: SkipBadRowsFlag = False,
    plot: PlotFlag = Path("fills.png"),
    no_plot: NoPlotFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Study how passive orders fill, per venue and horizon.

    Every --every seconds one --size order rests at each venue's best bid (or ask, --side
    sell) and is cancelled after each --horizon. Prints JSON per venue and horizon: orders,
    probability of any and of a full fill, mean filled fraction, median time to the first
    fill, the fills' markouts at 1, 10 and 60 s (bps, positive = cost), and how far the
    orders' prices sat from the NBBO.

    \b
    Example: sor fills --data market.csv --every 5 --size 200 --horizon 0.5,2,10
    Example: sor fills --data AMZN_2012-06-21_34200000_57600000_message_5.csv --compare
             --every 1 --size 100,1000,5000 --horizon 2,10,60
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.settings import FillsFlags, check_flags

        flags = check_flags(
            FillsFlags,
            {"every": every, "size": int_list("size", size),
             "horizon": float_list("horizon", horizon),
             "queue_model": queue_model, "latency_us": latency_us, "side": side,
             "crossing_fill": crossing_fill, "trade_fill": trade_fill,
             "fallback_queue_model": fallback_queue_model},
        )  # fmt: skip
        from sor.data.lobster import input_files

        check_outputs(
            [(orders_out, "--orders-out"), (json_out, "--json-out"),
             (None if no_plot else plot, "--plot")],
            input_files(data, lobster_book),
        )  # fmt: skip
        report, rows = _run(data, flags, compare, source_options(lobster_book, publisher),
                            skip_bad_rows=skip_bad_rows)  # fmt: skip
        text = json.dumps(report, indent=2)
        if compare and not quiet:
            sys.stderr.write(_summary(report) + "\n")
        if orders_out is not None:
            write_atomically(orders_out, "--orders-out", lambda p: _write_orders(p, rows))
            log.info("wrote %s", orders_out)
        if json_out is not None:
            write_atomically(json_out, "--json-out", lambda p: p.write_text(text + "\n"))
            log.info("wrote %s", json_out)
        if not no_plot:
            from sor.report.fills_figure import write_compare_plot, write_fills_plot

            draw = write_compare_plot if compare else write_fills_plot
            write_atomically(plot, "--plot", lambda p: draw(report, p), suffix=".png")
            log.info("wrote %s", plot)
        typer.echo(text)


def _run(
    data: Path,
    flags: FillsFlags,
    compare: bool,
    source: SourceOptions | None = None,
    *,
    skip_bad_rows: bool = False,
) -> tuple[dict[str, Any], list[OrderRow]]:
    """Read ``data`` and run the study (or, ``compare``, the comparison with the exact
    queue); return the report and the orders' rows."""
    from sor.app.compile import compiling, input_groups
    from sor.ck import fills as study_of
    from sor.ck.queue import (
        CROSSING_FILLS,
        QUEUE_MODELS,
        TRADE_FILLS,
        attach_venues,
        fill_rule_entries,
        order_level_venues,
        queue_model_entries,
    )
    from sor.core.paths import check_input_file, file_sha256
    from sor.core.types import Side
    from sor.data.events import read_events
    from sor.report.markouts import MARKOUT_HORIZONS_S

    check_input_file(data)
    log.info("reading every event of %s", data)
    with compiling(("fills",), body=input_groups(data, source)):
        events = read_events(data, source=source, skip_bad_rows=skip_bad_rows)
    events, venues = attach_venues(events)
    options = study_of.StudyOptions(
        every_s=flags.every, sizes=flags.size, horizons_s=flags.horizon,
        queue_model=QUEUE_MODELS[flags.queue_model],
        latency_ns=round(flags.latency_us * 1_000), side=Side.parse(flags.side),
        crossing_fill=CROSSING_FILLS[flags.crossing_fill],
        trade_fill=TRADE_FILLS[flags.trade_fill],
        fallback_queue_model=QUEUE_MODELS[flags.fallback_queue_model],
    )  # fmt: skip
    exact = order_level_venues(events, venues)
    sizes = {"size": flags.size[0]} if len(flags.size) == 1 else {"sizes": list(flags.size)}
    run: dict[str, Any] = {
        "data": str(data), "sha256": file_sha256(data), "events": len(events),
        "side": flags.side, "every_s": flags.every, **sizes, "horizons_s": list(flags.horizon),
    }  # fmt: skip
    if compare:
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
            "latency_us": flags.latency_us, "orders_placed": len(rows),
            "agreement": study_of.AGREEMENT,
            **fill_rule_entries(options.crossing_fill, options.trade_fill),
        })  # fmt: skip
        return {"compare": cells, "run": run}, rows
    stats, rows = study_of.study(events, venues, options)
    if not stats:
        raise SorError(f"--data: {data}: no venue shows a complete book; nothing to study")
    run.update({
        **queue_model_entries(options.queue_model, options.fallback_queue_model, venues, exact),
        "latency_us": flags.latency_us, "markout_horizons_s": list(MARKOUT_HORIZONS_S),
        "orders_placed": len(rows),
        **fill_rule_entries(options.crossing_fill, options.trade_fill),
    })  # fmt: skip
    if len(flags.size) == 1:
        return {"venues": stats[str(flags.size[0])], "run": run}, rows
    return {"sizes": {size: {"venues": cells} for size, cells in stats.items()}, "run": run}, rows


def _summary(report: dict[str, Any]) -> str:
    """The comparison as a table: per venue, size and horizon, FIFO's mean filled fraction
    and P(full fill) beside each model's, and the share of orders it fills as FIFO does."""
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
    return "\n".join(lines)


def _write_orders(path: Path, rows: list[OrderRow]) -> None:
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
