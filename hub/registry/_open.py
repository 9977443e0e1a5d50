"""`open_registry`: the registry client the settings call for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.registry._client import RegistryClient
from hub.registry._embedded import EmbeddedRegistry
from hub.registry._local import LocalRegistryClient
from hub.settings import HubSettings


@asynccontextmanager
async def open_registry(
    settings: HubSettings,
) -> AsyncIterator[RegistryClient | LocalRegistryClient]:
    """HUB_SCHEMA_REGISTRY_URL's registry, or an in-process embedded one on the cluster."""
    if settings.schema_registry_url:
        auth = None
        if settings.schema_registry_user and settings.schema_registry_password:
            auth = (
                settings.schema_registry_user,
                settings.schema_registry_password.get_secret_value(),
            )
        client = RegistryClient(settings.schema_registry_url, auth=auth)
        try:
            yield client
        finally:
            await client.close()
        return
    registry = EmbeddedRegistry(settings)
    await registry.start()
    try:
        yield LocalRegistryClient(registry)
    finally:
        await registry.stop()
