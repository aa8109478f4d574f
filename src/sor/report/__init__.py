"""The JSON report of both models and its figures."""
