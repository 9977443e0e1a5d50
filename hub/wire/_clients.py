"""Kafka clients from `HubSettings`: connection options, the one place producers are
made, the one wrapper around cluster metadata, and a reader of whole topics for tools."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.cluster import ClusterMetadata
from aiokafka.errors import KafkaError

from hub.errors import KafkaUnavailableError
from hub.settings import HubSettings

# Room kept below a topic's max.message.bytes for the hub's headers and the batch framing:
# the gateway refuses bodies above (record limit - HEADROOM) with 413, and a DLQ entry
# that would not fit keeps its headers, a digest and the first bytes (`hub._guard`).
HEADROOM = 64 * 1024


def ssl_context(settings: HubSettings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL, with the client certificate when given."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def aiokafka_options(settings: HubSettings) -> dict[str, Any]:
    """Connection options shared by aiokafka producers, consumers and admin clients."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    context = ssl_context(settings)
    if context is not None:
        options["ssl_context"] = context
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = (
            settings.kafka_sasl_password.get_secret_value()
            if settings.kafka_sasl_password
            else None
        )
    return options


def producer_options(settings: HubSettings) -> dict[str, Any]:
    """How the worker's producers write: acks=all, idempotent, batched for linger ms,
    records up to the topics' limit (``HUB_KAFKA_RECORD_LIMIT``)."""
    return {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": settings.kafka_linger_ms,
        "max_batch_size": 256 * 1024,
        "max_request_size": settings.kafka_record_limit + HEADROOM,
        "request_timeout_ms": int(max(settings.kafka_timeout, 5.0) * 1000),
    }


def new_producer(
    settings: HubSettings, *, worker: bool = False, **options: Any
) -> AIOKafkaProducer:
    """An aiokafka producer for settings: acks=all and idempotent unless options say
    otherwise; with worker, batched as the worker's producers are (`producer_options`)."""
    chosen: dict[str, Any] = {"acks": "all", "enable_idempotence": True}
    if worker:
        chosen.update(producer_options(settings))
    chosen.update(options)
    if "transactional_id" in chosen:
        chosen.pop("acks", None)  # a transactional producer sets acks=all itself
    return AIOKafkaProducer(**chosen, **aiokafka_options(settings))


async def warm(producer: AIOKafkaProducer, topics: Iterable[str]) -> None:
    """Make producer learn where topics' partitions are now, in one metadata round. A
    producer learns a topic on its first record to it, one round each, while that record
    waits: a worker's first orders to each of 28 inboxes cost tens of ms apiece, the p99
    of its first seconds (bench L1)."""
    client = producer.client
    await client.set_topics(sorted(set(topics) | set(client._topics)))  # noqa: SLF001


async def cluster_metadata(consumer: AIOKafkaConsumer) -> ClusterMetadata:
    """The whole cluster's metadata through consumer. A consumer without a subscription
    keeps none, and aiokafka's public `topics()` gives names only, so this asks the client
    (the one use of its private API)."""
    return await consumer._client.fetch_all_metadata()


def position_now(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    """consumer's position in tp as it stands, asking nobody (aiokafka's public
    `position()` may wait for a fetch); None when it has none yet. The same private API
    as `cluster_metadata`."""
    try:
        assignment = consumer._subscription.subscription.assignment
        state = assignment.state_value(tp) if assignment is not None else None
    except AttributeError:
        return None
    if state is None or not state.has_valid_position:
        return None
    return int(state.position)


async def track(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> None:
    """Make consumer's client keep metadata for topics, all at once. Asked for offsets
    of topics it does not track, aiokafka learns them one topic per metadata round with
    a backoff in between (about 7 s for the hub's 69 topics, which is what made `hub
    status` slow); the same private API as `cluster_metadata`."""
    await consumer._client.set_topics(sorted(set(topics)))


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """The partition ids of topic, ascending; empty when it does not exist."""
    return sorted((await cluster_metadata(consumer)).partitions_for_topic(topic) or [])


async def open_reader(
    settings: HubSettings, topic: str, **options: Any
) -> tuple[AIOKafkaConsumer, list[int]]:
    """A started consumer without a group (to assign partitions of topic to) and topic's
    partition ids (empty: no such topic); `KafkaUnavailableError` when Kafka does not
    answer. The caller stops the consumer."""
    consumer = AIOKafkaConsumer(
        group_id=None, enable_auto_commit=False, **options, **aiokafka_options(settings)
    )
    try:
        await consumer.start()
        return consumer, await partitions_of(consumer, topic)
    except KafkaError as exc:
        await consumer.stop()
        raise KafkaUnavailableError(f"cannot reach Kafka: {exc}") from None


async def read_to_end(
    settings: HubSettings, topic: str, partitions: list[int] | None = None
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of topic (or of some of its partitions) from the log start up to
    the end as it was when reading began; `KafkaUnavailableError` when the topic does
    not exist or Kafka does not answer."""
    # read_committed: a table changelog holds the aborted writes of fenced workers
    consumer, ids = await open_reader(settings, topic, isolation_level="read_committed")
    try:
        if not ids:
            raise KafkaUnavailableError(f"topic {topic} does not exist; run `hub topics apply`")
        chosen = [TopicPartition(topic, p) for p in ids if partitions is None or p in partitions]
        consumer.assign(chosen)
        await consumer.seek_to_beginning(*chosen)
        ends = await consumer.end_offsets(chosen)
        for tp in chosen:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if record.offset < ends[tp]:
                        yield record
    finally:
        await consumer.stop()
