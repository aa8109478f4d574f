"""Money stays exact past int64 nano-dollars (9.2e9 $) on every path, or the run says why not.

Prices are scaled by 2**23 (about 8.4 million), so an order of a few thousand shares is
worth 1e12 to 1e13 $: far past what one int64 of nano-dollars holds. The static paths are
checked against the literal Decimal reference; the full model, which has no independent
reference, against itself on the unscaled market: multiplying every price, fee, rebate
and penalty by a power of two scales every float exactly, so each decision is the same and
every total must be exactly 2**23 times the unscaled one.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

import reference_backtest as ref
from sor.ck.backtest import run_ck_backtest
from sor.core.domain import NANOS_PER_DOLLAR, VenueCosts
from sor.core.errors import SorError
from sor.core.market import MarketData
from sor.core.search import SearchGrid
from sor.data.events import read_events, snapshots_from_events
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.report.builder import build_report, dumps
from sor.report.ck_report import build_ck_report
from sor.static.backtest import BacktestConfig, run_backtest
from sor.streaming.codec import decode, encode, snapshot_message
from sor.streaming.live import LiveRouter

SCALE = 2**23
START = "2024-08-01T13:36:32Z"
FEE, REBATE = 0.003, 0.002


def _scale_csv(source: Path, target: Path) -> None:
    """Write ``source`` with every price multiplied by SCALE plus 7 nano-dollars, as exact
    decimal text: no float near 2e9 holds such a price to the nano-dollar."""
    with source.open(newline="") as handle, target.open("w", newline="") as out:
        reader = csv.DictReader(handle)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [], lineterminator="\n")
        writer.writeheader()
        for row in reader:
            for name, text in row.items():
                if text and (name == "price" or "_px_" in name):
                    row[name] = str(Decimal(text) * SCALE + Decimal("0.000000007"))
            writer.writerow(row)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("money")
    plain, scaled = folder / "plain.csv", folder / "scaled.csv"
    generate_market(plain, venues=3, seed=5, start=START, end="2024-08-01T13:37:32Z", depth=1)
    _scale_csv(plain, scaled)
    return plain, scaled


@pytest.mark.parametrize("order_size", [1000, 4000])
def test_static_paths_are_exact_past_int64_nanos(files: tuple[Path, Path], order_size: int) -> None:
    _, scaled = files
    fee = FEE * SCALE
    config = BacktestConfig(
        order_size=order_size,
        costs=VenueCosts(default_fee=fee),
        grid=SearchGrid((0.4,), (0.4,), (0.4,)),
    )
    result = run_backtest(read_market(scaled), config)
    report = json.loads(dumps(build_report(result)), parse_float=Decimal)

    rows = ref.load_rows(scaled)
    fees = {v: Decimal(str(fee)) for v in {r["pub"] for r in rows}}
    start, end = rows[0]["ts"], rows[-1]["ts"]
    expected = {
        "best_ask": ref.replay(rows, fees, ref.sweep(lambda ts: order_size)),
        "twap": ref.replay(rows, fees, ref.twap(order_size, start, end)),
        "vwap": ref.replay(rows, fees, ref.vwap(order_size, rows, start, end)),
    }
    router = ref.replay(rows, fees, ref.router(order_size, fees))
    assert report["optimized"]["total_cash"] == router.total_cash
    assert report["optimized"]["total_fill"] == router.total_fill
    for name, want in expected.items():
        got = report["baselines"][name]
        assert want.total_cash > 10**12  # past int64 nano-dollars
        assert (got["total_cash"], got["total_fill"]) == (want.total_cash, want.total_fill)
        # the report's average is the nearest float to the exact quotient
        assert float(got["avg_fill_px"]) == float(want.total_cash / want.total_fill)


def test_live_router_is_exact_past_int64_nanos(files: tuple[Path, Path]) -> None:
    _, scaled = files
    market = read_market(scaled)
    costs = VenueCosts(default_fee=FEE * SCALE)
    config = BacktestConfig(order_size=3000, costs=costs, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    router = run_backtest(market, config).router
    live = LiveRouter(3000, costs)
    for seq, row in enumerate(market.snapshots):
        live.on_snapshot(decode(encode(snapshot_message(seq, row, replay="r"))))
    live.finish()
    assert router.total_cash_nanos > 2**63
    assert (live.filled, live.cash_nanos) == (router.total_fill, router.total_cash_nanos)


def _ck_report(events: np.ndarray, scale: int) -> dict:
    market = MarketData(snapshots=snapshots_from_events(events), source="money")
    config = BacktestConfig(
        order_size=3000,
        costs=VenueCosts(default_fee=FEE * scale, default_rebate=REBATE * scale),
        grid=SearchGrid((0.05 * scale,), (0.01 * scale, 0.2 * scale), (0.0005 * scale,)),
    )
    return build_ck_report(
        run_ck_backtest(events, market, config, horizons_s=(0.5, 2.0), workers=1)
    )


def test_ck_paths_scale_exactly_past_int64_nanos(files: tuple[Path, Path]) -> None:
    plain, _ = files
    events = read_events(plain)
    scaled = events.copy()
    for name in ("price", "bid_px", "ask_px"):
        scaled[name] = events[name] * SCALE
    base, big = _ck_report(events, 1), _ck_report(scaled, SCALE)
    assert big["best_parameters"]["lambda_under"] == base["best_parameters"]["lambda_under"] * SCALE
    strategies = {"router": ("optimized",), **{b: ("baselines", b) for b in base["baselines"]}}
    for name, path in strategies.items():
        small, large = base, big
        for key in path:
            small, large = small[key], large[key]
        assert large["total_fill"] == small["total_fill"], name
        assert large["total_cash"].nanos == small["total_cash"].nanos * SCALE, name
        assert large["total_cash"].nanos > 2**63, name
    router = big["strategies"]["router"]
    assert router["rebates"].nanos == base["strategies"]["router"]["rebates"].nanos * SCALE
    text = dumps(big)  # exact decimals in the JSON, not the nearest float
    cash = big["optimized"]["total_cash"].nanos
    assert f'"total_cash": {Decimal(cash) / NANOS_PER_DOLLAR}' in text


def test_an_order_beyond_exact_arithmetic_is_a_clear_error(files: tuple[Path, Path]) -> None:
    _, scaled = files
    config = BacktestConfig(order_size=10**12, grid=SearchGrid((0.1,), (0.1,), (0.1,)))
    with pytest.raises(SorError, match="beyond what the backtest sums exactly"):
        run_backtest(read_market(scaled), config)
