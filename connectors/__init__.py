"""Connectors of the Wuchang enforcement exchange hub: each party's native formats and
transports (docs/design.md §7). One package per party kind holds its mapping specs
(``<kind>/mappings/*.yaml``); the transports and the interface are shared.
"""

from connectors._base import (
    POSITION_HEADER,
    Emit,
    OutRecord,
    RawRecord,
    Sink,
    Source,
)
from connectors._config import (
    ConnectorConfig,
    FileDropConnector,
    KafkaConnector,
    PollConnector,
    WebhookConnector,
    load_connectors,
)
from connectors._runner import ConnectorRunner, ConnectorService
from connectors._sources import FileDropSource, HttpPollSource
from connectors._webhook import CircuitBreaker, DeliveryRefused, WebhookSettings, WebhookSink

__all__ = [
    "CircuitBreaker",
    "ConnectorConfig",
    "ConnectorRunner",
    "ConnectorService",
    "DeliveryRefused",
    "FileDropConnector",
    "FileDropSource",
    "HttpPollSource",
    "KafkaConnector",
    "PollConnector",
    "WebhookConnector",
    "WebhookSettings",
    "WebhookSink",
    "load_connectors",
    "POSITION_HEADER",
    "Emit",
    "OutRecord",
    "RawRecord",
    "Sink",
    "Source",
]
