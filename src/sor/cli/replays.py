"""``sor replays``: list the replays a topic holds."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from sor.cli.common import (
    BROKER_HELP,
    TOPIC_HELP,
    KafkaConfigFlag,
    Opt,
    setup_logging,
    user_errors,
)
from sor.core.defaults import DEFAULT_BOOTSTRAP

log = logging.getLogger("sor")


def replays(
    kafka: Annotated[
        str | None,
        Opt(help=BROKER_HELP),
    ] = None,
    topic: Annotated[str | None, Opt(help=TOPIC_HELP)] = None,
    config: KafkaConfigFlag = None,
) -> None:
    """List the replays a Kafka topic holds, oldest first.

    One line each: id, offset, content, messages received/announced, complete or not, and
    the source.

    Example: sor replays --kafka localhost:9092 --topic mock_l1_stream
    """
    setup_logging(True)
    with user_errors():
        from sor.app.settings import KafkaSettings, config_path, load_config
        from sor.streaming.consumer import list_replays

        stream = KafkaSettings.resolve(load_config(config_path(config)), bootstrap=kafka,
                                       topic=topic)  # fmt: skip
        found = list_replays(stream.bootstrap or DEFAULT_BOOTSTRAP, stream.topic,
                             client=stream.client)  # fmt: skip
        for info in found:
            state = "complete" if info.complete else "incomplete"
            count = "?" if info.count is None else str(info.count)
            typer.echo(
                f"{info.replay}  offset {info.offset}  {info.content or '?'}  "
                f"{info.received}/{count} {state}  {info.source or '(no start marker)'}"
            )
        if not found:
            log.warning("no replay in the topic")
