"""Compile the package's numba kernels once, so that no run pays for it unannounced.

The kernels are compiled on their first call and cached on disk (``cache=True``). A
first run would otherwise sit silent for seconds, and its progress bar would promise
minutes. :func:`ensure_compiled` runs once per installation: it says so on one line, runs
every kernel on a tiny generated market, and leaves a stamp beside numba's cache. The
Makefile calls it at install (``python -m sor.core.kernels``); the readers and the generator call
it on first use too, for installations made otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

import numba

import sor

log = logging.getLogger("sor")

KERNEL_MODULES = (
    "ck/queue.py",
    "ck/polish.py",
    "ck/sa.py",
    "data/csv_scan.py",
    "data/generate.py",
    "data/lobster.py",
    "data/orderbook.py",
    "data/reader.py",
    "report/markouts.py",
    "static/allocator.py",
    "stats/book.py",
    "static/replay.py",
)
"""The modules that hold compiled kernels, relative to the package."""

_busy = False


def _stamp() -> Path:
    """Where the stamp goes: numba's cache folder when one is set, else the package's."""
    package = Path(sor.__file__).resolve().parent
    digest = hashlib.sha256(numba.__version__.encode())
    for name in KERNEL_MODULES:
        digest.update((package / name).read_bytes())
    cache_dir = getattr(numba.config, "CACHE_DIR", "")  # set from NUMBA_CACHE_DIR
    folder = Path(cache_dir) if cache_dir else package / "__pycache__"
    return folder / f"sor-kernels-{digest.hexdigest()[:16]}.stamp"


def ensure_compiled() -> None:
    """Compile every kernel now unless this installation has done it (see the module)."""
    global _busy
    if _busy:
        return
    stamp = _stamp()
    if stamp.exists():
        return
    _busy = True
    try:
        log.info("compiling the kernels, first run only")
        _run_every_kernel()
        try:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.touch()
        except OSError:  # a read-only installation: the kernels are compiled for this run
            log.debug("cannot write %s", stamp)
    finally:
        _busy = False


def _run_every_kernel() -> None:
    """Backtest a two-second generated market with both models: each kernel runs once."""
    from sor.ck.backtest import run_ck_backtest
    from sor.core.search import SearchGrid
    from sor.data.events import read_events
    from sor.data.generate import generate_market
    from sor.data.reader import read_market
    from sor.report.builder import build_report
    from sor.static.backtest import BacktestConfig, run_backtest

    with tempfile.TemporaryDirectory(prefix="sor-kernels-") as folder:
        path = Path(folder) / "tiny.csv"
        generate_market(path, venues=2, seed=1, end="2024-08-01T13:36:36Z", depth=10)
        market = read_market(path)
        grid = SearchGrid((0.1,), (0.1,), (0.1,))
        config = BacktestConfig(order_size=500, grid=grid)
        build_report(run_backtest(market, config, workers=1))
        run_ck_backtest(read_events(path), market, config, horizons_s=(1.0,), workers=1)
        _read_tiny_order_level(Path(folder))


def _read_tiny_order_level(folder: Path) -> None:
    """Read a two-order MBO file and a two-message LOBSTER pair: the order-level passes
    run once."""
    from sor.data.events import read_events

    mbo = folder / "tiny.mbo.csv"
    rows = [
        (1712151000000000000, "A,B,10.00,100,0,1,128"),
        (1712151000000000001, "A,A,10.01,100,0,2,128"),
        (1712151000000000002, "C,B,10.00,100,0,1,128"),
    ]
    header = (
        "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,price,size,channel_id,"
        "order_id,flags,ts_in_delta,sequence,symbol\n"
    )
    body = "".join(f"{t},{t},160,39,1,{row},0,{i},X\n" for i, (t, row) in enumerate(rows))
    mbo.write_text(header + body)
    read_events(mbo)
    from sor.stats.book import read_book

    read_book(mbo)
    message = folder / "X_2024-01-02_34200000_57600000_message_1.csv"
    message.write_text("34200.1,1,1,100,100000,1\n34200.2,4,1,100,100000,1\n")
    book = folder / "X_2024-01-02_34200000_57600000_orderbook_1.csv"
    book.write_text("9999999999,0,100000,100\n9999999999,0,-9999999999,0\n")
    read_events(message)


if __name__ == "__main__":
    # through the imported module: the readers it calls import it by name, and its state
    # must be one
    from sor.core.kernels import ensure_compiled as compile_once

    logging.basicConfig(level=logging.INFO, format="sor: %(message)s")
    compile_once()
