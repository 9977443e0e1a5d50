"""CLI commands for records: ``hub schemas ...``, ``hub validate``, ``hub reference ...``."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from hub.errors import ConfigError, RecordInvalid, ReferenceDataError
from hub.records import KINDS, committed_schema, kind_of, schema_versions, validate
from hub.reference import Reference, load_seed_reference
from hub.registry import incompatibilities
from hub.settings import HubSettings


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def cmd_schemas_generate(settings: HubSettings, args: argparse.Namespace) -> int:
    """Write schemas/<kind>/v<N>.avsc from the models; never edit a shipped version."""
    problems = []
    for kind in KINDS.values():
        path = kind.schema_file()
        text = _dump(kind.schema())
        if path.exists():
            if path.read_text(encoding="utf-8") != text:
                problems.append(
                    f"{path}: the {kind.model.__name__} model no longer matches this shipped "
                    f"version; shipped versions are never edited: set "
                    f"{kind.model.__name__}.SCHEMA_VERSION = {kind.version + 1} and generate again"
                )
            continue
        if args.check:
            problems.append(f"{path}: missing; run `hub schemas generate`")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"{len(KINDS)} schemas match their models")
    return 1 if problems else 0


def cmd_schemas_check(settings: HubSettings, args: argparse.Namespace) -> int:
    """Each shipped version is compatible with the one before; the latest matches its model."""
    failures = 0
    for kind in KINDS.values():
        versions = schema_versions(kind)
        if not versions:
            print(f"error: {kind.name}: no schema in schemas/{kind.name}/", file=sys.stderr)
            failures += 1
            continue
        texts = [json.dumps(committed_schema(kind, v)) for v in versions]
        for index in range(1, len(texts)):
            reasons = incompatibilities(args.level, texts[index], texts[:index])
            for reason in reasons:
                print(f"error: {kind.name} v{versions[index]}: {reason}", file=sys.stderr)
            failures += bool(reasons)
        if committed_schema(kind, versions[-1]) != kind.schema() or versions[-1] != kind.version:
            print(
                f"error: {kind.name}: the model differs from "
                f"schemas/{kind.name}/v{versions[-1]}.avsc (run `hub schemas generate`)",
                file=sys.stderr,
            )
            failures += 1
        else:
            print(
                f"ok    {kind.name:<12} v{versions[-1]} ({len(versions)} version(s), {args.level})"
            )
    return 1 if failures else 0


def cmd_schemas_register(settings: HubSettings, args: argparse.Namespace) -> int:
    """Register every shipped version of every kind, oldest first (idempotent)."""
    from hub.errors import SchemaRegistryError
    from hub.registry import open_registry

    async def run() -> None:
        async with open_registry(settings) as registry:
            for kind in KINDS.values():
                texts = {
                    version: json.dumps(committed_schema(kind, version), ensure_ascii=False)
                    for version in schema_versions(kind)
                }
                # A version older than one already registered cannot follow it (a worker
                # registers the current version when it first writes): leave it out.
                newest = 0
                for version, text in texts.items():
                    try:
                        await registry.lookup(kind.subject, text)
                    except SchemaRegistryError as exc:
                        if exc.status != 404:
                            raise
                    else:
                        newest = version
                for version, text in texts.items():
                    if version < newest:
                        try:
                            await registry.lookup(kind.subject, text)
                        except SchemaRegistryError:
                            print(
                                f"{kind.subject:<28} v{version} -> not registered: v{newest} "
                                "already is, and an older version cannot follow it"
                            )
                            continue
                    schema_id = await registry.register(kind.subject, text)
                    print(f"{kind.subject:<28} v{version} -> id {schema_id}")

    asyncio.run(run())
    return 0


def _reference(settings: HubSettings, args: argparse.Namespace) -> Reference:
    if args.reference_dir is not None:
        return load_seed_reference(settings.parties_file, args.reference_dir)
    from hub.catalogue import read_cache

    cached = read_cache(settings)
    if cached is None:
        raise ConfigError(
            "no reference data cached yet: run `hub reference sync` (reads the share topics) "
            "or pass --reference-dir hub/reference to use the seed files"
        )
    return cached


def _records(path: Path) -> list[tuple[int, Any]]:
    """(line number, parsed JSON) of a JSON file or a JSON-lines file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    try:
        document = json.loads(text)
        return [(1, document)]
    except json.JSONDecodeError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                records.append((number, exc))
    return records


