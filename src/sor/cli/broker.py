"""``sor broker``: run the embedded Kafka broker."""

from __future__ import annotations

import logging
from typing import Annotated

from sor.cli.common import Opt, setup_logging, user_errors

log = logging.getLogger("sor")


def broker(
    port: Annotated[int, Opt(min=1, max=65535, help="Loopback port to listen on.")] = 9092,
) -> None:
    """Run the embedded Kafka broker until Ctrl-C.

    The broker (Tansu, Kafka protocol) runs in the foreground and keeps its topics in memory.

    Example: sor broker --port 9092
    """
    setup_logging(False)
    with user_errors():
        from sor.streaming.broker import EmbeddedBroker, stop_on_signals

        with stop_on_signals(), EmbeddedBroker(port) as running:
            log.info(
                "broker ready at %s; Ctrl-C stops it (topics live in memory)", running.bootstrap
            )
            running.wait()
