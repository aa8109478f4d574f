"""``sor demo``: generate, stream and backtest on the embedded defaults."""

from __future__ import annotations

import sys
from typing import Annotated

from sor.app.runs import BacktestOptions, market_input, run_stream_backtest
from sor.cli.common import Opt, QuietFlag, setup_logging, user_errors
from sor.core.defaults import DEFAULT_SEED


def demo(
    seed: Annotated[
        int, Opt(min=0, max=2**63 - 1, help="Seed of the generated market.")
    ] = DEFAULT_SEED,
    quiet: QuietFlag = False,
) -> None:
    """Generate, stream and backtest a six-venue market.

    Generates the market, streams it through the embedded Kafka broker, backtests it, writes
    output.json and results.png here and prints the report.

    Example: sor demo --seed 11 --quiet
    """
    setup_logging(quiet)
    with user_errors():
        from sor.app.settings import KafkaSettings

        options = BacktestOptions(quiet=quiet)
        options.check_outputs()
        with market_input(None, seed, options) as (market, seed_used, _):
            report = run_stream_backtest(
                market, None, KafkaSettings.resolve(options.file_config).topic, options, speed=0.0,
                seed=seed_used,
            )  # fmt: skip
        sys.stdout.write(report)
