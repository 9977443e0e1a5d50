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
from hub.wire import KafkaReader, read_kafka_view

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


async def test_a_reader_kept_open_sees_new_records_commits_and_topics(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    """The worker's lag gauge reads every 15 s with one reader whose clients stay open:
    each reading sees what was written and committed since, and a topic the group starts
    committing in after the first reading."""
    first, second = unique_name("kept-a"), unique_name("kept-b")
    group = unique_name("group")
    await _topic_with_records(kafka_bootstrap, first, [3, 1])
    settings = HubSettings(kafka_bootstrap=kafka_bootstrap, kafka_offset_reset="earliest")
    reader = KafkaReader(settings)
    try:
        view = await reader.read([group], subscribed={group: [first]})
        assert view.group_lag(group) == 4
        await _topic_with_records(kafka_bootstrap, second, [2])
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(first, b"more", partition=1)
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
        )
        await consumer.start()
        try:
            consumer.assign([TopicPartition(first, 0), TopicPartition(second, 0)])
            await consumer.commit({
                TopicPartition(first, 0): OffsetAndMetadata(2, ""),
                TopicPartition(second, 0): OffsetAndMetadata(1, ""),
            })
        finally:
            await consumer.stop()

        view = await reader.read([group], subscribed={group: [first]})
        assert {k: v for k, v in view.lag.items() if k[0] == group} == {
            (group, first, 0): 1,
            (group, first, 1): 2,  # the record written since the first reading
            (group, second, 0): 1,  # a topic it committed in since
        }
    finally:
        await reader.close()
