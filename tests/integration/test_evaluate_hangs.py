"""sor evaluate neither waits nor copies without end: every wait on a Dask cluster or a URL
has a deadline and ends in one line and exit status 2, a download stops at --max-download,
Ctrl-C and SIGTERM end a run in one line and exit status 130, and nothing is left in the
temporary directory. Real Dask (a scheduler and workers started here as processes on
loopback, or a LocalCluster), a real HTTP server and plain TCP listeners, all on loopback;
each deadline is a flag, made small here."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli_run import REPO, run_main
from sor.core.errors import DataError
from sor.data.generate import generate_market
from sor.evaluation.days import discover, local_copy

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}
START_S = 60
"""Seconds a process started here may take to come up (a slow, shared machine)."""
STALLED = "the server sent nothing for 1 s (--read-timeout): it stalls or does not answer"


@pytest.fixture(scope="module")
def days(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two ten-second days of two venues."""
    folder = tmp_path_factory.mktemp("days")
    for day in range(2):
        generate_market(
            folder / f"day{day}.csv", venues=2, seed=70 + day,
            start=f"2024-08-0{day + 1}T13:36:32Z", end=f"2024-08-0{day + 1}T13:36:42Z",
        )  # fmt: skip
    return folder


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.fixture(scope="module")
def web(days: Path) -> Iterator[str]:
    """An HTTP server on loopback: ``/day/`` serves a day, ``/stall/`` sends its headers and
    a few bytes then nothing, ``/never/`` never answers, ``/endless/`` sends without end."""
    release = threading.Event()
    day = (days / "day1.csv").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self) -> None:
            self._answer(body=False)

        def do_GET(self) -> None:
            self._answer(body=True)

        def _answer(self, *, body: bool) -> None:
            kind = self.path.split("/")[1]
            if kind == "never":
                release.wait()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            if kind == "day":
                self.send_header("Content-Length", str(len(day)))
            self.end_headers()
            if not body:
                return
            with contextlib.suppress(OSError):  # the client hung up
                if kind == "day":
                    self.wfile.write(day)
                elif kind == "stall":
                    self.wfile.write(day[:1000])
                    self.wfile.flush()
                    release.wait()
                while kind == "endless" and not release.is_set():
                    self.wfile.write(day[: 1 << 16])

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()


