"""`open_registry` and `external_registry`: the registry client the settings call for."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from hub.registry._client import RegistryClient
from hub.registry._embedded import EmbeddedRegistry
from hub.registry._local import LocalRegistryClient
from hub.settings import HubSettings


def external_registry(settings: HubSettings, url: str) -> RegistryClient:
    """A client for the registry at url, with the configured Basic-auth credentials."""
    user, password = settings.schema_registry_user, settings.schema_registry_password
    auth = (user, password.get_secret_value()) if user and password else None
    return RegistryClient(url, auth=auth)


@asynccontextmanager
async def open_registry(
    settings: HubSettings,
) -> AsyncIterator[RegistryClient | LocalRegistryClient]:
    """HUB_SCHEMA_REGISTRY_URL's registry, or an in-process embedded one on the cluster."""
    if settings.schema_registry_url:
        client = external_registry(settings, settings.schema_registry_url)
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
