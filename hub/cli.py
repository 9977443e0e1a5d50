"""The ``hub`` command line: run a worker, manage topics, inspect reference data.

Every command reads its settings from ``HUB_*`` environment variables (README,
Configuration). User errors print one clear message and exit non-zero, without a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from kafka.admin import KafkaAdminClient

from hub import __version__
from hub._cli_ops import add_commands as add_ops_commands
from hub._cli_records import add_commands as add_record_commands
from hub.access import (
    MECHANISM,
    AclDiff,
    acl_diff,
    acl_plan,
    apply_acls,
    configured_connectors,
    managed,
    read_acls,
    set_password,
)
from hub.errors import ConfigError, HubError
from hub.logs import configure_logging
from hub.reference import load_parties
from hub.settings import HubSettings, load_settings
from hub.topics import Plan as TopicPlan
from hub.topics import admin_client, apply_plan, load_topics, plan, read_cluster

log = logging.getLogger("hub")

# command groups other packages add (pyproject.toml [project.entry-points."hub.commands"])
PLUGINS = "hub.commands"


def _topic_plan(settings: HubSettings) -> TopicPlan:
    parties = load_parties(settings.parties_file)
    specs = load_topics(settings.topics_dir, parties)
    with admin_client(settings) as admin:
        state = read_cluster(admin, [spec.name for spec in specs])
    return plan(specs, state, settings.environment)


def _print_plan(todo: TopicPlan, quiet: bool = False) -> None:
    for warning in todo.warnings:
        if not quiet:
            print(f"warning: {warning}", file=sys.stderr)
    for change in todo.changes:
        if not quiet:
            print(change)
    for refused in todo.refused:
        print(f"! refused: {refused}")


def cmd_topics_diff(settings: HubSettings, args: argparse.Namespace) -> int:
    """Print what `topics apply` would change; exit 1 when anything differs."""
    todo = _topic_plan(settings)
    _print_plan(todo)
    if todo.in_sync:
        print("topics are in sync with the declarations")
        return 0
    return 1


def _acl_diff(settings: HubSettings, admin: KafkaAdminClient) -> AclDiff:
    parties = load_parties(settings.parties_file)
    connectors = configured_connectors(settings)
    wanted = acl_plan(load_topics(settings.topics_dir, parties), parties, settings.app_id,
                      connectors)
    return acl_diff(wanted, read_acls(admin), managed(parties, connectors))


def _print_acls(diff: AclDiff, remove_foreign: bool) -> None:
    for grant in diff.add:
        print(f"+ {grant}")
    for grant in diff.remove:
        print(f"- {grant}")
    for grant in diff.foreign:
        print(f"{'-' if remove_foreign else '='} {grant}"
              + ("" if remove_foreign else "  (not the hub's principal: left alone)"))


def cmd_acls_diff(settings: HubSettings, args: argparse.Namespace) -> int:
    """Print what `acls apply` would change; exit 1 when anything differs."""
    with admin_client(settings) as admin:
        diff = _acl_diff(settings, admin)
    _print_acls(diff, remove_foreign=False)
    if diff.in_sync:
        print("ACLs are in sync with topics/ and the parties")
        return 0
    return 1


def cmd_acls_apply(settings: HubSettings, args: argparse.Namespace) -> int:
    """Create the missing ACLs and remove the hub's principals' stray ones."""
    with admin_client(settings) as admin:
        diff = _acl_diff(settings, admin)
        _print_acls(diff, args.remove_foreign)
        if diff.in_sync and not (args.remove_foreign and diff.foreign):
            print("ACLs in sync; nothing to change")
            return 0
        apply_acls(admin, diff, remove_foreign=args.remove_foreign)
    removed = len(diff.remove) + (len(diff.foreign) if args.remove_foreign else 0)
    print(f"applied: {len(diff.add)} added, {removed} removed")
    return 0


def cmd_users_set(settings: HubSettings, args: argparse.Namespace) -> int:
    """Store a new SCRAM password for each principal and print it once."""
    parties = load_parties(settings.parties_file)
    connectors = configured_connectors(settings)
    with admin_client(settings) as admin:
        for user in args.principal:
            print(f"{user} {set_password(admin, user, parties, connectors)}")
    verb = "added" if args.users_command == "add" else "rotated (the old password no longer works)"
    print(f"{len(args.principal)} principal(s) {verb}; {MECHANISM}; hand each password over "
          "once, it is not stored in clear anywhere", file=sys.stderr)
    return 0


def cmd_topics_apply(settings: HubSettings, args: argparse.Namespace) -> int:
    """Create missing topics and bring partition counts and configs to the declarations."""
    parties = load_parties(settings.parties_file)
    specs = load_topics(settings.topics_dir, parties)
    with admin_client(settings) as admin:
        todo = plan(specs, read_cluster(admin, [s.name for s in specs]), settings.environment)
        _print_plan(todo, quiet=args.quiet)
        if todo.in_sync:
            print(f"{len(specs)} topics in sync; nothing to change")
            return 0
        apply_plan(admin, todo)
    counts: dict[str, int] = {}
    for change in todo.changes:
        counts[change.action] = counts.get(change.action, 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    print(f"applied: {summary}" + (f" ({len(todo.warnings)} warnings)" if todo.warnings else ""))
    return 0


def cmd_parties(settings: HubSettings, args: argparse.Namespace) -> int:
    """List the parties of the reference file."""
    from hub.wire import inbox_topic

    registry = load_parties(settings.parties_file)
    for party in registry:
        inbox = inbox_topic(party.id) if party.inbox else "-"
        print(f"{party.id:<20} {party.kind.value:<14} {inbox:<26} {party.name}")
    print(f"{len(registry)} parties from {registry.source}", file=sys.stderr)
    return 0


def cmd_tokens_issue(settings: HubSettings, args: argparse.Namespace) -> int:
    """Issue a bearer token for each party named: print each once (one line per party,
    in the order given), store only their hashes."""
    from hub.http import TokenStore

    registry = load_parties(settings.parties_file)
    unknown = [party for party in args.party if party not in registry]
    if unknown:
        known = ", ".join(p.id for p in registry if p.id != "hub")
        raise ConfigError(f"unknown party '{unknown[0]}'; one of: {known}")
    store = TokenStore(settings.tokens_path)
    for party in args.party:
        token, entry = store.issue(party)
        print(token)
        print(
            f"issued token {entry.token_id} for {entry.party}; shown once, only its hash is "
            f"kept in {settings.tokens_path}",
            file=sys.stderr,
        )
    return 0


def cmd_tokens_revoke(settings: HubSettings, args: argparse.Namespace) -> int:
    """Revoke a token by id (workers notice within a request)."""
    from hub.http import TokenStore

    entry = TokenStore(settings.tokens_path).revoke(args.token_id)
    print(f"revoked token {entry.token_id} of {entry.party}")
    return 0


def cmd_tokens_list(settings: HubSettings, args: argparse.Namespace) -> int:
    """List tokens (ids, parties, state); never the tokens themselves."""
    from hub.http import TokenStore

    for entry in TokenStore(settings.tokens_path).entries():
        state = "revoked" if entry.revoked else "live"
        print(f"{entry.token_id}  {entry.party:<20} {state:<8} {entry.created_at}")
    return 0


def cmd_export_strimzi(settings: HubSettings, args: argparse.Namespace) -> int:
    """Write the Kubernetes (Strimzi) deployment derived from topics/ and the parties."""
    from hub.deploy import StrimziOptions, strimzi_export, write_export

    options = StrimziOptions(
        namespace=args.namespace, cluster=args.cluster, replicas=args.replicas,
        brokers=args.brokers, image=args.image, broker_storage=args.broker_storage,
        storage_class=args.storage_class, kafka_version=args.kafka_version,
        external=args.external,
    )
    manifests = strimzi_export(settings, options)
    for manifest, path in zip(manifests, write_export(manifests, options, args.out), strict=True):
        print(f"wrote {path}: {manifest.summary()}")
    print(f"namespace {options.namespace}, Kafka cluster {options.cluster}, app id "
          f"{settings.app_id}, {options.replicas} worker(s); apply kafka, topics, users, hub, "
          "monitoring in that order after making the secrets (docs/production.md)",
          file=sys.stderr)
    return 0


def cmd_worker(settings: HubSettings, args: argparse.Namespace) -> int:
    """Run a worker in the foreground until Ctrl-C or SIGTERM."""
    from hub.worker import run_worker  # imports Faust: keep the other commands fast

    run_worker(settings)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description=(
            "Wuchang enforcement exchange hub. Settings come from HUB_* environment "
            "variables (HUB_KAFKA_BOOTSTRAP, HUB_HTTP_PORT, ...; see README)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"hub {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    worker = commands.add_parser(
        "worker",
        help="run a worker: Faust agents, tables, timers and the HTTP server",
        description=(
            "Run a hub worker in the foreground. It checks the reference data and that "
            "every declared topic exists, joins the consumer group and serves HTTP on "
            "HUB_HTTP_HOST:HUB_HTTP_PORT (/healthz). Ctrl-C or SIGTERM stops it cleanly."
        ),
    )
    worker.set_defaults(handler=cmd_worker, long_running=True)

    topics = commands.add_parser("topics", help="topics as code: diff and apply topics/*.yaml")
    topic_commands = topics.add_subparsers(dest="topics_command", metavar="ACTION", required=True)
    diff = topic_commands.add_parser(
        "diff",
        help="print what apply would change (exit 1 when something differs)",
        description="Compare topics/*.yaml with the cluster; print the changes apply would make.",
    )
    diff.set_defaults(handler=cmd_topics_diff)
    apply = topic_commands.add_parser(
        "apply",
        help="create missing topics, add partitions, set configs (idempotent)",
        description=(
            "Create missing topics and alter partition counts and configs to match "
            "topics/*.yaml. Running it twice changes nothing the second time. A partition "
            "decrease is refused and nothing is changed. With HUB_ENVIRONMENT=local a "
            "replication factor above the cluster size is capped with a warning; with "
            "HUB_ENVIRONMENT=production it is refused."
        ),
    )
    apply.add_argument(
        "--quiet", action="store_true",
        help="print the summary and refusals, not every change (只输出汇总和拒绝项)"
    )
    apply.set_defaults(handler=cmd_topics_apply)

    acls = commands.add_parser(
        "acls", help="Kafka ACLs from topics/ and the parties: diff and apply 访问控制"
    )
    acl_commands = acls.add_subparsers(dest="acls_command", metavar="ACTION", required=True)
    acl_commands.add_parser(
        "diff",
        help="print what apply would change (exit 1 when something differs)",
        description=(
            "Derive the ACLs the hub needs (each party writes only raw.<party>.v1 and reads "
            "only out.<party>.v1 and its own groups; User:hub-worker the pipeline's topics, "
            "changelogs, groups and transactional ids; User:hub-ops the DLQ, the connector "
            "state and descriptions; User:connector-<name> for each source or sink of "
            "HUB_CONNECTORS_FILE its party's raw topic or inbox) and compare them with the "
            "cluster's. '+' would be "
            "added, '-' removed, '=' belongs to a principal the hub does not manage."
        ),
    ).set_defaults(handler=cmd_acls_diff)
    acl_apply = acl_commands.add_parser(
        "apply",
        help="create the missing ACLs, remove the hub's principals' stray ones (idempotent)",
        description=(
            "Show the diff, then create every missing ACL and remove the ACLs of the hub's "
            "own principals that the plan does not have. ACLs of other principals are left "
            "alone unless --remove-foreign. Running it twice changes nothing the second "
            "time. Needs an admin principal on a cluster with an authorizer."
        ),
    )
    acl_apply.add_argument(
        "--remove-foreign", action="store_true",
        help="also remove the ACLs of principals the hub does not manage (删除非枢纽主体的ACL)",
    )
    acl_apply.set_defaults(handler=cmd_acls_apply)

    users = commands.add_parser(
        "users", help="SCRAM credentials of the hub's Kafka principals: add, rotate 账号口令"
    )
    user_commands = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    for action, summary in (
        ("add", "give each PRINCIPAL a SCRAM-SHA-512 password (printed once)"),
        ("rotate", "replace each PRINCIPAL's password; the old one stops working at once"),
    ):
        user_command = user_commands.add_parser(
            action, help=summary,
            description=f"{summary[0].upper()}{summary[1:]}. A principal is a party with an "
            "inbox (street-jiyuqiao, dept-urban, ...), hub-worker, hub-ops or "
            "connector-<name> of a connector in HUB_CONNECTORS_FILE. Prints "
            "'<principal> <password>' per line; the broker keeps only the salted hash. "
            "Run it as the cluster's admin principal (HUB_KAFKA_SASL_USERNAME).",
        )
        user_command.add_argument("principal", metavar="PRINCIPAL", nargs="+")
        user_command.set_defaults(handler=cmd_users_set)

    tokens = commands.add_parser("tokens", help="per-party bearer tokens: issue, revoke, list")
    token_actions = tokens.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)
    issue = token_actions.add_parser(
        "issue",
        help="issue a token for each PARTY (printed once; only its hash is stored) "
        "为参与方签发访问令牌",
        description="Print a new bearer token for each PARTY once, one line each in the order "
        "given, and store their SHA-256 hashes in HUB_TOKENS_FILE (default "
        "$HUB_DATA_DIR/tokens.json). Running workers pick them up.",
    )
    issue.add_argument(
        "party", metavar="PARTY", nargs="+", help="party id, e.g. street-jiyuqiao (one or more)"
    )
    issue.set_defaults(handler=cmd_tokens_issue)
    revoke = token_actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id", metavar="TOKEN_ID", help="the id shown by issue and list")
    revoke.set_defaults(handler=cmd_tokens_revoke)
    listing = token_actions.add_parser("list", help="list token ids, parties and states")
    listing.set_defaults(handler=cmd_tokens_list)

    _add_export_commands(commands)

    parties = commands.add_parser("parties", help="list the parties of the reference file")
    parties.set_defaults(handler=cmd_parties)
    add_record_commands(commands)
    add_ops_commands(commands)
    for plugin in sorted(entry_points(group=PLUGINS), key=lambda ep: ep.name):
        plugin.load()(commands)  # e.g. connectors.cli: hub connectors …
    return parser


def _add_export_commands(commands: Any) -> None:
    from hub.deploy import StrimziOptions

    default = StrimziOptions()
    export = commands.add_parser(
        "export", help="deployment files derived from topics/ and the parties 生成部署清单"
    )
    targets = export.add_subparsers(dest="export_command", metavar="TARGET", required=True)
    strimzi = targets.add_parser(
        "strimzi",
        help="Kubernetes with Strimzi: Kafka, topics, users with ACLs, the hub's workers "
        "(Strimzi 部署清单)",
        description=(
            "Write a Kubernetes deployment into DIR, all derived from topics/*.yaml, the "
            "parties reference and HUB_APP_ID, so the cluster cannot drift from the hub: "
            "kafka.yaml (Strimzi Kafka in KRaft mode, SCRAM-SHA-512 over TLS, simple "
            "authorization, and a KafkaNodePool of combined controller+broker nodes), "
            "topics.yaml (one KafkaTopic per declared topic, as `hub topics apply` makes it "
            "in production), users.yaml (one KafkaUser per principal with the ACLs of "
            "`hub acls diff`), hub.yaml (ConfigMap of HUB_* settings, Deployment of `hub "
            "worker`, Service, PodDisruptionBudget), monitoring.yaml (ServiceMonitor and "
            "PrometheusRule from deploy/prometheus/alerts.yml) and secrets.yaml.example "
            "(the shape of the Secrets to make by hand). Reads no cluster. See "
            "docs/production.md for the order to apply them in."
        ),
    )
    strimzi.add_argument(
        "--out", type=Path, default=Path("k8s"), metavar="DIR",
        help="folder to write into, made if missing (default ./k8s) 输出目录",
    )
    strimzi.add_argument(
        "--namespace", default=default.namespace, metavar="NS",
        help=f"Kubernetes namespace of everything (default {default.namespace}) 命名空间",
    )
    strimzi.add_argument(
        "--cluster", default=default.cluster, metavar="NAME",
        help=f"name of the Kafka cluster (default {default.cluster}) Kafka 集群名",
    )
    strimzi.add_argument(
        "--replicas", type=int, default=default.replicas, metavar="N",
        help=f"hub workers (default {default.replicas}) 工作进程数",
    )
    strimzi.add_argument(
        "--brokers", type=int, default=default.brokers, metavar="N",
        help=f"Kafka nodes, each controller and broker; at least the topics' replication "
        f"factor (default {default.brokers}) Kafka 节点数",
    )
    strimzi.add_argument(
        "--image", default=default.image, metavar="IMAGE",
        help=f"container image of the hub (default {default.image}) 枢纽镜像",
    )
    strimzi.add_argument(
        "--broker-storage", default=default.broker_storage, metavar="SIZE",
        help=f"persistent volume per Kafka node (default {default.broker_storage}) 每节点存储",
    )
    strimzi.add_argument(
        "--storage-class", default=None, metavar="CLASS",
        help="storage class of the Kafka volumes (default: the cluster's) 存储类",
    )
    strimzi.add_argument(
        "--kafka-version", default=None, metavar="VERSION",
        help="pin spec.kafka.version, e.g. 4.1.1 (default: the operator's) Kafka 版本",
    )
    strimzi.add_argument(
        "--external", choices=("none", "nodeport", "loadbalancer"), default=default.external,
        help="a TLS+SCRAM listener for parties outside Kubernetes on port 9094 (default "
        "none) 外部监听",
    )
    strimzi.set_defaults(handler=cmd_export_strimzi)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hub`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        # long-running processes log JSON lines (HUB_LOG_FORMAT); one-shot commands text
        if getattr(args, "long_running", False):
            configure_logging(
                settings.log_level,
                settings.log_format,
                settings.log_file,
                settings.log_console_level,
            )
        else:
            level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
            configure_logging(level, "text")
        handler: Callable[[HubSettings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
    except ConfigError as exc:
        print(f"hub: configuration error: {exc.message}", file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"hub: error: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hub: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `hub status | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
