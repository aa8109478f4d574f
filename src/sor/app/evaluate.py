"""The run of ``sor evaluate``: settings from flags, the configuration file and ``SOR_``
variables; the days found; the evaluation run on Dask; the report and figure written.

:class:`EvaluateSettings` resolves and checks the settings, :func:`find_days` lists the day
files, :func:`run` evaluates them (the cluster's handling stays in
:mod:`sor.evaluation.cluster`) and :func:`write` writes the outputs; none prints. A Python
caller needs nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sor.core.defaults import (
    DEFAULT_EVALUATION_FIGURE,
    DEFAULT_EVALUATION_REPORT,
    DEFAULT_WORKER_TIMEOUT_S,
)
from sor.core.errors import SorError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from sor.app.settings import EvaluateFlags
    from sor.data.blotter import Blotter
    from sor.evaluation.run import Evaluation

log = logging.getLogger("sor")


@dataclass(frozen=True)
class EvaluateSettings:
    """What one evaluation runs and where, every value already checked."""

    evaluation: Evaluation
    """The backtest's settings and the evaluation's own (walk-forward, bootstrap, reading)."""
    scheduler: str | None = None
    """The Dask scheduler of an existing cluster; None: a local cluster."""
    workers: int | None = None
    """Worker processes of the local cluster; None: one per core."""
    worker_timeout_s: float = DEFAULT_WORKER_TIMEOUT_S
    """Seconds to wait for a first worker, and for one again when every worker has left."""
    orders: Path | None = None
    """The blotter of parent orders (``--orders``), each routed on its day; None: one order
    a day, of the configuration's side and size."""
    orders_out: Path | None = None
    """Where ``--orders-out`` writes the blotter the days drew (``--arrivals``)."""

    @classmethod
    def from_flags(
        cls,
        flags: EvaluateFlags,
        *,
        config: Path | None = None,
        scheduler: str | None = None,
        skip_bad_rows: bool = False,
        publisher: int | None = None,
        orders: Path | None = None,
        orders_out: Path | None = None,
    ) -> EvaluateSettings:
        """Resolve the settings: each from its flag (of ``flags``, or ``scheduler``), else
        its ``SOR_`` variable, else the configuration file (``config``, else
        ``SOR_CONFIG``), else its default.

        Raises
        ------
        SorError
            The configuration file is unreadable or sets what ``sor evaluate`` cannot take
            (a window, both a scheduler and local workers), ``--workers`` comes with a
            scheduler or passes the cores, a ck-only setting comes with the static model,
            or a blotter (``orders``, ``--arrivals``) comes with a side or size of its own,
            or a blotter's flag without it.
        """
        from sor.app.config import BacktestOptions, source_options
        from sor.app.orders import check_orders_options
        from sor.app.settings import config_path, load_config, pick, pick_text
        from sor.evaluation.run import Evaluation

        config_file = config_path(config)
        file_config = load_config(config_file)
        if file_config.order.start is not None or file_config.order.end is not None:
            raise SorError(
                f"{config_file}: [order] start/end set one window; sor evaluate reads each "
                "day file whole"
            )
        # the backtest's settings resolve as sor backtest resolves them
        options = BacktestOptions.resolve(flags, file_config, config_file, orders=orders,
                                          orders_out=orders_out)  # fmt: skip
        check_orders_options(flags, options)
        source_options(None, publisher)  # checks the publisher's range
        if file_config.dask.scheduler is not None and file_config.dask.workers is not None:
            raise SorError(
                f"{config_file}: [dask] workers sizes a local cluster, [dask] scheduler names "
                "an existing one: keep one of them"
            )
        address = pick_text(scheduler, file_config.dask.scheduler, "SOR_DASK_SCHEDULER")
        if address is not None and flags.workers is not None:
            raise SorError("--workers sizes the local cluster; it goes without --scheduler")
        if address is None:
            from sor.evaluation.cluster import check_local_workers

            if flags.workers is not None:
                check_local_workers(flags.workers, "--workers")
            elif file_config.dask.workers is not None:
                check_local_workers(file_config.dask.workers, f"{config_file}: [dask] workers")
        ck = options.ck
        evaluation = Evaluation(
            config=options.run,
            horizons_s=ck.horizons if ck else None,
            ck_settings=ck.settings if ck else None,
            train_days=flags.train_days,
            seed=flags.seed,
            resamples=flags.resamples,
            skip_bad_rows=skip_bad_rows,
            max_ts_distance_ns=options.max_ts_distance_ns,
            publisher=publisher,
            read_timeout_s=flags.read_timeout,
            max_download_bytes=flags.max_download,
            order_horizon_ns=options.order_horizon_ns,
            arrivals=options.arrivals,
        )
        return cls(evaluation, address, pick(flags.workers, file_config.dask.workers),
                   flags.worker_timeout, orders, orders_out)  # fmt: skip


