"""The ``sor stats`` command: the stylized facts of an MBP file as JSON, and a figure.

Registered in :mod:`sor.cli` with ``app.command()(stats)``. stdout carries only the JSON
(docs/stats.md); an error in the input ends the command with a one-line message on stderr
and exit status 2.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from sor.errors import SorError

log = logging.getLogger("sor")


def stats(
    data: Annotated[Path, typer.Argument(help="Databento MBP-1 or MBP-10 file, CSV or DBN.")],
    lags: Annotated[int, typer.Option(help="Trade-sign autocorrelation lags 1..LAGS.")] = 10,
    intervals: Annotated[
        str, typer.Option(help="OFI regression interval lengths, seconds, comma-separated.")
    ] = "1,10,60",
    horizons: Annotated[
        str, typer.Option(help="Markout horizons, seconds, comma-separated.")
    ] = "1,10,60",
    tick: Annotated[float, typer.Option(help="Price grid, $: spreads are counted in it.")] = 0.01,
    plot: Annotated[Path, typer.Option(help="Where to write the figure.")] = Path("stats.png"),
    no_plot: Annotated[bool, typer.Option("--no-plot", help="Do not draw the figure.")] = False,
    skip_bad_rows: Annotated[
        bool, typer.Option(help="Skip bad rows (as sor backtest does) instead of failing.")
    ] = False,
    max_ts_distance: Annotated[
        float,
        typer.Option(help="Hours a ts_event may lie from the file's median before its row is bad."),
    ] = 24.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
) -> None:
    """Print the stylized facts of an MBP file, per venue and overall, as JSON.

    Message and trade rates, spread, best-level sizes, queue turnover, trade-sign
    autocorrelation, the order-flow-imbalance regression and trade markouts
    (docs/stats.md): how a user checks that a generated market resembles theirs.

    Example: sor stats market.csv --plot stats.png
    """
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="sor: %(message)s", stream=sys.stderr, force=True)  # fmt: skip
    try:
        _run(data, lags, intervals, horizons, tick, None if no_plot else plot, skip_bad_rows,
             max_ts_distance)  # fmt: skip
    except SorError as exc:
        log.error("error: %s", exc)
        raise typer.Exit(2) from None


def _run(
    data: Path,
    lags: int,
    intervals: str,
    horizons: str,
    tick: float,
    plot: Path | None,
    skip_bad_rows: bool,
    max_ts_distance: float,
) -> None:
    from sor.config import StatsFlags, check_flags

    flags = check_flags(
        StatsFlags,
        {"lags": lags, "intervals": _numbers("intervals", intervals),
         "horizons": _numbers("horizons", horizons), "tick": tick,
         "max_ts_distance": max_ts_distance},
    )  # fmt: skip
    if plot is not None:
        _check_plot(plot)
    from sor.stats.facts import Settings
    from sor.stats.summary import file_stats

    log.info("reading %s", data)
    settings = Settings(
        tick_nanos=round(flags.tick * 1_000_000_000), lags=flags.lags,
        intervals_s=flags.intervals, horizons_s=flags.horizons,
    )  # fmt: skip
    result = file_stats(
        data, settings, skip_bad_rows=skip_bad_rows,
        max_ts_distance_ns=round(flags.max_ts_distance * 3.6e12),
    )  # fmt: skip
    typer.echo(json.dumps(result.report, indent=2))
    if plot is not None:
        from sor.stats.figures import write_stats_plot

        temporary = plot.with_name(f".{plot.name}.{os.getpid()}.tmp{plot.suffix or '.png'}")
        try:
            write_stats_plot(result, temporary)
            os.replace(temporary, plot)
        except OSError as exc:
            raise SorError(f"--plot: cannot write {plot}: {exc.strerror or exc}") from exc
        finally:
            temporary.unlink(missing_ok=True)
        log.info("wrote %s", plot)


def _numbers(name: str, text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise SorError(f"--{name}: expected comma-separated numbers, got {text!r}") from None
    return values


def _check_plot(path: Path) -> None:
    if path.is_dir():
        raise SorError(f"--plot: {path} is a directory; give a file name")
    if not path.parent.is_dir():
        raise SorError(f"--plot: {path}: the directory {path.parent} does not exist")
