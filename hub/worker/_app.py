"""The Faust application of a hub worker: Kafka connection, internal topics, HTTP server."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust
import faust.app
from aiohttp import web
from prometheus_client import CollectorRegistry

from connectors import ConnectorService, load_connectors, transport_of
from hub.catalogue import load_reference
from hub.dispatch import (
    Deadlines,
    load_deadline_policy,
    load_enforcement_periods,
    load_supervision,
)
from hub.dispatch._metrics import AssessmentCollector, OrdersCollector
from hub.errors import HubError
from hub.http import (
    Assessment,
    Cases,
    Core,
    Native,
    Ops,
    Orders,
    Peers,
    Platform,
    Shared,
)
from hub.http import Subscriptions as SubscriptionsResource
from hub.mapping import load_catalogue
from hub.metrics import FlowCollector, probe_loop_lag
from hub.records import KINDS
from hub.reference import LiveReference, Reference, load_calendar, load_parties
from hub.registry import (
    EmbeddedRegistry,
    LocalRegistryClient,
    RegistryClient,
    external_registry,
    registry_app,
)
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.shared import SharedView, load_datasets
from hub.stages import (
    Assign,
    CaseRevisions,
    DatasetReader,
    DeadlineSweep,
    EnforcementSweep,
    Lifecycle,
    Normaliser,
    SubscriptionPump,
    Subscriptions,
)
from hub.stream import Pipeline
from hub.topics import load_topics
from hub.wire import DLQ_TOPIC, inbox_topic
from hub.worker._http import HttpServer, build_web_app
from hub.worker._metrics import (
    ConnectorCollector,
    KafkaWatch,
    readiness_checks,
)

log = logging.getLogger(__name__)

REGISTRY_PATH = "/registry"
STOP_GRACE = 12.0  # seconds the pipeline has to finish, settle, commit and close
FIRST_ASSIGNMENT = 45.0  # seconds a starting worker waits for its partitions


class _Boot(faust.app.BootStrategy):
    """Faust hosts the worker (lifecycle, web server, timers); the stages consume through
    `hub.stream.Pipeline`, so Faust starts no consumer, producer, agents or tables."""

    enable_kafka = False

    def server(self) -> Any:
        return self._chain(self.sensors(), self.web_server())


class _HubFaust(faust.App):
    BootStrategy = _Boot


class PipelineRun:
    """Runs the pipeline with the HTTP server: started before it listens (so the worker
    answers /healthz only once it is in its group and has its partitions, or after
    FIRST_ASSIGNMENT seconds), stopped after it stopped taking requests, within
    STOP_GRACE; `left` says what could not be finished."""

    def __init__(self, pipeline: Pipeline, prepare: Callable[[], Awaitable[None]]) -> None:
        self.pipeline = pipeline
        self.prepare = prepare
        self.left: list[str] = []

    def install(self, web_app: web.Application) -> None:
        web_app.on_startup.append(self._start)
        web_app.on_cleanup.append(self._stop)

    async def _start(self, _: web.Application) -> None:
        # every kind's schema registered before the first record: no stage then ever
        # waits on a registry write
        delay = 1.0
        while True:
            try:
                await self.prepare()
                break
            except HubError as exc:
                if not exc.retriable:
                    raise
                log.warning(
                    "registering the schemas failed (%s); retrying in %.0f s", exc.message, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        await self.pipeline.start()
        try:
            async with asyncio.timeout(FIRST_ASSIGNMENT):
                await self.pipeline.started.wait()
        except TimeoutError:
            log.warning(
                "no partitions assigned within %.0f s; serving meanwhile (/readyz says why)",
                FIRST_ASSIGNMENT,
            )

    async def _stop(self, _: web.Application) -> None:
        self.left = await self.pipeline.stop(STOP_GRACE)
        for what in self.left:
            log.error("stopping: %s", what)


@dataclass(frozen=True)
class HubApp:
    """A worker's Faust app and the HTTP server it runs (components add routes to it)."""

    faust: faust.App
    pipeline: PipelineRun
    http: HttpServer
    registry: EmbeddedRegistry | None
    platform: Platform
    reference: LiveReference
    engine: Lifecycle
    metrics: CollectorRegistry


