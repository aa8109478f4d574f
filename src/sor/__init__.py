"""sor: a smart order router backtester for Databento market-by-price data.

As a library (docs/api.md)::

    import sor

    run = sor.backtest("market.csv", order_size=5000, model="ck")
    run.report["savings_vs_baselines_bps"], run.fills, run.search, run.plot()

Names are imported on first use, so ``import sor`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "backtest": "sor.api",
    "Backtest": "sor.api",
    "SETTINGS": "sor.api",
    "fills": "sor.api",
    "stats": "sor.api",
    "compare": "sor.api",
    "evaluate": "sor.api",
    "SorError": "sor.core.errors",
    "ConfigError": "sor.core.errors",
    "DataError": "sor.core.errors",
    "Side": "sor.core.types",
    "QueueModel": "sor.core.types",
    "FillRule": "sor.core.types",
}

if TYPE_CHECKING:
    from sor.api import SETTINGS, Backtest, backtest, compare, evaluate, fills, stats
    from sor.core.errors import ConfigError, DataError, SorError
    from sor.core.types import FillRule, QueueModel, Side

__all__ = [  # noqa: RUF022 -- the version first, then as _EXPORTS lists them
    "__version__", "backtest", "Backtest", "SETTINGS", "fills", "stats", "compare", "evaluate",
    "SorError", "ConfigError", "DataError", "Side", "QueueModel", "FillRule",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sor' has no attribute {name!r}")
