"""`hub export strimzi`, checked offline: the Kubernetes objects against the Kubernetes
schemas (kubernetes-validate, strict), the Strimzi objects against Strimzi's own model
(deploy/strimzi-check: io.strimzi:api read strictly with Jackson), a broken field fails
each; the topics are the production topic plan, the users hold exactly the ACL plan, the
settings are the hub's; the copy in deploy/k8s is what the export writes today."""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

import hub.cli
from hub.access import Grant, acl_plan, configured_connectors, principal, principals
from hub.deploy import (
    ALERTS,
    OPERATIONS,
    PATTERN_TYPES,
    PRE_STOP_SECONDS,
    RESOURCE_TYPES,
    TERMINATION_GRACE_SECONDS,
    Manifest,
    StrimziOptions,
    kafka_topics,
    kafka_users,
    strimzi_export,
    topic_resource_name,
)
from hub.errors import ConfigError
from hub.reference import load_parties
from hub.settings import HubSettings
from hub.topics import ClusterState, TopicSpec, load_topics, plan

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "k8s"
STRIMZI_CHECK = ROOT / "deploy" / "strimzi-check" / "strimzi-check.sh"
# the oldest Kubernetes the deployment is written for, and the newest the package knows
K8S_VERSIONS = ("1.27", kubernetes_validate.latest_version())
STRIMZI_KINDS = {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
MONITORING_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.fixture(scope="module")
def settings() -> HubSettings:
    return HubSettings()


@pytest.fixture(scope="module")
def export(settings: HubSettings) -> list[Manifest]:
    return strimzi_export(settings, StrimziOptions())


def documents(export: list[Manifest], *kinds: str) -> list[dict[str, Any]]:
    return [d for m in export for d in m.documents if not kinds or d["kind"] in kinds]


def one(export: list[Manifest], kind: str) -> dict[str, Any]:
    [document] = documents(export, kind)
    return document


def k8s_problem(document: dict[str, Any], version: str) -> str | None:
    """What the Kubernetes schema of version says is wrong with document (strict: unknown
    fields too), or None."""
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = getattr(exc.__context__, "absolute_path", [])
        return f"{'.'.join(str(p) for p in where)}: {exc.message}"
    return None


def strimzi_check(*files: Path) -> tuple[int, dict[str, list[str]]]:
    """Run the Strimzi model check (built on first use); exit code and its lines per file."""
    result = subprocess.run(
        ["bash", str(STRIMZI_CHECK), *map(str, files)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    assert result.returncode in (0, 1), f"strimzi-check could not run:\n{result.stderr}"
    lines: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        status, file, rest = line.split(maxsplit=2)
        lines.setdefault(Path(file).name, []).append(f"{status} {rest}")
    return result.returncode, lines


def write_documents(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True))
    return path


# ------------------------------------------------------------ the committed copy


def test_committed_copy_is_what_the_export_writes(export: list[Manifest]) -> None:
    stale = [m.name for m in export
             if not (COMMITTED / m.name).is_file()
             or (COMMITTED / m.name).read_text(encoding="utf-8") != m.text(StrimziOptions())]
    assert not stale, (
        f"deploy/k8s/{stale} differ from topics/, the parties or alerts.yml; run "
        "`.venv/bin/hub export strimzi --out deploy/k8s` (no HUB_* set) and commit the result"
    )
    assert sorted(p.name for p in COMMITTED.iterdir()) == sorted(m.name for m in export)


def test_command_writes_the_files_and_says_what(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code = hub.cli.main(["export", "strimzi", "--out", str(tmp_path / "out"), "--replicas", "5",
                         "--namespace", "enforcement"])

    assert code == 0
    out = capsys.readouterr()
    assert f"wrote {tmp_path / 'out' / 'topics.yaml'}: 73 KafkaTopic" in out.out
    assert "1 ConfigMap, 1 Deployment, 1 Service, 1 PodDisruptionBudget" in out.out
    assert "docs/production.md" in out.err
    hub_yaml = list(yaml.safe_load_all((tmp_path / "out" / "hub.yaml").read_text()))
    deployment = next(d for d in hub_yaml if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 5
    assert {d["metadata"]["namespace"] for d in hub_yaml} == {"enforcement"}
    text = (tmp_path / "out" / "kafka.yaml").read_text()
    assert "hub export strimzi --namespace enforcement --cluster wuchang-kafka --replicas 5" in text


def test_bad_options_are_refused_with_the_reason(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    code = hub.cli.main(["export", "strimzi", "--out", str(tmp_path), "--brokers", "2"])

    assert code == 2
    assert "replication factor 3" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
    with pytest.raises(ConfigError, match="not a Kubernetes name"):
        StrimziOptions(namespace="Wuchang_Hub")
    with pytest.raises(ConfigError, match="size such as 100Gi"):
        StrimziOptions(broker_storage="a lot")


# ------------------------------------------------------------ Kubernetes schemas


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_kubernetes_objects_pass_the_kubernetes_schemas(export: list[Manifest],
                                                        version: str) -> None:
    objects = [d for d in documents(export)
               if d["kind"] not in STRIMZI_KINDS | MONITORING_KINDS]

    assert sorted({d["kind"] for d in objects}) == [
        "ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service"]
    problems = {f"{d['kind']}/{d['metadata']['name']}": k8s_problem(d, version) for d in objects}
    assert all(p is None for p in problems.values()), problems


def test_a_broken_kubernetes_field_fails_the_schema_check(export: list[Manifest]) -> None:
    deployment = one(export, "Deployment")
    unknown = copy.deepcopy(deployment)
    unknown["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    wrong_type = copy.deepcopy(deployment)
    wrong_type["spec"]["replicas"] = "three"
    service = copy.deepcopy(one(export, "Service"))
    service["spec"]["ports"][0]["port"] = "http"
    budget = copy.deepcopy(one(export, "PodDisruptionBudget"))
    budget["spec"]["maxUnavailabel"] = 1

    version = K8S_VERSIONS[-1]
    assert "'livenessProbes' was unexpected" in str(k8s_problem(unknown, version))
    assert "'three' is not of type 'integer'" in str(k8s_problem(wrong_type, version))
    assert "'http' is not of type 'integer'" in str(k8s_problem(service, version))
    assert "'maxUnavailabel' was unexpected" in str(k8s_problem(budget, version))


# ------------------------------------------------------------ Strimzi's model


def test_strimzi_objects_pass_strimzis_model_and_broken_ones_fail(
    export: list[Manifest], tmp_path: Path
) -> None:
    good = [write_documents(tmp_path / m.name, m.documents) for m in export]
    topic = documents(export, "KafkaTopic")[0]
    broken: dict[str, tuple[dict[str, Any], str]] = {}

    def breaking(name: str, document: dict[str, Any], expected: str) -> dict[str, Any]:
        changed = copy.deepcopy(document)
        broken[name] = (changed, expected)
        return changed

    breaking("topic-unknown.yaml", topic, "spec.retentionMs: Unrecognized field")["spec"][
        "retentionMs"] = 1000
    breaking("topic-type.yaml", topic, "spec.partitions: Cannot coerce String value (\"three\")")[
        "spec"]["partitions"] = "three"
    breaking("topic-meta.yaml", topic, "metadata.label: Unrecognized field")["metadata"][
        "label"] = {}
    user = documents(export, "KafkaUser")[0]
    breaking("user-operation.yaml", user, "operations[0]: not kept by the model")["spec"][
        "authorization"]["acls"][0]["operations"] = ["Reed"]
    kafka = one(export, "Kafka")
    breaking("kafka-auth.yaml", kafka, "spec.kafka.listeners[0].authentication")["spec"]["kafka"][
        "listeners"][0]["authentication"] = {"type": "scram-sha-999"}
    pool = one(export, "KafkaNodePool")
    breaking("pool-role.yaml", pool, "spec.roles[1]: not kept by the model")["spec"][
        "roles"] = ["controller", "brokers"]
    bad = [write_documents(tmp_path / name, [doc]) for name, (doc, _) in broken.items()]

    code, lines = strimzi_check(*good, *bad)

    assert code == 1
    for manifest in export:
        expected = sum(d["kind"] in STRIMZI_KINDS for d in manifest.documents)
        oks = [line for line in lines[manifest.name] if line.startswith("OK")]
        assert len(oks) == expected, lines[manifest.name]
    for name, (_, expected) in broken.items():
        [line] = lines[name]
        assert line.startswith("FAIL") and expected in line, line


# ------------------------------------------------------------ derived from the hub's data


def test_topics_are_the_production_topic_plan(export: list[Manifest],
                                              settings: HubSettings) -> None:
    specs = load_topics(settings.topics_dir, load_parties(settings.parties_file))
    todo = plan(specs, ClusterState(brokers=StrimziOptions().brokers, topics={}), "production")
    topics = {t["spec"]["topicName"]: t for t in documents(export, "KafkaTopic")}

    assert not todo.refused
    assert set(topics) == {spec.name for spec in specs} == {c.topic for c in todo.changes}
    for change in todo.changes:
        spec = topics[change.topic]["spec"]
        assert spec["partitions"] == change.partitions
        assert spec["replicas"] == change.replication_factor == 3
        assert spec["config"] == change.configs
        assert spec["config"]["min.insync.replicas"] == change.configs["min.insync.replicas"]
        assert spec["config"]["retention.ms"] == change.configs["retention.ms"]
    enf_clue = topics["enf.clue.v1"]
    assert enf_clue["metadata"]["name"] == "enf-clue-v1"
    assert enf_clue["spec"]["config"]["retention.ms"] == str(30 * 86_400_000)
    assert topics["_schemas"]["spec"]["config"] == {
        "cleanup.policy": "compact", "min.insync.replicas": "2", "retention.ms": "-1"}


def test_topic_names_become_kubernetes_names_without_clashes() -> None:
    assert topic_resource_name("_schemas") == "schemas"
    assert topic_resource_name("hub.connector-state.v1") == "hub-connector-state-v1"
    assert topic_resource_name("raw.Street_A.v1") == "raw-street-a-v1"
    specs = [TopicSpec(name=name, partitions=1, replication_factor=3, source="x.yaml",
                       configs={"min.insync.replicas": "2"}, value_subject=None)
             for name in ("a.b", "a_b")]
    with pytest.raises(ConfigError, match="both become the Kubernetes name 'a-b'"):
        kafka_topics(StrimziOptions(), specs)
    with pytest.raises(ConfigError, match="'Street_A' is not a Kubernetes name"):
        kafka_users(StrimziOptions(), ["Street_A"], [])
    stranger = Grant("User:someone", "TOPIC", "LITERAL", "a.b", "READ")
    with pytest.raises(ConfigError, match="not the hub's: \\['someone'\\]"):
        kafka_users(StrimziOptions(), ["hub-ops"], [stranger])


def held_grants(users: list[dict[str, Any]]) -> set[Grant]:
    """The KafkaUsers' ACL rules read back as the hub's grants."""
    kinds = {v: k for k, v in RESOURCE_TYPES.items()}
    patterns = {v: k for k, v in PATTERN_TYPES.items()}
    operations = {v: k for k, v in OPERATIONS.items()}
    held = set()
    for user in users:
        for rule in user["spec"]["authorization"]["acls"]:
            resource = rule["resource"]
            for operation in rule["operations"]:
                held.add(Grant(principal(user["metadata"]["name"]), kinds[resource["type"]],
                               patterns[resource.get("patternType", "literal")],
                               resource.get("name", "kafka-cluster"), operations[operation]))
    return held


@pytest.mark.parametrize("connectors_file", [None, ROOT / "deploy" / "connectors.example.yaml"])
def test_users_hold_exactly_the_acl_plan(connectors_file: Path | None) -> None:
    settings = HubSettings(connectors_file=connectors_file)
    parties = load_parties(settings.parties_file)
    connectors = configured_connectors(settings)
    wanted = acl_plan(load_topics(settings.topics_dir, parties), parties, settings.app_id,
                      connectors)
    users = documents(strimzi_export(settings, StrimziOptions()), "KafkaUser")
    held = held_grants(users)

    assert bool(connectors) == (connectors_file is not None)
    assert [u["metadata"]["name"] for u in users] == principals(parties, connectors)
    assert {u["spec"]["authentication"]["type"] for u in users} == {"scram-sha-512"}
    assert held == set(wanted)
    assert len(held) == sum(len(r["operations"]) for u in users
                            for r in u["spec"]["authorization"]["acls"])


def test_settings_are_the_hubs_and_make_valid_settings(export: list[Manifest],
                                                       settings: HubSettings) -> None:
    configmap = one(export, "ConfigMap")
    [container] = one(export, "Deployment")["spec"]["template"]["spec"]["containers"]
    names = set(configmap["data"]) | {e["name"] for e in container["env"]}
    fields = {f"HUB_{name.upper()}" for name in HubSettings.model_fields}

    assert names <= fields, names - fields
    assert all(isinstance(v, str) for v in configmap["data"].values())
    env = {k.removeprefix("HUB_").lower(): v for k, v in configmap["data"].items()}
    pod = {"http_host": "10.1.2.3", "worker_id": "hub-worker-5d9c-x7k2p",
           "kafka_sasl_password": "from-the-secret",
           "registry_credentials": "connect:" + "0" * 64}
    worker = HubSettings(**env, **pod)  # type: ignore[arg-type]
    assert worker.environment == "production"
    assert worker.kafka_security_protocol == "SASL_SSL"
    assert worker.kafka_sasl_username == "hub-worker"
    assert worker.app_id == settings.app_id
    assert worker.tokens_path == Path("/etc/hub/tokens/tokens.json")


def test_deployment_wiring_fits_together(export: list[Manifest]) -> None:
    from hub.http.ops import HEALTH
    from hub.worker._app import STOP_GRACE

    options = StrimziOptions()
    deployment = one(export, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {e["name"]: e["valueFrom"] for e in container["env"]}
    users = {u["metadata"]["name"] for u in documents(export, "KafkaUser")}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    settings = one(export, "ConfigMap")["data"]

    # the shutdown fits in the grace period: preStop, then the worker's own stop, with room
    assert pod["terminationGracePeriodSeconds"] == TERMINATION_GRACE_SECONDS
    assert TERMINATION_GRACE_SECONDS >= PRE_STOP_SECONDS + STOP_GRACE + 30
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep",
                                                                   str(PRE_STOP_SECONDS)]
    assert container["livenessProbe"]["httpGet"]["path"] == HEALTH.path == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["command"] == ["hub", "worker"]
    # the password is the one Strimzi's user operator makes for the worker's KafkaUser
    password = env["HUB_KAFKA_SASL_PASSWORD"]["secretKeyRef"]
    assert password == {"name": settings["HUB_KAFKA_SASL_USERNAME"], "key": "password"}
    assert password["name"] in users
    assert env["HUB_HTTP_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    # the CA Strimzi publishes, mounted where HUB_KAFKA_SSL_CAFILE points
    ca = volumes["kafka-ca"]["secret"]
    assert ca["secretName"] == f"{options.cluster}-cluster-ca-cert"
    assert settings["HUB_KAFKA_SSL_CAFILE"] == f"{mounts['kafka-ca']}/{ca['items'][0]['path']}"
    assert settings["HUB_TOKENS_FILE"].startswith(mounts["tokens"] + "/")
    assert settings["HUB_DATA_DIR"] == mounts["data"]
    assert settings["HUB_KAFKA_BOOTSTRAP"] == (
        f"{options.cluster}-kafka-bootstrap.{options.namespace}.svc:9093")
    assert container["envFrom"] == [{"configMapRef": {"name": one(export, "ConfigMap")[
        "metadata"]["name"]}}]
    listener = one(export, "Kafka")["spec"]["kafka"]["listeners"][0]
    assert listener["port"] == 9093 and listener["tls"] is True
    assert listener["authentication"] == {"type": "scram-sha-512"}
    # Service, budget and monitor find the pods and their port
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()
    service = one(export, "Service")
    assert service["spec"]["selector"].items() <= labels.items()
    assert one(export, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    monitor = one(export, "ServiceMonitor")["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"] == "http"
    secret_names = {s["metadata"]["name"] for s in documents(export, "Secret")}
    referenced = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    referenced |= {e["secretKeyRef"]["name"] for e in env.values() if "secretKeyRef" in e}
    referenced.add(monitor["endpoints"][0]["authorization"]["credentials"]["name"])
    made_by_strimzi = users | {ca["secretName"]}
    assert referenced - made_by_strimzi == secret_names


def test_external_listener_version_and_storage_class_when_asked(settings: HubSettings) -> None:
    options = StrimziOptions(external="loadbalancer", kafka_version="4.1.1",
                             storage_class="fast-ssd", brokers=5)
    manifests = strimzi_export(settings, options)
    kafka, pool = documents(manifests, "Kafka", "KafkaNodePool")

    listeners = kafka["spec"]["kafka"]["listeners"]
    assert [(entry["name"], entry["type"], entry["port"]) for entry in listeners] == [
        ("tls", "internal", 9093), ("external", "loadbalancer", 9094)]
    assert listeners[1]["authentication"] == {"type": "scram-sha-512"}
    assert kafka["spec"]["kafka"]["version"] == "4.1.1"
    assert pool["spec"]["replicas"] == 5
    assert pool["spec"]["storage"]["volumes"][0]["class"] == "fast-ssd"
    default = one(strimzi_export(settings, StrimziOptions()), "Kafka")
    assert "version" not in default["spec"]["kafka"]  # the operator's own default


# ------------------------------------------------------------ monitoring


def test_prometheus_rule_is_alerts_yml_and_the_monitor_names_its_job(
    export: list[Manifest],
) -> None:
    alerts = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    rule = one(export, "PrometheusRule")
    monitor = one(export, "ServiceMonitor")
    service = one(export, "Service")

    assert rule["apiVersion"] == monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"] == {"groups": alerts["groups"]}
    exprs = {r["alert"]: r["expr"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert exprs == {r["alert"]: r["expr"] for g in alerts["groups"] for r in g["rules"]}
    for group in rule["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        for entry in group["rules"]:
            assert set(entry) <= {"alert", "expr", "for", "labels", "annotations"}, entry
            assert re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", entry["for"])
    # the operator names the job after the Service; the alerts watch job="wuchang-hub"
    jobs = set(re.findall(r'job="([^"]+)"', " ".join(exprs.values())))
    assert jobs == {service["metadata"]["name"]}
    assert set(monitor["spec"]) == {"selector", "endpoints"}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["authorization"]["type"] == "Bearer"
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "authorization"}


def test_the_rules_file_is_read_strictly(tmp_path: Path) -> None:
    from hub.deploy import alert_groups

    empty = tmp_path / "alerts.yml"
    empty.write_text("groups: []\n")
    with pytest.raises(ConfigError, match="non-empty 'groups' list"):
        alert_groups(empty)
    with pytest.raises(ConfigError, match="cannot read"):
        alert_groups(tmp_path / "missing.yml")