def cmd_validate(settings: HubSettings, args: argparse.Namespace) -> int:
    """Validate a JSON record or a JSON-lines file offline; print every error."""
    try:
        kind = kind_of(args.kind)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0])) from None
    reference = _reference(settings, args)
    records = _records(args.file)
    invalid = 0
    for line, record in records:
        if isinstance(record, json.JSONDecodeError):
            print(f"{args.file}:{line}: not JSON: {record.msg} (column {record.colno})")
            invalid += 1
            continue
        try:
            validate(kind, record, reference)
        except RecordInvalid as exc:
            invalid += 1
            for error in exc.errors:
                print(
                    f"{args.file}:{line}: {error.path}: [{error.rule}] "
                    f"{error.message_en} / {error.message_zh}"
                )
    valid = len(records) - invalid
    print(f"{valid} valid, {invalid} invalid {kind.name} record(s)", file=sys.stderr)
    return 0 if invalid == 0 and records else 1


def cmd_reference_load(settings: HubSettings, args: argparse.Namespace) -> int:
    """Publish the seed matter catalogue and officer roster to the share topics."""
    from hub.catalogue import cache_path, publish_seed
    from hub.registry import open_registry
    from hub.serde import AvroSerde

    async def run() -> Reference:
        async with open_registry(settings) as registry:
            return await publish_seed(settings, AvroSerde(registry), args.reference_dir)

    try:
        reference = asyncio.run(run())
    except ReferenceDataError:
        raise
    print(
        f"published {len(reference.matters)} matters to share.matter.v1 and "
        f"{len(reference.officers)} officers to share.officer.v1; cache {cache_path(settings)}"
    )
    return 0


def cmd_shared_load(settings: HubSettings, args: argparse.Namespace) -> int:
    """Bulk-load a dataset's extract (`hub.shared.load_file`)."""
    from hub.registry import open_registry
    from hub.serde import AvroSerde
    from hub.shared import LoadResult, load_datasets, load_file, loadable

    catalogue = load_datasets(settings.datasets_file)
    dataset = catalogue.get(args.dataset)
    if dataset is None or not loadable(dataset):
        names = ", ".join(d.id for d in catalogue.datasets if loadable(d))
        raise ConfigError(f"--dataset {args.dataset}: not a dataset loaded from a file; "
                          f"one of {names}")

    def progress(result: LoadResult, share: float) -> None:
        rate = result.read / result.seconds if result.seconds else 0.0
        print(f"\r{dataset.id}: {share:6.1%}  {result.read:,} rows read, {result.written:,} "
              f"written, {result.rejected:,} rejected, {rate:,.0f} rows/s", end="",
              file=sys.stderr, flush=True)

    async def run() -> LoadResult:
        from hub.ops import audit

        async with open_registry(settings) as registry:
            serde = AvroSerde(registry)
            done = await load_file(settings, serde, dataset, args.file,
                                   None if args.quiet else progress)
            await audit(settings, serde, f"shared.load {dataset.id}",
                        f"{args.file.name}: {done.written} of {done.read} rows written to "
                        f"{dataset.topic}, {done.rejected} rejected")
            return done

    result = asyncio.run(run())
    if not args.quiet:
        print(file=sys.stderr)
    for problem in result.problems:
        print(f"rejected {problem}", file=sys.stderr)
    if result.rejected > len(result.problems):
        print(f"… and {result.rejected - len(result.problems):,} more rejected rows",
              file=sys.stderr)
    rate = result.written / result.seconds if result.seconds else 0.0
    print(f"{dataset.id}: {result.written:,} of {result.read:,} rows written to "
          f"{dataset.topic} in {result.seconds:.1f} s ({rate:,.0f} rows/s); "
          f"{result.rejected:,} rejected")
    return 1 if result.rejected else 0


def cmd_reference_sync(settings: HubSettings, args: argparse.Namespace) -> int:
    """Read the share topics into the local reference cache that `hub validate` uses."""
    from hub.catalogue import cache_path, read_shared
    from hub.registry import open_registry
    from hub.serde import AvroSerde

    async def run() -> Reference:
        async with open_registry(settings) as registry:
            return await read_shared(settings, AvroSerde(registry))

    reference = asyncio.run(run())
    print(
        f"cached {len(reference.matters)} matters and {len(reference.officers)} officers "
        f"in {cache_path(settings)}"
    )
    return 0


def cmd_registry_credential(settings: HubSettings, args: argparse.Namespace) -> int:
    """Make a random password for USER; print it once, and the entry for the settings."""
    import hashlib
    import secrets

    password = secrets.token_urlsafe(32)
    entry = f"{args.user}:{hashlib.sha256(password.encode()).hexdigest()}"
    print(f"password for {args.user} (shown once, give it to the client): {password}")
    print(f"add to HUB_REGISTRY_CREDENTIALS (comma-separated): {entry}")
    return 0


