"""Transports as plug-ins.

Each transport declares its kind (the ``type`` of its entries in the connectors file),
its configuration model, its role (a source brings native records in, a sink delivers an
inbox out, a direct party does both itself over Kafka) and a factory, and registers
itself with `register`. The connectors file is validated against the registered models
(`connectors._config.load_connectors`), and the runner drives any registered transport
through the `Source` and `Sink` interface alone: status, prompt stop and keying included.
A transport gets a narrow `Runtime`, not the hub's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from hub.errors import ConfigError, HubError
from hub.wire import ConnectorState

if TYPE_CHECKING:
    from connectors._base import Sink, Source
    from connectors._config import ConnectorSpec


def read_secret(path: str | None) -> bytes | None:
    """The contents of a secret file (stripped); None without a path."""
    if path is None:
        return None
    try:
        return Path(path).read_bytes().strip()
    except OSError as exc:
        raise HubError(f"cannot read the secret file {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class Runtime:
    """What the hub gives a transport it builds."""

    state: ConnectorState  # durable positions (cursors, file ledgers) in Kafka
    secret: Callable[[str | None], bytes | None] = read_secret


@dataclass(frozen=True)
class Transport:
    """One kind of connector."""

    kind: str
    config: type[ConnectorSpec]
    role: Literal["source", "sink", "direct"]
    build: Callable[[Any, Runtime], Source | Sink | None]
    carries: Callable[[Any], str]  # one line for `hub connectors list`


TRANSPORTS: dict[str, Transport] = {}


def register(transport: Transport) -> Transport:
    """Add transport; a kind may be registered once."""
    if transport.kind in TRANSPORTS and TRANSPORTS[transport.kind] != transport:
        raise ConfigError(f"two transports call themselves '{transport.kind}'")
    TRANSPORTS[transport.kind] = transport
    return transport


def transport_of(config: ConnectorSpec) -> Transport:
    """The transport a configured connector uses."""
    return TRANSPORTS[config.type]
