"""The embedded schema registry on the real broker: Confluent API, ids, compatibility."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import aiohttp
import pytest
from confluent_kafka.schema_registry import SchemaRegistryClient

from hub.errors import SchemaIncompatible, SchemaRegistryError
from hub.registry import EmbeddedRegistry, RegistryClient
from hub.settings import HubSettings
from tests.integration.conftest import Served

RECORD_V1: dict[str, Any] = {
    "type": "record",
    "name": "Probe",
    "namespace": "cn.wuchang.enforcement.test",
    "doc": "探针 probe",
    "fields": [{"name": "id", "type": "string", "doc": "编号 id"}],
}
RECORD_V2_COMPATIBLE = {
    **RECORD_V1,
    "fields": [*RECORD_V1["fields"], {"name": "note", "type": ["null", "string"], "default": None}],
}
RECORD_V2_INCOMPATIBLE = {
    **RECORD_V1,
    "fields": [*RECORD_V1["fields"], {"name": "level", "type": "int"}],
}


async def test_register_is_idempotent_and_ids_are_shared(served: Served) -> None:
    async with RegistryClient(served.url) as client:
        first = await client.register("probe-value", json.dumps(RECORD_V1))
        async with RegistryClient(served.url) as second_client:
            again = await second_client.register("probe-value", json.dumps(RECORD_V1))
        other_subject = await client.register("other-value", json.dumps(RECORD_V1))
        assert first == again == other_subject
        assert await client.versions("probe-value") == [1]
        latest = await client.version("probe-value")
        assert latest["id"] == first and latest["version"] == 1
        assert json.loads(await client.schema_by_id(first)) == RECORD_V1
        assert sorted(await client.subjects()) == ["other-value", "probe-value"]


async def test_incompatible_schema_is_refused_with_409_and_reasons(served: Served) -> None:
    async with RegistryClient(served.url) as client:
        await client.register("probe-value", json.dumps(RECORD_V1))
        ok, reasons = await client.compatibility("probe-value", json.dumps(RECORD_V2_INCOMPATIBLE))
        assert not ok and any("level" in r for r in reasons), reasons
        with pytest.raises(SchemaIncompatible):
            await client.register("probe-value", json.dumps(RECORD_V2_INCOMPATIBLE))
        async with aiohttp.ClientSession() as session:
            answer = await session.post(
                f"{served.url}/subjects/probe-value/versions",
                json={"schema": json.dumps(RECORD_V2_INCOMPATIBLE)},
            )
            body = await answer.json(content_type=None)
        assert answer.status == 409
        assert body["error_code"] == 409 and "incompatible" in body["message"]
        assert await client.versions("probe-value") == [1]

        v2 = await client.register("probe-value", json.dumps(RECORD_V2_COMPATIBLE))
        assert await client.versions("probe-value") == [1, 2]
        assert v2 != (await client.version("probe-value", 1))["id"]


async def test_compatibility_level_can_be_relaxed_per_subject(served: Served) -> None:
    async with RegistryClient(served.url) as client:
        await client.register("probe-value", json.dumps(RECORD_V1))
        assert await client.get_level("probe-value") == "BACKWARD"
        assert await client.set_level("NONE", "probe-value") == "NONE"
        assert await client.get_level("probe-value") == "NONE"
        await client.register("probe-value", json.dumps(RECORD_V2_INCOMPATIBLE))
        assert await client.versions("probe-value") == [1, 2]
        with pytest.raises(SchemaRegistryError) as refused:
            await client.set_level("SOMETIMES", "probe-value")
        assert refused.value.error_code == 42203


async def test_errors_use_confluent_codes(served: Served) -> None:
    async with aiohttp.ClientSession() as session:
        cases = [
            ("GET", "/schemas/ids/999", None, 404, 40403),
            ("GET", "/subjects/nothing/versions", None, 404, 40401),
            ("GET", "/subjects/nothing/versions/1", None, 404, 40401),
            ("POST", "/subjects/x-value/versions", {"schema": "{not json"}, 422, 42201),
            ("POST", "/subjects/x-value/versions", {"nothing": 1}, 422, 42201),
        ]
        for method, path, body, status, code in cases:
            answer = await session.request(method, served.url + path, json=body)
            payload = await answer.json(content_type=None)
            assert (answer.status, payload["error_code"]) == (status, code), (path, payload)
            assert payload["message"]


async def test_ids_survive_a_registry_restart(kafka_bootstrap: str, schemas_topic: str) -> None:
    settings = HubSettings(kafka_bootstrap=kafka_bootstrap)
    first = EmbeddedRegistry(settings, topic=schemas_topic)
    await first.start()
    a = await first.register("a-value", json.dumps(RECORD_V1))
    b = await first.register("a-value", json.dumps(RECORD_V2_COMPATIBLE))
    await first.stop()

    second = EmbeddedRegistry(settings, topic=schemas_topic)
    await second.start()
    try:
        assert await second.schema_by_id(a.id) == a.schema
        assert await second.schema_by_id(b.id) == b.schema
        assert [v.id for v in second.store.subjects["a-value"]] == [a.id, b.id]
        again = await second.register("a-value", json.dumps(RECORD_V1))
        assert again.id == a.id and again.version == 1
    finally:
        await second.stop()


async def test_a_record_decoded_while_the_worker_stops_is_retried_not_parked(
    kafka_bootstrap: str, schemas_topic: str
) -> None:
    """The worker stops its registry with its HTTP server while an agent may still be
    decoding: the late start must neither crash on half-closed clients nor leave clients
    open; the record gets a retriable 503 (the pipeline retries it, nothing committed)."""
    registry = EmbeddedRegistry(HubSettings(kafka_bootstrap=kafka_bootstrap), topic=schemas_topic)
    await asyncio.gather(registry.ensure_started(), registry.stop())
    with pytest.raises(SchemaRegistryError) as refused:
        await registry.ensure_started()  # what decoding a record asks first
    assert refused.value.retriable
    assert refused.value.message == "registry stopped"
    await registry.start()  # its owner may start it again
    try:
        assert await registry.schema_by_id(10**9) is None
    finally:
        await registry.stop()


async def test_two_registries_racing_agree_on_ids(kafka_bootstrap: str, schemas_topic: str) -> None:
    settings = HubSettings(kafka_bootstrap=kafka_bootstrap)
    left = EmbeddedRegistry(settings, topic=schemas_topic)
    right = EmbeddedRegistry(settings, topic=schemas_topic)
    await asyncio.gather(left.start(), right.start())
    try:
        schemas = [
            {**RECORD_V1, "name": f"Probe{i}", "fields": [{"name": f"f{i}", "type": "string"}]}
            for i in range(6)
        ]
        results = await asyncio.gather(
            *[
                (left if i % 2 else right).register(f"s{i}-value", json.dumps(schema))
                for i, schema in enumerate(schemas)
            ]
        )
        ids = [r.id for r in results]
        assert len(set(ids)) == len(ids), ids
        await left.catch_up()
        await right.catch_up()
        assert left.store.by_id == right.store.by_id
        for result in results:
            assert left.store.by_id[result.id] == result.schema
    finally:
        await asyncio.gather(left.stop(), right.stop())


async def test_credentials_are_required_once_configured(
    kafka_bootstrap: str, schemas_topic: str
) -> None:
    password = "s3cret-registry-password"
    users = {"ops": hashlib.sha256(password.encode()).hexdigest()}
    server = Served(HubSettings(kafka_bootstrap=kafka_bootstrap), schemas_topic, users)
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            anonymous = await session.get(f"{server.url}/subjects")
            assert anonymous.status == 401
            assert (await anonymous.json(content_type=None))["error_code"] == 40101
            assert anonymous.headers["WWW-Authenticate"].startswith("Basic")
            wrong = await session.get(
                f"{server.url}/subjects",
                headers={"Authorization": aiohttp.encode_basic_auth("ops", "guess")},
            )
            assert wrong.status == 401
        async with RegistryClient(server.url, auth=("ops", password)) as client:
            schema_id = await client.register("probe-value", json.dumps(RECORD_V1))
            assert await client.subjects() == ["probe-value"]
        with SchemaRegistryClient(
            {"url": server.url, "basic.auth.user.info": f"ops:{password}"}
        ) as confluent:
            fetched = await asyncio.to_thread(confluent.get_schema, schema_id)
        assert json.loads(fetched.schema_str) == RECORD_V1
    finally:
        await server.stop()
