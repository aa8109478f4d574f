"""The stylized facts of a Databento MBP file (``sor stats``): see docs/stats.md."""
