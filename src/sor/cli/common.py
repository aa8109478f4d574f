"""What the commands share: help texts, list and timestamp flags, logging, the error context."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sor.app.config import source_options  # noqa: F401 -- as the commands import it
from sor.core.defaults import (
    DEFAULT_ARRIVAL_SIDES,
    DEFAULT_ARRIVAL_SIZE_MEDIAN,
    DEFAULT_ARRIVAL_SIZE_SIGMA,
    DEFAULT_BOOTSTRAP,
    DEFAULT_CK_LAMBDA_OVER,
    DEFAULT_CK_LAMBDA_UNDER,
    DEFAULT_CK_THETA_QUEUE,
    DEFAULT_CROSSING_FILL,
    DEFAULT_FALLBACK_QUEUE_MODEL,
    DEFAULT_FEE,
    DEFAULT_HORIZONS_S,
    DEFAULT_LAMBDA_OVER,
    DEFAULT_LAMBDA_UNDER,
    DEFAULT_LATENCY_SIGMA,
    DEFAULT_LATENCY_US,
    DEFAULT_QUEUE_MODEL,
    DEFAULT_REBATE,
    DEFAULT_SEED,
    DEFAULT_SIDE,
    DEFAULT_THETA_QUEUE,
    DEFAULT_TOPIC,
    DEFAULT_TRADE_FILL,
)
from sor.core.errors import SorError

if TYPE_CHECKING:
    pass

log = logging.getLogger("sor")


def with_default(text: str, default: object) -> str:
    """Return the help ``text`` ending in its ``default`` as typer shows a literal one."""
    return f"{text}  [default: {default}]"


def listed(values: tuple[float, ...]) -> str:
    """Write ``values`` as the comma-separated list a flag takes: ``0.2,0.5,2``."""
    return ",".join(f"{value:g}" for value in values)


def grid_help(name: str, static: tuple[float, ...], ck: tuple[float, ...]) -> str:
    """Help of a search-list flag, with the default of each model."""
    return with_default(
        f"Values of {name} to search, $/share, comma-separated; else the config's [search].",
        f"{listed(static)}; --model ck: {listed(ck)}",
    )


def setup_logging(quiet: bool) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="sor: %(message)s",
        stream=sys.stderr,
        force=True,
    )


def number_list(values: tuple[float, ...] | tuple[int, ...]) -> str:
    """Write a list default as its flag takes it: ``0.5,2,10``."""
    return ",".join(f"{value:g}" for value in values)


def float_list(name: str, text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise SorError(f"--{name}: expected comma-separated numbers, got {text!r}") from exc
    if not values:
        raise SorError(f"--{name}: the list is empty")
    return values


def int_list(name: str, text: str | None) -> tuple[int, ...] | None:
    """Parse ``--name a,b,c`` as whole numbers (the flag's checks come after)."""
    if text is None:
        return None
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise SorError(f"--{name}: the list is empty")
    if not all(part.lstrip("+-").isdigit() for part in parts):
        raise SorError(f"--{name}: expected comma-separated whole numbers, got {text!r}")
    return tuple(int(part) for part in parts)


Opt = typer.Option

LobsterBookFlag = Annotated[
    Path | None,
    Opt(help="LOBSTER input: its orderbook file, when it is not beside the message file."),
]
PublisherFlag = Annotated[
    int | None,
    Opt(help=with_default("LOBSTER input: the venue's publisher_id.", "2 (Nasdaq)")),
]


BROKER_HELP = with_default(
    "Broker HOST:PORT; else SOR_KAFKA_BOOTSTRAP, else the config's [kafka].", DEFAULT_BOOTSTRAP
)


TOPIC_HELP = with_default(
    "Kafka topic; else SOR_KAFKA_TOPIC, else the config's [kafka].", DEFAULT_TOPIC
)


def window_help(edge: str, section: str = "") -> str:
    """Help of --start or --end (``edge``: start or end), ``section`` naming the config's."""
    row = "the first row" if edge == "start" else "the last row"
    return with_default(f"Window {edge} on ts_event, inclusive, ISO-8601 UTC{section}.", row)


KAFKA_CONFIG_HELP = "TOML file; its [kafka] section applies. Else SOR_CONFIG."


SKIP_HELP = "Skip unparseable rows, counting them per reason."
SkipBadRowsFlag = Annotated[bool, Opt(help=SKIP_HELP, show_default=False)]
QuietFlag = Annotated[bool, Opt("--quiet", "-q", help="No progress bar; log warnings only.")]
ArrivalSizeMedianFlag = Annotated[
    int | None,
    Opt(
        help=with_default(
            "--arrivals: median shares of an order (log-normal sizes, in lots of 100).",
            DEFAULT_ARRIVAL_SIZE_MEDIAN,
        )
    ),
]
ArrivalSizeSigmaFlag = Annotated[
    float | None,
    Opt(
        help=with_default(
            "--arrivals: log-sd of the sizes around the median; 0: every order the median.",
            f"{DEFAULT_ARRIVAL_SIZE_SIGMA:g}",
        )
    ),
]
ArrivalSidesFlag = Annotated[
    str | None,
    Opt(
        help=with_default(
            "--arrivals: buy, sell or both (each order either side, even odds).",
            DEFAULT_ARRIVAL_SIDES,
        )
    ),
]
NoPlotFlag = Annotated[bool, Opt("--no-plot", help="Do not draw the figure.")]
PlotFlag = Annotated[Path, Opt(help="Where to write the figure.")]
KafkaConfigFlag = Annotated[Path | None, Opt(help=KAFKA_CONFIG_HELP)]
"""The flags every command that has them declares alike."""


TS_DISTANCE_HELP = (
    "Hours a ts_event may lie from the median of the input's before its row is bad (as is "
    "one before 1990)."
)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn a ``SorError`` into one line on stderr (``sor: error: ...``) and exit status 2,
    Ctrl-C into ``sor: interrupted`` and status 130: every command's error context.

    Written to stderr directly, not logged: ``--quiet`` and commands that set up no logging
    (``sor place``) print the same line.
    """
    try:
        yield
    except SorError as exc:
        sys.stderr.write(f"sor: error: {exc}\n")
        sys.stderr.flush()
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        sys.stderr.write("sor: interrupted\n")
        sys.stderr.flush()
        raise typer.Exit(130) from None


# The options sor backtest and sor evaluate share, each said once.
SideFlag = Annotated[
    str | None,
    Opt(
        help=with_default(
            "buy (take the asks) or sell (take the bids); else the config's [order] side.",
            DEFAULT_SIDE,
        )
    ),
]
FeeFlag = Annotated[
    float | None,
    Opt(
        help=with_default(
            "Taker fee, $/share, every venue; else the config's [costs].", DEFAULT_FEE
        )
    ),
]
RebateFlag = Annotated[
    float | None,
    Opt(
        help=with_default(
            "Maker rebate, $/share, every venue; else the config's [costs].", DEFAULT_REBATE
        )
    ),
]
LambdaOverFlag = Annotated[
    str | None, Opt(help=grid_help("lambda_over", DEFAULT_LAMBDA_OVER, DEFAULT_CK_LAMBDA_OVER))
]
LambdaUnderFlag = Annotated[
    str | None, Opt(help=grid_help("lambda_under", DEFAULT_LAMBDA_UNDER, DEFAULT_CK_LAMBDA_UNDER))
]
ThetaQueueFlag = Annotated[
    str | None, Opt(help=grid_help("theta_queue", DEFAULT_THETA_QUEUE, DEFAULT_CK_THETA_QUEUE))
]
ModelFlag = Annotated[
    str, Opt(help="static (docs/semantics.md) or ck (limit orders on a queue simulator).")
]
HorizonFlag = Annotated[
    str | None,
    Opt(
        help=with_default(
            "ck: decision horizons T, seconds, comma-separated.", listed(DEFAULT_HORIZONS_S)
        )
    ),
]
LatencyUsFlag = Annotated[
    float | None,
    Opt(
        help=with_default(
            "ck: order-entry latency (the median when sampled), microseconds.",
            f"{DEFAULT_LATENCY_US:g}",
        )
    ),
]
LatencySigmaFlag = Annotated[
    float | None,
    Opt(
        help=with_default(
            "ck: sample each order's latency from a lognormal law with this log-sd "
            "around --latency-us; 0 keeps it constant.",
            f"{DEFAULT_LATENCY_SIGMA:g}",
        )
    ),
]
LatencySeedFlag = Annotated[
    int | None, Opt(help=with_default("ck: seed of the sampled latencies.", DEFAULT_SEED))
]
QueueModelFlag = Annotated[
    str | None,
    Opt(
        help=with_default(
            "ck: how the queue ahead of a resting order moves: probabilistic or conservative "
            "(cancellations behind it), or fifo (the exact queue from order ids: MBO or "
            "LOBSTER input).",
            DEFAULT_QUEUE_MODEL,
        )
    ),
]
CROSSING_FILL_CHOICES = (
    "what asks coming down to a resting order's price fill: displayed (at most the ask size "
    "shown at or below it) or whole (the whole remainder, as hftbacktest does)."
)
CrossingFillFlag = Annotated[
    str | None, Opt(help=with_default("ck: " + CROSSING_FILL_CHOICES, DEFAULT_CROSSING_FILL))
]
TRADE_FILL_CHOICES = (
    "what sell trades do to a resting buy: displayed (at its price they advance it by the "
    "drop the book shows, none for hidden liquidity; below it they fill at most their size) "
    "or whole (hftbacktest's rules: by their size, and the whole remainder)."
)
TradeFillFlag = Annotated[
    str | None, Opt(help=with_default("ck: " + TRADE_FILL_CHOICES, DEFAULT_TRADE_FILL))
]
FALLBACK_QUEUE_MODEL_HELP = (
    "the queue model of the venues --queue-model fifo cannot see order by order (top-of-book "
    "or MBP venues): conservative or probabilistic."
)
FallbackQueueModelFlag = Annotated[
    str | None,
    Opt(help=with_default("ck: " + FALLBACK_QUEUE_MODEL_HELP, DEFAULT_FALLBACK_QUEUE_MODEL)),
]
