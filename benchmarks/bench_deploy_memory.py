"""Peak memory of the deployment's two sor processes, and the EC2 instance that holds them.

Generates the nine-minute six-venue demo file (``sor generate --out F``, its defaults),
starts the embedded broker, and runs, each as its own process and one after the other:
``sor produce --speed 0`` then ``sor backtest --kafka ... --no-plot`` (static model), and
``sor produce --events`` then ``sor backtest --kafka ... --model ck``. Each process's peak
is the larger of its own peak RSS (``wait4``) and the sampled peak of the proportional set
size summed over it and its children (the ck search runs worker processes). The sizing
adds Kafka's JVM (the heap of ``deploy/systemd/kafka.service`` plus an assumed off-heap
allowance: no Kafka runs here), the producer and the consumer of one model, which run at
the same time on the instance, and a 25 % margin for the operating system and page cache.
Run: ``python benchmarks/bench_deploy_memory.py`` (from a small process: a child's peak
RSS includes its parent's memory at fork time).
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sor.streaming.broker import EmbeddedBroker

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "systemd" / "kafka.service"
# Metaspace, code cache, thread stacks, GC tables, direct buffers of a small broker: an
# allowance, not a measurement.
JVM_OFF_HEAP_MB = 256
MARGIN = 0.25
INSTANCES = (("t3.nano", 0.5), ("t3.micro", 1), ("t3.small", 2), ("t3.medium", 4),
             ("t3.large", 8))  # fmt: skip
SAMPLE_S = 0.05


def kafka_heap_mb(unit: Path = UNIT) -> int:
    """Return the -Xmx of KAFKA_HEAP_OPTS in the unit, MB."""
    found = re.search(r"KAFKA_HEAP_OPTS=[^\"\n]*-Xmx(\d+)([mg])", unit.read_text())
    if found is None:
        raise SystemExit(f"{unit}: no -Xmx in KAFKA_HEAP_OPTS")
    return int(found[1]) * (1024 if found[2] == "g" else 1)


def _children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in listed.split()]


def _tree_pss_kb(pid: int) -> int:
    """Proportional set size of ``pid`` and its descendants, KiB (shared pages split)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
        except OSError:
            continue
        found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        total += int(found[1]) if found else 0
        pending.extend(_children(current))
    return total


def peak_mb(command: list[str]) -> tuple[float, float, float]:
    """Run ``command``; return (peak RSS of its largest process, sampled peak PSS of its
    process tree, wall seconds), MB and seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOR_")}
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env=env)
    tree_kb = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        tree_kb = max(tree_kb, _tree_pss_kb(process.pid))
        time.sleep(SAMPLE_S)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed with status {process.returncode}")
    return usage.ru_maxrss / 1024, tree_kb / 1024, time.perf_counter() - began


def smallest_instance(need_mb: float) -> str:
    """Name the smallest instance of INSTANCES whose memory holds ``need_mb``."""
    for name, gib in INSTANCES:
        if need_mb <= gib * 1024:
            return f"{name} ({gib:g} GiB)"
    return f"more than {INSTANCES[-1][0]}"


def _sor(*args: str) -> list[str]:
    return [sys.executable, "-m", "sor", *args, "--quiet"]


def main() -> dict[str, float]:
    figures: dict[str, float] = {}
    heap = kafka_heap_mb()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "market.csv"
        subprocess.run(_sor("generate", "--out", str(data)), check=True)
        rows = sum(1 for _ in data.open("rb")) - 1
        print(f"deploy memory: {data.name} from `sor generate` defaults, {rows:,} rows, "
              f"{os.cpu_count()} cores (ck search workers)")  # fmt: skip
        with EmbeddedBroker() as broker:
            for model, produce_extra, backtest_extra in (
                ("static", (), ()),
                ("ck", ("--events",), ("--model", "ck")),
            ):
                topic = f"bench-deploy-{uuid.uuid4().hex[:8]}"
                produce = _sor("produce", "--data", str(data), "--bootstrap", broker.bootstrap,
                               "--topic", topic, "--speed", "0", *produce_extra)  # fmt: skip
                consume = _sor("backtest", "--kafka", broker.bootstrap, "--topic", topic,
                               "--no-plot", "--json-out", os.devnull, *backtest_extra)  # fmt: skip
                for role, command in (("produce", produce), ("backtest", consume)):
                    rss, tree, seconds = peak_mb(command)
                    figures[f"{model}_{role}_mb"] = max(rss, tree)
                    print(f"  {model:6} sor {role:8}  {rss:6.0f} MB peak RSS, "
                          f"{tree:6.0f} MB peak tree PSS, {seconds:5.1f} s")  # fmt: skip
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  (this process: {parent:.0f} MB peak RSS, the floor of a child's figure)")
    print(f"Kafka: {heap} MB heap (kafka.service) + {JVM_OFF_HEAP_MB} MB off-heap (assumed)")
    for model in ("static", "ck"):
        sor_mb = figures[f"{model}_produce_mb"] + figures[f"{model}_backtest_mb"]
        need = (heap + JVM_OFF_HEAP_MB + sor_mb) * (1 + MARGIN)
        figures[f"{model}_need_mb"] = need
        print(f"  {model:6} Kafka + producer + backtest {heap + JVM_OFF_HEAP_MB + sor_mb:6.0f} MB,"
              f" +{MARGIN:.0%} = {need:6.0f} MB -> {smallest_instance(need)}")  # fmt: skip
    print(f"recommendation: {smallest_instance(max(figures['static_need_mb'], figures['ck_need_mb']))}"
          f" for both models; {smallest_instance(figures['static_need_mb'])} holds static only")  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
