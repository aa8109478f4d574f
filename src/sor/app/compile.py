"""Compile the numba kernels a command runs, once per installation, and say so.

The kernels are compiled on their first call and cached on disk by numba
(``cache=True``). Left to themselves, a first run would sit silent for seconds while its
progress bar promised minutes, and a ck search would compile the same kernels again in
each of its forked workers. So each command names the groups of kernels it runs
(:data:`GROUPS`, by what uses them) and :func:`compiling` compiles those that this
installation has not compiled yet: it says so on one line with the usual time, warms the
model's groups in a thread while the command reads its input (which compiles the
reader's), and waits for them before the model starts. A stamp beside numba's cache marks
each group done.

``python -m sor.app.compile`` compiles every group (the Makefile's install step); ``python
-m sor.app.compile static ck`` the groups named.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numba

import sor

if TYPE_CHECKING:
    import numpy as np

    from sor.core.market import MarketData
    from sor.core.search import SearchGrid
    from sor.data.orderlevel import SourceOptions
    from sor.static.replay import MarketArrays

log = logging.getLogger("sor")


@dataclass(frozen=True)
class KernelGroup:
    """Kernels that one use runs together.

    Attributes
    ----------
    label
        What the kernels serve, for the line that announces their compilation.
    modules
        The modules holding the kernels, relative to the package: their text keys the
        group's stamp.
    seconds
        How long compiling the group alone usually takes, seconds (measured on the
        project's two-core machine; ``benchmarks/bench_first_run.py`` prints each group's).
    warm
        Runs each kernel of the group on a tiny input, which compiles it (or loads it from
        numba's cache).
    """

    label: str
    modules: tuple[str, ...]
    seconds: float
    warm: Callable[[], None]


_T0 = 1_722_519_392_000_000_000
"""2024-08-01T13:36:32Z, the generated market's start: the tiny inputs' first time (ns)."""
_CENT = 10_000_000
"""One cent in nano-dollars."""


def _tiny_events() -> np.ndarray:
    """Two venues' MBP-10 books over six seconds, a row every 50 ms, every fifth row a
    trade (at the bid or the ask in turn), the mid moving a cent a second: enough for
    every pass of either model and of the fill study to run."""
    import numpy as np

    from sor.data.events import EVENT_DTYPE, F_LAST, LEVELS

    k = np.arange(120)
    events = np.zeros(len(k), EVENT_DTYPE)
    events["ts_event"] = _T0 + k * 50_000_000
    events["publisher_id"] = np.where(k % 2 == 0, 2, 9)
    trade = k % 5 == 4
    events["action"] = np.where(trade, b"T", b"A")
    events["side"] = np.where(trade, np.where(k % 10 == 4, b"A", b"B"),
                              np.where(k % 2 == 0, b"B", b"A"))  # fmt: skip
    events["flags"] = F_LAST
    bid = 100_000_000_000 + ((k // 20) % 3) * _CENT
    step = np.arange(LEVELS) * _CENT
    events["bid_px"] = bid[:, None] - step
    events["ask_px"] = bid[:, None] + _CENT + step
    events["bid_sz"] = 100 * (1 + (k[:, None] + np.arange(LEVELS)) % 5)
    events["ask_sz"] = 100 * (1 + (k[:, None] + 2 + np.arange(LEVELS)) % 5)
    events["price"] = np.where(events["side"] == b"B", bid, bid + _CENT)
    events["size"] = 100
    return events


def _tiny_market(events: np.ndarray) -> MarketData:
    """The snapshots of ``events`` (each row has a time of its own: every row is one)."""
    import numpy as np

    from sor.core.domain import SNAPSHOT_DTYPE
    from sor.core.market import MarketData

    snapshots = np.zeros(len(events), SNAPSHOT_DTYPE)
    snapshots["ts_event"] = events["ts_event"]
    snapshots["publisher_id"] = events["publisher_id"]
    for name in ("ask_px", "ask_sz", "bid_px", "bid_sz"):
        snapshots[name] = events[name][:, 0]
    return MarketData(snapshots, source="tiny")


def _one_point() -> SearchGrid:
    """A search of one parameter set."""
    from sor.core.search import SearchGrid

    return SearchGrid((0.05,), (0.05,), (0.005,))


def _write_tiny_csv(path: Path) -> Path:
    """Write the first rows of the tiny market as a Databento MBP-1 CSV."""
    header = ("ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,"
              "flags,ts_in_delta,sequence,bid_px_00,ask_px_00,bid_sz_00,ask_sz_00,bid_ct_00,"
              "ask_ct_00,symbol")  # fmt: skip
    lines = [header]
    for k, row in enumerate(_tiny_events()[:20]):
        ts = int(row["ts_event"])
        lines.append(
            f"{ts},{ts},1,{row['publisher_id']},38,{row['action'].decode()},"
            f"{row['side'].decode()},0,{row['price'] / 1e9:.2f},{row['size']},130,0,{k},"
            f"{row['bid_px'][0] / 1e9:.2f},{row['ask_px'][0] / 1e9:.2f},{row['bid_sz'][0]},"
            f"{row['ask_sz'][0]},1,1,AAPL"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def _warm_read() -> None:
    """Read a tiny MBP CSV; keep the snapshots of a DBN file's columns and of events."""
    import numpy as np

    from sor.data.events import snapshots_from_events
    from sor.data.reader import build_snapshots, read_market

    with tempfile.TemporaryDirectory(prefix="sor-compile-") as folder:
        read_market(_write_tiny_csv(Path(folder) / "tiny.csv"))
    events = _tiny_events()
    columns = {name: events[name][:, 0].copy() for name in ("ask_px", "ask_sz", "bid_px", "bid_sz")}
    columns["ts_event"] = events["ts_event"].copy()
    columns["publisher_id"] = events["publisher_id"].astype(np.int64)  # as DBN gives it
    build_snapshots(columns)
    snapshots_from_events(events)  # strided columns, as from an event stream


def _warm_mbo() -> None:
    """Rebuild the book of three MBO records: two orders added, one cancelled."""
    import numpy as np

    from sor.data.mbo import MboRecords, rebuild_events

    columns: dict[str, np.ndarray] = {
        "ts_event": _T0 + np.arange(3, dtype=np.int64),
        "publisher_id": np.full(3, 39, np.int32),
        "action": np.frombuffer(b"AAC", np.uint8).copy(),
        "side": np.frombuffer(b"BAB", np.uint8).copy(),
        "price": np.array([100, 101, 100], np.int64) * _CENT,
        "size": np.full(3, 100, np.int64),
        "order_id": np.array([1, 2, 1], np.int64),
        "flags": np.full(3, 128, np.uint8),
    }
    for counts in (False, True):  # sor convert keeps the order counts
        records = MboRecords(Path("tiny.mbo.csv"), dict(columns), 3)
        rebuild_events(records, skip_bad_rows=False, counts=counts)


def _warm_lobster() -> None:
    """Read a two-message LOBSTER pair."""
    from sor.data.lobster import read_lobster

    with tempfile.TemporaryDirectory(prefix="sor-compile-") as folder:
        stem = "X_2024-01-02_34200000_57600000"
        message = Path(folder) / f"{stem}_message_1.csv"
        message.write_text("34200.1,1,1,100,100000,1\n34200.2,4,1,100,100000,1\n")
        book = Path(folder) / f"{stem}_orderbook_1.csv"
        book.write_text("9999999999,0,100000,100\n9999999999,0,-9999999999,0\n")
        read_lobster(message)


def _tiny_arrays() -> Iterator[tuple[MarketArrays, np.ndarray]]:
    """The tiny market laid out for a buy, then for a sell, with its taker fees."""
    from sor.core.domain import VenueCosts
    from sor.core.types import Side
    from sor.static.replay import MarketArrays

    snapshots = _tiny_market(_tiny_events()).snapshots
    for side in Side:
        arrays = MarketArrays.from_snapshots(snapshots, side)
        yield arrays, VenueCosts().fee_nanos(arrays.venues)


def _warm_route() -> None:
    """Route and sweep the tiny market, buying and selling: the replay and the allocator."""
    import numpy as np

    from sor.static.replay import run_router, run_sweep

    for arrays, fees in _tiny_arrays():
        run_router(arrays, fees, 500)
        run_sweep(arrays, fees, 500, np.full(len(arrays.group_ts), 500, dtype=np.int64))


def _warm_static() -> None:
    """Run the static model's other passes on the tiny market, buying and selling (the
    displayed size, the notional check, the markouts), then backtest and report it once
    the router is compiled (:func:`_warm_route`), which the backtest then only loads."""
    from sor.core.types import Side
    from sor.report.builder import build_report
    from sor.report.markouts import TopOfBook, mark_out
    from sor.static.backtest import BacktestConfig, run_backtest
    from sor.static.replay import check_market_notional, displayed_size

    for arrays, fees in _tiny_arrays():
        displayed_size(arrays)
        check_market_notional(arrays, fees, 500)
    market = _tiny_market(_tiny_events())
    mark_out(market.snapshots["ts_event"][:3], 1, TopOfBook.of_snapshots(market.snapshots),
             (1.0,))  # fmt: skip
    if not stamp("route").exists():
        return  # the router compiles in another process: not here too
    for side in Side:
        config = BacktestConfig(order_size=500, grid=_one_point(), side=side)
        build_report(run_backtest(market, config, workers=1))


def _warm_queue() -> None:
    """Run the queue simulator alone on the tiny market: the book brought to the arrival,
    a limit order rested and advanced to its fills, a marketable sweep."""
    from sor.ck.queue import Book, advance, attach_venues, sweep

    events, venues = attach_venues(_tiny_events())
    book = Book.empty(venues, events["ask_px"].shape[1])
    middle = int(events["ts_event"][len(events) // 2])
    index, _ = advance(events, 0, middle, book, 0, 0)
    book.rest(0, 100)
    advance(events, index, int(events["ts_event"][-1]), book, 0, 100)
    sweep(book, 100)


def _warm_ck() -> None:
    """Backtest model ck on the tiny market, buying and selling, one set and horizon, and
    report it."""
    from sor.ck.backtest import run_ck_backtest
    from sor.core.types import Side
    from sor.report.ck_report import build_ck_report
    from sor.static.backtest import BacktestConfig

    events = _tiny_events()
    market = _tiny_market(events)
    for side in Side:
        config = BacktestConfig(order_size=500, grid=_one_point(), model="ck", side=side)
        build_ck_report(run_ck_backtest(events, market, config, horizons_s=(1.0,), workers=1))


def _warm_fills() -> None:
    """Study the fills of passive orders on the tiny market, buying and selling."""
    from sor.ck.fills import StudyOptions, study
    from sor.ck.queue import attach_venues
    from sor.core.types import Side

    events, venues = attach_venues(_tiny_events())
    for side in Side:
        study(events, venues, StudyOptions(every_s=1.0, horizons_s=(0.5,), side=side))


def _warm_place() -> None:
    """Place one order across two venues."""
    import numpy as np

    from sor.ck.model import CKParams
    from sor.ck.solver import solve

    params = CKParams(order_size=1000, half_spread=0.01, fee=0.003, theta=0.0005,
                      lambda_under=0.05, lambda_over=0.05, queues=(1000, 2000),
                      rebates=(0.002, 0.002))  # fmt: skip
    solve(params, np.random.default_rng(1).poisson(1500.0, size=(50, 2)).astype(np.float64))


def _warm_stats() -> None:
    """Read a tiny MBP CSV's book for the statistics."""
    from sor.stylized.book import read_book

    with tempfile.TemporaryDirectory(prefix="sor-compile-") as folder:
        read_book(_write_tiny_csv(Path(folder) / "tiny.csv"))


def _warm_generate() -> None:
    """Generate a two-second market of two venues."""
    from sor.data.generate import generate_market

    with tempfile.TemporaryDirectory(prefix="sor-compile-") as folder:
        generate_market(Path(folder) / "tiny.csv", venues=2, seed=1,
                        end="2024-08-01T13:36:34Z")  # fmt: skip


GROUPS: dict[str, KernelGroup] = {
    "generate": KernelGroup("the market generator", ("data/generate.py",), 4.0,
                            _warm_generate),
    "read": KernelGroup("the file reader", ("data/csv_scan.py", "data/reader.py"), 1.5,
                        _warm_read),
    "mbo": KernelGroup("the MBO book rebuild", ("data/orderbook.py",), 7.0, _warm_mbo),
    "lobster": KernelGroup("the LOBSTER reader", ("data/lobster.py",), 2.0, _warm_lobster),
    "route": KernelGroup("the static router", ("static/allocator.py", "static/replay.py"), 2.5,
                         _warm_route),
    "static": KernelGroup("the static model", ("static/allocator.py", "static/replay.py",
                          "report/markouts.py"), 0.7, _warm_static),
    "place": KernelGroup("the placement solver", ("ck/sa.py", "ck/polish.py"), 8.0,
                         _warm_place),
    "queue": KernelGroup("the queue simulator", ("ck/queue.py",), 2.5, _warm_queue),
    "ck": KernelGroup("model ck", ("ck/queue.py", "ck/sa.py", "ck/polish.py"), 1.5, _warm_ck),
    "fills": KernelGroup("the fill study", ("ck/queue.py", "report/markouts.py"), 6.0,
                         _warm_fills),
    "stats": KernelGroup("the statistics", ("stylized/book.py",), 0.3, _warm_stats),
}  # fmt: skip
"""The groups of kernels, by what uses them, in the order they are compiled."""


def input_groups(path: Path | None, source: SourceOptions | None = None) -> tuple[str, ...]:
    """The groups that reading ``path`` runs: the file reader's, with the book rebuild of
    an order-level file; generating the data, when ``path`` is None. A file that cannot
    be read adds nothing: the reader says what is wrong with it."""
    if path is None:
        return ("generate", "read")
    from sor.core.errors import SorError
    from sor.core.paths import check_input_file
    from sor.data.orderlevel import input_kind

    try:
        check_input_file(path)  # never open a FIFO or a device to sniff it
        kind = input_kind(path, source)
    except (SorError, OSError):
        return ("read",)
    return ("read",) if kind == "mbp" else ("read", kind)


def model_plan(model: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """How a backtest of ``model`` compiles its groups beside the read of its input: the
    longest in another process (``ahead``), the rest in this one once the input is read
    (``after``). The placement solver alone takes model ck about 8 s (its polish), the
    static router about 2.5 s; model ck runs the static baselines too."""
    if model == "ck":
        return ("place", "ck"), ("route", "static", "queue")
    return ("route",), ("static",)


def model_groups(model: str) -> tuple[str, ...]:
    """The groups that a backtest of ``model`` runs, in the order they compile."""
    ahead, after = model_plan(model)
    return tuple(name for name in GROUPS if name in ahead or name in after)


def day_kernels(
    days: Sequence[str], model: str, source: SourceOptions | None = None
) -> Callable[[], object]:
    """What compiles the kernels of ``sor evaluate``'s day tasks, in its process and on each
    worker: the model's, and the readers' of the local days' kinds (a URL's day is taken as
    MBP; its reader compiles what else it needs)."""
    from functools import partial

    from sor.evaluation.days import is_url

    groups = {"read", *model_groups(model)}
    for day in days:
        if not is_url(day):
            groups.update(input_groups(Path(day.removeprefix("file://")), source))
    return partial(compile_groups, sorted(groups))


def stamp(name: str) -> Path:
    """Where group ``name``'s stamp goes: numba's cache folder when one is set, else the
    package's. Its name carries a digest of numba's version and the group's modules."""
    package = Path(sor.__file__).resolve().parent
    digest = hashlib.sha256(numba.__version__.encode())
    for module in GROUPS[name].modules:
        digest.update((package / module).read_bytes())
    cache_dir = getattr(numba.config, "CACHE_DIR", "")  # set from NUMBA_CACHE_DIR
    folder = Path(cache_dir) if cache_dir else package / "__pycache__"
    return folder / f"sor-kernels-{name}-{digest.hexdigest()[:16]}.stamp"


def missing(groups: Iterable[str]) -> list[str]:
    """The groups among ``groups`` that this installation has not compiled, in the order
    of :data:`GROUPS`."""
    wanted = set(groups)
    unknown = wanted - GROUPS.keys()
    if unknown:
        raise ValueError(f"unknown kernel groups: {', '.join(sorted(unknown))}")
    return [name for name in GROUPS if name in wanted and not stamp(name).exists()]


def _announce(groups: Sequence[str]) -> None:
    """Say in one line what is compiled and about how long it takes."""
    labels = [GROUPS[name].label for name in groups]
    what = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    seconds = max(1, round(sum(GROUPS[name].seconds for name in groups)))
    log.info("compiling the kernels of %s, once for this installation (about %d s)", what,
             seconds)  # fmt: skip


def _mark(name: str) -> None:
    """Stamp group ``name`` compiled."""
    path = stamp(name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    except OSError:  # a read-only installation: compiled for this process only
        log.debug("cannot write %s", path)


def _warm(groups: Sequence[str], took: dict[str, float]) -> None:
    """Warm and stamp each group, putting its seconds in ``took``. A group that fails is
    left to compile where the command first calls its kernels."""
    for name in groups:
        began = time.perf_counter()
        try:
            GROUPS[name].warm()
        except Exception:
            log.debug("compiling %s ahead failed", name, exc_info=True)
            continue
        took[name] = time.perf_counter() - began
        _mark(name)


def compile_groups(groups: Iterable[str]) -> dict[str, float]:
    """Compile the groups among ``groups`` not yet compiled, saying so first; return the
    seconds each took."""
    todo = missing(groups)
    if todo:
        _announce(todo)
    took: dict[str, float] = {}
    _warm(todo, took)
    return took


@contextmanager
def compiling(
    ahead: Iterable[str] = (), *, body: Iterable[str] = (), after: Iterable[str] = ()
) -> Iterator[None]:
    """Compile what a command runs next while the body of the ``with`` runs: the groups of
    ``ahead`` in another process (numba compiles under the GIL: a thread would only take
    turns with the body), those of ``after`` in this one once the body is done, and wait
    for the other process at the end. The body itself compiles the groups of ``body`` as
    it runs (reading the input, say). Say first, in one line, what this installation has
    not compiled yet; groups already compiled are skipped.

    When the body raises, its error is not held up: the other process is stopped, and the
    groups of ``body`` are not stamped. When the other process fails, what it did not
    compile is compiled where the command first calls it.
    """
    body = missing(body)
    todo = [name for name in missing(ahead) if name not in body]
    later = [name for name in missing(after) if name not in body and name not in todo]
    if body or todo or later:
        _announce([name for name in GROUPS if name in (*body, *todo, *later)])
    worker = _compile_elsewhere(todo) if todo else None
    try:
        yield
    except BaseException:
        if worker is not None:
            worker.kill()
            worker.wait()
        raise
    for name in body:
        _mark(name)
    _warm(later, {})
    if worker is not None and worker.wait() != 0:
        log.debug("compiling %s in another process failed", ", ".join(todo))


def _compile_elsewhere(groups: Sequence[str]) -> subprocess.Popen[bytes] | None:
    """Start ``python -m sor.app.compile GROUPS`` on this package and numba's cache; None
    when it cannot start (the kernels then compile where they are first called)."""
    package = str(Path(sor.__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (package, os.environ.get("PYTHONPATH")) if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "sor.app.compile", "--quiet", *groups],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": path},
        )  # fmt: skip
    except OSError:
        return None


def main(argv: Sequence[str]) -> None:
    """Compile the groups named in ``argv`` (every group when none is); an unknown name is
    one line and exit status 2, before anything is compiled."""
    quiet = "--quiet" in argv
    argv = [arg for arg in argv if arg != "--quiet"]
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="sor: %(message)s")  # fmt: skip
    names = list(argv) or list(GROUPS)
    unknown = [name for name in names if name not in GROUPS]
    if unknown:
        log.error("error: unknown kernel group%s %s; known: %s", "s" if len(unknown) > 1 else "",
                  ", ".join(unknown), ", ".join(GROUPS))  # fmt: skip
        sys.exit(2)
    # everything: the inputs' groups in a second process beside the models' in this one
    aside = missing(INPUTS) if not argv else []
    with compiling(aside, after=[name for name in names if name not in aside]):
        pass


INPUTS = ("generate", "mbo", "lobster", "stats")
"""Groups that share no kernel with the models': ``python -m sor.app.compile`` compiles them
in a second process while it compiles the rest."""


if __name__ == "__main__":
    main(sys.argv[1:])
