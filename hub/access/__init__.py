"""Who may do what on Kafka (docs/design.md §9): the principals of the parties, the
workers and the operators, and the ACLs that follow from ``topics/`` and the parties
(`hub acls diff|apply`)."""

from hub.access._acls import (
    OPS,
    WORKER,
    AclDiff,
    Grant,
    acl_diff,
    acl_plan,
    apply_acls,
    managed,
    principal,
    read_acls,
)

__all__ = [
    "OPS",
    "WORKER",
    "AclDiff",
    "Grant",
    "acl_diff",
    "acl_plan",
    "apply_acls",
    "managed",
    "principal",
    "read_acls",
]
