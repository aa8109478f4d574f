"""sor evaluate on Dask: 20 generated days, static (125-point grid) and ck (its default
grid and horizons).

For each model, in the same run: the same per-day tasks in one plain loop in a fresh
process, in a worker's environment (one parser thread, and Dask's settings for its
workers' processes: the baseline) and in this one's (the parser on every core, for
comparison), then the whole evaluation (cluster start, tasks, report) on a local
cluster of 1 worker and of 2 workers. Prints the wall times, the speed-up of 2 workers over
1 (goal: >= 1.7x; bounded by the free cores), the overhead of 1 worker against the plain
loop on one thread (goal: < 10 %), and each worker's peak resident memory (goal: bounded
by one day's data). Static days are full-size generated days (nine minutes, six venues, MBP-10); ck days
are shorter (``--ck-minutes``), as its router runs in Python.
Run: ``python benchmarks/bench_evaluate.py [--days 20] [--ck-minutes 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from sor.app.compile import compile_groups
from sor.ck.backtest import DEFAULT_CK_GRID
from sor.ck.router import CKSettings
from sor.core.defaults import DEFAULT_HORIZONS_S
from sor.core.timestamps import format_timestamp, parse_timestamp
from sor.data.generate import generate_market
from sor.evaluation.cluster import THREADS_PER_WORKER, dask_client, run_days
from sor.evaluation.report import build_evaluation
from sor.evaluation.run import Evaluation
from sor.evaluation.tasks import parameter_sets, run_day
from sor.report.builder import dumps
from sor.static.backtest import BacktestConfig

KERNELS = ("read", "static", "ck")
"""The kernel groups the day tasks of either model run."""

DAY_NS = 86_400 * 10**9


def _days(folder: Path, count: int, minutes: float, venues: int) -> list[str]:
    """Generate ``count`` days, one seed and one date each."""
    first = parse_timestamp("2024-08-01T13:36:32Z")
    paths = []
    for day in range(count):
        start = first + day * DAY_NS
        path = folder / f"day{day:02d}.csv"
        generate_market(path, venues=venues, seed=100 + day, start=format_timestamp(start),
                        end=format_timestamp(start + round(minutes * 60e9)))  # fmt: skip
        paths.append(str(path))
    return paths


def _peak_rss_mb() -> float:
    """This process's peak resident memory, MB: VmHWM, which a new program starts afresh
    (``ru_maxrss`` would count the parent's peak at the time it forked the worker)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _on_cluster(evaluation: Evaluation, sources: list[str], workers: int) -> tuple[float, list]:
    began = time.perf_counter()
    with dask_client(None, workers) as client:
        outcomes = run_days(client, [evaluation.spec(k, s) for k, s in enumerate(sources)],
                            quiet=True, compile_kernels=partial(compile_groups, KERNELS))  # fmt: skip
        dumps(build_evaluation(outcomes, evaluation.settings()))
        peaks = sorted(client.run(_peak_rss_mb).values())
    return time.perf_counter() - began, peaks


def _loop(evaluation: Evaluation, sources: list[str], *, report: bool = True) -> float:
    """Run every day's task in one plain loop here (and the report, unless ``report`` is
    false); return the seconds."""
    began = time.perf_counter()
    outcomes = [o for k, s in enumerate(sources) for o in run_day(evaluation.spec(k, s))]  # type: ignore[union-attr]
    if report:
        dumps(build_evaluation(outcomes, evaluation.settings()))
    return time.perf_counter() - began


def _loop_command(model: str, sources: list[str], *, as_worker: bool) -> tuple[list, dict]:
    """The command and environment of a plain loop in a fresh process, in a worker's
    environment (Dask's own settings for its workers' processes and one parser thread) or
    in this one's (every core)."""
    import dask

    env = {key: value for key, value in os.environ.items() if key != "POLARS_MAX_THREADS"}
    if as_worker:
        spawn = dask.config.get("distributed.nanny.pre-spawn-environ", {})
        env.update({key: str(value) for key, value in spawn.items()})
        env["POLARS_MAX_THREADS"] = str(THREADS_PER_WORKER)
    return [sys.executable, __file__, "--loop", model, *sources], env


def _loop_elsewhere(model: str, sources: list[str], *, as_worker: bool) -> tuple[float, float]:
    """Run the plain loop in a fresh process (:func:`_loop_command`); return its seconds and
    its peak resident memory (MB)."""
    command, env = _loop_command(model, sources, as_worker=as_worker)
    child = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    figures = json.loads(child.stdout.strip().splitlines()[-1])
    return figures["seconds"], figures["peak_mb"]


def _side_by_side(model: str, sources: list[str]) -> tuple[float, float]:
    """What two cores give without Dask: the day tasks alone in one worker-like process,
    then split between two such processes running at once; return both wall times (s),
    process start included."""
    one = [_loop_command(f"{model}:tasks", sources, as_worker=True)]
    two = [_loop_command(f"{model}:tasks", sources[k::2], as_worker=True) for k in (0, 1)]
    walls = []
    for runs in (one, two):
        began = time.perf_counter()
        children = [subprocess.Popen(c, env=e, stdout=subprocess.DEVNULL) for c, e in runs]
        if any(child.wait() for child in children):
            raise RuntimeError("a plain loop failed")
        walls.append(time.perf_counter() - began)
    return walls[0], walls[1]


def bench(name: str, evaluation: Evaluation, sources: list[str]) -> dict[str, float]:
    """Time the plain loops and the evaluation on 1 and 2 workers; print the figures."""
    loop_s, loop_peak = _loop_elsewhere(name, sources, as_worker=True)
    every_core_s, _ = _loop_elsewhere(name, sources, as_worker=False)
    one_s, one_peak = _on_cluster(evaluation, sources, 1)
    two_s, two_peaks = _on_cluster(evaluation, sources, 2)
    alone_s, paired_s = _side_by_side(name, sources)
    sets = len(parameter_sets(evaluation.config, evaluation.horizons_s))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{name}: {len(sources)} days x {sets} parameter sets (load average now: {load}; "
          f"{os.cpu_count()} cores)")  # fmt: skip
    print(f"  plain loop, as a worker runs         {loop_s:8.2f} s  (one parser thread, Dask's "
          "worker environment)")  # fmt: skip
    print(f"  plain loop, parser on every core     {every_core_s:8.2f} s")
    print(f"  evaluate, 1 worker                   {one_s:8.2f} s  overhead "
          f"{(one_s / loop_s - 1) * 100:+.1f} % (goal: < 10 %)")  # fmt: skip
    print(f"  evaluate, 2 workers                  {two_s:8.2f} s  speed-up "
          f"{one_s / two_s:.2f}x (goal: >= 1.7x); {every_core_s / two_s:.2f}x the plain "
          "loop on every core")  # fmt: skip
    print(f"  this machine's ceiling: the day tasks in one plain process {alone_s:.2f} s, split "
          f"between two at once {paired_s:.2f} s: {alone_s / paired_s:.2f}x")  # fmt: skip
    print(f"  peak RSS, plain loop                 {loop_peak:8.0f} MB")
    print(f"  peak RSS per worker, 1 worker        {one_peak[0]:8.0f} MB")
    print(f"  peak RSS per worker, 2 workers       "
          f"{', '.join(f'{p:.0f}' for p in two_peaks)} MB")  # fmt: skip
    return {"loop_s": loop_s, "one_s": one_s, "two_s": two_s}


def _evaluation(model: str) -> Evaluation:
    if model == "static":
        return Evaluation(BacktestConfig(), train_days=5)
    return Evaluation(BacktestConfig(model="ck", grid=DEFAULT_CK_GRID),
                      horizons_s=DEFAULT_HORIZONS_S, ck_settings=CKSettings(), train_days=5)  # fmt: skip


def main(days: int = 20, ck_minutes: float = 2.0) -> None:
    compile_groups(KERNELS)
    with tempfile.TemporaryDirectory(prefix="sor-bench-evaluate-") as folder:
        Path(folder, "static").mkdir()
        static_days = _days(Path(folder) / "static", days, 9, 6)
        size = Path(static_days[0]).stat().st_size / 1e6
        print(f"static days: 9 minutes, 6 venues, MBP-10, {size:.0f} MB each")
        bench("static", _evaluation("static"), static_days)
        Path(folder, "ck").mkdir()
        ck_days = _days(Path(folder) / "ck", days, ck_minutes, 6)
        size = Path(ck_days[0]).stat().st_size / 1e6
        print(f"ck days: {ck_minutes:g} minutes, 6 venues, MBP-10, {size:.0f} MB each")
        bench("ck", _evaluation("ck"), ck_days)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--ck-minutes", type=float, default=2.0)
    parser.add_argument("--loop", nargs="+", metavar=("MODEL", "DAY"),
                        help="internal: run the plain loop of MODEL over the DAY files")  # fmt: skip
    arguments = parser.parse_args()
    if arguments.loop:
        compile_groups(KERNELS)
        model, _, tasks = arguments.loop[0].partition(":")
        seconds = _loop(_evaluation(model), arguments.loop[1:], report=not tasks)
        print(json.dumps({"seconds": seconds, "peak_mb": _peak_rss_mb()}))
    else:
        main(arguments.days, arguments.ck_minutes)
