"""Every record kind through the embedded registry and the real broker, and Confluent interop."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from typing import Any

import fastavro
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from kafka.admin import KafkaAdminClient

from hub.errors import DecodeError
from hub.records import KINDS, to_avro, validate
from hub.reference import load_seed_reference
from hub.registry import RegistryClient
from hub.serde import AvroSerde
from tests.integration.conftest import Served
from tests.samples import SAMPLES


async def test_every_kind_round_trips_through_registry_and_kafka(
    kafka_bootstrap: str, served: Served, unique_name: Callable[[str], str]
) -> None:
    reference = load_seed_reference()
    topic = unique_name("roundtrip")
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics(
        {topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True
    )
    admin.close()

    async with RegistryClient(served.url) as client:
        serde = AvroSerde(client)
        originals = {kind: validate(kind, SAMPLES[kind], reference) for kind in KINDS}
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for kind, record in originals.items():
                value = await serde.encode(kind, record)
                await producer.send_and_wait(
                    topic,
                    key=KINDS[kind].key_of(record),
                    value=value,
                    headers=[("kind", kind.encode())],
                )
        finally:
            await producer.stop()

        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        decoded: dict[str, Any] = {}
        try:
            while len(decoded) < len(originals):
                message = await asyncio.wait_for(consumer.getone(), timeout=20)
                kind = dict(message.headers)["kind"].decode()
                assert message.value is not None
                decoded[kind] = await serde.decode(kind, message.value, reference)
        finally:
            await consumer.stop()
        assert decoded == originals
        subjects = set(await client.subjects())
        assert subjects == {kind.subject for kind in KINDS.values()}


async def test_v1_record_is_read_by_a_v2_reader(served: Served) -> None:
    kind = KINDS["order"]
    v1 = kind.schema()
    v2 = json.loads(json.dumps(v1))
    v2["fields"].append(
        {"name": "channel", "type": ["null", "string"], "default": None, "doc": "渠道 channel"}
    )
    async with RegistryClient(served.url) as client:
        record = validate("order", SAMPLES["order"])
        data = await AvroSerde(client).encode(kind, record)
        v2_id = await client.register(kind.subject, json.dumps(v2))
        assert v2_id != int.from_bytes(data[1:5], "big")
        writer_id = int.from_bytes(data[1:5], "big")
        writer = fastavro.parse_schema(json.loads(await client.schema_by_id(writer_id)))
        datum = fastavro.schemaless_reader(io.BytesIO(data[5:]), writer, fastavro.parse_schema(v2))
        assert isinstance(datum, dict)
        assert datum["channel"] is None
        assert str(datum["order_id"]) == str(record.order_id)  # type: ignore[attr-defined]


async def test_unknown_schema_id_is_a_decode_error_keeping_the_bytes(served: Served) -> None:
    async with RegistryClient(served.url) as client:
        data = b"\x00\x00\x00\x27\x10garbage"
        with pytest.raises(DecodeError) as caught:
            await AvroSerde(client).decode("clue", data)
        assert caught.value.raw == data
        assert caught.value.schema_id == 10000


async def test_a_standard_confluent_client_registers_fetches_and_decodes(served: Served) -> None:
    record = validate("clue", SAMPLES["clue"])
    async with RegistryClient(served.url) as client:
        hub_bytes = await AvroSerde(client).encode("clue", record)
    schema_text = json.dumps(KINDS["clue"].schema(), ensure_ascii=False)
    context = SerializationContext("enf.clue.v1", MessageField.VALUE)

    def confluent_side() -> tuple[dict[str, Any], bytes, int, int]:
        with SchemaRegistryClient({"url": served.url}) as confluent:
            return _use(confluent)

    def _use(confluent: SchemaRegistryClient) -> tuple[dict[str, Any], bytes, int, int]:
        latest = confluent.get_latest_version("enf.clue.v1-value")
        fetched = confluent.get_schema(latest.schema_id)
        assert json.loads(fetched.schema_str) == KINDS["clue"].schema()
        registered = confluent.register_schema("enf.clue.v1-value", Schema(schema_text, "AVRO"))
        decoded = AvroDeserializer(confluent)(hub_bytes, context)
        serializer = AvroSerializer(confluent, schema_text)
        confluent_bytes = serializer(to_avro(record), context)
        return decoded, confluent_bytes, registered, latest.schema_id

    decoded, confluent_bytes, registered, latest_id = await asyncio.to_thread(confluent_side)
    assert registered == latest_id == int.from_bytes(hub_bytes[1:5], "big")
    assert str(decoded["record_id"]) == str(record.record_id)
    assert decoded["description"] == record.description  # type: ignore[attr-defined]
    async with RegistryClient(served.url) as client:
        assert await AvroSerde(client).decode("clue", confluent_bytes) == record
