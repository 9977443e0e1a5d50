"""SCRAM credentials of the hub's Kafka principals (`hub users add|rotate`).

A principal is a party id with an inbox, `hub-worker`, `hub-ops` or
`connector-<name>` of a connector in HUB_CONNECTORS_FILE. `set_password`
stores a new random password's SCRAM-SHA-512 credential through the admin API (the
broker keeps only the salted hash) and returns the password for the caller to hand
over once; the old password stops working at once. Passwords are never logged.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from kafka.admin import KafkaAdminClient, UserScramCredentialUpsertion
from kafka.errors import KafkaError

from hub.access._acls import OPS, WORKER, ConnectorAccess
from hub.errors import ConfigError, KafkaUnavailableError
from hub.reference import Registry

MECHANISM = "SCRAM-SHA-512"
ITERATIONS = 8192


def principals(parties: Registry, connectors: Iterable[ConnectorAccess] = ()) -> list[str]:
    """Every principal the hub manages: the exchanging parties, its workers, its ops CLI,
    the configured connectors."""
    return [p.id for p in parties.with_inbox()] + [WORKER, OPS] + [c.user for c in connectors]


def set_password(admin: KafkaAdminClient, user: str, parties: Registry,
                 connectors: Iterable[ConnectorAccess] = ()) -> str:
    """A new password for user (one of `principals`), stored as its SCRAM credential."""
    known = principals(parties, connectors)
    if user not in known:
        raise ConfigError(
            f"'{user}' is not one of the hub's principals: a party with an inbox "
            f"(e.g. {known[0]}), {WORKER}, {OPS} or connector-<name> of a connector in "
            "HUB_CONNECTORS_FILE"
        )
    password = secrets.token_urlsafe(24)
    upsert = UserScramCredentialUpsertion(user, MECHANISM, password, iterations=ITERATIONS)
    try:
        answer = admin.alter_user_scram_credentials([upsert])
    except KafkaError as exc:
        raise KafkaUnavailableError(f"storing {user}'s credential failed: {exc}") from None
    if answer.get(user):
        raise KafkaUnavailableError(f"storing {user}'s credential failed: {answer[user]}")
    return password
