"""One evaluation from start to end: find the days, run them on Dask, build the report."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sor.ck.router import CKSettings
from sor.core.defaults import (
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_MAX_TS_DISTANCE_H,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    DEFAULT_TRAIN_DAYS,
    DEFAULT_WORKER_TIMEOUT_S,
)
from sor.core.domain import NANOS_PER_HOUR
from sor.core.errors import SorError
from sor.evaluation.cluster import dask_client, local_worker_limit, run_days
from sor.evaluation.days import discover
from sor.evaluation.report import RunRecord, build_evaluation
from sor.evaluation.tasks import DayOutcome, DaySpec, OrdersDay
from sor.static.backtest import BacktestConfig

if TYPE_CHECKING:
    from sor.data.arrivals import ArrivalLaw
    from sor.data.blotter import Blotter

log = logging.getLogger("sor")

DAY_SEED_RULE = (
    "each day draws its orders over its first to its last kept row, seeded by the first "
    "64-bit word of numpy.random.SeedSequence([seed, YYYYMMDD]).generate_state(1, uint64), "
    "the UTC date of the day's first kept row: the same seed draws a day's orders the same "
    "whatever the other days of the run and the workers"
)


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation runs: the backtest's settings and the evaluation's own."""

    config: BacktestConfig
    horizons_s: tuple[float, ...] | None = None
    ck_settings: CKSettings | None = None
    train_days: int = DEFAULT_TRAIN_DAYS
    seed: int = DEFAULT_SEED
    resamples: int = DEFAULT_RESAMPLES
    skip_bad_rows: bool = False
    max_ts_distance_ns: int = round(DEFAULT_MAX_TS_DISTANCE_H * NANOS_PER_HOUR)
    publisher: int | None = None
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    order_horizon_ns: int | None = None
    """Over a blotter: ns after its time an order without an end ends (None: with its day)."""
    arrivals: ArrivalLaw | None = None
    """The law each day draws its orders from (``--arrivals``), seeded from :attr:`seed`
    and the day's date (:func:`sor.evaluation.tasks.day_seed`); None: no draw."""

    def spec(self, index: int, source: str) -> DaySpec:
        """The task of the day file ``source``."""
        return DaySpec(
            index=index, source=source, config=self.config, horizons_s=self.horizons_s,
            ck_settings=self.ck_settings, skip_bad_rows=self.skip_bad_rows,
            max_ts_distance_ns=self.max_ts_distance_ns, publisher=self.publisher,
            read_timeout_s=self.read_timeout_s, max_download_bytes=self.max_download_bytes,
            order_horizon_ns=self.order_horizon_ns, arrivals=self.arrivals,
            arrivals_seed=self.seed,
        )  # fmt: skip

    def settings(self) -> RunRecord:
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
        return RunRecord(self.config, self.horizons_s, ck, self.train_days, self.seed,
                        self.resamples)  # fmt: skip


def evaluate(
    inputs: Sequence[str],
    evaluation: Evaluation,
    *,
    scheduler: str | None = None,
    workers: int | None = None,
    worker_timeout_s: float = DEFAULT_WORKER_TIMEOUT_S,
    quiet: bool = False,
    compile_kernels: Callable[[], object] | None = None,
    blotter: Blotter | None = None,
    on_drawn: Callable[[Blotter], object] | None = None,
) -> dict[str, Any]:
    """Evaluate the day files of ``inputs`` (paths, directories, globs or URLs) on the Dask
    cluster at ``scheduler``, else on a local cluster of ``workers`` processes; return the
    report object. ``compile_kernels`` readies this process and each worker
    (:func:`sor.evaluation.cluster.run_days`). With a ``blotter``, each day routes the
    blotter's orders that fall in it (:mod:`sor.evaluation.orders`); with
    ``evaluation.arrivals``, the orders each day draws, joined into one blotter
    (:func:`sor.evaluation.orders.drawn_blotter`) that ``on_drawn`` receives before the
    report is built.

    Raises
    ------
    SorError
        No day file, fewer days than ``train_days`` + 1, a day's input or an order at
        fault, or a cluster that cannot run the days
        (:func:`sor.evaluation.cluster.run_days`).
    """
    sources = discover(inputs, read_timeout_s=evaluation.read_timeout_s)
    if len(sources) <= evaluation.train_days:
        raise SorError(
            f"--train-days {evaluation.train_days} needs at least {evaluation.train_days + 1} "
            f"days to score one out of sample; {len(sources)} day file(s) given"
        )
    log.info("%d day files; %s", len(sources), f"scheduler {scheduler}" if scheduler
             else f"a local cluster of {workers or local_worker_limit()} worker(s)")  # fmt: skip
    # the tasks need the orders' times, sides, sizes and lines; the carried columns stay here
    orders = (
        None
        if blotter is None
        else dataclasses.replace(blotter, carried=blotter.carried.select([]))
    )
    specs = [evaluation.spec(k, source) for k, source in enumerate(sources)]
    read_timeout_s = evaluation.read_timeout_s
    with dask_client(scheduler, workers, read_timeout_s=read_timeout_s, quiet=quiet) as client:
        outcomes = run_days(client, specs, quiet=quiet, worker_timeout_s=worker_timeout_s,
                            read_timeout_s=read_timeout_s, compile_kernels=compile_kernels,
                            orders=orders)  # fmt: skip
    if blotter is not None or evaluation.arrivals is not None:
        from sor.evaluation.orders import build_orders_evaluation, drawn_blotter

        days = [o for o in outcomes if isinstance(o, OrdersDay)]
        if blotter is None:
            blotter, days = drawn_blotter(days)
            if on_drawn is not None:
                on_drawn(blotter)
        report = build_orders_evaluation(days, blotter, evaluation.settings(),
                                         skip_bad_rows=evaluation.skip_bad_rows)  # fmt: skip
        run = report["run"]
        horizon = evaluation.order_horizon_ns
        run["order_horizon_s"] = None if horizon is None else horizon / 1e9
        if evaluation.arrivals is not None:
            run["arrivals"] = {**evaluation.arrivals.as_dict(), "seed": evaluation.seed,
                               "day_seed": DAY_SEED_RULE}  # fmt: skip
        return report
    return build_evaluation([o for o in outcomes if isinstance(o, DayOutcome)],
                            evaluation.settings())  # fmt: skip
