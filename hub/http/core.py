"""The HTTP side that needs no stage of its own: the platform, canonical publish, the
inbox and the document. The worker installs it and adds the resources that read the
stages' state (native, orders, assessment); tests serve it alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from hub.http.inbox import Inbox
from hub.http.openapi import OpenApi
from hub.http.platform import Platform
from hub.http.records import Records
from hub.http.session import SessionResource
from hub.http.tokens import TokenStore
from hub.http.validate import Validate
from hub.http.workbench import Workbench
from hub.records import KINDS
from hub.reference import Reference
from hub.serde import AvroSerde
from hub.settings import HubSettings
from hub.wire import InboxReader, Publisher, Publishes, ReadsInbox, raw_topic


@dataclass(frozen=True)
class Core:
    platform: Platform
    records: Records

    @classmethod
    def install(
        cls,
        app: web.Application,
        settings: HubSettings,
        reference: Callable[[], Reference],
        serde: AvroSerde,
        tokens: TokenStore | None = None,
        *,
        publisher: Publishes | None = None,
        reader: ReadsInbox | None = None,
    ) -> Core:
        """Add the middlewares and the core routes to app; the Kafka clients (or the
        given stand-ins, e.g. one `hub.wire.MemoryBroker` for both) stop with app. The
        publisher starts with app (or on first use, when Kafka was away then), the inbox
        reader on first use."""
        if publisher is None:
            parties = reference().parties.with_inbox()
            writes = [raw_topic(p.id) for p in parties] + sorted({k.topic for k in KINDS.values()})
            started = Publisher(settings, settings.kafka_timeout, writes)

            async def start_publisher(_: web.Application) -> None:
                await started.start()

            app.on_startup.append(start_publisher)
            publisher = started
        platform = Platform(settings, reference, serde, publisher, tokens)
        platform.install(app)
        records = Records(platform, publisher, reference)
        records.install(app)
        Validate(records).install(app)
        Inbox(platform, reader or InboxReader(settings, settings.kafka_timeout)).install(app)
        SessionResource(platform, platform.sessions).install(app)
        Workbench().install(app)
        OpenApi(settings, reference).install(app)
        return cls(platform, records)
