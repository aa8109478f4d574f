"""One evaluation from start to end: find the days, run them on Dask, build the report."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sor.ck.router import CKSettings
from sor.core.errors import SorError
from sor.evaluate.bootstrap import DEFAULT_RESAMPLES
from sor.evaluate.cluster import dask_client, run_days
from sor.evaluate.days import discover
from sor.evaluate.report import Settings, build_evaluation
from sor.evaluate.tasks import DaySpec
from sor.static.backtest import BacktestConfig

log = logging.getLogger("sor")

DEFAULT_TRAIN_DAYS = 5


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation runs: the backtest's settings and the evaluation's own."""

    config: BacktestConfig
    horizons_s: tuple[float, ...] | None = None
    ck_settings: CKSettings | None = None
    train_days: int = DEFAULT_TRAIN_DAYS
    seed: int = 7
    resamples: int = DEFAULT_RESAMPLES
    skip_bad_rows: bool = False
    max_ts_distance_ns: int = 24 * 3600 * 10**9
    publisher: int | None = None

    def spec(self, index: int, source: str) -> DaySpec:
        """The task of the day file ``source``."""
        return DaySpec(
            index=index, source=source, config=self.config, horizons_s=self.horizons_s,
            ck_settings=self.ck_settings, skip_bad_rows=self.skip_bad_rows,
            max_ts_distance_ns=self.max_ts_distance_ns, publisher=self.publisher,
        )  # fmt: skip

    def settings(self) -> Settings:
        """What the report records of the run."""
        ck = None
        if self.ck_settings is not None:
            from sor.ck.queue import QUEUE_MODELS, fill_rule_entries

            settings = self.ck_settings
            names = {v: k for k, v in QUEUE_MODELS.items()}
            ck = {
                "latency": settings.latency.as_dict(),
                "queue_model": names[settings.queue_model],
                **(
                    {"fallback_queue_model": names[settings.fallback_queue_model]}
                    if settings.queue_model == QUEUE_MODELS["fifo"]
                    else {}
                ),
                **fill_rule_entries(settings.crossing_fill, settings.trade_fill),
            }
        return Settings(self.config, self.horizons_s, ck, self.train_days, self.seed,
                        self.resamples)  # fmt: skip


def evaluate(
    inputs: Sequence[str],
    evaluation: Evaluation,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Evaluate the day files of ``inputs`` (paths, directories, globs or URLs) on the Dask
    cluster at ``scheduler``, else on a local cluster of ``workers`` processes; return the
    report object.

    Raises
    ------
    SorError
        No day file, fewer days than ``train_days`` + 1, or a day's input at fault.
    """
    sources = discover(inputs)
    if len(sources) <= evaluation.train_days:
        raise SorError(
            f"--train-days {evaluation.train_days} needs at least {evaluation.train_days + 1} "
            f"days to score one out of sample; {len(sources)} day file(s) given"
        )
    log.info("%d day files; %s", len(sources), f"scheduler {scheduler}" if scheduler
             else f"a local cluster of {workers or os.cpu_count()} worker(s)")  # fmt: skip
    specs = [evaluation.spec(k, source) for k, source in enumerate(sources)]
    with dask_client(scheduler, workers) as client:
        outcomes = run_days(client, specs, quiet=quiet)
    return build_evaluation(outcomes, evaluation.settings())
