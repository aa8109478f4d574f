"""sor.core.search.run_grid: results in input order, one tick per point, errors and Ctrl-C."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time

import pytest

from sor.core.errors import DataError
from sor.core.search import best_index, run_grid, tied_with
from sor.report.builder import tie_note

FORKS = sys.platform.startswith("linux")


def _slow_square(x: int) -> tuple[int, int]:
    time.sleep(0.01 * (x % 3))  # finish out of order
    return x * x, os.getpid()


@pytest.mark.parametrize("processes", [False, True])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_results_come_back_in_input_order_with_one_tick_per_point(
    processes: bool, workers: int
) -> None:
    ticks: list[str] = []
    results = run_grid(
        _slow_square, list(range(10)), workers=workers, processes=processes,
        on_done=lambda: ticks.append(threading.current_thread().name),
    )  # fmt: skip
    assert [r for r, _ in results] == [x * x for x in range(10)]
    assert ticks == [threading.main_thread().name] * 10
    in_parent = {pid for _, pid in results} == {os.getpid()}
    assert in_parent == (workers == 1 or not processes or not FORKS)
    assert multiprocessing.active_children() == []


def test_workers_inherit_unpicklable_state_and_an_empty_grid_is_empty() -> None:
    lock = threading.Lock()  # cannot be pickled: the workers must inherit it

    def evaluate(x: int) -> int:
        with lock:
            return x + 1

    assert run_grid(evaluate, [1, 2, 3], workers=2, processes=True) == [2, 3, 4]
    assert run_grid(evaluate, [], workers=2, processes=True) == []


@pytest.mark.parametrize("processes", [False, True])
def test_a_failing_point_raises_its_own_error_unchanged(processes: bool) -> None:
    def evaluate(x: int) -> int:
        if x == 3:
            raise DataError("bad price", path="m.csv", line=12, column="bid_px_00")
        time.sleep(0.01)
        return x

    with pytest.raises(DataError) as caught:
        run_grid(evaluate, list(range(8)), workers=2, processes=processes)
    assert str(caught.value) == "m.csv, line 12, column 'bid_px_00': bad price"
    assert caught.value.line == 12
    assert multiprocessing.active_children() == []


def test_an_interrupt_stops_every_worker_at_once() -> None:
    def evaluate(x: int) -> int:
        if x == 0:
            raise KeyboardInterrupt
        time.sleep(30)  # the workers are terminated, not waited for
        return x

    began = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        run_grid(evaluate, list(range(6)), workers=3, processes=True)
    assert time.perf_counter() - began < 10
    assert multiprocessing.active_children() == []


def test_the_sets_tied_with_the_chosen_one_are_counted() -> None:
    outcomes = [(0, 12), (0, 10), (5, 1), (0, 10), (0, 11), (0, 10)]
    best = best_index(outcomes)
    assert (best, tied_with(outcomes, best)) == (1, (1, 3, 5))
    assert tied_with([(0, 10)], 0) == (0,)
    assert tie_note((1, 3, 5), 6) == [
        "3 of 6 parameter sets tie at the best result (the same shares and cash): "
        "best_parameters is the earliest in grid order among the tied sets, not better than "
        "the others"
    ]
    assert tie_note((1,), 6) == [] and tie_note(tuple(range(6)), 6) == []
