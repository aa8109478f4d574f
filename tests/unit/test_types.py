"""The run's choices as types: names read back, signs, baselines, the compiled kernels'
codes, and the names the flags and the configuration file accept."""

from __future__ import annotations

import typing

import numba
import pytest

from sor.app import settings
from sor.ck import queue
from sor.core.errors import ConfigError
from sor.core.types import FillRule, QueueModel, Side
from sor.static.backtest import BacktestConfig


def test_a_side_knows_its_sign_name_and_baselines() -> None:
    assert (Side.BUY.sign, Side.SELL.sign) == (1, -1)
    assert Side.parse("sell") is Side.SELL and Side.parse(Side.BUY) is Side.BUY
    assert f"{Side.SELL}" == str(Side.SELL) == "sell"
    assert Side.BUY.baselines == ("best_ask", "twap", "vwap")
    assert Side.SELL.baselines == ("best_bid", "twap", "vwap")
    with pytest.raises(ConfigError, match="unknown side 'short'; choose one of buy, sell"):
        Side.parse("short")
    # a configuration takes the name, and keeps the type
    assert BacktestConfig(side="sell").side is Side.SELL  # type: ignore[arg-type]
    assert BacktestConfig().side is Side.BUY


def test_a_compiled_kernel_takes_the_enums_as_they_are() -> None:
    @numba.njit(cache=False)
    def signed(side: Side, shares: int) -> int:
        return shares * side

    assert (signed(Side.BUY, 300), signed(Side.SELL, 300)) == (300, -300)


def test_the_simulators_codes_are_the_enums() -> None:
    assert {m.text: int(m) for m in QueueModel} == queue.QUEUE_MODELS
    assert tuple(QueueModel) == (queue.CONSERVATIVE, queue.PROBABILISTIC, queue.FIFO)
    assert queue.CROSSING_FILLS == queue.TRADE_FILLS == {r.text: int(r) for r in FillRule}
    assert tuple(FillRule) == (queue.DISPLAYED, queue.WHOLE)


def test_the_flags_accept_exactly_the_enums_names() -> None:
    assert typing.get_args(settings.SideName) == Side.names()
    # the same names, in the order the help and the error messages have always listed them
    assert sorted(typing.get_args(settings.QueueModelName)) == sorted(QueueModel.names())
    assert sorted(typing.get_args(settings.FallbackQueueModelName)) == sorted(queue.L2_QUEUE_MODELS)
    assert typing.get_args(settings.FillRuleName) == FillRule.names()
