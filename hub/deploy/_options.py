"""What `hub export strimzi` is asked for: names, sizes and the image (one dataclass)."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Literal

from hub import __version__
from hub.errors import ConfigError

# a DNS-1123 label: what Kubernetes takes as the name of a namespace, Service or cluster
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$")

External = Literal["none", "nodeport", "loadbalancer"]


@dataclass(frozen=True)
class StrimziOptions:
    """The choices of one export; every other value follows from topics/ and the parties."""

    namespace: str = "wuchang-hub"
    cluster: str = "wuchang-kafka"
    replicas: int = 3  # hub workers
    brokers: int = 3  # combined KRaft controller+broker nodes
    image: str = f"wuchang-hub:{__version__}"
    broker_storage: str = "100Gi"
    storage_class: str | None = None
    kafka_version: str | None = None  # None: the operator's default Kafka
    external: External = "none"  # a listener for parties outside the Kubernetes cluster

    def __post_init__(self) -> None:
        for name in ("namespace", "cluster"):
            value = getattr(self, name)
            if not _LABEL.fullmatch(value) or len(value) > 40:
                raise ConfigError(
                    f"--{name} '{value}' is not a Kubernetes name: lower-case letters, digits "
                    "and '-', at most 40 characters, starting and ending with a letter or digit"
                )
        if not 1 <= self.replicas <= 100:
            raise ConfigError(f"--replicas {self.replicas}: give 1 to 100 hub workers")
        if not 1 <= self.brokers <= 100:
            raise ConfigError(f"--brokers {self.brokers}: give 1 to 100 Kafka nodes")
        if not _QUANTITY.fullmatch(self.broker_storage):
            raise ConfigError(
                f"--broker-storage '{self.broker_storage}' is not a size such as 100Gi"
            )
        if not self.image or any(c.isspace() for c in self.image):
            raise ConfigError(f"--image '{self.image}' is not an image reference")

    def command_line(self) -> str:
        """The export command that makes these options (written into every file)."""
        words = ["hub export strimzi"]
        for field in fields(self):
            value = getattr(self, field.name)
            if value is not None:
                words.append(f"--{field.name.replace('_', '-')} {value}")
        return " ".join(words)
