"""Consumer lag on the real broker counts what a group has not processed, including
partitions it never committed: a committed hole of that kind is what lost records
looked like before the hub's own pipeline (issue 14), and it must not read as lag 0."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import OffsetAndMetadata

from hub.settings import HubSettings
from hub.wire import read_kafka_view

pytestmark = pytest.mark.kafka


async def _topic_with_records(bootstrap: str, name: str, per_partition: list[int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(name, num_partitions=len(per_partition), replication_factor=1)]
        )
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for partition, count in enumerate(per_partition):
            for n in range(count):
                await producer.send_and_wait(name, f"r{n}".encode(), partition=partition)
    finally:
        await producer.stop()


async def test_partitions_a_group_never_committed_count_as_lag(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    committed_topic, untouched_topic = unique_name("lag-a"), unique_name("lag-b")
    group = unique_name("group")
    await _topic_with_records(kafka_bootstrap, committed_topic, [5, 4, 3])
    await _topic_with_records(kafka_bootstrap, untouched_topic, [2, 2])
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        # the group processed partition 0 of the first topic only
        consumer.assign([TopicPartition(committed_topic, 0)])
        await consumer.commit({TopicPartition(committed_topic, 0): OffsetAndMetadata(5, "")})
    finally:
        await consumer.stop()
    settings = HubSettings(kafka_bootstrap=kafka_bootstrap, kafka_offset_reset="earliest")

    view = await read_kafka_view(settings, [group])
    assert {k: v for k, v in view.lag.items() if k[1] == committed_topic} == {
        (group, committed_topic, 0): 0,
        (group, committed_topic, 1): 4,  # never committed: lags from the log start
        (group, committed_topic, 2): 3,
    }
    assert view.group_lag(group) == 7  # the untouched topic is not known to be read

    view = await read_kafka_view(settings, [group], subscribed={group: [untouched_topic]})
    assert view.group_lag(group) == 7 + 4

    latest = HubSettings(kafka_bootstrap=kafka_bootstrap, kafka_offset_reset="latest")
    view = await read_kafka_view(latest, [group], subscribed={group: [untouched_topic]})
    assert view.group_lag(group) == 0  # such a group would start at the log end
