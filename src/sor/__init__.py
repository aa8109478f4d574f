"""sor: a smart order router backtester for Databento market-by-price data."""

__version__ = "0.1.0"