def create_app(settings: HubSettings, *, internal_replication: int) -> HubApp:
    """Build a worker: Faust hosts it (lifecycle, HTTP server, timers), the stages run in
    `hub.stream.Pipeline`.

    internal_replication is the replication factor of the tables' changelog topics: 3 on
    a real cluster, capped on a local one.
    """
    app = _HubFaust(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        web_enabled=True,
        web_host=settings.http_host,
        web_port=settings.http_port,
        web_in_thread=False,
        loghandlers=[],
    )

    async def watch_event_loop() -> None:  # no parameters: Faust passes the app to those
        await probe_loop_lag()

    app.task(watch_event_loop)
    web_app = build_web_app(settings.gateway_body_limit)
    registry: EmbeddedRegistry | None = None
    client: RegistryClient | LocalRegistryClient
    if settings.schema_registry_url is None:
        registry = EmbeddedRegistry(settings)
        mount_registry(web_app, registry, settings.registry_users())
        client = LocalRegistryClient(registry)
    else:
        client = external_registry(settings, settings.schema_registry_url)
    serde = AvroSerde(client)
    reference = LiveReference(Reference(parties=load_parties(settings.parties_file)))
    core = Core.install(web_app, settings, reference, serde)
    platform, records = core.platform, core.records
    partitions = {
        spec.name: spec.partitions
        for spec in load_topics(settings.topics_dir, reference().parties)
    }
    order_partitions = partitions[KINDS["order"].topic]
    advertised = f"http://{settings.http_host}:{settings.http_port}"
    pipeline = Pipeline(
        settings,
        advertised,
        settings.worker_id or f"{socket.gethostname()}-{settings.http_port}",
        replication=internal_replication,
        outputs=[
            *(inbox_topic(p.id) for p in reference().parties.with_inbox()),
            *(k.topic for k in KINDS.values()),
            DLQ_TOPIC,
        ],
    )
    deadlines = Deadlines(
        load_deadline_policy(settings.deadlines_file), load_calendar(settings.calendar_file)
    )
    out, limit = pipeline.emitter, settings.kafka_record_limit
    catalogue = load_catalogue()
    normaliser = Normaliser(out, serde, reference, catalogue, reference.ready, limit)
    engine = Lifecycle(
        app, out, pipeline, serde, reference, order_partitions, deadlines, reference.ready,
        record_limit=limit, park_seconds=settings.park_seconds,
    )
    assign = Assign(out, serde, reference, reference.ready, limit)
    supervision = load_supervision()
    periods = load_enforcement_periods(settings.enforcement_file)
    revisions = CaseRevisions(
        out, pipeline, serde, reference, supervision, periods, settings.app_id,
        partitions[KINDS["case"].topic], reference.ready, limit, deadlines.calendar,
    )
    DeadlineSweep(app, out, serde, engine, reference.ready, settings.deadline_sweep_seconds)
    EnforcementSweep(
        app, out, serde, reference, revisions.due_cases, periods, reference.ready,
        settings.deadline_sweep_seconds,
    )
    datasets = load_datasets(settings.datasets_file)
    dataset_reader = DatasetReader(settings, serde)
    subscriptions = Subscriptions(
        out, serde, reference, datasets, dataset_reader, settings.app_id, pipeline,
        reference.ready, limit,
    )
    SubscriptionPump(app, subscriptions)
    for stage in [
        normaliser.stage(), *engine.stages(), *revisions.stages(), assign.stage(),
        subscriptions.stage(),
    ]:
        pipeline.add(stage)
    Native(platform, records, catalogue).install(web_app)
    metrics = CollectorRegistry()
    groups = [settings.app_id]
    # the pipeline joins its group before the connectors start writing: a group new to
    # its topics under HUB_KAFKA_OFFSET_RESET=latest would start after their first records
    run = PipelineRun(pipeline, serde.prepare)
    run.install(web_app)
    if settings.connectors_file is not None:
        configs = load_connectors(settings.connectors_file, reference().parties)
        groups += [
            f"{settings.app_id}-connector-{c.name}"
            for c in configs
            if transport_of(c).role == "sink"
        ]
        connectors = ConnectorService(
            configs, settings, serde, catalogue, reference().parties
        )

        async def start_connectors(_: web.Application) -> None:
            await connectors.start()

        async def stop_connectors(_: web.Application) -> None:
            await connectors.stop()

        web_app.on_startup.append(start_connectors)
        web_app.on_cleanup.append(stop_connectors)
        metrics.register(ConnectorCollector(connectors))
    watch = KafkaWatch(settings, groups, {settings.app_id: pipeline.topics})
    collectors = (
        FlowCollector(), AssessmentCollector(engine, revisions), OrdersCollector(engine), watch
    )
    for collector in collectors:
        metrics.register(collector)

    async def registry_reachable() -> str | None:
        if registry is not None:
            await registry.catch_up()
            return registry.write_error
        await client.subjects()
        return None

    checks = readiness_checks(pipeline, watch, registry_reachable)
    Ops(platform, metrics, checks).install(web_app)

    async def start_watch(_: web.Application) -> None:
        watch.start()

    async def stop_watch(_: web.Application) -> None:
        await watch.stop()

    web_app.on_startup.append(start_watch)
    web_app.on_cleanup.append(stop_watch)
    peers = Peers(advertised, engine.owner_of, engine.worker_urls)
    peers.install(web_app)
    orders = Orders(platform, records, engine, peers)
    orders.install(web_app)
    case_peers = Peers(advertised, revisions.owner_of, revisions.worker_urls)
    case_peers.install(web_app)
    Cases(
        platform, records, revisions, case_peers, reference, supervision, periods, orders.about
    ).install(web_app)
    Assessment(platform, [engine, revisions], peers).install(web_app)
    shared_view = SharedView(settings, serde, datasets)
    Shared(platform, datasets, shared_view).install(web_app)
    subscription_peers = Peers(advertised, subscriptions.owner_of, subscriptions.worker_urls)
    subscription_peers.install(web_app)
    SubscriptionsResource(
        platform, records, datasets, subscriptions, subscription_peers
    ).install(web_app)

    async def start_shared(_: web.Application) -> None:
        await shared_view.start()

    async def stop_shared(_: web.Application) -> None:
        await shared_view.stop()
        await dataset_reader.close()

    web_app.on_startup.append(start_shared)
    web_app.on_cleanup.append(stop_shared)

    async def first_reference(_: web.Application) -> None:
        reference.replace(await load_reference(settings, serde))
        log.info(
            "reference data: %d matters, %d officers",
            len(reference().matters),
            len(reference().officers),
        )

    async def refresh_reference(app: web.Application) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(settings.reference_refresh_seconds)
                try:
                    reference.replace(await load_reference(settings, serde))
                except Exception:  # noqa: BLE001 - keep serving the last good reference
                    log.exception("refreshing the reference data failed; keeping the last one")

        task = asyncio.create_task(loop())

        async def stop(_: web.Application) -> None:
            task.cancel()

        app.on_cleanup.append(stop)

    web_app.on_startup.append(first_reference)
    web_app.on_startup.append(refresh_reference)
    server = HttpServer(
        web_app, settings.http_host, settings.http_port, ssl_context=server_tls(settings)
    )
    app.web_server(server)

    return HubApp(
        faust=app,
        pipeline=run,
        http=server,
        registry=registry,
        platform=platform,
        reference=reference,
        engine=engine,
        metrics=metrics,
    )


def server_tls(settings: HubSettings) -> ssl.SSLContext | None:
    """HTTPS when a certificate is configured; mutual TLS when a client CA is too."""
    if settings.http_tls_certfile is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(
        str(settings.http_tls_certfile),
        str(settings.http_tls_keyfile) if settings.http_tls_keyfile else None,
    )
    if settings.http_tls_client_cafile is not None:
        context.load_verify_locations(cafile=str(settings.http_tls_client_cafile))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def mount_registry(
    web_app: web.Application, registry: EmbeddedRegistry, users: dict[str, str]
) -> None:
    """Serve the embedded registry under /registry; it starts and stops with the server."""

    async def start(_: web.Application) -> None:
        await registry.ensure_started()

    async def stop(_: web.Application) -> None:
        await registry.stop()

    web_app.on_startup.append(start)
    web_app.on_cleanup.append(stop)
    web_app.add_subapp(REGISTRY_PATH, registry_app(registry, users))
