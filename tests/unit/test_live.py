"""The live router on a stream buys (and sells) exactly what the backtest's router does."""

from __future__ import annotations

from pathlib import Path

import pytest

from sor.core.domain import VenueCosts
from sor.core.search import SearchGrid
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.static.backtest import BacktestConfig, run_backtest
from sor.streaming.codec import decode, encode, snapshot_message
from sor.streaming.live import LiveRouter


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_live_fills_equal_the_backtest_router(tmp_path: Path, side: str) -> None:
    path = tmp_path / "market.csv"
    generate_market(path, venues=4, seed=9, start="2024-08-01T13:36:32Z",
                    end="2024-08-01T13:37:02Z", depth=1)  # fmt: skip
    market = read_market(path)
    costs = VenueCosts(fees=((5, 0.001),))
    # through the codec once (each message a millisecond): every order size reads the same
    messages = [decode(encode(snapshot_message(seq, row, replay="r")))
                for seq, row in enumerate(market.snapshots)]  # fmt: skip
    for order_size in (500, 3000, 20_000):
        config = BacktestConfig(order_size=order_size, costs=costs,
                                grid=SearchGrid((0.1,), (0.1,), (0.1,)), side=side)  # fmt: skip
        router = run_backtest(market, config).router
        live = LiveRouter(order_size, costs, side=side)
        for message in messages:
            live.on_snapshot(message)
        live.finish()
        expected = [
            (f.ts_event, f.publisher_id, f.quantity, round(f.price * 1e9)) for f in router.fills
        ]
        assert live.fills == expected
        assert (live.filled, live.cash_nanos) == (router.total_fill, router.total_cash_nanos)
