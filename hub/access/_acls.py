"""Kafka ACLs from the data the hub already has (`hub acls diff|apply`; docs/design.md §9).

Every exchanging party is a principal (``User:<party id>``) that may write only its raw
topic and read only its inbox (and use consumer groups named after itself); the workers
(``User:hub-worker``) read and write every declared topic and their own changelogs,
groups and transactional ids (all prefixed with the app id); the operators' CLI
(``User:hub-ops``) reads the DLQ and the connector state, writes the connectors' controls,
and describes topics and groups for offsets and lag. A connector run on its own
(`hub connectors run`) logs in as ``User:connector-<name>``: a source may write only its
party's raw topic, a sink read only its party's inbox in its own group; both keep their
positions in the connector state, park what fails in the DLQ and read the schemas. Nobody
else reads ``enf.*``, ``share.*``, ``data.*``, the audit topic or the changelogs.

`acl_plan` is a pure function of the declared topics, the parties and the app id;
`acl_diff` compares it with what the cluster holds: grants to add, the hub's principals'
grants that are not in the plan (removed), and grants of principals the hub does not
manage (left alone unless told). `read_acls` and `apply_acls` do the admin calls.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    KafkaAdminClient,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
)
from kafka.errors import KafkaError

from hub.errors import KafkaUnavailableError
from hub.reference import Registry
from hub.settings import HubSettings
from hub.topics import TopicSpec
from hub.wire import CONNECTOR_STATE_TOPIC, DLQ_TOPIC, SCHEMAS_TOPIC, inbox_topic, raw_topic

WORKER = "hub-worker"
OPS = "hub-ops"
CLUSTER = "kafka-cluster"


@dataclass(frozen=True, order=True)
class Grant:
    """One ALLOW ACL: principal may do operation on the resource (by name or prefix)."""

    principal: str  # User:<name>
    resource: str  # TOPIC, GROUP, TRANSACTIONAL_ID, CLUSTER
    pattern: str  # LITERAL, PREFIXED
    name: str
    operation: str  # READ, WRITE, DESCRIBE, CREATE, DESCRIBE_CONFIGS, IDEMPOTENT_WRITE

    def __str__(self) -> str:
        how = "" if self.pattern == "LITERAL" else " (prefix)"
        return f"{self.principal} {self.operation} {self.resource} {self.name}{how}"


def principal(name: str) -> str:
    return f"User:{name}"


@dataclass(frozen=True)
class ConnectorAccess:
    """A configured connector (HUB_CONNECTORS_FILE) that may run as its own principal."""

    name: str
    party: str
    role: str  # source: writes the party's raw topic; sink: reads its inbox

    @property
    def user(self) -> str:
        return f"connector-{self.name}"

    def group(self, app_id: str) -> str:
        """The sink's consumer group (`connectors._runner`)."""
        return f"{app_id}-connector-{self.name}"


def _grants(who: str, resource: str, name: str, *operations: str,
            pattern: str = "LITERAL") -> list[Grant]:
    return [Grant(principal(who), resource, pattern, name, op) for op in operations]


PRINCIPAL_PLUGINS = "hub.principals"  # pyproject.toml: connectors.cli:principals


def configured_connectors(settings: HubSettings) -> list[ConnectorAccess]:
    """The principals of the connectors configured in HUB_CONNECTORS_FILE, from the plug-ins
    that know them (the hub's core never imports the connectors)."""
    found: list[ConnectorAccess] = []
    for plugin in sorted(entry_points(group=PRINCIPAL_PLUGINS), key=lambda ep: ep.name):
        found += plugin.load()(settings)
    return found


def acl_plan(topics: Iterable[TopicSpec], parties: Registry, app_id: str,
             connectors: Iterable[ConnectorAccess] = ()) -> list[Grant]:
    """Every ACL the hub needs (module docstring), sorted."""
    names = sorted(spec.name for spec in topics)
    plan: list[Grant] = []
    for party in parties.with_inbox():
        plan += _grants(party.id, "TOPIC", raw_topic(party.id), "WRITE", "DESCRIBE")
        plan += _grants(party.id, "TOPIC", inbox_topic(party.id), "READ", "DESCRIBE")
        plan += _grants(party.id, "GROUP", party.id, "READ", pattern="PREFIXED")
    for name in names:
        plan += _grants(WORKER, "TOPIC", name, "READ", "WRITE", "DESCRIBE")
        plan += _grants(OPS, "TOPIC", name, "DESCRIBE")
    own = f"{app_id}-"  # changelogs, connector groups, fences
    plan += _grants(WORKER, "TOPIC", own, "CREATE", "READ", "WRITE", "DESCRIBE",
                    "DESCRIBE_CONFIGS", pattern="PREFIXED")
    plan += _grants(WORKER, "GROUP", app_id, "READ", "DESCRIBE", pattern="PREFIXED")
    plan += _grants(WORKER, "TRANSACTIONAL_ID", own, "WRITE", "DESCRIBE", pattern="PREFIXED")
    plan += _grants(WORKER, "CLUSTER", CLUSTER, "IDEMPOTENT_WRITE", "DESCRIBE")
    plan += _grants(OPS, "TOPIC", DLQ_TOPIC, "READ")
    plan += _grants(OPS, "TOPIC", CONNECTOR_STATE_TOPIC, "READ", "WRITE")
    plan += _grants(OPS, "GROUP", "*", "DESCRIBE")
    plan += _grants(OPS, "CLUSTER", CLUSTER, "DESCRIBE")
    for connector in connectors:
        plan += _connector_grants(connector, app_id)
    return sorted(set(plan))


