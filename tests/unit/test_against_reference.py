"""The product against the literal reference of tests/reference_backtest.py on generated data."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

import reference_backtest as ref
from sor.core.domain import NANOS_PER_DOLLAR, StrategyResult
from sor.core.search import SearchGrid
from sor.core.timestamps import parse_timestamp
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.static.backtest import BacktestConfig, run_backtest

START = "2024-08-01T13:36:32Z"
_load_rows = cache(ref.load_rows)  # read once per window and side; the replays only read them


@pytest.fixture(scope="module")
def market_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ref") / "market.csv"
    generate_market(path, venues=3, seed=11, start=START, end="2024-08-01T13:39:02Z", depth=1)
    return path


def _same(product: StrategyResult, reference: ref.RefResult) -> None:
    assert product.total_fill == reference.total_fill
    assert Decimal(product.total_cash_nanos) / NANOS_PER_DOLLAR == reference.total_cash


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("order_size", [300, 1000, 2500])
@pytest.mark.parametrize(
    "window", [(None, None), ("2024-08-01T13:37:00Z", "2024-08-01T13:38:45.5Z")]
)
def test_every_strategy_matches_the_reference(
    market_file: Path, order_size: int, window: tuple[str | None, str | None], side: str
) -> None:
    start = parse_timestamp(window[0]) if window[0] else None
    end = parse_timestamp(window[1]) if window[1] else None
    data = read_market(market_file, start_ns=start, end_ns=end)
    config = BacktestConfig(
        order_size=order_size,
        start_ns=start,
        end_ns=end,
        grid=SearchGrid((0.4,), (0.4,), (0.4,)),
        side=side,
    )
    result = run_backtest(data, config)

    rows = _load_rows(market_file, start, end, side)
    assert len(rows) == len(data.snapshots)
    fees = {v: Decimal("0.003") for v in {r["pub"] for r in rows}}
    w_start = start if start is not None else rows[0]["ts"]
    w_end = end if end is not None else rows[-1]["ts"]
    sweep_name = "best_bid" if side == "sell" else "best_ask"
    assert list(result.baselines) == [sweep_name, "twap", "vwap"]
    _same(result.router, ref.replay(rows, fees, ref.router(order_size, fees, side), side))
    _same(
        result.baselines[sweep_name],
        ref.replay(rows, fees, ref.sweep(lambda ts: order_size, side), side),
    )
    _same(
        result.baselines["twap"],
        ref.replay(rows, fees, ref.twap(order_size, w_start, w_end, side), side),
    )
    _same(
        result.baselines["vwap"],
        ref.replay(rows, fees, ref.vwap(order_size, rows, w_start, w_end, side), side),
    )
