"""Evaluation over many days: every (day, parameter set) backtest on Dask, walk-forward
tuning, bootstrap intervals and the ``evaluation.json`` report (docs/evaluate.md)."""
