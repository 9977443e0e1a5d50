"""Schema registry: a client for any Confluent-compatible one, and the embedded default."""

from hub.registry._client import RegistryClient
from hub.registry._compat import LEVELS, incompatibilities
from hub.registry._embedded import EmbeddedRegistry
from hub.registry._http import registry_app
from hub.registry._local import LocalRegistryClient
from hub.registry._memory import MemoryRegistry
from hub.registry._open import external_registry, open_registry
from hub.registry._store import Registered, SchemaStore

__all__ = [
    "LEVELS",
    "EmbeddedRegistry",
    "LocalRegistryClient",
    "MemoryRegistry",
    "Registered",
    "RegistryClient",
    "SchemaStore",
    "external_registry",
    "incompatibilities",
    "open_registry",
    "registry_app",
]