def _connector_grants(connector: ConnectorAccess, app_id: str) -> list[Grant]:
    who = connector.user
    grants = _grants(who, "TOPIC", CONNECTOR_STATE_TOPIC, "READ", "WRITE", "DESCRIBE")
    grants += _grants(who, "TOPIC", DLQ_TOPIC, "WRITE", "DESCRIBE")
    grants += _grants(who, "TOPIC", SCHEMAS_TOPIC, "READ", "DESCRIBE")
    if connector.role == "source":
        grants += _grants(who, "TOPIC", raw_topic(connector.party), "WRITE", "DESCRIBE")
    elif connector.role == "sink":
        grants += _grants(who, "TOPIC", inbox_topic(connector.party), "READ", "DESCRIBE")
        grants += _grants(who, "GROUP", connector.group(app_id), "READ")
    return grants


def managed(parties: Registry, connectors: Iterable[ConnectorAccess] = ()) -> set[str]:
    """The principals whose ACLs the hub owns."""
    return ({principal(p.id) for p in parties.with_inbox()} | {principal(WORKER), principal(OPS)}
            | {principal(c.user) for c in connectors})


@dataclass
class AclDiff:
    add: list[Grant] = field(default_factory=list)
    remove: list[Grant] = field(default_factory=list)  # the hub's principals, not planned
    foreign: list[Grant] = field(default_factory=list)  # other principals: left alone

    @property
    def in_sync(self) -> bool:
        return not self.add and not self.remove


def acl_diff(plan: Iterable[Grant], actual: Iterable[Grant], principals: set[str]) -> AclDiff:
    wanted, held = set(plan), set(actual)
    return AclDiff(
        add=sorted(wanted - held),
        remove=sorted(g for g in held - wanted if g.principal in principals),
        foreign=sorted(g for g in held if g.principal not in principals),
    )


# ------------------------------------------------------------------ the cluster

_PATTERNS = {"LITERAL": ACLResourcePatternType.LITERAL,
             "PREFIXED": ACLResourcePatternType.PREFIXED}


def _acl(grant: Grant) -> ACL:
    return ACL(
        principal=grant.principal, host="*", operation=ACLOperation[grant.operation],
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePattern(ResourceType[grant.resource], grant.name,
                                         _PATTERNS[grant.pattern]),
    )


def read_acls(admin: KafkaAdminClient) -> list[Grant]:
    """Every ALLOW ACL the cluster holds (DENY ones are not the hub's to manage)."""
    everything = ACLFilter(
        principal=None, host="*", operation=ACLOperation.ANY,
        permission_type=ACLPermissionType.ALLOW,
        resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                               ACLResourcePatternType.ANY),
    )
    try:
        acls, error = admin.describe_acls(everything)
    except KafkaError as exc:
        raise KafkaUnavailableError(f"reading the ACLs failed: {exc}") from None
    if error is not None and getattr(error, "errno", None):
        raise KafkaUnavailableError(
            f"reading the ACLs failed: {error} (does the cluster run an authorizer?)")
    return sorted(
        Grant(acl.principal, acl.resource_pattern.resource_type.name,
              acl.resource_pattern.pattern_type.name, acl.resource_pattern.resource_name,
              acl.operation.name)
        for acl in acls
    )


def apply_acls(admin: KafkaAdminClient, diff: AclDiff, remove_foreign: bool = False) -> None:
    """Create what is missing, remove the hub's principals' stray grants (and, when told,
    other principals' grants)."""
    try:
        if diff.add:
            answer = admin.create_acls([_acl(g) for g in diff.add])
            failed = answer.get("failed", [])
            if failed:
                raise KafkaUnavailableError(f"creating {len(failed)} ACL(s) failed: {failed[:3]}")
        gone = diff.remove + (diff.foreign if remove_foreign else [])
        if gone:
            filters = [
                ACLFilter(principal=g.principal, host="*", operation=ACLOperation[g.operation],
                          permission_type=ACLPermissionType.ALLOW,
                          resource_pattern=ResourcePatternFilter(
                              ResourceType[g.resource], g.name, _PATTERNS[g.pattern]))
                for g in gone
            ]
            admin.delete_acls(filters)
    except KafkaError as exc:
        raise KafkaUnavailableError(f"changing the ACLs failed: {exc}") from None
