"""`hub worker`: check the configuration and the cluster, then run the Faust worker."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Any

import faust

from hub.errors import ConfigError
from hub.logs import logging_config
from hub.reference import load_parties
from hub.settings import HubSettings
from hub.topics import admin_client, load_topics, read_cluster
from hub.worker._app import create_app

log = logging.getLogger(__name__)

INTERNAL_REPLICATION = 3
# The collector's young generation: a collection every 50,000 new container objects
# instead of every 700 (Python's default), the older ones after 20 and 10 of those.
# A record makes a few hundred objects (models, dicts, futures), so at the default the
# collector ran every couple of records and its full collections scanned every order
# view held: bench H1 spent 2.0 s of 14.7 s of CPU in it (2,666 collections for 30,000
# records); at these 0.3 s (12).
GC_THRESHOLDS = (50_000, 20, 10)


def preflight(settings: HubSettings) -> int:
    """Validate reference data and topics, reach Kafka; return the internal replication.

    Raises `ConfigError` when declared topics are missing (run ``hub topics apply``)
    and `KafkaUnavailableError` when the cluster does not answer.
    """
    parties = load_parties(settings.parties_file)
    specs = load_topics(settings.topics_dir, parties)
    with admin_client(settings) as admin:
        state = read_cluster(admin, [spec.name for spec in specs])
    missing = sorted(spec.name for spec in specs if spec.name not in state.topics)
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise ConfigError(
            f"{len(missing)} declared topic(s) do not exist on {settings.kafka_bootstrap}: "
            f"{shown}; run `hub topics apply` first"
        )
    if state.brokers >= INTERNAL_REPLICATION or settings.environment == "production":
        return INTERNAL_REPLICATION
    log.warning(
        "cluster has %d broker(s): Faust's internal topics use replication factor %d",
        state.brokers,
        state.brokers,
    )
    return state.brokers


def run_worker(settings: HubSettings) -> None:
    """Run a worker in the foreground until Ctrl-C or SIGTERM; shuts down cleanly.

    On a signal the pipeline finishes the batch in hand, settles its outputs, commits
    and closes (`hub.worker._app.STOP_GRACE`); the process then exits 0, or 1 after
    logging what it could not finish (brokers away: those records are read again)."""
    replication = preflight(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
    hub_app = create_app(settings, internal_replication=replication)
    worker = _Worker(
        hub_app.faust,
        loglevel=settings.log_level,
        quiet=settings.log_level in ("WARNING", "ERROR"),
        redirect_stdouts=False,
        logging_config=logging_config(
            settings.log_level, settings.log_format, settings.log_file,
            settings.log_console_level,
        ),
    )
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if hub_app.pipeline.left:
        log.error(
            "the worker stopped with work left: %s", "; ".join(hub_app.pipeline.left)
        )
        code = code or 1
    logging.shutdown()
    sys.exit(code)


class _Worker(faust.Worker):
    """faust.Worker without the terminal spinner, freezing start-up objects for the GC
    and collecting less often (`GC_THRESHOLDS`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No terminal spinner: at WARNING and above it sets the root logger to DEBUG
        # (faust.Worker._setup_spinner_handler), so every debug call of Faust and aiokafka
        # built a log record that the handler then dropped (bench H1: the worker's
        # `Logger.makeRecord` and friends), and it wrote escape codes into JSON logs.
        self.spinner = None

    async def on_startup_finished(self) -> None:
        await super().on_startup_finished()
        # Everything built until now (modules, schemas, the app, its clients) lives as
        # long as the worker: out of the collector's sight, a full collection scans only
        # what records create. Before, each one stalled a fresh worker for 60-90 ms.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
