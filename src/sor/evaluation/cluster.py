"""Run the day tasks on Dask: a ``LocalCluster`` here, or an existing cluster's scheduler.

Tasks receive paths and settings and read their day themselves; results come back in the
order of the days given, whatever the number of workers or the order they finish in. Every
wait on the cluster has a deadline: the scheduler's answer (``--read-timeout``), a first
worker, and a worker again when all have left (``--worker-timeout``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import CancelledError
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from distributed.diagnostics.plugin import WorkerPlugin

from sor.core.defaults import DEFAULT_READ_TIMEOUT_S, DEFAULT_WORKER_TIMEOUT_S
from sor.core.errors import SorError
from sor.evaluation.tasks import DayFailure, DaySpec, Outcome, hold, run_day

if TYPE_CHECKING:
    from distributed import Client, Future, Worker

    from sor.data.blotter import Blotter

RETRIES = 2
"""Times a task is run again after an unexpected exception (a fault of the input is no
exception: see :func:`sor.evaluation.tasks.run_day`). A task whose worker dies is run
again by the scheduler itself (``distributed.scheduler.allowed-failures``)."""
"""Seconds to wait for a first worker, and for a worker again when every one has left
mid-run, before giving up (``--worker-timeout``)."""
POLL_S = 0.5
"""Seconds between two looks at the cluster while no day finishes."""
PRE_SPAWN = "distributed.nanny.pre-spawn-environ"
"""Dask's settings of the environment a local worker process starts with."""
THREADS_PER_WORKER = 1
"""Tasks per worker process at a time, and the threads each task's CSV parser may use: a
task is one day, and the days, not the threads of one parse, are what runs in parallel
(Dask sets numpy's threads to one per worker the same way)."""
DASK_LOGGERS = ("distributed", "tornado", "bokeh")


def local_worker_limit() -> int:
    """The most worker processes of a local cluster: the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_local_workers(workers: int, name: str) -> None:
    """Refuse more local workers than :func:`local_worker_limit`, ``name`` saying where the
    number comes from: each is a process of its own, holding one day in memory."""
    cores = local_worker_limit()
    if workers > cores:
        raise SorError(
            f"{name} {workers}: a local cluster has at most {cores} workers, one per core "
            "of this machine; give fewer, or --scheduler for a larger cluster"
        )


def dask_setup(worker: Worker) -> None:
    """Ready a local worker process as Dask starts it (this module is its preload): leave
    Ctrl-C to the process that started the cluster, which stops its workers itself. A
    terminal sends the signal to every process of the group, and each worker would print
    its own traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class CompileKernels(WorkerPlugin):
    """Ready a worker when it joins, before its first task: import the modules a day task
    runs and load the compiled kernels, once per worker."""

    name = "sor-compile-kernels"

    def __init__(self, compile_kernels: Callable[[], object]) -> None:
        self.compile_kernels = compile_kernels

    def setup(self, worker: Worker) -> None:
        """Compile (or load from numba's cache) the day tasks' kernels in this process."""
        import sor.ck.backtest
        import sor.report.builder
        import sor.static.backtest  # noqa: F401  (imported for the first task's sake)

        self.compile_kernels()


