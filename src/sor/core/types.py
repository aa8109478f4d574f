"""The run's choices as types: the order's side, the queue model and the fill rules.

Each is an ``IntEnum``, so a compiled kernel takes it as it is (numba types an ``IntEnum``
member as its integer); each knows the name the command line, the configuration file and
the report use (:attr:`text`), and reads it back (:meth:`parse`).
"""

from __future__ import annotations

import enum
from typing import Self

from sor.core.errors import ConfigError


class _Named(enum.IntEnum):
    """An ``IntEnum`` written by its lower-case name."""

    @property
    def text(self) -> str:
        """The name the command line, the configuration and the report use."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.text

    def __format__(self, spec: str) -> str:
        return format(self.text, spec)

    @classmethod
    def parse(cls, value: str | int | Self) -> Self:
        """Return the member named ``value`` (a member or its code passes through).

        Raises
        ------
        ConfigError
            ``value`` names no member.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            for member in cls:
                if member.text == value:
                    return member
        elif isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                pass
        names = ", ".join(member.text for member in cls)
        raise ConfigError(f"unknown {cls.__name__.lower()} {value!r}; choose one of {names}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every member's name, in order."""
        return tuple(member.text for member in cls)


class Side(_Named):
    """The parent order's side; its value is the sign of its cash (a buy pays, a sell
    receives) and of its price improvement."""

    BUY = 1
    SELL = -1

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell."""
        return int(self)

    @property
    def baselines(self) -> tuple[str, str, str]:
        """The baselines of an order of this side: the best quote it takes, TWAP and VWAP
        (docs/semantics.md section 10)."""
        return ("best_bid" if self is Side.SELL else "best_ask", "twap", "vwap")


class QueueModel(_Named):
    """How the queue ahead of a resting order moves (docs/ck.md): the codes the compiled
    simulator takes."""

    CONSERVATIVE = 0
    PROBABILISTIC = 1
    FIFO = 2


class FillRule(_Named):
    """What a resting order gets from asks crossing its price (``--crossing-fill``) or from
    trades (``--trade-fill``): what the book displays, or the whole remainder
    (hftbacktest's rules)."""

    DISPLAYED = 0
    WHOLE = 1
