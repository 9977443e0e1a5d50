"""Direct Kafka: the party produces its raw topic and consumes its inbox itself; nothing
runs in the hub (its principal's ACLs cover those two topics)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors._config import ConnectorSpec
from connectors._registry import Transport, register


class KafkaConnector(ConnectorSpec):
    """The party produces ``raw.<party>.v1`` and consumes ``out.<party>.v1`` itself;
    nothing runs in the hub (its principal's ACLs cover those two topics)."""

    type: Literal["kafka"] = Field(description="direct Kafka")


register(Transport("kafka", KafkaConnector, "direct", lambda c, runtime: None, lambda c: ""))