def _wait_for(
    what: str, ready: Callable[[], bool], process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + START_S
    while not ready():
        if process is not None:
            assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{what} did not happen"
        time.sleep(0.05)


def _copies(folder: Path) -> bool:
    """Whether a day's copy of a URL is being written somewhere under ``folder``."""
    try:
        return any(folder.rglob("sor-day-*"))
    except FileNotFoundError:  # a folder went away while it was walked
        return False


def _stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


@contextlib.contextmanager
def _scheduler(folder: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """A Dask scheduler process on loopback, without workers."""
    address_file = folder / "scheduler.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(address_file)],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for("the scheduler's start", lambda: bool(_read(address_file)), process)
        yield json.loads(address_file.read_text())["address"], process
    finally:
        _stop(process)


def _read(path: Path) -> str:
    return path.read_text().strip() if path.is_file() else ""


@contextlib.contextmanager
def _worker(address: str, folder: Path) -> Iterator[subprocess.Popen]:
    """One Dask worker process of one thread (no nanny to start it again), writing its
    temporary files under ``folder``."""
    folder.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
         "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--local-directory",
         str(folder)],
        env={**ENV, "TMPDIR": str(folder)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        from distributed import Client

        with Client(address, timeout=START_S) as client:
            client.wait_for_workers(1, timeout=START_S)
        yield process
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler without workers (a test that adds one kills it before it ends)."""
    with _scheduler(tmp_path_factory.mktemp("dask")) as (address, _process):
        yield address


def _evaluate(
    inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str
) -> list[str]:
    """Run sor evaluate in this process with a small grid; return its stderr lines, after
    checking its exit status 2."""
    outcome = run_main(
        ["evaluate", *inputs, "--train-days", "1", "--order-size", "300", "--lambda-over",
         "0.1", "--lambda-under", "0.1", "--theta-queue", "0.1", "--no-plot", "--quiet",
         "--json-out", str(tmp_path / "evaluation.json"), *flags],
        capsys,
    )  # fmt: skip
    assert outcome.returncode == 2, outcome.stderr
    assert not (tmp_path / "evaluation.json").exists()
    return outcome.stderr.splitlines()


@pytest.fixture
def temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's temporary directory, for the test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))  # the module keeps the first one
    return folder


# -- the scheduler --------------------------------------------------------------------


@contextlib.contextmanager
def _silent_listener() -> Iterator[str]:
    with socket.socket() as listener:  # the kernel accepts connections, nothing answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"


@contextlib.contextmanager
def _banner() -> Iterator[str]:
    """A server that greets each connection with a line of text, as SSH does."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = listener.accept()
                connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


NO_ANSWER = "no Dask scheduler answered within 1 s (--read-timeout)"
NOT_DASK = "what answers there is not a Dask scheduler"


@pytest.mark.parametrize("kind", ["silent listener", "http server", "banner", "ucx"])
def test_a_scheduler_address_that_is_not_a_dask_scheduler_is_one_line(
    kind: str, days: Path, web: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected: set[str]
    with contextlib.ExitStack() as stack:
        if kind == "silent listener":
            address, expected = stack.enter_context(_silent_listener()), {NO_ANSWER}
        elif kind == "http server":
            # it waits for a request line, or answers 400 when Dask's bytes hold a newline
            address, expected = web.replace("http://", "tcp://"), {NO_ANSWER, NOT_DASK}
        elif kind == "banner":
            address, expected = stack.enter_context(_banner()), {NOT_DASK}
        else:  # Dask lists the scheme, but its UCX transport is a separate package
            address = "ucx://127.0.0.1:13337"
            expected = {"this installation cannot connect over ucx://; give a tcp://HOST:PORT "
                        "address"}  # fmt: skip
        lines = _evaluate([str(days)], tmp_path, capsys, "--scheduler", address,
                          "--read-timeout", "1")  # fmt: skip
    assert len(lines) == 1
    assert lines[0] in {f"sor: error: --scheduler {address}: {e}" for e in expected}


def test_a_scheduler_without_workers_is_one_line_after_the_worker_timeout(
    scheduler: str, days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _evaluate([str(days)], tmp_path, capsys, "--scheduler", scheduler,
                      "--worker-timeout", "1")  # fmt: skip
    assert lines == [
        f"sor: error: no Dask worker joined the scheduler {scheduler} within 1 s "
        "(--worker-timeout): start workers with `dask worker ADDRESS`, or give them longer"
    ]


def test_every_worker_gone_mid_run_is_one_line_after_the_worker_timeout(
    scheduler: str, days: Path, web: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the stall holds the worker in a day until it is killed; --read-timeout bounds the
    # wait for a result the dead worker held, then run again
    folder = tmp_path / "worker"
    with _worker(scheduler, folder) as worker:

        def kill_when_copying() -> None:  # the worker is in the middle of a day
            _wait_for("a copy of the URL", lambda: _copies(folder))
            worker.kill()

        killer = threading.Thread(target=kill_when_copying)
        killer.start()
        lines = _evaluate([str(days / "day0.csv"), f"{web}/stall/day.csv"], tmp_path, capsys,
                          "--scheduler", scheduler, "--worker-timeout", "1",
                          "--read-timeout", "10")  # fmt: skip
        killer.join()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"sor: error: every Dask worker left the scheduler {scheduler} and none came back "
        "within 1 s (--worker-timeout); "
    )


def test_a_scheduler_killed_mid_run_is_one_line(
    days: Path, web: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "worker"
    with _scheduler(tmp_path) as (address, process), _worker(address, folder):

        def kill_when_copying() -> None:
            _wait_for("a copy of the URL", lambda: _copies(folder))
            process.kill()

        killer = threading.Thread(target=kill_when_copying)
        killer.start()
        lines = _evaluate([str(days / "day0.csv"), f"{web}/stall/day.csv"], tmp_path, capsys,
                          "--scheduler", address)  # fmt: skip
        killer.join()
    assert lines == [f"sor: error: lost the connection to the scheduler {address} mid-run "
                     "(did it stop?)"]  # fmt: skip


# -- the local cluster ----------------------------------------------------------------


def test_more_local_workers_than_cores_are_refused_before_any_starts(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], temporary: Path
) -> None:
    cores = len(os.sched_getaffinity(0))
    cap = (f"a local cluster has at most {cores} workers, one per core of this machine; give "
           "fewer, or --scheduler for a larger cluster")  # fmt: skip
    lines = _evaluate([str(days)], tmp_path, capsys, "--workers", "1000")
    assert lines == [f"sor: error: --workers 1000: {cap}"]
    config = tmp_path / "sor.toml"
    config.write_text("[dask]\nworkers = 1000\n")
    lines = _evaluate([str(days)], tmp_path, capsys, "--config", str(config))
    assert lines == [f"sor: error: {config}: [dask] workers 1000: {cap}"]
    assert list(temporary.iterdir()) == []


def test_dask_workers_beside_a_scheduler_in_the_configuration_is_refused(
    days: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sor.toml"
    config.write_text('[dask]\nscheduler = "tcp://127.0.0.1:8786"\nworkers = 2\n')
    lines = _evaluate([str(days)], tmp_path, capsys, "--config", str(config))
    assert lines == [
        f"sor: error: {config}: [dask] workers sizes a local cluster, [dask] scheduler names "
        "an existing one: keep one of them"
    ]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("endless", "larger than --max-download (1,000,000 bytes): raise it to read this day"),
     ("stall", STALLED)],
)  # fmt: skip
def test_a_url_without_end_or_that_stalls_stops_the_run_in_one_line_leaving_no_copy(
    kind: str, reason: str, days: Path, web: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], temporary: Path,
) -> None:  # fmt: skip
    url = f"{web}/{kind}/day.csv"
    lines = _evaluate([str(days / "day0.csv"), url], tmp_path, capsys, "--workers", "1",
                      "--max-download", "1MB", "--read-timeout", "1")  # fmt: skip
    assert lines == [f"sor: error: {url}: {reason}"]
    assert not list(temporary.glob("sor-*")) and not list(temporary.glob("dask-*"))


def test_a_url_that_never_answers_is_one_line_before_any_cluster_starts(
    days: Path, web: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"{web}/never/day.csv"
    lines = _evaluate([str(days / "day0.csv"), url], tmp_path, capsys, "--read-timeout", "1")
    assert lines == [f"sor: error: {url}: {STALLED}"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("endless", "larger than --max-download (1,000,000 bytes): raise it to read this day"),
     ("stall", STALLED), ("never", STALLED)],
)  # fmt: skip
def test_a_copy_is_bounded_and_removed_whatever_the_server_does(
    kind: str, reason: str, web: str, temporary: Path
) -> None:
    url = f"{web}/{kind}/day.csv"
    with (
        pytest.raises(DataError) as error,
        local_copy(url, max_bytes=1_000_000, read_timeout_s=1),
    ):
        pytest.fail("no copy was expected")
    assert str(error.value) == f"{url}: {reason}"
    assert list(temporary.iterdir()) == []
    with local_copy(f"{web}/day/day.csv", max_bytes=1_000_000, read_timeout_s=1) as copy:
        assert copy.stat().st_size < 1_000_000
    assert list(temporary.iterdir()) == []
    if kind == "never":  # the listing has the same deadline
        with pytest.raises(DataError, match="stalls or does not answer"):
            discover([url], read_timeout_s=1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP],
                         ids=["ctrl-c", "sigterm", "hangup"])  # fmt: skip
def test_an_interrupt_is_one_line_and_leaves_nothing_in_the_temporary_directory(
    signum: int, days: Path, web: str, tmp_path: Path
) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "sor", "evaluate", str(days / "day0.csv"),
         f"{web}/stall/day.csv", "--train-days", "1", "--workers", "1", "--quiet",
         "--no-plot", "--json-out", str(tmp_path / "evaluation.json")],
        env={**ENV, "TMPDIR": str(temporary)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for("a copy of the URL", lambda: _copies(temporary), process)
        if signum != signal.SIGTERM:  # a terminal's Ctrl-C or hangup reaches the whole group
            os.killpg(process.pid, signum)
        else:  # a service manager's stop, to sor alone
            process.send_signal(signum)
        _out, err = process.communicate(timeout=START_S)
    finally:
        if process.poll() is None:
            _stop(process)
    assert process.returncode == 130
    assert err.splitlines() == ["sor: interrupted"]
    assert list(temporary.iterdir()) == []
    assert not (tmp_path / "evaluation.json").exists()
