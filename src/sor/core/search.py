"""The parameter search of docs/semantics.md section 7, run on every core.

The static router's replay kernels release the GIL, so its search runs on a thread pool
without copying the market anywhere. The ck router's runs are mostly Python and hold the
GIL; they run in worker processes forked from this one (Linux), which inherit the market
instead of receiving a copy, and send back only their results.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any, TypeVar

from sor.core.defaults import (
    DEFAULT_CK_LAMBDA_OVER,
    DEFAULT_CK_LAMBDA_UNDER,
    DEFAULT_CK_THETA_QUEUE,
    DEFAULT_LAMBDA_OVER,
    DEFAULT_LAMBDA_UNDER,
    DEFAULT_THETA_QUEUE,
)
from sor.core.domain import RiskParameters
from sor.core.errors import ConfigError

P = TypeVar("P")
T = TypeVar("T")


@dataclass(frozen=True)
class SearchGrid:
    """The three lists whose Cartesian product is searched, in the given order."""

    lambda_over: tuple[float, ...] = DEFAULT_LAMBDA_OVER
    lambda_under: tuple[float, ...] = DEFAULT_LAMBDA_UNDER
    theta_queue: tuple[float, ...] = DEFAULT_THETA_QUEUE

    def __post_init__(self) -> None:
        for name in ("lambda_over", "lambda_under", "theta_queue"):
            values = getattr(self, name)
            if not values:
                raise ConfigError(f"{name}: the search list is empty")
            if any(not isinstance(v, int | float) or v != v or v < 0 for v in values):
                raise ConfigError(f"{name}: values must be non-negative numbers, got {values}")

    @classmethod
    def of_model(
        cls,
        model: str,
        lambda_over: Sequence[float] | None = None,
        lambda_under: Sequence[float] | None = None,
        theta_queue: Sequence[float] | None = None,
    ) -> SearchGrid:
        """Return the grid of ``model`` (``static`` or ``ck``): each list given, else the
        model's default (model ck searches fewer, smaller penalties: docs/ck.md)."""
        ck = model == "ck"
        return cls(
            tuple(lambda_over or (DEFAULT_CK_LAMBDA_OVER if ck else DEFAULT_LAMBDA_OVER)),
            tuple(lambda_under or (DEFAULT_CK_LAMBDA_UNDER if ck else DEFAULT_LAMBDA_UNDER)),
            tuple(theta_queue or (DEFAULT_CK_THETA_QUEUE if ck else DEFAULT_THETA_QUEUE)),
        )

    def parameter_sets(self) -> list[RiskParameters]:
        """Return the Cartesian product, ``lambda_over`` varying slowest."""
        return [
            RiskParameters(float(o), float(u), float(t))
            for o, u, t in itertools.product(self.lambda_over, self.lambda_under, self.theta_queue)
        ]


def run_grid(
    evaluate: Callable[[P], T],
    points: Sequence[P],
    *,
    workers: int | None = None,
    on_done: Callable[[], None] | None = None,
    processes: bool = False,
) -> list[T]:
    """Evaluate every point on ``workers`` threads, or processes (default: all cores).

    Results come back in the order of ``points``; ``on_done`` is called in this thread once
    per finished point (for a progress bar). With ``processes``, the points run in worker
    processes forked from this one, which inherit ``evaluate`` and ``points`` (nothing is
    pickled but each point's index and result); where fork is not the norm (not Linux) they
    run on threads instead. The first point to fail stops the search and its exception is
    raised here, unchanged; so is a KeyboardInterrupt, once every worker has stopped.
    """
    count = min(workers or os.cpu_count() or 1, len(points))
    if count <= 1:
        results = []
        for point in points:
            results.append(evaluate(point))
            if on_done is not None:
                on_done()
        return results
    context = _fork_context() if processes else None
    if context is None:
        with ThreadPoolExecutor(max_workers=count) as threads:
            try:
                futures = [threads.submit(evaluate, point) for point in points]
                return _collect(futures, on_done)
            except BaseException:
                threads.shutdown(wait=True, cancel_futures=True)
                raise
    pool = ProcessPoolExecutor(
        max_workers=count,
        mp_context=context,
        initializer=_start_worker,
        initargs=(evaluate, points, os.getpid()),
    )
    try:
        futures = [pool.submit(_evaluate_forked, index) for index in range(len(points))]
        return _collect(futures, on_done)
    except BaseException:
        _stop_workers(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(futures: list[Future[T]], on_done: Callable[[], None] | None) -> list[T]:
    """Wait for every future, ticking ``on_done`` as each finishes; raise the first error."""
    for future in as_completed(futures):
        future.result()  # raises the point's exception
        if on_done is not None:
            on_done()
    return [future.result() for future in futures]


def _fork_context() -> BaseContext | None:
    """The fork start method on Linux; None elsewhere (fork is unsafe on macOS, absent on
    Windows, and spawn would have to pickle the whole market)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return multiprocessing.get_context("fork")
    except ValueError:
        return None


_forked: tuple[Callable[[Any], Any], Sequence[Any]] | None = None


def _start_worker(evaluate: Callable[[Any], Any], points: Sequence[Any], parent: int) -> None:
    """Set a forked worker up: keep what to evaluate, leave Ctrl-C to the parent (which
    stops its workers) and die with the parent if it is killed."""
    global _forked
    _forked = (evaluate, points)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _evaluate_forked(index: int) -> Any:
    assert _forked is not None, "called outside a forked search worker"
    evaluate, points = _forked
    return evaluate(points[index])


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Terminate the workers now rather than let them finish their points.

    The pool sees its workers die, fails what is pending and reaps them; the caller's
    ``shutdown(wait=True)`` then waits for that. (Python 3.14's ``terminate_workers`` does
    the same but lets ``shutdown`` return before the workers are reaped.)
    """
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()


TIE_RULE = "the earliest in grid order among the tied sets"
"""How the search breaks a tie at the best result, in words for the report."""


def tied_with(outcomes: Sequence[tuple[int, int]], best: int) -> tuple[int, ...]:
    """Return the indices of the sets whose ``(unfilled shares, total cash)`` equal the
    chosen set's, in grid order (the chosen one among them)."""
    return tuple(i for i, outcome in enumerate(outcomes) if outcome == outcomes[best])


def best_index(outcomes: Sequence[tuple[int, int]]) -> int:
    """Pick the best set from ``(unfilled shares, total cash in nano-dollars)`` per set.

    Fewest unfilled shares first, then least cash; ties go to the earliest set.
    """
    if not outcomes:
        raise ValueError("no parameter sets were evaluated")
    return min(range(len(outcomes)), key=lambda i: (outcomes[i][0], outcomes[i][1], i))
