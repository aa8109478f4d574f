"""The full Cont-Kukanov model: solver, queue simulator, latency, router and backtest."""