def find_days(inputs: Sequence[str], settings: EvaluateSettings) -> list[str]:
    """List the day files of ``inputs`` (files, directories, globs or fsspec URLs) in order.

    Raises
    ------
    SorError
        No input is given, or one cannot be listed (:func:`sor.evaluation.days.discover`).
    """
    from sor.evaluation.days import discover

    if not inputs:
        raise SorError("--data: give the day files (a directory, a glob or files)")
    return discover(inputs, read_timeout_s=settings.evaluation.read_timeout_s)


@dataclass(frozen=True)
class EvaluateOutputs:
    """Where ``sor evaluate`` writes: the report and the figure (None: not written)."""

    json_out: Path = Path(DEFAULT_EVALUATION_REPORT)
    plot: Path | None = Path(DEFAULT_EVALUATION_FIGURE)
    orders_out: Path | None = None

    def check(self, days: Sequence[str], orders: Path | None = None) -> None:
        """Raise ``SorError`` unless the report and the figure can be written where asked,
        in a format the figure's suffix names, apart from each other and from the drawn
        blotter's ``--orders-out``, from every local day file of ``days`` (and its LOBSTER
        orderbook) and from the blotter ``orders``."""
        from sor.app.runs import BacktestOptions
        from sor.data.lobster import input_files
        from sor.evaluation.days import is_url

        local = [Path(day.removeprefix("file://")) for day in days if not is_url(day)]
        files = [file for day in local for file in input_files(day)]
        BacktestOptions(json_out=self.json_out, plot=self.plot,
                        orders_out=self.orders_out).check_outputs([*files, orders])  # fmt: skip


@dataclass(frozen=True)
class EvaluateResult:
    """An evaluation: the report, each day's figures and the summary across days."""

    report: dict[str, Any]
    """The JSON report, as ``sor evaluate`` writes it to ``--json-out``."""
    drawn: Blotter | None = None
    """The orders the days drew (``--arrivals``), as ``--orders-out`` writes them."""

    @property
    def summary(self) -> dict[str, Any]:
        """The summary across days, as ``sor evaluate`` prints it."""
        summary: dict[str, Any] = self.report["summary"]
        return summary

    def text(self) -> str:
        """Return the report as the JSON text of ``--json-out``."""
        from sor.report.builder import dumps

        return dumps(self.report)

    def figure(self) -> Figure:
        """Draw the evaluation's figure."""
        from sor.evaluation.figures import evaluation_figure

        return evaluation_figure(self.report)

    def write_plot(self, path: str | Path) -> Path:
        """Draw the figure into ``path`` (format from the suffix, PNG without); return it."""
        from sor.evaluation.figures import write_evaluation_plot

        return write_evaluation_plot(self.report, path)


def run(days: Sequence[str], settings: EvaluateSettings, *, quiet: bool = False) -> EvaluateResult:
    """Evaluate the day files ``days`` on the settings' cluster; a bar on stderr counts the
    days unless ``quiet``.

    Raises
    ------
    SorError
        Fewer days than the training window needs, a day's input or the blotter at fault,
        or a cluster that cannot run the days (:func:`sor.evaluation.run.evaluate`).
    """
    from sor.app.compile import day_kernels
    from sor.app.config import source_options
    from sor.evaluation.run import evaluate

    blotter = None
    if settings.orders is not None:
        from sor.data.blotter import read_blotter

        blotter = read_blotter(settings.orders)  # a bad blotter is told before any day is read
    evaluation = settings.evaluation
    kernels = day_kernels(days, evaluation.config.model,
                          source_options(None, evaluation.publisher))  # fmt: skip
    drawn: list[Blotter] = []
    report = evaluate(
        days, evaluation, scheduler=settings.scheduler, workers=settings.workers,
        worker_timeout_s=settings.worker_timeout_s, quiet=quiet, compile_kernels=kernels,
        blotter=blotter, on_drawn=drawn.append,
    )  # fmt: skip
    if drawn:  # where the drawn orders are kept, as sor backtest --arrivals says it
        orders_out = settings.orders_out
        report["run"]["orders_file"] = None if orders_out is None else str(orders_out)
    return EvaluateResult(report, drawn[0] if drawn else None)


def write(result: EvaluateResult, outputs: EvaluateOutputs) -> None:
    """Write the report, (unless ``outputs.plot`` is None) the figure and (with
    ``--arrivals``) the drawn blotter to ``outputs.orders_out``, each atomically."""
    from sor.app.runs import write_atomically

    text = result.text()
    write_atomically(outputs.json_out, "--json-out", lambda p: p.write_text(text, encoding="utf-8"))
    log.info("wrote %s", outputs.json_out)
    if outputs.plot is not None:
        write_atomically(outputs.plot, "--plot", result.write_plot, suffix=".png")
        log.info("wrote %s", outputs.plot)
    if outputs.orders_out is not None and result.drawn is not None:
        write_atomically(outputs.orders_out, "--orders-out", result.drawn.table().write_csv)
        log.info("wrote %s", outputs.orders_out)
