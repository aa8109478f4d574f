"""`sor broker` never leaves its broker behind, and a taken port is a clear error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sor.streaming.broker import free_port, port_in_use

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _start_broker(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "sor", "broker", "--port", str(port)],
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not port_in_use(port):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the broker did not come up"
        time.sleep(0.1)
    time.sleep(0.5)  # past start-up, into the wait
    return process


def _port_freed(port: int, within_s: float = 15) -> bool:
    deadline = time.monotonic() + within_s
    while port_in_use(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_sor_broker_and_its_broker(signum: int) -> None:
    port = free_port()
    process = _start_broker(port)
    process.send_signal(signum)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert "Traceback" not in err
    assert _port_freed(port), "the broker outlived sor broker"


def test_a_killed_sor_broker_takes_its_broker_along() -> None:
    port = free_port()
    process = _start_broker(port)
    process.kill()  # no chance to clean up: the kernel ends the broker
    process.communicate(timeout=20)
    assert _port_freed(port), "the broker outlived a killed sor broker"


def test_a_port_in_use_is_a_one_line_error() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "sor", "broker", "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"sor: error: port {port} on 127.0.0.1 is already in use; choose another"
    ]
