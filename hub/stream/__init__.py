"""The hub's stream runtime: stages on aiokafka, tables on changelogs, nothing lost.

`Pipeline` runs every `Stage` of a worker on one consumer group; a stage's outputs go
through a `hub.wire.Emitter` and its state into `Table`s, and a record counts as done only once
its outputs and then its state changes were acknowledged (`hub.stream._outputs`).
`hub.wire.MemoryEmitter` stands in for Kafka in unit tests.
"""

from hub.stream._assignor import HubAssignor
from hub.stream._outputs import Outputs, bind, current, together, unbind
from hub.stream._pipeline import KafkaEmitter, Pipeline, Stage
from hub.stream._table import Table

__all__ = [
    "HubAssignor",
    "KafkaEmitter",
    "Outputs",
    "Pipeline",
    "Stage",
    "Table",
    "bind",
    "current",
    "together",
    "unbind",
]
