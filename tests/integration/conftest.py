"""A real Kafka-protocol broker (the embedded Tansu) for the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sor.data.generate import generate_market
from sor.streaming.broker import EmbeddedBroker


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def market_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "market.csv"
    generate_market(
        path, venues=3, seed=21, start="2024-08-01T13:36:32Z", end="2024-08-01T13:37:32Z", depth=1
    )
    return path
