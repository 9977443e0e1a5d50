"""Who may do what on Kafka (docs/design.md §9): the principals of the parties, the
workers and the operators, and the ACLs that follow from ``topics/`` and the parties
(`hub acls diff|apply`), and their SCRAM credentials (`hub users add|rotate`)."""

from hub.access._acls import (
    OPS,
    WORKER,
    AclDiff,
    ConnectorAccess,
    Grant,
    acl_diff,
    acl_plan,
    apply_acls,
    configured_connectors,
    managed,
    principal,
    read_acls,
)
from hub.access._users import MECHANISM, principals, set_password

__all__ = [
    "MECHANISM",
    "OPS",
    "WORKER",
    "AclDiff",
    "ConnectorAccess",
    "Grant",
    "acl_diff",
    "acl_plan",
    "apply_acls",
    "configured_connectors",
    "managed",
    "principal",
    "principals",
    "read_acls",
    "set_password",
]
