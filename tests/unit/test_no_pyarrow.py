"""sor runs without pyarrow, which it does not declare: polars' own readers suffice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_WITHOUT_PYARROW = """
import sys


class Hide:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "pyarrow" or name.startswith("pyarrow."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Hide())
import polars._dependencies as dependencies

assert not dependencies._PYARROW_AVAILABLE, "pyarrow still visible"

from sor.data.events import read_events
from sor.data.reader import read_market
from sor.streaming.codec import decode_event_batch, decode_snapshot_batch, encode_stream

path = sys.argv[1]
market = read_market(path)
events = read_events(path)
snapshots = decode_snapshot_batch(list(encode_stream(market.snapshots, events=False, replay="r")))
rows = decode_event_batch(list(encode_stream(events, events=True, replay="r")))
assert snapshots is not None and (snapshots[2] == market.snapshots).all()
assert rows is not None and (rows[2] == events).all()
print(len(market.snapshots), len(events))
"""


def test_reading_and_the_codec_need_no_pyarrow(tiny_csv: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYARROW, str(tiny_csv)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["5", "6"]  # the five snapshots of six rows
