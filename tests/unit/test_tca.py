"""The blotter's transaction cost analysis against a computation written out here: the
shortfall against the arrival mid, the router's paired savings, their interval drawn by
whole clusters (none from too few), and the breakdowns by size, side and hour."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from sor.core.domain import (
    NANOS_PER_DOLLAR,
    NANOS_PER_HOUR,
    SNAPSHOT_DTYPE,
    RiskParameters,
    StrategyResult,
)
from sor.core.market import MarketData
from sor.core.search import SearchGrid
from sor.core.types import Side
from sor.data.blotter import Blotter
from sor.data.events import TRADE_DTYPE
from sor.report.tca import build_orders_report, orders_table
from sor.static.backtest import BacktestConfig
from sor.static.orders import OrderOutcome, OrdersResult

DAY = 1_722_470_400 * 10**9  # 2024-08-01T00:00:00Z
BASELINES = ("twap", "vwap")


def _snapshots(hours: int) -> np.ndarray:
    """Two venues quoting every hour from 13:00: venue 1 at mid 100 + h cents with 300
    shares a side, venue 2 one cent wider with 200."""
    rows = []
    for h in range(hours):
        ts = DAY + (13 + h) * NANOS_PER_HOUR
        mid = 100 + h / 100
        rows.append((ts, 1, round((mid + 0.01) * 1e9), 300, round((mid - 0.01) * 1e9), 300))
        rows.append((ts, 2, round((mid + 0.02) * 1e9), 200, round((mid - 0.02) * 1e9), 200))
    return np.array(rows, dtype=SNAPSHOT_DTYPE)


def _strategy(
    name: str, size: int, filled: int, mid: float, side: Side, done: int, cents: float
) -> StrategyResult:
    """``filled`` shares at ``cents`` from ``mid`` against the order (completed at ``done``
    where filled whole)."""
    px = Fraction(str(round(mid + side.sign * cents / 100, 6)))
    return StrategyResult(name, size, filled, int(px * filled * NANOS_PER_DOLLAR),
                          done if filled == size else None)  # fmt: skip


def _result(hours: int, per_hour: int) -> OrdersResult:
    """Orders ``per_hour`` each hour, a minute apart; prices set so every figure differs."""
    snapshots = _snapshots(hours)
    times, sides, sizes, outcomes = [], [], [], []
    base = BacktestConfig(grid=SearchGrid((0.4,), (0.4,), (0.4,)))
    for h in range(hours):
        for j in range(per_hour):
            k = len(times)
            t = DAY + (13 + h) * NANOS_PER_HOUR + (j + 1) * 60 * 10**9
            side = Side.SELL if k % 3 == 0 else Side.BUY
            size = 100 * (2 + (k * 7) % 13)
            mid = 100 + h / 100
            times.append(t)
            sides.append(side)
            sizes.append(size)

            done = t + 10**9 * (1 + k % 5)
            router = _strategy("router", size, size - 100 * (k % 4 == 0), mid, side, done,
                               1 + ((k * 5) % 7) / 10)  # fmt: skip
            best = "best_bid" if side is Side.SELL else "best_ask"
            baselines = {
                best: _strategy(best, size, size, mid, side, done, 1.5),
                "twap": _strategy("twap", size, size, mid, side, done, 0.5 + ((k * 3) % 11) / 4),
                "vwap": _strategy("vwap", size, size, mid, side, done, 2 - (k % 6) / 3),
            }
            order = dataclasses.replace(base, side=side, order_size=size, start_ns=t,
                                        end_ns=t + 30 * 60 * 10**9)  # fmt: skip
            outcomes.append(OrderOutcome(order, (router,), baselines))
    n = len(times)
    blotter = Blotter(
        path=Path("orders.csv"), ids=tuple(f"o{k}" for k in range(n)),
        time_ns=np.array(times, dtype=np.int64),
        end_ns=np.array(times, dtype=np.int64) + 30 * 60 * 10**9, sides=tuple(sides),
        sizes=np.array(sizes, dtype=np.int64), lines=tuple(range(2, n + 2)),
        carried=pl.DataFrame({"desk": [f"d{k % 2}" for k in range(n)]}),
    )  # fmt: skip
    # each hour two prints: one before every order, 300 shares half a cent under the mid
    # at ten past, inside every order's half hour
    prints = [(DAY + (13 + h) * NANOS_PER_HOUR + offset, 1, px, size)
              for h in range(hours)
              for offset, px, size in ((30 * 10**9, round((100.005 + h / 100) * 1e9), 100),
                                       (600 * 10**9, round((99.995 + h / 100) * 1e9), 300))]  # fmt: skip
    trades = np.array(prints, dtype=TRADE_DTYPE)
    market = MarketData(snapshots=snapshots, source="synthetic", trades=trades)
    return OrdersResult(base, market, blotter, (RiskParameters(0.4, 0.4, 0.4),),
                        tuple(outcomes), 0)  # fmt: skip


def _expected(result: OrdersResult) -> dict[str, list[tuple[Decimal, str, int]]]:
    """Each baseline's paired savings (bps, exact), the order's hour and its index."""
    out: dict[str, list[tuple[Decimal, str, int]]] = {}
    for k, outcome in enumerate(result.orders):
        router = outcome.search[0]
        hour = str((int(result.blotter.time_ns[k]) - DAY) // NANOS_PER_HOUR)
        for name, value in outcome.baselines.items():
            ours = Decimal(router.total_cash_nanos) / router.total_fill
            theirs = Decimal(value.total_cash_nanos) / value.total_fill
            gain = (ours - theirs) if outcome.config.side is Side.SELL else (theirs - ours)
            key = "best_quote" if name.startswith("best_") else name
            out.setdefault(key, []).append((gain / theirs * 10_000, hour, k))
    return out


def _bootstrap(values: list[float], clusters: list[str], seed: int) -> tuple[float, float]:
    """The percentile cluster bootstrap written out: clusters in order of first sight."""
    names = list(dict.fromkeys(clusters))
    members = [[v for v, c in zip(values, clusters, strict=True) if c == name] for name in names]
    rng = np.random.default_rng(seed)
    means = []
    for _ in range(10_000):
        picks = [members[int(i)] for i in rng.integers(0, len(names), size=len(names))]
        means.append(sum(sum(p) for p in picks) / sum(len(p) for p in picks))
    low, high = np.quantile(means, [0.025, 0.975])
    return float(low), float(high)


def test_savings_and_their_interval_by_hour() -> None:
    result = _result(hours=11, per_hour=3)
    tca = build_orders_report(result)["tca"]
    assert (tca["intervals"]["clusters"], tca["intervals"]["count"]) == ("hour", 11)
    for name, rows in _expected(result).items():
        got = tca["router_savings_bps"][name]
        values = [float(v) for v, _, _ in rows]
        assert got["orders"] == len(rows) == 33
        assert got["mean"] == pytest.approx(float(sum(v for v, _, _ in rows) / len(rows)))
        assert got["won"] == sum(v > 0 for v in values) / len(values)
        assert got["ci95"] == pytest.approx(
            list(_bootstrap(values, [h for _, h, _ in rows], tca["intervals"]["seed"])),
            abs=1e-9,
        )
        assert (got["clusters"], got["no_interval"]) == (11, None)


def test_no_interval_from_nine_hours() -> None:
    tca = build_orders_report(_result(hours=9, per_hour=4))["tca"]
    for got in tca["router_savings_bps"].values():
        assert got["ci95"] is None and got["mean"] is not None
        assert got["no_interval"] == (
            "36 orders from 9 hours: an interval needs at least 10 independent hours"
        )


def test_shortfall_and_breakdowns_add_up() -> None:
    result = _result(hours=4, per_hour=5)
    tca = build_orders_report(result)["tca"]
    table = orders_table(result)
    router = table.filter(pl.col("strategy") == "router")
    # the arrival mid is the NBBO mid of the hour's quotes: 100 + h cents
    hours = (router["time"].str.slice(11, 2).cast(pl.Int64) - 13).to_list()
    assert router["arrival_mid"].to_list() == pytest.approx([100 + h / 100 for h in hours])
    # share-weighted and per-order shortfall from the table's own columns
    weights = router["total_fill"].to_numpy()
    shortfall = router["shortfall_bps"].to_numpy()
    figures = tca["strategies"]["router"]
    assert figures["shortfall_bps"] == pytest.approx(np.sum(shortfall * weights) / weights.sum())
    assert figures["shortfall_bps_per_order"] == pytest.approx(shortfall.mean())
    assert figures["completed"] == router["duration_s"].is_not_null().sum()
    assert figures["duration_s"] == pytest.approx(router["duration_s"].mean())
    # the mid holds within an hour and the last hour's quotes are the data's last row
    for h in ("1", "10", "60"):
        marks = router[f"markout_{h}s_bps"].to_list()
        done = router["duration_s"].is_not_null().to_list()
        assert marks == [
            0.0 if ok and hour < 3 else None for ok, hour in zip(done, hours, strict=True)
        ]
        assert figures["markout_bps"][h] == 0.0
    assert figures["passive_share"] == 0.0 and set(router["passive_fill"]) == {0}
    # the interval VWAP is the print at ten past; the shortfall against it from the table
    assert router["interval_vwap"].to_list() == pytest.approx([99.995 + h / 100 for h in hours])
    sign = router["side"].replace_strict({"buy": 1.0, "sell": -1.0}).to_numpy()
    versus = sign * (router["avg_fill_px"] - router["interval_vwap"]) / router["interval_vwap"]
    assert router["shortfall_vs_interval_vwap_bps"].to_numpy() == pytest.approx(
        versus.to_numpy() * 10_000
    )
    assert figures["shortfall_vs_interval_vwap_bps"] == pytest.approx(
        np.sum(versus.to_numpy() * 10_000 * weights) / weights.sum()
    )
    # depth shown at arrival: 500 a side; sizes 200..1,400 fall in three buckets
    assert set(router["displayed_depth"].to_list()) == {500}
    sizes = tca["breakdown"]["size"]
    assert list(sizes) == ["< 0.5x depth", "0.5-1x depth", "1-2x depth", "2-5x depth"][: len(sizes)]
    for breakdown in tca["breakdown"].values():
        assert sum(b["orders"] for b in breakdown.values()) == 20
    assert list(tca["breakdown"]["side"]) == ["buy", "sell"]
    assert list(tca["breakdown"]["time_of_day"]) == [f"{13 + h}:00 UTC" for h in range(4)]
    sell = tca["breakdown"]["side"]["sell"]["router_savings_bps"]["twap"]
    paired = table.filter((pl.col("strategy") == "twap") & (pl.col("side") == "sell"))
    assert sell["mean"] == pytest.approx(paired["router_saving_bps"].mean())
    assert table["desk"].to_list()[:5] == ["d0"] * 4 + ["d1"]  # carried, one row a strategy


def test_carried_columns_named_as_the_table_and_its_prefix_both_kept() -> None:
    # a blotter carrying "strategy" and "order_strategy" crashed on a duplicate column
    result = _result(hours=1, per_hour=2)
    carried = pl.DataFrame({"order_strategy": ["a", "b"], "strategy": ["x", "y"]})
    result = dataclasses.replace(
        result, blotter=dataclasses.replace(result.blotter, carried=carried)
    )
    table = orders_table(result)
    assert table["order_strategy"].to_list()[:5] == ["a"] * 4 + ["b"]
    assert table["order_order_strategy"].to_list()[:5] == ["x"] * 4 + ["y"]
    assert table["strategy"].to_list()[:4] == ["router", "best_bid", "twap", "vwap"]
