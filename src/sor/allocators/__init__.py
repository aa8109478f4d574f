"""Allocators: the static Cont-Kukanov splitter (exact and fast) and its brute-force reference."""

from sor.allocators.static import Allocation, allocate, static_split

__all__ = ["Allocation", "allocate", "static_split"]
