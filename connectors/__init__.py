"""Connectors of the Wuchang enforcement exchange hub: each party's native formats and
transports (docs/design.md §7). One package per party kind holds its mapping specs
(``<kind>/mappings/*.yaml``); the transports (`_sources`: http-poll, file-drop;
`_webhook`: webhook; `_direct`: kafka) register themselves (`_registry`), and the runner
drives any of them through the `Source`/`Sink` interface (`_base`).
"""

from connectors._base import (
    POSITION_HEADER,
    DeliveryRefused,
    Emit,
    OutRecord,
    RawRecord,
    Sink,
    Source,
)
from connectors._config import ConnectorConfig, ConnectorSpec, load_connectors
from connectors._direct import KafkaConnector
from connectors._registry import TRANSPORTS, Runtime, Transport, register, transport_of
from connectors._runner import ConnectorRunner, ConnectorService
from connectors._sources import FileDropConnector, FileDropSource, HttpPollSource, PollConnector
from connectors._webhook import (
    CircuitBreaker,
    WebhookConnector,
    WebhookSettings,
    WebhookSink,
)

__all__ = [
    "TRANSPORTS",
    "CircuitBreaker",
    "ConnectorSpec",
    "Runtime",
    "Transport",
    "register",
    "transport_of",
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
