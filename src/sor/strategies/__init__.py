"""The router and the baselines, all run by the same replay loop."""

from sor.strategies.baselines import best_ask_targets, bucket_index, twap_targets, vwap_targets

__all__ = ["best_ask_targets", "bucket_index", "twap_targets", "vwap_targets"]
