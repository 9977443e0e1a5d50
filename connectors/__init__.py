"""Connectors of the Wuchang enforcement exchange hub: each party's native formats and
transports (DESIGN §7). One package per party kind holds its mapping specs
(``<kind>/mappings/*.yaml``); the transports and the interface are shared.
"""

from connectors._base import (
    CONNECTOR_HEADER,
    NATIVE_KIND_HEADER,
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
from connectors._mapping import MappingError, MappingSpec, Rule, load_spec
from connectors._runner import ConnectorRunner, ConnectorService
from connectors._sources import FileDropSource, HttpPollSource
from connectors._specs import SpecCatalogue, load_catalogue
from connectors._state import STATE_TOPIC, StateStore, read_state
from connectors._webhook import CircuitBreaker, DeliveryRefused, WebhookSettings, WebhookSink

__all__ = [
    "STATE_TOPIC",
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
    "StateStore",
    "WebhookConnector",
    "WebhookSettings",
    "WebhookSink",
    "load_connectors",
    "read_state",
    "CONNECTOR_HEADER",
    "NATIVE_KIND_HEADER",
    "POSITION_HEADER",
    "Emit",
    "MappingError",
    "MappingSpec",
    "OutRecord",
    "RawRecord",
    "Rule",
    "Sink",
    "Source",
    "SpecCatalogue",
    "load_catalogue",
    "load_spec",
]
