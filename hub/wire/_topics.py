"""Topic names as ``topics/*.yaml`` declares them, and the partition of a key.

Every name the hub writes to or reads from comes from here: a per-party template is the
declaration with ``role: raw`` or ``role: inbox`` (``raw.{party}.v1``, ``out.{party}.v1``),
the hub's own topics are the declarations with ``role: dlq``, ``audit``,
``connector-state`` and ``schemas``. The canonical record topics are the kinds' topics
(`hub.records.KINDS`), checked against the declarations by the tests. The names are the
project's declarations (``topics/`` beside the code): renaming a topic is a change of the
hub's code version, like a schema; `hub topics apply` reads partitions and configs from
``HUB_TOPICS_DIR``.
"""

from __future__ import annotations

import struct
from functools import cache
from pathlib import Path

from hub.errors import TopicSpecError
from hub.settings import PROJECT_ROOT
from hub.topics._spec import TopicDecl, load_declarations

DECLARATIONS = PROJECT_ROOT / "topics"
ROLES = ("raw", "inbox", "dlq", "audit", "connector-state", "schemas")


@cache
def _by_role(folder: Path = DECLARATIONS) -> dict[str, TopicDecl]:
    found: dict[str, TopicDecl] = {}
    for path, decl in load_declarations(folder):
        if decl.role is None:
            continue
        if decl.role in found:
            raise TopicSpecError(
                f"{path}: role '{decl.role}' is also held by topic {found[decl.role].name}"
            )
        found[decl.role] = decl
    missing = [role for role in ROLES if role not in found]
    if missing:
        raise TopicSpecError(f"{folder}: no topic declares role {', '.join(missing)}")
    return found


def named(role: str) -> str:
    """The topic (or per-party template) that holds role."""
    return _by_role()[role].name


def raw_topic(party: str) -> str:
    """A party's raw topic: what it sent, bytes and headers as received."""
    return named("raw").replace("{party}", party)


def inbox_topic(party: str) -> str:
    """A party's inbox topic: the orders, events and records addressed to it."""
    return named("inbox").replace("{party}", party)


def party_of(topic: str, role: str) -> str | None:
    """The party whose raw or inbox topic this is; None for any other topic."""
    prefix, _, suffix = named(role).partition("{party}")
    if topic.startswith(prefix) and topic.endswith(suffix) and len(topic) > len(prefix + suffix):
        return topic[len(prefix) : len(topic) - len(suffix)]
    return None


DLQ_TOPIC = named("dlq")
CONNECTOR_STATE_TOPIC = named("connector-state")
SCHEMAS_TOPIC = named("schemas")


def partition_for(key: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives key (murmur2, as the Java client)."""
    data = key.encode() if isinstance(key, str) else key
    return (murmur2(data) & 0x7FFFFFFF) % partitions


_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


@cache
def _words(count: int) -> struct.Struct:
    return struct.Struct(f"<{count}I")


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (Java's ``Utils.murmur2``, unsigned), the words read at once: twice
    as fast as kafka-python's byte-by-byte one (a bulk load places a million keys; the
    lifecycle places every order it counts)."""
    length = len(data)
    h = 0x9747B28C ^ length
    whole = length & ~3
    if whole:
        for k in _words(whole >> 2).unpack_from(data):
            k = (k * _M) & _MASK
            k = ((k ^ (k >> 24)) * _M) & _MASK
            h = ((h * _M) & _MASK) ^ k
    extra = length & 3
    if extra:
        if extra == 3:
            h ^= data[whole + 2] << 16
        if extra >= 2:
            h ^= data[whole + 1] << 8
        h = ((h ^ data[whole]) * _M) & _MASK
    h = ((h ^ (h >> 13)) * _M) & _MASK
    return h ^ (h >> 15)
