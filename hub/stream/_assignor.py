"""The pipeline group's partition assignor: co-partitioned ranges and who is where.

Like Kafka's range assignor, each topic's partitions are laid out in order and split into
contiguous ranges over the members, so topics with the same partition count (an order
and its events, docs/design.md §5: co-partitioned) give partition N of each to the same worker, the
one that holds partition N of their tables. Members are ordered by their static
instance id (``group.instance.id``), so an assignment does not change when a worker
restarts under a new member id.

Topics read by stages without tables (`spread`: the per-party raw topics, one partition
each, and the clue topic) tie nothing together: their partitions are dealt round robin
over the members instead, so that thirty one-partition topics do not all land on the
member that holds partition 0 of everything else.

Each member's subscription carries its HTTP address; the leader sends every member the
whole map (address → topic → partitions), which the gateway uses to forward a request
for an order to the worker that holds it (Kafka Streams' ``application.server``).
"""

from __future__ import annotations

import collections
import json
import logging
from collections.abc import Iterable, Mapping

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

log = logging.getLogger(__name__)

Placement = dict[str, dict[str, list[int]]]  # url -> topic -> partitions


class HubAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
    """Range assignment ordered by instance id; the placement map in every assignment."""

    name = "hub-range"
    version = 1

    def __init__(self, url: str, instance: str) -> None:
        self.url = url
        self.instance = instance
        self.placement: Placement = {}
        self.spread: set[str] = set()  # topics dealt round robin (no table reads them)

    def metadata(self, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
        about = json.dumps({"url": self.url, "instance": self.instance}).encode()
        return ConsumerProtocolMemberMetadata(self.version, sorted(topics), about)

    def assign(
        self,
        cluster: ClusterMetadata,
        members: Mapping[str, ConsumerProtocolMemberMetadata],
    ) -> dict[str, ConsumerProtocolMemberAssignment]:
        about: dict[str, dict[str, str]] = {}
        for member, metadata in members.items():
            try:
                about[member] = json.loads(metadata.user_data or b"{}")
            except ValueError:
                about[member] = {}
        order = sorted(members, key=lambda m: (about[m].get("instance") or m, m))
        per_topic: dict[str, list[str]] = collections.defaultdict(list)
        for member in order:
            for topic in members[member].subscription:
                per_topic[topic].append(member)
        assignment: dict[str, dict[str, list[int]]] = collections.defaultdict(dict)
        dealt = 0
        for topic, consumers in sorted(per_topic.items()):
            partitions = sorted(cluster.partitions_for_topic(topic) or [])
            if not partitions:
                log.warning("no partition metadata for topic %s", topic)
                continue
            if topic in self.spread:
                for partition in partitions:
                    member = consumers[dealt % len(consumers)]
                    assignment[member].setdefault(topic, []).append(partition)
                    dealt += 1
                continue
            each, extra = divmod(len(partitions), len(consumers))
            start = 0
            for index, member in enumerate(consumers):
                length = each + (1 if index < extra else 0)
                if length:
                    assignment[member][topic] = partitions[start : start + length]
                start += length
        placement: Placement = {}
        for member in order:
            url = about[member].get("url")
            if url:
                placement[url] = {t: list(p) for t, p in assignment[member].items()}
        shared = json.dumps(placement, separators=(",", ":")).encode()
        return {
            member: ConsumerProtocolMemberAssignment(
                self.version, sorted(assignment[member].items()), shared
            )
            for member in members
        }

    def on_assignment(self, assignment: ConsumerProtocolMemberAssignment) -> None:
        try:
            self.placement = json.loads(assignment.user_data or b"{}")
        except ValueError:
            self.placement = {}

    def owner(self, topic: str, partition: int) -> str | None:
        """The HTTP address of the worker that owns topic's partition, if known."""
        for url, topics in self.placement.items():
            if partition in topics.get(topic, []):
                return url
        return None
