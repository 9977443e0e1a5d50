"""``hub connectors list|status|pause|resume|run``: the connectors of HUB_CONNECTORS_FILE.

A plug-in of the ``hub`` command line: the package declares it under the ``hub.commands``
entry points (pyproject.toml), and `hub.cli` adds every command group found there, so the
hub's core never imports the connectors. `principals` is the ``hub.principals`` entry
point: the connectors as Kafka principals, for `hub acls` and `hub users`."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
from typing import Any

from hub.access import ConnectorAccess
from hub.errors import ConfigError
from hub.settings import HubSettings


def principals(settings: HubSettings) -> list[ConnectorAccess]:
    """Each configured source and sink as a principal of its own (a direct party uses the
    party's); none without a connectors file."""
    from connectors import transport_of

    if settings.connectors_file is None:
        return []
    return [
        ConnectorAccess(config.name, config.party, transport_of(config).role)
        for config in _configs(settings)
        if transport_of(config).role != "direct"
    ]


def _configs(settings: HubSettings) -> list[Any]:
    from connectors import load_connectors
    from hub.reference import load_parties

    if settings.connectors_file is None or not settings.connectors_file.exists():
        raise ConfigError(
            "no connectors file: set HUB_CONNECTORS_FILE to a YAML file listing the connectors "
            "(see connectors/_config.py and deploy/connectors.example.yaml)"
        )
    return load_connectors(settings.connectors_file, load_parties(settings.parties_file))


def cmd_connectors_list(settings: HubSettings, args: argparse.Namespace) -> int:
    """Print each configured connector: name, party, type and what it carries."""
    from connectors import transport_of

    for config in _configs(settings):
        detail = transport_of(config).carries(config)
        print(f"{config.name:<28} {config.party:<18} {config.type:<10} {detail}")
    return 0


def _ago(moment: float | None) -> str:
    if not moment:
        return "never"
    seconds = max(0, int(time.time() - moment))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def cmd_connectors_status(settings: HubSettings, args: argparse.Namespace) -> int:
    """Last reported status of each connector (from the state topic)."""
    from hub.wire import read_state

    configs = _configs(settings)

    async def run() -> dict[str, dict[str, Any]]:
        store = await read_state(settings)
        try:
            found = {}
            for config in configs:
                status = dict(store.get(config.name, "status") or {})
                control = store.get(config.name, "control") or {}
                status["paused"] = bool(control.get("paused"))
                found[config.name] = status
            return found
        finally:
            await store.stop()

    statuses = asyncio.run(run())
    if args.json:
        print(json.dumps(statuses, ensure_ascii=False, indent=2))
        return 0
    print(
        f"{'connector':<28} {'state':<16} {'last success':<14} {'failures':>8} "
        f"{'circuit':<10} {'backlog':>8}"
    )
    for name, status in statuses.items():
        state = "paused" if status["paused"] else str(status.get("state", "not started"))
        print(
            f"{name:<28} {state:<16} {_ago(status.get('last_success')):<14} "
            f"{status.get('consecutive_failures', 0):>8} {status.get('circuit', '-'):<10} "
            f"{status.get('backlog', '-'):>8}"
        )
    return 0


def _set_paused(settings: HubSettings, name: str, paused: bool) -> int:
    from hub.wire import read_state

    names = [config.name for config in _configs(settings)]
    if name not in names:
        raise ConfigError(f"no connector '{name}'; configured: {', '.join(names) or 'none'}")

    async def run() -> None:
        store = await read_state(settings)
        try:
            await store.put(name, "control", {"paused": paused, "at": time.time()})
        finally:
            await store.stop()

    asyncio.run(run())
    state = "paused" if paused else "resumed"
    print(f"{name}: {state} (the running connector sees it within seconds)")
    return 0


def cmd_connectors_pause(settings: HubSettings, args: argparse.Namespace) -> int:
    """Pause a connector: it finishes its batch and waits."""
    return _set_paused(settings, args.name, True)


def cmd_connectors_resume(settings: HubSettings, args: argparse.Namespace) -> int:
    """Resume a paused connector where it stopped."""
    return _set_paused(settings, args.name, False)


def cmd_connectors_run(settings: HubSettings, args: argparse.Namespace) -> int:
    """Run connectors standalone (outside a worker) until Ctrl-C or SIGTERM."""
    from connectors import ConnectorService
    from hub.mapping import load_catalogue
    from hub.reference import load_parties
    from hub.registry import open_registry
    from hub.serde import AvroSerde

    configs = [c for c in _configs(settings) if not args.names or c.name in args.names]
    unknown = sorted(set(args.names) - {c.name for c in configs})
    if unknown:
        raise ConfigError(f"no connector named {', '.join(unknown)}")

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with open_registry(settings) as registry:
            service = ConnectorService(
                configs,
                settings,
                AvroSerde(registry),
                load_catalogue(),
                load_parties(settings.parties_file),
            )
            await service.start()
            print(f"running {len(configs)} connector(s); Ctrl-C stops", flush=True)
            try:
                await stop.wait()
            finally:
                await service.stop()

    asyncio.run(run())
    return 0


def add_commands(commands: Any) -> None:
    connectors = commands.add_parser(
        "connectors",
        help="the party connectors of HUB_CONNECTORS_FILE: list, status, pause, resume, run",
    )
    actions = connectors.add_subparsers(dest="connectors_command", metavar="ACTION", required=True)
    actions.add_parser("list", help="list configured connectors").set_defaults(
        handler=cmd_connectors_list
    )
    status = actions.add_parser(
        "status",
        help="state, last success, consecutive failures, circuit, backlog of each connector",
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(handler=cmd_connectors_status)
    for name, handler, text in (
        ("pause", cmd_connectors_pause, "pause a connector (it finishes its batch first)"),
        ("resume", cmd_connectors_resume, "resume a paused connector"),
    ):
        action = actions.add_parser(name, help=text)
        action.add_argument("name", metavar="NAME", help="connector name (see list)")
        action.set_defaults(handler=handler)
    run = actions.add_parser(
        "run", help="run connectors standalone (a worker runs them too when configured)"
    )
    run.add_argument("names", nargs="*", metavar="NAME", help="only these (default: all)")
    run.set_defaults(handler=cmd_connectors_run, long_running=True)
