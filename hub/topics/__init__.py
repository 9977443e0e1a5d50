"""Topics as code: declarations in ``topics/*.yaml`` applied idempotently to the cluster."""

from hub.topics._plan import (
    ActualTopic,
    Change,
    ClusterState,
    Plan,
    admin_client,
    apply_plan,
    plan,
    read_cluster,
)
from hub.topics._spec import TopicDecl, TopicSpec, load_topics, parse_retention

__all__ = [
    "ActualTopic",
    "Change",
    "ClusterState",
    "Plan",
    "TopicDecl",
    "TopicSpec",
    "admin_client",
    "apply_plan",
    "load_topics",
    "parse_retention",
    "plan",
    "read_cluster",
]
