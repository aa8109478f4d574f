"""Readers, windowing and snapshot building for Databento MBP data, and the generator."""
