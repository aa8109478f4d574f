"""Selling a market is buying its mirror image (docs/semantics.md section 10).

The test reflects a market CSV on its own: every price ``p -> 2c - p`` around the first
whole dollar ``c`` above every price, bid and ask columns swapped, sides swapped (an order's
book side and a trade's aggressor). A sell backtest on the original and a buy backtest on the
reflection then fill the same shares at the same times and venues at mirrored prices, and
the sale's proceeds are ``2c * shares`` less the purchase's cost, for every strategy of both
models.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from sor.ck.backtest import run_ck_backtest
from sor.ck.router import CKSettings
from sor.core.domain import NANOS_PER_DOLLAR, StrategyResult
from sor.core.search import SearchGrid
from sor.data.events import read_events
from sor.data.generate import generate_market
from sor.data.reader import read_market
from sor.report.ck_report import build_ck_report
from sor.static.backtest import BacktestConfig, run_backtest

START = "2024-08-01T13:36:32Z"


def _is_price(name: str) -> bool:
    return name == "price" or name.startswith(("bid_px_", "ask_px_"))


def _swapped(name: str) -> str:
    if name.startswith("bid_"):
        return "ask_" + name[4:]
    if name.startswith("ask_"):
        return "bid_" + name[4:]
    return name


def reflect_csv(source: Path, target: Path) -> int:
    """Write the mirror image of the market ``source`` to ``target``; return ``2c`` (nanos)."""
    with source.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    prices = [Decimal(row[n]) for row in rows for n in header if _is_price(n) and row[n]]
    two_c = 2 * (int(max(prices)) + 1)
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            out: dict[str, Any] = {}
            for name in header:
                value = row[name]
                if _is_price(name) and value and Decimal(value) > 0:
                    value = str(two_c - Decimal(value))
                if name == "side":
                    value = {"A": "B", "B": "A"}.get(value, value)
                out[_swapped(name)] = value
            writer.writerow(out)
    return two_c * NANOS_PER_DOLLAR


@pytest.fixture(scope="module", params=[3, 8])
def markets(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("mirror")
    original, mirror = folder / "market.csv", folder / "mirror.csv"
    # ten levels: a marketable sell sweeps the bids across venues and levels
    generate_market(original, venues=4, seed=request.param, start=START,
                    end="2024-08-01T13:37:32Z", depth=10)  # fmt: skip
    return original, mirror, reflect_csv(original, mirror)


def _mirrored(sold: StrategyResult, bought: StrategyResult, two_c: int) -> None:
    assert sold.total_fill == bought.total_fill
    assert sold.total_cash_nanos == two_c * bought.total_fill - bought.total_cash_nanos
    assert sold.completion_ts == bought.completion_ts
    assert [(f.ts_event, f.publisher_id, f.quantity) for f in sold.fills] == [
        (f.ts_event, f.publisher_id, f.quantity) for f in bought.fills
    ]
    for s, b in zip(sold.fills, bought.fills, strict=True):
        assert round(s.price * NANOS_PER_DOLLAR) == two_c - round(b.price * NANOS_PER_DOLLAR)


@pytest.mark.parametrize("order_size", [700, 5000, 40_000])
def test_static_sell_mirrors_a_buy_of_the_reflection(markets, order_size: int) -> None:  # type: ignore[no-untyped-def]
    original, mirror, two_c = markets
    grid = SearchGrid((0.1, 0.4), (0.1,), (0.1,))
    sold = run_backtest(read_market(original), BacktestConfig(order_size, grid=grid, side="sell"))
    bought = run_backtest(read_market(mirror), BacktestConfig(order_size, grid=grid))
    _mirrored(sold.router, bought.router, two_c)
    assert list(sold.baselines) == ["best_bid", "twap", "vwap"]
    for sell_name, buy_name in zip(sold.baselines, bought.baselines, strict=True):
        _mirrored(sold.baselines[sell_name], bought.baselines[buy_name], two_c)


def test_ck_sell_mirrors_a_buy_of_the_reflection(markets) -> None:  # type: ignore[no-untyped-def]
    original, mirror, two_c = markets
    grid = SearchGrid((0.05,), (0.01, 0.2), (0.0005, 0.05))

    def report(path: Path, side: str) -> dict[str, Any]:
        config = BacktestConfig(3000, grid=grid, model="ck", side=side)
        return build_ck_report(run_ck_backtest(read_events(path), read_market(path), config,
                               horizons_s=(0.5, 2.0), settings=CKSettings(), workers=1))  # fmt: skip

    sold, bought = report(original, "sell"), report(mirror, "buy")
    assert sold["best_parameters"] == bought["best_parameters"]
    pairs = [("optimized", "optimized")] + [
        (f"baselines/{s}", f"baselines/{b}")
        for s, b in zip(sold["baselines"], bought["baselines"], strict=True)
    ]
    assert [s for s, _ in pairs[1:]] == [f"baselines/{n}" for n in
                                         ("best_bid", "twap", "vwap", "passive", "static")]  # fmt: skip
    for sell_key, buy_key in pairs:
        s, b = _at(sold, sell_key), _at(bought, buy_key)
        assert s["total_fill"] == b["total_fill"], sell_key
        assert s["total_cash"].nanos == two_c * b["total_fill"] - b["total_cash"].nanos, sell_key
    for name, details in sold["strategies"].items():
        other = bought["strategies"]["best_ask" if name == "best_bid" else name]
        assert details["passive_share"] == other["passive_share"], name
        assert details["rebates"].nanos == other["rebates"].nanos, name
        assert details["completion_time"] == other["completion_time"], name
    for s_row, b_row in zip(sold["search"]["table"], bought["search"]["table"], strict=True):
        assert s_row["total_cash"].nanos == two_c * b_row["total_fill"] - b_row["total_cash"].nanos


def _at(report: dict[str, Any], key: str) -> dict[str, Any]:
    node: Any = report
    for part in key.split("/"):
        node = node[part]
    return node