@contextmanager
def dask_client(
    scheduler: str | None,
    workers: int | None,
    *,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    quiet: bool = False,
) -> Iterator[Client]:
    """Connect to ``scheduler``, or start a ``LocalCluster`` of ``workers`` processes
    (default: one per core) of one thread each, and close it at the end.

    A scheduler must answer as one within ``read_timeout_s`` seconds. A local cluster keeps
    everything it writes, its workers' copies of URLs included, in one temporary folder,
    removed at the end whatever ends the run (an error, Ctrl-C, SIGTERM turned into
    ``KeyboardInterrupt``). A local worker's CSV parser (polars) uses one thread:
    ``POLARS_MAX_THREADS`` is in its environment from the start, before it imports anything
    (the parser reads it once, when imported), as Dask sets numpy's threads. Workers of an
    existing cluster are started by their owner, who sets the same (docs/evaluate.md).

    Raises
    ------
    SorError
        ``scheduler`` cannot be reached, does not answer, or is no Dask scheduler;
        ``workers`` is more than :func:`local_worker_limit`.
    """
    import dask
    from distributed import Client, LocalCluster

    _quiet_dask(quiet)
    if scheduler is not None:
        _check_scheduler(scheduler, read_timeout_s)
        try:
            client = Client(scheduler, timeout=read_timeout_s)
        except (OSError, ValueError) as exc:
            raise SorError(f"--scheduler {scheduler}: cannot connect: {exc}") from None
        with _silent_teardown() as silence, client, silence():
            yield client
        return
    if workers is not None:
        check_local_workers(workers, "--workers")
    with (
        _silent_teardown() as silence,
        # removed after the cluster, once its workers are gone
        tempfile.TemporaryDirectory(prefix="sor-evaluate-", ignore_cleanup_errors=True) as scratch,
    ):
        one_thread = {f"{PRE_SPAWN}.POLARS_MAX_THREADS": str(THREADS_PER_WORKER)}
        with (
            _environment_kept("POLARS_MAX_THREADS"),  # Dask sets it here too, to spawn workers
            # the scheduler's and workers' folders in the run's folder too
            dask.config.set(one_thread, temporary_directory=scratch),
        ):
            with _hangup_ignored_by_children():  # the processes start here
                cluster = LocalCluster(
                    n_workers=workers or local_worker_limit(),
                    threads_per_worker=THREADS_PER_WORKER,
                    processes=True,
                    dashboard_address=None,
                    # no dashboard, but the scheduler still serves its health checks over
                    # HTTP: on a free port of loopback, not on 8787, which another cluster
                    # may hold
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                    host="127.0.0.1",
                    # a worker's errors come back with its tasks; its logs, written past
                    # ours to the terminal, would only be noise (a closing cluster's
                    # heartbeats)
                    silence_logs=logging.CRITICAL,
                    preload=[__name__],
                    # the workers' copies of URLs (Dask's own order puts a TMPDIR set here
                    # before the shell's, unlike one in its pre-spawn settings)
                    env={"TMPDIR": scratch},
                )
            with cluster, Client(cluster) as client, silence():
                yield client


@contextmanager
def _hangup_ignored_by_children() -> Iterator[None]:
    """Start the block's processes (the local workers, multiprocessing's resource tracker)
    ignoring SIGHUP, which they keep: a hangup reaches every process of the terminal's
    group, and this process, not each of them with its own traceback, ends the run. Its
    own handler is back once they have started."""
    import multiprocessing.resource_tracker

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        multiprocessing.resource_tracker.ensure_running()
        yield
    finally:
        signal.signal(signal.SIGHUP, previous)


def _quiet_dask(quiet: bool) -> None:
    """Keep Dask's INFO lines from burying the progress bar; with ``quiet``, its warnings
    too, from every one of its loggers (Dask sets some levels of its own, below ours)."""
    for name in DASK_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.WARNING)
    if quiet:
        for name in list(logging.root.manager.loggerDict):
            if name.split(".")[0] in DASK_LOGGERS:
                logger = logging.getLogger(name)
                logger.setLevel(max(logger.level, logging.ERROR))


def _check_scheduler(address: str, timeout_s: float) -> None:
    """Make sure a Dask scheduler answers at ``address`` within ``timeout_s`` seconds (Dask
    waits without end for a handshake: an HTTP server or a silent listener would hold
    the run).

    Raises
    ------
    SorError
        The scheme has no transport here, nothing answers in time, or what answers is
        not a Dask scheduler.
    """
    import asyncio

    from distributed.comm import CommClosedError, parse_address
    from distributed.comm.registry import get_backend

    where = f"--scheduler {address}"
    try:
        scheme, _ = parse_address(address)
        get_backend(scheme).get_connector()
    except (ValueError, TypeError, ImportError):  # ucx://: Dask's UCX transport is gone
        raise SorError(
            f"{where}: this installation cannot connect over {address.split('://')[0]}://; "
            "give a tcp://HOST:PORT address"
        ) from None
    try:
        identity = asyncio.run(asyncio.wait_for(_identity(address, timeout_s), timeout_s))
    except CommClosedError:  # it took the connection, then closed it
        raise SorError(f"{where}: what answers there is not a Dask scheduler") from None
    except OSError:  # refused, unreachable or silent until the deadline (TimeoutError)
        raise SorError(
            f"{where}: no Dask scheduler answered within {timeout_s:g} s (--read-timeout)"
        ) from None
    except Exception:  # bytes that are not Dask's protocol fail in any way (MemoryError...)
        raise SorError(f"{where}: what answers there is not a Dask scheduler") from None
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        named = f"a Dask {kind.lower()}" if isinstance(kind, str) else "no Dask scheduler"
        raise SorError(f"{where}: this is {named}, not a scheduler")


