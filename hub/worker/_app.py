"""The Faust application of a hub worker: Kafka connection, internal topics, HTTP server."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import faust
from aiohttp import web

from hub.registry import EmbeddedRegistry, registry_app
from hub.settings import HubSettings
from hub.worker._http import HttpServer, build_web_app

REGISTRY_PATH = "/registry"


def _credentials(settings: HubSettings) -> faust.types.auth.CredentialsT | None:
    """Faust broker credentials from the settings (SASL and/or TLS)."""
    context: ssl.SSLContext | None = None
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            context.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
    if settings.kafka_security_protocol.startswith("SASL_"):
        password = settings.kafka_sasl_password
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=password.get_secret_value() if password else None,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


@dataclass(frozen=True)
class HubApp:
    """A worker's Faust app and the HTTP server it runs (components add routes to it)."""

    faust: faust.App
    http: HttpServer
    registry: EmbeddedRegistry | None


def create_app(settings: HubSettings, *, internal_replication: int) -> HubApp:
    """Build the worker's Faust app.

    internal_replication is the replication factor of Faust's own topics (table
    changelogs, the leader topic): 3 on a real cluster, capped on a local one.
    """
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        broker_credentials=_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        topic_replication_factor=internal_replication,
        topic_partitions=6,
        topic_allow_declare=True,
        topic_disable_leader=False,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        web_enabled=True,
        web_host=settings.http_host,
        web_port=settings.http_port,
        web_in_thread=False,
        loghandlers=[],
    )
    web_app = build_web_app()
    registry: EmbeddedRegistry | None = None
    if settings.schema_registry_url is None:
        registry = EmbeddedRegistry(settings)
        mount_registry(web_app, registry, settings.registry_users())
    server = HttpServer(web_app, settings.http_host, settings.http_port)
    app.web_server(server)
    return HubApp(faust=app, http=server, registry=registry)


def mount_registry(
    web_app: web.Application, registry: EmbeddedRegistry, users: dict[str, str]
) -> None:
    """Serve the embedded registry under /registry; it starts and stops with the server."""

    async def start(_: web.Application) -> None:
        await registry.start()

    async def stop(_: web.Application) -> None:
        await registry.stop()

    web_app.on_startup.append(start)
    web_app.on_cleanup.append(stop)
    web_app.add_subapp(REGISTRY_PATH, registry_app(registry, users))
