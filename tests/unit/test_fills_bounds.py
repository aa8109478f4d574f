"""``sor fills`` knows its work before it runs: orders and event passes under their caps,
refused in one line above them; an order that cannot fit is an error, a horizon that cannot
fit a warning; latencies bounded as for ``sor backtest --model ck``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_run import run_main
from sor.ck.fills import MAX_EVENT_PASSES, MAX_ORDERS, Orders, slots
from sor.data.generate import generate_market


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bounds") / "m.csv"
    generate_market(path, venues=2, seed=4, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:32Z")  # fmt: skip
    return path


def _one_line(outcome_stderr: str) -> str:
    lines = outcome_stderr.splitlines()
    assert len(lines) == 1, outcome_stderr
    return lines[0]


NUMBER = r"[\d,.]+"
WHERE = (
    rf"the {NUMBER} s where orders go \(from the moment every venue has shown a book to the "
    r"last event\)"
)


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--every", "1e-5"],
         rf"--every 1e-05 s over the {NUMBER} s where orders go, 2 venue\(s\), 1 size\(s\) and "
         rf"3 horizon\(s\) make {NUMBER} orders \(at most {MAX_ORDERS:,}\): raise --every, or "
         r"give fewer --size or --horizon values"),
        (["--every", "1e-9"], rf"--every 1e-09 s over .* make {NUMBER} orders \(at most .*"),
        # about 200,000 placements a venue, each resting for most of the minute: passes
        (["--every", "1e-5", "--horizon", "57.9"],
         rf"--horizon 57.9 s with --every 1e-05 s keeps up to {NUMBER} orders resting at once "
         rf"at a venue, each simulated in its own pass over the {NUMBER} events: {NUMBER} event "
         rf"steps \(at most {MAX_EVENT_PASSES:,}\): raise --every or shorten --horizon"),
        (["--every", "1e-10"], r"--every: must be >= 1e-09, got 1e-10"),
        (["--every", "inf"], r"--every: must be a finite number, got inf"),
        (["--latency-us", "1e9"], r"--latency-us: must be <= 60000000, got 1000000000"),
        (["--latency-us", "6e7"],
         r"no order fits: each rests --latency-us 6e\+07 \(60 s\) after its decision and is "
         rf"cancelled --horizon 0.5 s later, past the end of {WHERE}: lower --latency-us or "
         r"--horizon"),
        (["--horizon", "60", "--latency-us", "0"],
         rf"no order fits: the shortest --horizon, 60 s, is longer than {WHERE}: give a "
         r"shorter --horizon"),
    ],
)  # fmt: skip
def test_work_beyond_the_caps_or_no_order_at_all_is_one_line(
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    pattern: str,
) -> None:
    orders = tmp_path / "orders.csv"
    outcome = run_main(["fills", "--data", str(market), *args, "--orders-out", str(orders),
                        "--plot", str(tmp_path / "f.png"), "-q"], capsys)  # fmt: skip
    assert outcome.returncode == 2
    line = _one_line(outcome.stderr)
    assert re.fullmatch("sor: error: " + pattern, line), line
    assert list(tmp_path.iterdir()) == []


def test_every_beyond_the_file_places_one_order_per_venue(
    market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = run_main(["fills", "--data", str(market), "--every", "1e300", "--no-plot", "-q"],
                       capsys)  # fmt: skip
    assert outcome.returncode == 0 and outcome.stderr == "", outcome.stderr
    report = json.loads(outcome.stdout)
    assert {v: {h: c["orders"] for h, c in cells.items()} for v, cells in
            report["venues"].items()} == {v: {"0.5": 1, "2": 1, "10": 1} for v in ("2", "9")}  # fmt: skip
    assert report["run"]["orders_placed"] == 6


def test_a_horizon_no_order_fits_is_a_warning_and_empty_cells(
    market: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["fills", "--data", str(market), "--horizon", "2,59.99", "--latency-us", "0",
            "--no-plot", "-q"]  # fmt: skip
    outcome = run_main(args, capsys)
    assert outcome.returncode == 0
    line = _one_line(outcome.stderr)
    assert re.fullmatch(
        rf"sor: warning: --horizon 59.99 s: no order fits {WHERE}; its cells are empty", line
    ), line
    cells = json.loads(outcome.stdout)["venues"]["2"]
    assert cells["2"]["orders"] > 0 and cells["59.99"]["orders"] == 0


def test_backtest_ck_warns_of_a_latency_as_long_as_the_window(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", "--data", str(market), "--model", "ck", "--latency-us", "6e7",
            "--horizon", "2", "--lambda-over", "0.05", "--lambda-under", "0.05",
            "--theta-queue", "0.005", "--json-out", str(tmp_path / "r.json"), "--no-plot", "-q"]  # fmt: skip
    outcome = run_main(args, capsys)
    assert outcome.returncode == 0
    line = _one_line(outcome.stderr)
    assert re.fullmatch(
        rf"sor: warning: --latency-us 6e\+07 is not shorter than the {NUMBER} s window: no "
        "order of the router or of passive reaches a book before its end, where both complete "
        "with marketable orders",
        line,
    ), line
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["strategies"]["passive"]["passive_share"] == 0.0


def _greedy_slots(orders: Orders) -> list[int]:
    """The passes as first written: for each order, in venue then time order, the lowest
    pass whose last order is cancelled by the time it rests."""
    out = [0] * len(orders)
    ends: dict[int, list[int]] = {}
    for i in np.lexsort((orders.place_ns, orders.venue)):
        taken = ends.setdefault(int(orders.venue[i]), [])
        slot = next((s for s, end in enumerate(taken) if end <= orders.place_ns[i]), len(taken))
        if slot == len(taken):
            taken.append(0)
        taken[slot] = int(orders.cancel_ns[i])
        out[i] = slot
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50), st.integers(0, 30)), max_size=60))
def test_passes_are_the_lowest_free_ones(rows: list[tuple[int, int, int]]) -> None:
    venue = np.array([r[0] for r in rows], np.int64)
    place = np.array([r[1] for r in rows], np.int64)
    orders = Orders(venue, place, place + np.array([r[2] for r in rows], np.int64),
                    np.full(len(rows), 100, np.int64))  # fmt: skip
    assert slots(orders).tolist() == _greedy_slots(orders)
