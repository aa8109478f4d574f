"""Run the day tasks on Dask: a ``LocalCluster`` here, or an existing cluster's scheduler.

Tasks receive paths and settings and read their day themselves; results come back in the
order of the days given, whatever the number of workers or the order they finish in.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

from sor.core.errors import SorError
from sor.evaluate.tasks import DayFailure, DayOutcome, DaySpec, run_day

if TYPE_CHECKING:
    from distributed import Client, Future, Worker

RETRIES = 2
"""Times a task is run again after an unexpected exception (a fault of the input is no
exception: see :func:`sor.evaluate.tasks.run_day`). A task whose worker dies is run
again by the scheduler itself (``distributed.scheduler.allowed-failures``)."""
CONNECT_TIMEOUT_S = 10
PRE_SPAWN = "distributed.nanny.pre-spawn-environ"
"""Dask's settings of the environment a local worker process starts with."""
THREADS_PER_WORKER = 1
"""Tasks per worker process at a time, and the threads each task's CSV parser may use: a
task is one day, and the days, not the threads of one parse, are what runs in parallel
(Dask sets numpy's threads to one per worker the same way)."""


class CompileKernels(WorkerPlugin):
    """Ready a worker when it joins, before its first task: load the compiled kernels and
    import the modules a day task runs, once per worker."""

    name = "sor-compile-kernels"

    def setup(self, worker: Worker) -> None:
        """Compile (or load from numba's cache) every kernel in this worker process."""
        import sor.ck.backtest
        import sor.report.builder
        import sor.static.backtest  # noqa: F401  (imported for the first task's sake)
        from sor.core.kernels import ensure_compiled

        ensure_compiled()


@contextmanager
def dask_client(scheduler: str | None, workers: int | None) -> Iterator[Client]:
    """Connect to ``scheduler``, or start a ``LocalCluster`` of ``workers`` processes
    (default: one per core) of one thread each, and close it at the end.

    A local worker's CSV parser (polars) uses one thread too: ``POLARS_MAX_THREADS`` is
    in its environment from the start, before it imports anything (the parser reads it
    once, when imported), as Dask sets numpy's threads. Workers of an existing cluster are
    started by their owner, who sets the same (docs/evaluate.md).
    """
    import dask
    from distributed import Client, LocalCluster

    for name in ("distributed", "tornado", "bokeh"):  # their INFO lines would bury the bar
        logging.getLogger(name).setLevel(logging.WARNING)
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as exc:
            raise SorError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
        with client:
            yield client
        return
    one_thread = {f"{PRE_SPAWN}.POLARS_MAX_THREADS": str(THREADS_PER_WORKER)}
    with (
        _environment_kept("POLARS_MAX_THREADS"),  # Dask sets it here too, to spawn workers
        dask.config.set(one_thread),
        LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=THREADS_PER_WORKER,
            processes=True,
            dashboard_address=None,
            # no dashboard, but the scheduler still serves its health checks over HTTP: on
            # a free port of loopback, not on 8787, which another cluster may hold
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            host="127.0.0.1",
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@contextmanager
def _environment_kept(name: str) -> Iterator[None]:
    """Give the environment variable ``name`` back its value (or its absence) at the end."""
    before = os.environ.get(name)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def run_days(client: Client, specs: Sequence[DaySpec], *, quiet: bool) -> list[DayOutcome]:
    """Run one task per day on ``client``; return every outcome in the order of ``specs``.

    Raises
    ------
    SorError
        A day's input is at fault: its one-line message, naming the file.
    """
    from distributed import as_completed
    from tqdm import tqdm

    from sor.core.kernels import ensure_compiled

    ensure_compiled()  # here first: the workers then load the kernels from the cache
    client.register_plugin(CompileKernels())
    futures = client.map(run_day, list(specs), retries=RETRIES, pure=False)
    index = {future.key: k for k, future in enumerate(futures)}
    results: list[list[DayOutcome] | None] = [None] * len(futures)
    try:
        with tqdm(total=len(futures), desc="days", unit="day", file=sys.stderr,
                  disable=quiet, leave=False) as bar:  # fmt: skip
            for future in as_completed(futures):
                value = _result(future, specs[index[future.key]])
                if isinstance(value, DayFailure):
                    raise SorError(value.message)
                results[index[future.key]] = value
                bar.update()
    finally:
        client.cancel(futures)
    return [outcome for day in results if day is not None for outcome in day]


def _result(future: Future, spec: DaySpec) -> list[DayOutcome] | DayFailure:
    """The task's value; a day whose workers kept dying is a one-line error naming it."""
    from distributed import KilledWorker

    try:
        value: list[DayOutcome] | DayFailure = future.result()
    except KilledWorker:
        raise SorError(
            f"{spec.source}: every worker that ran this day died (out of memory?); the "
            "scheduler gave it up"
        ) from None
    return value
