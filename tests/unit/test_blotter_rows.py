"""``sor backtest --orders --skip-bad-rows`` and ``--order-horizon``: a bad order is left out
and counted per reason (the others keep their figures), and an order without an end ends a
horizon after its time, as the single-order run with that ``--end`` does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from cli_run import Outcome, run_main
from sor.core.timestamps import format_timestamp, parse_timestamp
from sor.data.generate import generate_market

START = "2024-08-01T13:36:32Z"
END = "2024-08-01T13:37:32Z"
ONE_SET = ["--lambda-over", "0.4", "--lambda-under", "0.4", "--theta-queue", "0.4"]
HEADER = "id,time,side,size,end"
GOOD = [
    "g1,2024-08-01T13:36:40Z,buy,300,2024-08-01T13:36:55Z",
    "g2,2024-08-01T13:36:50Z,sell,200,",
]
BAD = {
    # the row, and the reason --skip-bad-rows counts it under
    "b1,,buy,100,": "missing_value",
    "b2,noon,buy,100,": "bad_time",
    "b3,2024-08-01T13:36:40Z,buy,100,later": "bad_end",
    "b4,2024-08-01T13:36:40Z,buy,100,2024-08-01T13:36:35Z": "end_before_time",
    "b5,2024-08-01T13:36:40Z,hold,100,": "unknown_side",
    "b6,2024-08-01T13:36:40Z,buy,0,": "bad_size",
    "b7,2024-08-01T13:36:40Z,sell,150.5,": "bad_size",
    "g1,2024-08-01T13:36:45Z,buy,100,": "duplicate_id",
    "b8,2024-08-01T12:00:00Z,buy,100,": "time_outside_data",
    "b9,2024-08-01T13:36:40Z,buy,100,2024-08-01T14:00:00Z": "end_after_data",
    "b10,2024-08-01T13:36:40.123456789Z,buy,100,2024-08-01T13:36:40.123456789Z": "empty_window",
}  # fmt: skip


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("rows") / "m.csv"
    generate_market(path, venues=2, seed=3, start=START, end=END, depth=1)
    return path


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _backtest(args: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    return run_main(["backtest", "-q", "--workers", "1", "--no-plot", *ONE_SET, *args], capsys)


def _report(args: list[str], capsys: pytest.CaptureFixture[str]) -> Any:
    outcome = _backtest(args, capsys)
    assert outcome.returncode == 0, outcome.stderr
    return json.loads(outcome.stdout)


def test_each_bad_order_is_skipped_and_counted_and_the_rest_keep_their_figures(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = _write(tmp_path / "mixed.csv", [GOOD[0], *BAD, GOOD[1]])
    clean = _write(tmp_path / "clean.csv", GOOD)
    skipped, kept = tmp_path / "skipped.csv", tmp_path / "kept.csv"
    outcome = _backtest(["--data", str(market), "--orders", str(mixed), "--skip-bad-rows",
                         "--orders-report", str(skipped), "--json-out",
                         str(tmp_path / "a.json")], capsys)  # fmt: skip
    assert outcome.returncode == 0, outcome.stderr
    report = json.loads(outcome.stdout)
    expected: dict[str, int] = {}
    for reason in BAD.values():
        expected[reason] = expected.get(reason, 0) + 1
    assert report["run"]["orders_skipped"] == dict(sorted(expected.items()))
    assert report["tca"]["orders"] == len(GOOD)
    told = ", ".join(f"{reason} {count}" for reason, count in sorted(expected.items()))
    assert outcome.stderr.splitlines() == [f"sor: {mixed}: skipped 11 bad order(s): {told}"]
    whole = _report(["--data", str(market), "--orders", str(clean), "--orders-report",
                     str(kept), "--json-out", str(tmp_path / "b.json")], capsys)  # fmt: skip
    assert whole["run"]["orders_skipped"] == {}
    assert skipped.read_bytes() == kept.read_bytes()
    assert report["tca"] == whole["tca"]


@pytest.mark.parametrize(
    ("rows", "reasons"),
    [
        (["a,2024-08-01T13:36:40Z,hold,100,", "b,,buy,100,"], "missing_value 1, unknown_side 1"),
        (["a,2024-08-01T12:00:00Z,buy,100,", "b,2024-08-01T13:36:40Z,hold,100,"],
         "time_outside_data 1, unknown_side 1"),
    ],
)  # fmt: skip
def test_a_blotter_left_without_an_order_is_one_line(
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    rows: list[str],
    reasons: str,
) -> None:
    blotter = _write(tmp_path / "orders.csv", rows)
    outcome = _backtest(["--data", str(market), "--orders", str(blotter), "--skip-bad-rows",
                         "--json-out", str(tmp_path / "o.json")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        f"sor: error: {blotter}: no order left to route: every order is bad ({reasons})"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]


def test_a_missing_column_is_not_a_row_to_skip(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blotter = tmp_path / "orders.csv"
    blotter.write_text("time,size\n2024-08-01T13:36:40Z,100\n", encoding="utf-8")
    outcome = _backtest(["--data", str(market), "--orders", str(blotter), "--skip-bad-rows",
                         "--json-out", str(tmp_path / "o.json")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"sor: error: {blotter}, line 1, column 'side': missing"
    )


def test_an_order_without_an_end_ends_a_horizon_after_its_time(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        "h1,2024-08-01T13:36:40Z,buy,300,",  # ends 20 s later
        "h2,2024-08-01T13:36:45.5Z,sell,400,",
        "h3,2024-08-01T13:37:25Z,buy,200,",  # 20 s later is past the data: its end
        "h4,2024-08-01T13:36:50Z,sell,100,2024-08-01T13:37:30Z",  # its own end
    ]
    blotter, table = _write(tmp_path / "orders.csv", rows), tmp_path / "per_order.csv"
    _report(["--data", str(market), "--orders", str(blotter), "--order-horizon", "20",
             "--orders-report", str(table), "--json-out", str(tmp_path / "o.json")],
            capsys)  # fmt: skip
    per_order = pl.read_csv(table, infer_schema=False)
    for row in rows:
        order_id, time, side, size, end = row.split(",")
        if not end and order_id != "h3":
            end = format_timestamp(parse_timestamp(time) + 20 * 10**9)
        window = ["--start", time, *(["--end", end] if end else [])]
        single = _report(["--data", str(market), *window, "--side", side, "--order-size",
                          size, "--json-out", str(tmp_path / "one.json")], capsys)  # fmt: skip
        mine = per_order.filter(pl.col("id") == order_id)
        router = mine.row(0, named=True)
        assert router["strategy"] == "router"
        assert int(router["total_fill"]) == single["optimized"]["total_fill"]
        assert float(router["total_cash"]) == single["optimized"]["total_cash"]
        if end:
            assert parse_timestamp(router["end"]) == parse_timestamp(end)
        else:
            assert parse_timestamp(router["end"]) == parse_timestamp(single["run"]["window"]["end"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--order-horizon", "0"], "--order-horizon: must be > 0, got 0"),
        (["--order-horizon", "-5"], "--order-horizon: must be > 0, got -5"),
        (["--order-horizon", "nan"], "--order-horizon: must be a finite number"),
        (["--order-horizon", "5m"], "--order-horizon: '5m' is not a valid number"),
    ],
)
def test_a_bad_horizon_is_one_line(
    market: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    message: str,
) -> None:
    blotter = _write(tmp_path / "orders.csv", GOOD)
    outcome = _backtest(["--data", str(market), "--orders", str(blotter), *flags,
                         "--json-out", str(tmp_path / "o.json")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    lines = outcome.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sor: error: {message}"), lines


def test_a_horizon_without_a_blotter_is_one_line(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = _backtest(["--data", str(market), "--order-horizon", "20", "--json-out",
                         str(tmp_path / "o.json")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [
        "sor: error: --order-horizon ends a blotter's orders that give no end: give --orders "
        "or --arrivals (one order's window is --start and --end)"
    ]


def test_an_order_whose_window_holds_no_snapshot_is_one_line_before_any_routing(
    market: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = next(row for row, reason in BAD.items() if reason == "empty_window")
    blotter = _write(tmp_path / "orders.csv", [GOOD[0], row])
    outcome = _backtest(["--data", str(market), "--orders", str(blotter), "--json-out",
                         str(tmp_path / "o.json")], capsys)  # fmt: skip
    assert outcome.returncode == 2
    moment = "2024-08-01T13:36:40.123456789Z"
    assert outcome.stderr.splitlines() == [
        f"sor: error: {blotter}, line 3, column 'time': no snapshot of the data falls in the "
        f"order's window from time to end ({moment} to {moment}); --skip-bad-rows leaves "
        "such an order out"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["orders.csv"]
