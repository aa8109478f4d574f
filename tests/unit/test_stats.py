"""sor stats: facts checked on hand-built files whose answers are known, and on the real rows."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli_run import run_main
from dbn_encode import csv_to_dbn
from sor.data.generate import mbp_columns
from sor.stylized.facts import FactSettings, autocorrelation, ofi_regression
from sor.stylized.summary import file_stats

T0 = 1_722_519_392_000_000_000  # 2024-08-01T13:36:32Z
BID, ASK = 222.81, 222.83


def _iso(ns: int) -> str:
    from sor.core.timestamps import format_timestamp

    return format_timestamp(ns)


def _row(ts: int, *, action: str = "A", side: str = "B", price: float = BID, size: int = 100,
         bid: float = BID, ask: float = ASK, bid_sz: int = 500, ask_sz: int = 500,
         venue: int = 2) -> dict[str, object]:  # fmt: skip
    return {
        "ts_recv": _iso(ts + 1000), "ts_event": _iso(ts), "rtype": 1, "publisher_id": venue,
        "instrument_id": 38, "action": action, "side": side, "depth": 0, "price": price,
        "size": size, "flags": 130, "ts_in_delta": 1000, "sequence": 1, "bid_px_00": bid,
        "ask_px_00": ask, "bid_sz_00": bid_sz, "ask_sz_00": ask_sz, "bid_ct_00": 1,
        "ask_ct_00": 1, "symbol": "AAPL",
    }  # fmt: skip


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=mbp_columns(1), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_alternating_trade_signs_have_lag_one_autocorrelation_minus_one(tmp_path: Path) -> None:
    rows = [_row(T0 + i * 10**8, action="T", side="B" if i % 2 else "A") for i in range(50)]
    report = file_stats(_write(tmp_path / "alt.csv", rows)).report
    facts = report["overall"]["trade_sign_autocorrelation"]
    assert facts["1"] == -1.0
    assert facts["2"] == 1.0
    assert report["venues"]["2"]["trades"] == 50


def test_trade_rows_at_one_time_are_one_trade(tmp_path: Path) -> None:
    # a sweep prints several rows at one ts_event: one trade, signed by its first row
    rows = [_row(T0 + (i // 3) * 10**8, action="T", side="B" if (i // 3) % 2 else "A")
            for i in range(60)]  # fmt: skip
    report = file_stats(_write(tmp_path / "sweeps.csv", rows)).report
    assert report["overall"]["trade_rows"] == 60
    assert report["overall"]["trades"] == 20
    assert report["overall"]["trade_sign_autocorrelation"]["1"] == -1.0


def test_a_mid_moving_exactly_with_ofi_gives_r2_one(tmp_path: Path) -> None:
    # each row lifts or drops the bid one tick with 100 shares: OFI +-100, mid +-0.5 tick
    rng = np.random.default_rng(3)
    level = 1000  # bid in cents, the ask far above
    rows = []
    for i in range(2000):
        level += 1 if rng.random() < 0.5 else -1
        rows.append(_row(T0 + i * 3 * 10**7, bid=level / 100, ask=12.0, bid_sz=100, ask_sz=100))
    report = file_stats(_write(tmp_path / "ofi.csv", rows)).report
    for seconds in ("1", "10"):
        fit = report["venues"]["2"]["ofi"][seconds]
        assert fit["r2"] == pytest.approx(1.0, abs=1e-9)
        assert fit["slope"] == pytest.approx(0.005, rel=1e-9)  # ticks per share
        assert report["overall"]["ofi"][seconds]["r2"] == pytest.approx(1.0, abs=1e-9)


def test_markouts_sign_the_mid_move_by_the_trade(tmp_path: Path) -> None:
    # a buy, then the mid rises one tick half a second later; a sell, then it falls
    second = 10**9
    rows = [
        _row(T0),
        _row(T0 + second, action="T", side="B", price=ASK),
        _row(T0 + second + second // 2, bid=BID + 0.01, ask=ASK + 0.01),
        _row(T0 + 5 * second, action="T", side="A", bid=BID + 0.01, ask=ASK + 0.01),
        _row(T0 + 5 * second + second // 2),
        _row(T0 + 8 * second),
    ]
    report = file_stats(
        _write(tmp_path / "mk.csv", rows), FactSettings(horizons_s=(1.0, 2.5))
    ).report
    mid = (BID + ASK) / 2
    up = 0.01 / mid * 1e4
    down = 0.01 / (mid + 0.01) * 1e4
    facts = report["overall"]
    assert facts["markout_bps"]["1"] == pytest.approx((up + down) / 2, rel=1e-5)
    assert facts["markout_trades"] == {"1": 2, "2.5": 2}
    # two trades: far fewer blocks of time than a standard error needs
    assert facts["markout_se_bps"] == {"1": None, "2.5": None}
    assert facts["markout_blocks"] == {"1": 2, "2.5": 2}
    assert "blocks" in report["uncertainty"]["markout_se_bps"]


def test_a_markout_gets_a_standard_error_from_enough_blocks_of_time(tmp_path: Path) -> None:
    # a buy every second for 40 s and a sell each half second after: the mid moves one tick
    # with each trade, up after a buy, back after a sell: each trade's 0.25-s block is its
    # own unit; at 2 s the trades of each 2-s block make one unit, 21 of them (1 s to 40.5 s)
    rows = [_row(T0)]
    for i in range(40):
        t = T0 + (i + 1) * S
        rows += [_row(t, action="T", side="B", price=ASK),
                 _row(t + S // 10, bid=BID + 0.01, ask=ASK + 0.01),
                 _row(t + S // 2, action="T", side="A", price=BID + 0.01,
                      bid=BID + 0.01, ask=ASK + 0.01),
                 _row(t + 6 * S // 10)]  # fmt: skip
    rows.append(_row(T0 + 50 * S))
    report = file_stats(
        _write(tmp_path / "blocks.csv", rows), FactSettings(horizons_s=(0.25, 2.0))
    ).report
    facts = report["overall"]
    assert facts["markout_trades"] == {"0.25": 80, "2": 80}
    mid = (BID + ASK) / 2
    moves = np.tile([0.01 / mid * 1e4, 0.01 / (mid + 0.01) * 1e4], 40)
    assert facts["markout_blocks"]["0.25"] == 80
    assert facts["markout_se_bps"]["0.25"] == pytest.approx(
        np.std(moves, ddof=1) / np.sqrt(80), rel=1e-4
    )
    assert facts["markout_blocks"]["2"] == 21 and facts["markout_se_bps"]["2"] is None


def test_spread_sizes_and_turnover_are_time_weighted(tmp_path: Path) -> None:
    # 2 ticks for 1 s with 500 shares bid, then 1 tick for 3 s with 300 shares bid; the
    # bid loses 200 shares once and its 300 when it drops away
    second = 10**9
    rows = [
        _row(T0, bid=222.80, ask=222.82, bid_sz=500),
        _row(T0 + second, bid=222.81, ask=222.82, bid_sz=300),
        _row(T0 + 2 * second, action="T", side="A", bid=222.81, ask=222.82, bid_sz=100),
        _row(T0 + 4 * second, action="C", bid=222.80, ask=222.82, bid_sz=400),
    ]
    facts = file_stats(_write(tmp_path / "book.csv", rows)).report["venues"]["2"]
    assert facts["spread_ticks"]["mean"] == pytest.approx((2 * 1 + 1 * 3) / 4)
    assert facts["spread_ticks"]["share_one_tick"] == pytest.approx(0.75)
    assert facts["best_size"]["bid"] == pytest.approx((500 + 300 + 2 * 100) / 4)
    # share-seconds over depleted shares: (500 + 300 + 200) / (200 + 100)
    assert facts["queue_turnover_s"]["bid"] == pytest.approx(1000 / 300, rel=1e-5)
    assert facts["messages_per_s"] == pytest.approx(1.0)
    assert facts["trades_per_s"] == pytest.approx(0.25)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_median_spread_is_the_median_of_the_spread_sampled_every_millisecond(
    tmp_path: Path, seed: int
) -> None:
    # two venues, quotes held a whole number of milliseconds, some rows without an ask: the
    # brute force samples each venue's spread every millisecond a two-sided quote held and
    # takes the lower median of the samples (of both venues' samples pooled, overall)
    rng = np.random.default_rng(seed)
    rows, samples = [], {2: [], 9: []}
    for venue in samples:
        t = T0
        for _ in range(int(rng.integers(5, 40))):
            ticks = int(rng.integers(1, 7))
            held = int(rng.integers(1, 50))
            two_sided = rng.random() > 0.2
            ask = round(BID + 0.01 * ticks, 2) if two_sided else 0.0
            rows.append(_row(t, ask=ask, venue=venue))
            if two_sided:
                samples[venue] += [ticks] * held
            t += held * 1_000_000
        rows.append(_row(t, venue=venue))  # its quote holds no time: the last row's
    rows.sort(key=lambda row: str(row["ts_event"]))
    report = file_stats(_write(tmp_path / "spreads.csv", rows)).report

    def lower_median(values: list[int]) -> float | None:
        return float(sorted(values)[(len(values) - 1) // 2]) if values else None

    for venue, values in samples.items():
        assert report["venues"][str(venue)]["spread_ticks"]["median"] == lower_median(values)
    pooled = samples[2] + samples[9]
    assert report["overall"]["spread_ticks"]["median"] == lower_median(pooled)


@given(st.lists(st.sampled_from([-1, 1]), min_size=5, max_size=200))
@settings(max_examples=50, deadline=None)
def test_autocorrelation_is_a_correlation(signs: list[int]) -> None:
    for value in autocorrelation(np.array(signs), 3).values():
        assert value is None or -1.0 <= value <= 1.0


def test_a_regression_without_variation_has_no_slope() -> None:
    assert ofi_regression(np.zeros(10), np.arange(10.0))["r2"] is None
    assert ofi_regression(np.ones(2), np.ones(2))["slope"] is None


def test_csv_and_dbn_give_the_same_facts(tmp_path: Path) -> None:
    from sor.data.generate import generate_market

    source = tmp_path / "m.csv"
    generate_market(source, venues=2, seed=4, end="2024-08-01T13:37:32Z", depth=10)
    dbn = csv_to_dbn(source, tmp_path / "m.dbn")
    csv_report = file_stats(source).report
    dbn_report = file_stats(dbn).report
    for key in ("venues", "overall", "rows", "start", "end"):
        assert csv_report[key] == dbn_report[key], key


def test_the_real_rows(real_sample: Path) -> None:
    report = file_stats(real_sample).report
    facts = report["venues"]["2"]
    assert report["rows"] == 5
    assert facts["trade_rows"] == 4
    assert facts["trades"] == 1  # four prints of one sell at one ts_event
    assert facts["spread_ticks"]["share_one_tick"] == 0.0  # 222.81 x 222.83 throughout


def test_the_command_prints_json_and_draws_the_same_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [_row(T0 + i * 10**8, action="T", side="B" if i % 2 else "A") for i in range(40)]
    data = _write(tmp_path / "alt.csv", rows)
    figures = []
    for name in ("one.png", "two.png"):
        outcome = run_main(["stats", str(data), "--plot", str(tmp_path / name), "-q"], capsys)
        assert outcome.returncode == 0, outcome.stderr
        report = json.loads(outcome.stdout)
        assert report["overall"]["trade_sign_autocorrelation"]["1"] == -1.0
        figures.append((tmp_path / name).read_bytes())
    assert figures[0] == figures[1]


S = 10**9
DEGENERATE = {
    # rows, then facts of "overall" that must come out exactly (None: undefined, null)
    "no trades": (
        [_row(T0 + i * S // 10) for i in range(50)],
        {"trades": 0, "spread_ticks": {"mean": 2.0, "median": 2.0, "share_one_tick": 0.0},
         "markout_bps": {"1": None, "10": None, "60": None}},
    ),
    "one row": (
        [_row(T0)],
        {"rows": 1, "messages_per_s": None, "spread_ticks": {"mean": None, "median": None, "share_one_tick": None},
         "best_size": {"bid": None, "ask": None}},
    ),
    "one timestamp": (
        [_row(T0, action="T", side="A"), _row(T0), _row(T0, action="T", side="B")],
        {"trades": 1, "trades_per_s": None, "ofi": {"1": {"slope": None, "r2": None,
         "intervals": 0}, "10": {"slope": None, "r2": None, "intervals": 0},
         "60": {"slope": None, "r2": None, "intervals": 0}}},
    ),
    "a constant price": (
        [_row(T0 + i * S, action="T" if i % 3 == 0 else "A", side="B") for i in range(100)],
        {"trades": 34, "markout_bps": {"1": 0.0, "10": 0.0, "60": 0.0},
         "queue_turnover_s": {"bid": None, "ask": None}},
    ),
    "a constant mid under moving sizes": (
        [_row(T0 + i * S // 2, bid_sz=100 + (i * 37) % 400) for i in range(300)],
        {"ofi": {"1": {"slope": 0.0, "r2": None, "intervals": 149},
                 "10": {"slope": 0.0, "r2": None, "intervals": 14},
                 "60": {"slope": None, "r2": None, "intervals": 2}}},
    ),
    "no asks": (
        [_row(T0 + i * S, ask=0, ask_sz=0, action="T" if i % 2 else "A", side="A")
         for i in range(100)],
        {"trades": 50, "spread_ticks": {"mean": None, "median": None, "share_one_tick": None},
         "markout_bps": {"1": None, "10": None, "60": None}},
    ),
    "no bids": (
        [_row(T0 + i * S, bid=0, bid_sz=0) for i in range(100)],
        {"best_size": {"bid": None, "ask": None}, "trade_sign_autocorrelation": dict.fromkeys(
            map(str, range(1, 11)))},
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(DEGENERATE))
def test_degenerate_data_gives_exact_facts_and_a_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    rows, expected = DEGENERATE[case]
    data = _write(tmp_path / "day.csv", rows)
    plot = tmp_path / "stats.png"
    outcome = run_main(["stats", str(data), "--plot", str(plot), "-q"], capsys)
    assert outcome.returncode == 0 and outcome.stderr == "", outcome.stderr
    overall = json.loads(outcome.stdout)["overall"]
    assert {key: overall[key] for key in expected} == expected
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["day.csv", "stats.png"]


def test_a_file_without_rows_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _write(tmp_path / "empty.csv", [])
    outcome = run_main(["stats", str(data), "--plot", str(tmp_path / "stats.png"), "-q"], capsys)
    assert outcome.returncode == 2
    assert outcome.stderr.splitlines() == [f"sor: error: {data}: no rows to describe"]
    assert not (tmp_path / "stats.png").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lags", "0"], "--lags: must be >= 1"),
        (["--intervals", "1,x"], "--intervals: expected comma-separated numbers"),
        (["--horizons", "0"], "--horizons"),
        (["--tick", "-1"], "--tick"),
        (["--tick", "nan"], "--tick: must be a finite number"),
        (["--tick", "inf"], "--tick: must be a finite number"),
        (["--tick", "1e-300"], "--tick: must be at least 1e-09 (one nano-dollar"),
        (["--tick", "1.5e-9"], "--tick: must be a whole number of nano-dollars"),
        (["--tick", "2"], "--tick: must be <= 1, got 2"),
    ],
)
def test_bad_flags_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    data = _write(tmp_path / "one.csv", [_row(T0)])
    outcome = run_main(["stats", str(data), "--no-plot", *args], capsys)
    assert outcome.returncode == 2
    (line,) = outcome.stderr.splitlines()
    assert line.startswith("sor: error: ") and message in line, outcome.stderr


def test_the_finest_tick_counts_spreads_in_nano_dollars(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [_row(T0 + i * 10**9, action="T", side="B" if i % 2 else "A") for i in range(5)]
    data = _write(tmp_path / "fine.csv", rows)
    outcome = run_main(["stats", str(data), "--no-plot", "-q", "--tick", "1e-9"], capsys)
    assert outcome.returncode == 0 and outcome.stderr == ""
    report = json.loads(outcome.stdout)
    assert report["settings"]["tick"] == 1e-9
    assert report["overall"]["spread_ticks"]["mean"] == 20_000_000.0  # 222.81 x 222.83


def test_a_bad_row_names_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "bad.csv", [_row(T0), {**_row(T0 + 1), "bid_sz_00": "abc"}])
    outcome = run_main(["stats", str(data), "--no-plot", "-q"], capsys)
    assert outcome.returncode == 2
    assert "line 3" in outcome.stderr and "bid_sz_00" in outcome.stderr
    skipped = run_main(["stats", str(data), "--no-plot", "-q", "--skip-bad-rows"], capsys)
    assert skipped.returncode == 0, skipped.stderr
    assert json.loads(skipped.stdout)["rows"] == 1


def test_the_volatility_is_the_rms_of_the_mids_minute_changes(tmp_path: Path) -> None:
    # the mid, each minute: up 2 cents, down 1 (after two quotes inside the minute), flat
    minute = 60 * 10**9
    rows = [
        _row(T0),
        _row(T0 + 30 * 10**9, bid=BID + 0.05, ask=ASK + 0.05),  # inside a minute: unseen
        _row(T0 + minute - 1, bid=BID + 0.02, ask=ASK + 0.02),
        _row(T0 + minute + 5 * 10**9, bid=BID - 0.03, ask=ASK - 0.03),
        _row(T0 + 2 * minute, bid=BID + 0.01, ask=ASK + 0.01),
        _row(T0 + 3 * minute + 10**9),
    ]
    report = file_stats(_write(tmp_path / "vol.csv", rows)).report
    mids = [(BID + ASK) / 2 + c for c in (0.0, 0.02, 0.01, 0.01)]  # at T0 + 0, 1, 2, 3 min
    changes = [b - a for a, b in itertools.pairwise(mids)]
    rms = (sum(c * c for c in changes) / len(changes)) ** 0.5
    expected = rms / (sum(mids) / len(mids)) * 1e4
    for facts in (report["venues"]["2"], report["overall"]):
        assert facts["volatility_bps"]["60"] == pytest.approx(expected, rel=1e-5)  # 6 digits
        assert facts["volatility_intervals"] == {"60": 3}


def test_a_file_under_two_minutes_has_no_volatility(tmp_path: Path) -> None:
    rows = [_row(T0), _row(T0 + 100 * 10**9, bid=BID + 0.01, ask=ASK + 0.01)]
    report = file_stats(_write(tmp_path / "short.csv", rows)).report
    assert report["overall"]["volatility_bps"] == {"60": None}
    assert report["overall"]["volatility_intervals"] == {"60": 1}
