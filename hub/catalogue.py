"""Reference data in Kafka: publish the seed files, read the share topics, keep a cache.

``hub reference load`` publishes ``hub/reference/matters.yaml`` and ``officers.yaml`` to
the compacted ``share.matter.v1`` and ``share.officer.v1`` topics; ``hub reference
sync`` reads them back. Both write a local cache (``$HUB_DATA_DIR/reference-cache.json``)
that ``hub validate`` reads, so validation works from the shared topics, not from code.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError

from hub.errors import DecodeError, KafkaUnavailableError, RecordInvalid, ReferenceDataError
from hub.records import KINDS, CertifiedOfficer
from hub.records import Matter as MatterRecord
from hub.reference import (
    REFERENCE_DIR,
    Matter,
    Officer,
    Reference,
    load_parties,
    load_seed_reference,
)
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import new_producer, read_to_end

log = logging.getLogger(__name__)


def cache_path(settings: HubSettings) -> Path:
    return settings.data_dir / "reference-cache.json"


def matter_record(matter: Matter, publisher: str = "justice") -> MatterRecord:
    """The SharedRecord of a catalogue entry, published by the justice bureau."""
    return MatterRecord.model_validate(
        {
            "source_party": publisher,
            "source_id": f"matter/{matter.code}",
            "occurred_at": datetime.now(UTC),
            "code": matter.code,
            "name": matter.name,
            "name_en": matter.name_en,
            "department": matter.department,
            "delegated_to_street": matter.delegated_to_street,
            "category": {
                "行政处罚": "PENALTY",
                "行政检查": "INSPECTION",
                "行政强制": "COERCION",
            }.get(matter.category, matter.category),
            "legal_basis": matter.legal_basis,
            "max_fine": matter.max_fine_yuan,
            "sign_off_hours": matter.sign_off_hours,
        }
    )


def officer_record(officer: Officer, publisher: str = "justice") -> CertifiedOfficer:
    """The SharedRecord of a roster entry, published by the justice bureau."""
    return CertifiedOfficer.model_validate(
        {
            "source_party": publisher,
            "source_id": f"officer/{officer.certificate_no}",
            "occurred_at": datetime.now(UTC),
            "certificate_no": officer.certificate_no,
            "name": officer.name,
            "party": officer.party,
            "valid_until": officer.valid_until,
            "status": officer.status.upper(),
        }
    )


async def publish_seed(
    settings: HubSettings, serde: AvroSerde, folder: Path = REFERENCE_DIR
) -> Reference:
    """Publish the seed catalogue and roster to the share topics; return what was published."""
    reference = load_seed_reference(settings.parties_file, folder)
    matter_kind, officer_kind = KINDS["matter"], KINDS["officer"]
    producer = new_producer(settings, client_id="hub-reference-seed")
    await producer.start()
    try:
        matter_writer = await serde.writer(matter_kind)
        officer_writer = await serde.writer(officer_kind)
        for matter in reference.matters.values():
            record = matter_record(matter)
            await producer.send(
                matter_kind.topic,
                key=matter_kind.key_of(record),
                value=serde.encode_with(matter_writer, record),
            )
        for officer in reference.officers.values():
            entry = officer_record(officer)
            await producer.send(
                officer_kind.topic,
                key=officer_kind.key_of(entry),
                value=serde.encode_with(officer_writer, entry),
            )
        await producer.flush()
    finally:
        await producer.stop()
    write_cache(settings, reference)
    return reference


async def _read_topic(settings: HubSettings, topic: str) -> list[bytes]:
    """Values of the latest record per key of a compacted topic (tombstones drop a key)."""
    latest: dict[bytes | None, bytes | None] = {}
    try:
        async for record in read_to_end(settings, topic):
            latest[record.key] = record.value
    except KafkaUnavailableError as exc:
        if "does not exist" in exc.message:
            raise ReferenceDataError(exc.message) from None
        raise
    return [value for value in latest.values() if value is not None]


async def read_shared(settings: HubSettings, serde: AvroSerde) -> Reference:
    """The Reference held in the share topics; undecodable entries are logged and skipped."""
    parties = load_parties(settings.parties_file)
    reference = Reference(parties=parties)
    for raw in await _read_topic(settings, KINDS["matter"].topic):
        try:
            m = await serde.decode("matter", raw)
        except (DecodeError, RecordInvalid) as exc:
            log.warning("skipping a share.matter.v1 record: %s", exc)
            continue
        assert isinstance(m, MatterRecord)  # noqa: S101
        reference.matters[m.code] = Matter(
            m.code,
            m.name,
            m.name_en,
            m.department,
            m.delegated_to_street,
            m.category.value,
            m.legal_basis,
            m.max_fine,
            m.sign_off_hours,
        )
    for raw in await _read_topic(settings, KINDS["officer"].topic):
        try:
            decoded = await serde.decode("officer", raw)
        except (DecodeError, RecordInvalid) as exc:
            log.warning("skipping a share.officer.v1 record: %s", exc)
            continue
        assert isinstance(decoded, CertifiedOfficer)  # noqa: S101
        o = decoded
        reference.officers[o.certificate_no] = Officer(
            o.certificate_no, o.name, o.party, o.valid_until, o.status.value.lower()
        )
    write_cache(settings, reference)
    return reference


def write_cache(settings: HubSettings, reference: Reference) -> Path:
    """Write the local cache of the shared reference data."""
    path = cache_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "written_at": datetime.now(UTC).isoformat(),
        "matters": [
            {**m.__dict__, "max_fine_yuan": str(m.max_fine_yuan)}
            if hasattr(m, "__dict__")
            else _slots(m)
            for m in reference.matters.values()
        ],
        "officers": [_slots(o) for o in reference.officers.values()],
    }
    path.write_text(
        json.dumps(document, ensure_ascii=False, indent=1, default=str), encoding="utf-8"
    )
    return path


def _slots(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}


def read_cache(settings: HubSettings) -> Reference | None:
    """The cached Reference, or None when there is no cache yet."""
    path = cache_path(settings)
    if not path.exists():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        parties = load_parties(settings.parties_file)
        return Reference(
            parties=parties,
            matters={
                m["code"]: Matter(**{**m, "max_fine_yuan": Decimal(str(m["max_fine_yuan"]))})
                for m in document["matters"]
            },
            officers={
                o["certificate_no"]: Officer(
                    **{**o, "valid_until": date.fromisoformat(o["valid_until"])}
                )
                for o in document["officers"]
            },
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ReferenceDataError(
            f"{path}: unreadable cache ({exc}); run `hub reference sync`"
        ) from None


async def load_reference(settings: HubSettings, serde: AvroSerde) -> Reference:
    """Reference data from the share topics; the local cache when Kafka cannot be read."""
    try:
        return await read_shared(settings, serde)
    except (KafkaUnavailableError, ReferenceDataError, KafkaError) as exc:
        cached = read_cache(settings)
        if cached is None:
            raise
        log.warning("share topics unreadable (%s); using the cached reference data", exc)
        return cached
