"""``sor fills``: the fill study of passive orders, venue by venue and horizon by horizon."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sor.app.runs import check_output, write_atomically
from sor.cli.common import (
    CROSSING_FILL_CHOICES,
    FALLBACK_QUEUE_MODEL_HELP,
    TRADE_FILL_CHOICES,
    Opt,
    float_list,
    setup_logging,
    user_errors,
)
from sor.core.errors import SorError

if TYPE_CHECKING:
    from sor.app.settings import FillsFlags
    from sor.ck.fills import OrderRow

log = logging.getLogger("sor")

ORDER_COLUMNS = ("horizon_s", "venue", "placed", "price", "queue_ahead", "filled",
                 "fill_times", "fill_sizes")  # fmt: skip
"""The columns of ``--orders-out``: one row per order placed."""


def fills(
    data: Annotated[Path, Opt(help="Databento MBP CSV or DBN file.")],
    every: Annotated[float, Opt(help="Seconds between orders (one per venue each time).")] = 5.0,
    size: Annotated[int, Opt(help="Shares per order.")] = 200,
    horizon: Annotated[
        str, Opt(help="Seconds after which an order is cancelled, comma-separated.")
    ] = "0.5,2,10",
    queue_model: Annotated[
        str,
        Opt(
            help="conservative (the one checked against hftbacktest), probabilistic, or fifo "
            "(the exact queue from order ids: MBO or LOBSTER input)."
        ),
    ] = "conservative",
    fallback_queue_model: Annotated[
        str, Opt(help=FALLBACK_QUEUE_MODEL_HELP[0].upper() + FALLBACK_QUEUE_MODEL_HELP[1:])
    ] = "conservative",
    latency_us: Annotated[
        float, Opt(help="Order-entry latency, microseconds: orders rest this much later.")
    ] = 0.0,
    side: Annotated[str, Opt(help="buy: rest at the best bid; sell: at the best ask.")] = "buy",
    crossing_fill: Annotated[
        str, Opt(help=CROSSING_FILL_CHOICES[0].upper() + CROSSING_FILL_CHOICES[1:])
    ] = "displayed",
    trade_fill: Annotated[
        str, Opt(help=TRADE_FILL_CHOICES[0].upper() + TRADE_FILL_CHOICES[1:])
    ] = "displayed",
    orders_out: Annotated[
        Path | None, Opt(help="CSV file of every order: time, venue, price, queue, fills.")
    ] = None,
    plot: Annotated[Path, Opt(help="Where to write the figure.")] = Path("fills.png"),
    no_plot: Annotated[bool, Opt("--no-plot", help="Do not draw the figure.")] = False,
    quiet: Annotated[bool, Opt("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Study how passive orders fill, per venue and horizon.

    Every --every seconds one --size order rests at each venue's best bid (or ask, --side
    sell) and is cancelled after each --horizon. Prints JSON per venue and horizon: orders,
    probability of any and of a full fill, mean filled fraction, median time to the first
    fill, and the fills' markouts at 1, 10 and 60 s (bps, positive = cost).

    Example: sor fills --data market.csv --every 5 --size 200 --horizon 0.5,2,10
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.settings import FillsFlags, check_flags

        flags = check_flags(
            FillsFlags,
            {"every": every, "size": size, "horizon": float_list("horizon", horizon),
             "queue_model": queue_model, "latency_us": latency_us, "side": side,
             "crossing_fill": crossing_fill, "trade_fill": trade_fill,
             "fallback_queue_model": fallback_queue_model},
        )  # fmt: skip
        for path, flag in ((orders_out, "--orders-out"), (None if no_plot else plot, "--plot")):
            if path is not None:
                check_output(path, flag)
        report, rows = _run(data, flags)
        text = json.dumps(report, indent=2)
        if orders_out is not None:
            write_atomically(orders_out, "--orders-out", lambda p: _write_orders(p, rows))
        if not no_plot:
            from sor.report.fills_figure import write_fills_plot

            write_atomically(plot, "--plot", lambda p: write_fills_plot(report, p), suffix=".png")
            log.info("wrote %s", plot)
        typer.echo(text)


def _run(data: Path, flags: FillsFlags) -> tuple[dict[str, Any], list[OrderRow]]:
    """Read ``data`` and run the study; return the report and the orders' rows."""
    from sor.ck.fills import StudyOptions, study
    from sor.ck.queue import (
        CROSSING_FILLS,
        QUEUE_MODELS,
        TRADE_FILLS,
        attach_venues,
        fill_rule_entries,
        order_level_venues,
        queue_model_entries,
    )
    from sor.data.events import read_events
    from sor.data.reader import file_sha256
    from sor.report.markouts import MARKOUT_HORIZONS_S

    if not data.is_file():
        raise SorError(f"--data: no such file: {data}")
    log.info("reading every event of %s", data)
    events, venues = attach_venues(read_events(data))
    options = StudyOptions(
        every_s=flags.every, size=flags.size, horizons_s=flags.horizon,
        queue_model=QUEUE_MODELS[flags.queue_model],
        latency_ns=round(flags.latency_us * 1_000), side=flags.side,
        crossing_fill=CROSSING_FILLS[flags.crossing_fill],
        trade_fill=TRADE_FILLS[flags.trade_fill],
        fallback_queue_model=QUEUE_MODELS[flags.fallback_queue_model],
    )  # fmt: skip
    stats, rows = study(events, venues, options)
    if not stats:
        raise SorError(f"--data: {data}: no venue shows a complete book; nothing to study")
    run = {
        "data": str(data), "sha256": file_sha256(data), "events": len(events),
        "side": flags.side, "every_s": flags.every, "size": flags.size,
        "horizons_s": list(flags.horizon),
        **queue_model_entries(options.queue_model, options.fallback_queue_model, venues,
                              order_level_venues(events, venues)),
        "latency_us": flags.latency_us, "markout_horizons_s": list(MARKOUT_HORIZONS_S),
        "orders_placed": len(rows),
        **fill_rule_entries(options.crossing_fill, options.trade_fill),
    }  # fmt: skip
    return {"venues": stats, "run": run}, rows


def _write_orders(path: Path, rows: list[OrderRow]) -> None:
    """Write the orders' rows as CSV (times ISO-8601 UTC, prices in dollars)."""
    from sor.data.reader import format_timestamp

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER_COLUMNS)
        for row in rows:
            whole, part = divmod(row.price_nanos, 1_000_000_000)
            writer.writerow([
                f"{row.horizon_s:g}", row.venue, format_timestamp(row.placed_ns),
                f"{whole}.{part:09d}".rstrip("0").rstrip("."), f"{row.queue_ahead:g}",
                row.filled, ";".join(format_timestamp(t) for t in row.fill_ns),
                ";".join(str(q) for q in row.fill_qty),
            ])  # fmt: skip