async def _identity(address: str, timeout_s: float) -> Any:
    """What the server at ``address`` says it is (Dask's ``identity`` call)."""
    from distributed.comm import connect
    from distributed.security import Security

    comm = await connect(address, timeout=timeout_s, **Security().get_connection_args("client"))
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


class _UnretrievedShutdown(logging.Filter):
    """Drop asyncio's "Task exception was never retrieved" for a Dask client's own shutdown
    signal (``AllExit``): a wait the closing client abandoned, reported when the task is
    collected, which may come after the teardown's silence has ended."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "AllExit"


logging.getLogger("asyncio").addFilter(_UnretrievedShutdown())


@contextmanager
def _silent_teardown() -> Iterator[Callable[[], AbstractContextManager[None]]]:
    """Give a context, to enter innermost, that silences every log while the cluster closes
    after an error or an interrupt, until the end of this one: the one line that says why
    the run ended is the line to read. (Workers still busy would add "still alive,
    killing", a lost scheduler "failed to reconnect" and its traceback; Dask's loggers do
    not all inherit one level, and some asyncio's.)"""
    silenced = False

    @contextmanager
    def silence() -> Iterator[None]:
        nonlocal silenced
        try:
            yield
        except BaseException:
            logging.disable(logging.CRITICAL)
            silenced = True
            raise

    try:
        yield silence
    finally:
        if silenced:
            logging.disable(logging.NOTSET)


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


def run_days(
    client: Client,
    specs: Sequence[DaySpec],
    *,
    quiet: bool,
    worker_timeout_s: float = DEFAULT_WORKER_TIMEOUT_S,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    compile_kernels: Callable[[], object] | None = None,
    orders: Blotter | None = None,
) -> list[Outcome]:
    """Run one task per day on ``client``; return every outcome in the order of ``specs``.
    ``compile_kernels`` compiles the day tasks' kernels: here first, then on each worker
    as it joins (which loads them from numba's cache where it shares this machine's).
    ``orders`` (a blotter without its carried columns) goes to every day's task.

    Raises
    ------
    SorError
        A day's input is at fault: its one-line message, naming the file. No worker joins
        within ``worker_timeout_s`` seconds, or every worker leaves mid-run and none comes
        back within as long; the scheduler is lost, or does not answer within
        ``read_timeout_s`` seconds.
    """
    from distributed import wait
    from tqdm import tqdm

    if compile_kernels is not None:
        compile_kernels()  # here first: the workers then load the kernels from the cache
    watch = _Watch(client, worker_timeout_s, read_timeout_s)
    watch.first_worker()
    if compile_kernels is not None:
        client.register_plugin(CompileKernels(compile_kernels))
    held: list[Future] = []
    if orders is None:
        futures = client.map(run_day, list(specs), retries=RETRIES, pure=False)
    else:
        # the blotter goes to the cluster once (not once per day), as a task the scheduler
        # runs again should the worker holding it leave; every day's task takes it
        held = [client.submit(hold, orders, pure=False)]
        futures = client.map(run_day, list(specs), orders=held[0], retries=RETRIES, pure=False)
    index = {future.key: k for k, future in enumerate(futures)}
    results: list[list[Outcome] | None] = [None] * len(futures)
    pending = set(futures)
    try:
        with tqdm(total=len(futures), desc="days", unit="day", file=sys.stderr,
                  disable=quiet, leave=False) as bar:  # fmt: skip
            while pending:
                try:
                    done, pending = wait(pending, timeout=POLL_S, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    watch.check(days_left=len(pending))
                    continue
                except CancelledError:  # the client cancels every task when it loses the scheduler
                    raise _lost(watch.where) from None
                for future in sorted(done, key=lambda f: index[f.key]):
                    value = _result(future, specs[index[future.key]], watch)
                    if value is None:  # its worker left with it: to be run again
                        pending.add(future)
                    elif isinstance(value, DayFailure):
                        raise SorError(value.message)
                    else:
                        results[index[future.key]] = value
                        bar.update()
    finally:
        if client.status == "running":
            client.cancel([*futures, *held])
    return [outcome for day in results if day is not None for outcome in day]


class _Watch:
    """The deadlines of a run on ``client``: a first worker, a worker again when every one
    has left, the scheduler's answers."""

    def __init__(self, client: Client, worker_timeout_s: float, read_timeout_s: float) -> None:
        self.client = client
        self.worker_timeout_s = worker_timeout_s
        self.read_timeout_s = read_timeout_s
        self.where = f"the scheduler {client.scheduler.address}"
        self.alone_since: float | None = None

    def first_worker(self) -> None:
        """Wait for a worker to join; raise ``SorError`` when none does in time."""
        try:
            self.client.wait_for_workers(1, timeout=self.worker_timeout_s)
        except TimeoutError:
            raise SorError(
                f"no Dask worker joined {self.where} within {self.worker_timeout_s:g} s "
                "(--worker-timeout): start workers with `dask worker ADDRESS`, or give "
                "them longer"
            ) from None

    def workers(self) -> int:
        """The number of workers the scheduler has now (raise ``SorError`` as
        :meth:`check` does when it is lost or silent)."""
        if self.client.status != "running":
            raise _lost(self.where)
        try:
            cores = self.client.sync(
                self.client.scheduler.ncores, callback_timeout=self.read_timeout_s
            )
        except TimeoutError:
            raise SorError(
                f"{self.where} did not answer within {self.read_timeout_s:g} s (--read-timeout)"
            ) from None
        except OSError:
            raise _lost(self.where) from None
        return len(cores)

    def check(self, *, days_left: int) -> None:
        """Raise ``SorError`` when the scheduler is lost or silent, or the cluster has had
        no worker for ``worker_timeout_s`` seconds (its tasks would wait forever)."""
        workers = self.workers()
        now = time.monotonic()
        if workers:
            self.alone_since = None
        elif self.alone_since is None:
            self.alone_since = now
        elif now - self.alone_since >= self.worker_timeout_s:
            raise SorError(
                f"every Dask worker left {self.where} and none came back within "
                f"{self.worker_timeout_s:g} s (--worker-timeout); {days_left} day(s) were "
                "not done"
            )


def _lost(where: str) -> SorError:
    return SorError(f"lost the connection to {where} mid-run (did it stop?)")


def _result(future: Future, spec: DaySpec, watch: _Watch) -> list[Outcome] | DayFailure | None:
    """The value of a task done; None when the worker that held it left before it was
    fetched (the scheduler runs the task again). A day whose workers kept dying is a
    one-line error naming it; a task cancelled by a lost scheduler, one saying so."""
    from distributed import KilledWorker

    if future.status == "cancelled":  # as above
        raise _lost(watch.where)
    try:
        value: list[Outcome] | DayFailure = future.result(timeout=watch.read_timeout_s)
    except KilledWorker:
        raise SorError(
            f"{spec.source}: every worker that ran this day died (out of memory?); the "
            "scheduler gave it up"
        ) from None
    except TimeoutError:  # fetching it waits for the task to be run again: wait in the loop
        if future.status in ("pending", "lost") or not watch.workers():
            return None  # its worker left holding it (the watch bounds a wait for another)
        raise SorError(
            f"{spec.source}: its result could not be fetched from {watch.where} within "
            f"{watch.read_timeout_s:g} s (--read-timeout)"
        ) from None
    except OSError:
        if future.status == "error":  # the task's own exception, after its retries
            raise
        raise _lost(watch.where) from None  # the result could not be fetched
    return value
