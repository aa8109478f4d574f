"""The full Cont-Kukanov model: queue simulator, router and studies on it."""