def add_commands(commands: Any) -> None:
    """Add the record commands to the top-level ``hub`` parser."""
    schemas = commands.add_parser("schemas", help="Avro schemas: generate, check, register")
    actions = schemas.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="write schemas/<kind>/v<N>.avsc from the models",
        description="Write the Avro schema of each record kind from its model. A shipped "
        "version is never edited: when a model changes, raise its SCHEMA_VERSION.",
    )
    generate.add_argument("--check", action="store_true", help="only check; write nothing")
    generate.set_defaults(handler=cmd_schemas_generate)
    check = actions.add_parser(
        "check",
        help="fail when a schema version is incompatible with the one before, or drifted",
        description="Offline check CI runs: each shipped version of each kind is compatible "
        "with its predecessors, and the latest version equals what the model generates.",
    )
    check.add_argument(
        "--level",
        default="BACKWARD",
        choices=["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FULL", "FULL_TRANSITIVE"],
        help="compatibility level to check (default BACKWARD)",
    )
    check.set_defaults(handler=cmd_schemas_check)
    register = actions.add_parser(
        "register",
        help="register every shipped schema version (idempotent)",
        description="Register all of schemas/ in the registry (HUB_SCHEMA_REGISTRY_URL, or "
        "the embedded one in the _schemas topic). Prints subject, version and id.",
    )
    register.set_defaults(handler=cmd_schemas_register)

    check_file = commands.add_parser(
        "validate",
        help="validate a JSON record or JSON-lines file of records, offline",
        description="Validate records of KIND in FILE (one JSON document, or JSON lines) and "
        "print every error with its line, field path and rule, in English and Chinese. Exit 0 "
        "only when all are valid. Kinds: " + ", ".join(KINDS),
    )
    check_file.add_argument("kind", metavar="KIND", help="record kind: " + ", ".join(KINDS))
    check_file.add_argument("file", metavar="FILE", type=Path, help="JSON or JSON-lines file")
    check_file.add_argument(
        "--reference-dir",
        type=Path,
        default=None,
        help="use the seed files in this folder instead of the cached share topics",
    )
    check_file.set_defaults(handler=cmd_validate)

    registry = commands.add_parser("registry", help="embedded schema registry administration")
    registry_actions = registry.add_subparsers(
        dest="registry_command", metavar="ACTION", required=True
    )
    credential = registry_actions.add_parser(
        "credential",
        help="make a random password for USER and its HUB_REGISTRY_CREDENTIALS entry",
        description="Make a random 256-bit password for USER, print it once, and print the "
        "user:sha256hex entry for HUB_REGISTRY_CREDENTIALS. Only the hash is stored; clients "
        "send the password with HTTP Basic auth (Confluent clients: basic.auth.user.info).",
    )
    credential.add_argument("user", metavar="USER", help="user name")
    credential.set_defaults(handler=cmd_registry_credential)

    reference = commands.add_parser("reference", help="reference data: load seed, sync cache")
    ref_actions = reference.add_subparsers(
        dest="reference_command", metavar="ACTION", required=True
    )
    load = ref_actions.add_parser(
        "load",
        help="publish the matter catalogue and officer roster to the share topics",
        description="Publish hub/reference/matters.yaml and officers.yaml to share.matter.v1 "
        "and share.officer.v1 (Avro, keyed by code and certificate number) and cache them.",
    )
    load.add_argument(
        "--reference-dir",
        type=Path,
        default=Path(__file__).resolve().parent / "reference",
        help="folder of matters.yaml and officers.yaml (default: the packaged seed)",
    )
    load.set_defaults(handler=cmd_reference_load)
    sync = ref_actions.add_parser(
        "sync",
        help="read the share topics into the local cache",
        description="Read share.matter.v1 and share.officer.v1 into "
        "$HUB_DATA_DIR/reference-cache.json.",
    )
    sync.set_defaults(handler=cmd_reference_sync)

    shared = commands.add_parser("shared", help="shared data: bulk loads of a dataset")
    shared_actions = shared.add_subparsers(dest="shared_command", metavar="ACTION", required=True)
    bulk = shared_actions.add_parser(
        "load",
        help="load an owner's full extract of a dataset (e.g. the entity register)",
        description="Check every row of FILE (JSON lines, or CSV with a header row of field "
        "names; UTF-8) as a record of the dataset published by its owner, and write the "
        "good ones to the dataset's compacted topic in file order (acks=all). Rows that "
        "break a rule are reported with their line and rule and not written; exit 1 when "
        "any were. Progress on stderr once a second.",
    )
    bulk.add_argument("file", type=Path, metavar="FILE", help="the extract: .jsonl or .csv")
    bulk.add_argument(
        "--dataset", default="entity",
        help="the dataset of hub/reference/datasets.yaml to load (default: entity)",
    )
    bulk.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    bulk.set_defaults(handler=cmd_shared_load)
