"""Markouts in the backtest reports and the ck router's cost split, on a market worked by hand.

The market (two venues, MBP-1, every row a complete book, no trades):

| t (s) | venue 2 bid / ask (size) | venue 9 bid / ask (size) | NBBO mid |
|---|---|---|---|
| 0 | 9.99 / 10.01 (200 / 200) | 9.98 / 10.02 (100 / 100) | 10.00 |
| 1 | 9.98 / 10.00 (100 / 100) | unchanged | 9.99 |
| 10 | 9.96 / 9.98 (100 / 100) | 9.95 / 9.99 (100 / 100) | 9.97 |
| 60 | 9.90 / 9.92 (100 / 100) | 9.89 / 9.93 (100 / 100) | 9.91 |
| 70 | 9.93 / 9.95 (100 / 100) | 9.92 / 9.96 (100 / 100) | 9.94 |

A fill at 0 is marked out at 1, 10 and 60 s by (10.00 - 9.99, 9.97, 9.91) / 10.00: 10, 30
and 90 bps for a buy, the opposite for a sell. A fill at 60 s: 0 at 1 s, (9.91 - 9.94) / 9.91
= -30.2724... bps at 10 s (70 s is the last row: still measured), none at 60 s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sor.ck.backtest import run_ck_backtest
from sor.ck.latency import OrderLatency
from sor.ck.router import CKSettings
from sor.core.search import SearchGrid
from sor.data.events import read_events
from sor.data.reader import read_market
from sor.report.builder import build_report
from sor.report.ck_report import build_ck_report
from sor.report.markouts import FillLog, TopOfBook, cost_split
from sor.static.backtest import BacktestConfig, run_backtest

S = 1_000_000_000
D = 1_000_000_000
HEADER = (
    "ts_recv,ts_event,rtype,publisher_id,instrument_id,action,side,depth,price,size,flags,"
    "ts_in_delta,sequence,bid_px_00,ask_px_00,bid_sz_00,ask_sz_00,bid_ct_00,ask_ct_00,symbol"
)
BOOKS = [  # (seconds, venue, bid, ask, bid size, ask size)
    (0, 2, "9.99", "10.01", 200, 200),
    (0, 9, "9.98", "10.02", 100, 100),
    (1, 2, "9.98", "10.00", 100, 100),
    (10, 2, "9.96", "9.98", 100, 100),
    (10, 9, "9.95", "9.99", 100, 100),
    (60, 2, "9.90", "9.92", 100, 100),
    (60, 9, "9.89", "9.93", 100, 100),
    (70, 2, "9.93", "9.95", 100, 100),
    (70, 9, "9.92", "9.96", 100, 100),
]
LATE = (9.91 - 9.94) / 9.91 * 1e4  # the 10 s markout of a buy at 60 s


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("markouts") / "hand.csv"
    lines = [HEADER]
    for seq, (t, venue, bid, ask, bid_sz, ask_sz) in enumerate(BOOKS):
        ts = f"2024-08-01T13:{t // 60:02d}:{t % 60:02d}.000000000Z"
        lines.append(f"{ts},{ts},1,{venue},38,A,B,0,{bid},{bid_sz},130,0,{seq},{bid},{ask},"
                     f"{bid_sz},{ask_sz},1,1,AAPL")  # fmt: skip
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(side: str, **grid: float) -> BacktestConfig:
    values = {"lambda_over": 0.05, "lambda_under": 0.05, "theta_queue": 0.005, **grid}
    return BacktestConfig(
        order_size=200,
        side=side,
        grid=SearchGrid(
            (values["lambda_over"],), (values["lambda_under"],), (values["theta_queue"],)
        ),
    )


def _marks(report: dict, name: str) -> tuple[dict, dict]:
    entry = report["markouts"]["strategies"][name]
    return entry["markout_bps"], entry["shares_measured"]


def _expected(sign: int) -> dict[str, tuple[list[float | None], list[int]]]:
    """Markouts (1, 10, 60 s) and measured shares of the snapshot strategies."""
    at_0 = [10.0, 30.0, 90.0]
    return {
        "router": ([sign * m for m in at_0], [200, 200, 200]),
        # twap: 100 at 0, 100 at 60 s (its second bucket)
        "twap": ([sign * 5.0, sign * (3000 + 100 * LATE) / 200, sign * 90.0], [200, 200, 100]),
        # vwap: displayed sizes 700 in the first bucket, 400 in the second: 127 at 0, 73 at 60
        "vwap": (
            [sign * 1270 / 200, sign * (127 * 30 + 73 * LATE) / 200, sign * 90.0],
            [200, 200, 127],
        ),
    }


def _check(report: dict, sign: int, sweep: str) -> None:
    markouts = report["markouts"]
    assert list(report)[-1] == "markouts" and markouts["horizons_s"] == [1, 10, 60]
    expected = _expected(sign)
    expected[sweep] = expected["router"]  # the sweep takes venue 2's 200 shares at 0 too
    for name, (values, shares) in expected.items():
        got, measured = _marks(report, name)
        assert list(got.values()) == pytest.approx(values, abs=1e-9), name
        assert list(measured.values()) == shares, name
        assert markouts["strategies"][name]["shares"] == 200


def test_static_buy_markouts_by_hand(market: Path) -> None:
    report = build_report(run_backtest(read_market(market), _config("buy")))
    assert list(report["markouts"]["strategies"]) == ["router", "best_ask", "twap", "vwap"]
    _check(report, 1, "best_ask")
    assert report["markouts"]["strategies"]["twap"]["fills"] == 2
    assert "cost_split" not in report["markouts"]


def test_static_sell_markouts_by_hand(market: Path) -> None:
    report = build_report(run_backtest(read_market(market), _config("sell")))
    assert list(report["markouts"]["strategies"]) == ["router", "best_bid", "twap", "vwap"]
    _check(report, -1, "best_bid")


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_ck_markouts_and_cost_split_by_hand(market: Path, side: str) -> None:
    # no trade ever prints, so a limit order cannot fill: with underfilling this dear the
    # router buys (sells) all 200 shares at its first decision, 0.5 s in, from venue 2's
    # 200 at 10.01 (9.99), where the mid is 10.00; no latency
    sign = 1 if side == "buy" else -1
    report = build_ck_report(run_ck_backtest(
        read_events(market), read_market(market), _config(side, lambda_under=0.5),
        horizons_s=(0.5,), settings=CKSettings(latency=OrderLatency(0)), workers=1,
    ))  # fmt: skip
    markouts = report["markouts"]
    sweep = "best_ask" if side == "buy" else "best_bid"
    assert list(markouts["strategies"]) == ["router", "static", sweep, "twap", "vwap", "passive"]
    assert markouts["strategies"]["router"]["fills"] == 1
    _check(report, sign, sweep)
    assert _marks(report, "static") == _marks(report, sweep)
    split = markouts["cost_split"]
    # spread: 1 cent against a mid of 10.00 = 10 bps; fees 0.003 $ = 3 bps
    assert split["spread_bps"] == pytest.approx(10.0)
    assert split["fees_bps"] == pytest.approx(3.0)
    assert list(split["adverse_selection_bps"].values()) == pytest.approx(
        [sign * 10.0, sign * 30.0, sign * 90.0]
    )
    assert list(split["total_bps"].values()) == pytest.approx(
        [13 + sign * 10.0, 13 + sign * 30.0, 13 + sign * 90.0]
    )
    arrival = split["vs_arrival"]
    assert report["run"]["arrival_mid"] == 10.0
    assert [arrival[k] for k in ("spread_bps", "fees_bps", "mid_move_bps", "total_bps")] == (
        pytest.approx([10.0, 3.0, 0.0, 13.0])
    )
    shortfall = report["strategies"]["router"]["implementation_shortfall_bps"]
    assert arrival["total_bps"] == pytest.approx(shortfall, abs=1e-9)


def _book() -> TopOfBook:
    rows = np.array([(t * S, v, round(float(b) * D), round(float(a) * D))
                     for t, v, b, a, _, _ in BOOKS], dtype=np.int64)  # fmt: skip
    return TopOfBook(rows[:, 0], rows[:, 1].astype(np.int32), rows[:, 2], rows[:, 3])


def test_a_passive_fill_earns_the_spread_and_rebate_and_pays_adverse_selection() -> None:
    # a passive buy of 300 at 9.98 at 1 s (mid 9.99) with a 0.002 $ rebate, and a
    # marketable one of 100 at 9.92 at 60 s (mid 9.91) paying 0.003 $
    fills = FillLog.of_rows([(1 * S, 300, 9_980_000_000, -2_000_000),
                             (60 * S, 100, 9_920_000_000, 3_000_000)])  # fmt: skip
    split = cost_split(fills, 1, _book(), arrival_mid=10.0)
    passive_spread, taker_spread = -0.01 / 9.99 * 1e4, 0.01 / 9.91 * 1e4
    assert split["spread_bps"] == pytest.approx((300 * passive_spread + 100 * taker_spread) / 400)
    assert split["fees_bps"] == pytest.approx(
        (300 * -0.002 / 9.99 + 100 * 0.003 / 9.91) / 400 * 1e4
    )
    # at 1 s: 9.99 -> 9.99 (10 s is not yet reached) and 9.91 -> 9.91; at 10 s: 9.99 -> 9.97
    # and 9.91 -> 9.94; at 60 s the second fill is past the data
    assert split["adverse_selection_bps"]["1"] == pytest.approx(0.0)
    assert split["adverse_selection_bps"]["10"] == pytest.approx(
        (300 * 0.02 / 9.99 * 1e4 + 100 * LATE) / 400
    )
    assert split["adverse_selection_bps"]["60"] == pytest.approx(0.08 / 9.99 * 1e4)
    # against the arrival mid of 10.00: the same dollars over 10.00, and the mid's move
    arrival = split["vs_arrival"]
    assert arrival["mid_move_bps"] == pytest.approx((300 * -0.01 + 100 * -0.09) / 400 / 10 * 1e4)
    paid = (300 * (9.98 - 0.002) + 100 * (9.92 + 0.003)) / 400
    assert arrival["total_bps"] == pytest.approx((paid - 10.0) / 10.0 * 1e4)


@given(
    st.lists(
        st.tuples(st.integers(0, 80), st.integers(1, 1000), st.integers(-3, 3), st.booleans()),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from([1, -1]),
)
def test_the_cost_split_sums_to_its_total(
    rows: list[tuple[int, int, int, bool]], sign: int
) -> None:
    book = _book()
    fills = FillLog.of_rows(
        # a price up to 3 cents off 10.00, a fee of 0.003 $ or a rebate of 0.002 $
        (t * S, q, 10_000_000_000 + c * 10_000_000, 3_000_000 if taker else -2_000_000)
        for t, q, c, taker in rows
    )
    split = cost_split(fills, sign, book, arrival_mid=10.0)
    for h, total in split["total_bps"].items():
        adverse = split["adverse_selection_bps"][h]
        if adverse is None:
            assert total is None
            continue
        assert total == pytest.approx(split["spread_bps"] + split["fees_bps"] + adverse)
        if all(t * S + int(h) * S <= 70 * S for t, *_ in rows):
            # every fill measured: the total is each share's cost against the later mid
            mid, later = book.mids_at(fills.ts_ns), book.mids_at(fills.ts_ns + int(h) * S)
            cost = (sign * (fills.price_nanos / D - later) + fills.fee_nanos / D) / mid * 1e4
            assert total == pytest.approx(np.average(cost, weights=fills.qty))
    arrival = split["vs_arrival"]
    parts = arrival["spread_bps"] + arrival["fees_bps"] + arrival["mid_move_bps"]
    assert arrival["total_bps"] == pytest.approx(parts)
    net = (fills.price_nanos / D + sign * fills.fee_nanos / D) @ fills.qty / fills.qty.sum()
    assert arrival["total_bps"] == pytest.approx(sign * (net - 10.0) / 10.0 * 1e4)
