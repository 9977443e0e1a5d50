"""The hub's Kafka edge: the only code that knows Kafka's shape.

- topic names from ``topics/*.yaml`` (`raw_topic`, `inbox_topic`, `DLQ_TOPIC`, ...) and
  the partition of a key (`partition_for`, Kafka's murmur2);
- the hub's headers (`HubHeaders`, ``hub.kind``, ``hub.trace_id``, ...);
- the `Emitter` the stages, HTTP resources and connectors write through, its in-memory
  fake `MemoryEmitter`, and the one DLQ writer `dead_letter`;
- the clients: connection options, `new_producer`, `cluster_metadata`, `read_to_end`,
  the HTTP side's `Publisher` and `InboxReader`, the sink connectors' `GroupReader`,
  the lag reading (`KafkaReader`, `read_kafka_view`), and the connectors' `StateStore`
  on the compacted state topic.

Code elsewhere builds no topic name, header name or producer of its own
(``tests/unit/test_house_plan.py`` greps the tree).
"""

from hub.wire._bulk import BulkWriter
from hub.wire._clients import (
    HEADROOM,
    aiokafka_options,
    new_producer,
    open_reader,
    partitions_of,
    position_now,
    read_to_end,
    ssl_context,
    warm,
)
from hub.wire._dlq import (
    KEPT_BYTES,
    dead_letter,
    dead_letter_entry,
    replay_target,
)
from hub.wire._emitter import Emitter, MemoryBroker, MemoryEmitter, ProducerEmitter
from hub.wire._group import (
    GroupReader,
    GroupReaders,
    KafkaGroupReader,
    Message,
    kafka_group_readers,
)
from hub.wire._headers import (
    CHARSET_HEADER,
    CONNECTOR_HEADER,
    CONTROL_HEADER,
    KIND_HEADER,
    NATIVE_KIND_HEADER,
    ROUTED_HEADER,
    SOURCE_PARTY_HEADER,
    TRACE_HEADER,
    HubHeaders,
    KafkaHeaders,
    header_of,
)
from hub.wire._http import (
    CURSOR_PATTERN,
    InboxItem,
    InboxReader,
    Publisher,
    Publishes,
    ReadsInbox,
    Written,
    decode_cursor,
    encode_cursor,
)
from hub.wire._offsets import KafkaReader, KafkaView, read_kafka_view
from hub.wire._state import ConnectorState, MemoryState, StateStore, read_state
from hub.wire._topics import (
    CONNECTOR_STATE_TOPIC,
    DLQ_TOPIC,
    SCHEMAS_TOPIC,
    inbox_topic,
    partition_for,
    party_of,
    raw_topic,
)

__all__ = [
    "BulkWriter",
    "CHARSET_HEADER",
    "CONNECTOR_HEADER",
    "CONNECTOR_STATE_TOPIC",
    "CONTROL_HEADER",
    "CURSOR_PATTERN",
    "DLQ_TOPIC",
    "HEADROOM",
    "KEPT_BYTES",
    "KIND_HEADER",
    "NATIVE_KIND_HEADER",
    "ROUTED_HEADER",
    "SCHEMAS_TOPIC",
    "SOURCE_PARTY_HEADER",
    "StateStore",
    "ConnectorState",
    "MemoryState",
    "TRACE_HEADER",
    "Emitter",
    "GroupReader",
    "GroupReaders",
    "KafkaGroupReader",
    "Message",
    "kafka_group_readers",
    "HubHeaders",
    "InboxItem",
    "InboxReader",
    "KafkaHeaders",
    "KafkaReader",
    "KafkaView",
    "MemoryBroker",
    "MemoryEmitter",
    "ProducerEmitter",
    "Publisher",
    "Publishes",
    "ReadsInbox",
    "Written",
    "aiokafka_options",
    "dead_letter",
    "dead_letter_entry",
    "decode_cursor",
    "encode_cursor",
    "header_of",
    "inbox_topic",
    "new_producer",
    "open_reader",
    "partition_for",
    "partitions_of",
    "position_now",
    "party_of",
    "raw_topic",
    "read_kafka_view",
    "read_state",
    "read_to_end",
    "replay_target",
    "ssl_context",
    "warm",
]
