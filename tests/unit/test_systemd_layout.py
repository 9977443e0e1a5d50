"""The plain-servers layout in deploy/systemd: three KRaft nodes' server.properties agree
with each other, with the topics' durability and with Kafka's own configuration model
(KafkaConfigCheck.java on the local broker's jars); the systemd units restart on exit,
outlast the worker's shutdown and are hardened (systemd-analyze); hub.env.example holds
only real settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hub.access import OPS, WORKER
from hub.reference import load_parties
from hub.settings import HubSettings
from hub.topics import load_topics

ROOT = Path(__file__).resolve().parents[2]
SYSTEMD = ROOT / "deploy" / "systemd"
NODES = (1, 2, 3)
KAFKA_LIBS = ROOT / "deploy" / "kafka" / ".cache" / "libs"
NODE_OWN = {"node.id", "listeners", "advertised.listeners"}


def properties(path: Path) -> dict[str, str]:
    """A .properties file as Kafka reads it (these files use no continuation lines)."""
    entries: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: '{line}' is not key=value"
        assert key.strip() not in entries, f"{path.name}: {key} twice"
        entries[key.strip()] = value.strip()
    return entries


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit: section -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        assert current is not None, f"{path.name}: '{line}' before any section"
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def nodes() -> dict[int, dict[str, str]]:
    return {i: properties(SYSTEMD / f"server-{i}.properties") for i in NODES}


def listener(entry: str, name: str) -> tuple[str, int]:
    """host and port of the listener called name in a listeners value."""
    for item in entry.split(","):
        label, _, address = item.partition("://")
        if label == name:
            host, _, port = address.rpartition(":")
            return host, int(port)
    raise AssertionError(f"no {name} listener in {entry}")


# ------------------------------------------------------------ the three nodes


def test_three_nodes_form_one_quorum(nodes: dict[int, dict[str, str]]) -> None:
    voters = {nodes[i]["controller.quorum.voters"] for i in NODES}

    assert len(voters) == 1
    quorum = dict(v.split("@") for v in voters.pop().split(","))
    assert sorted(int(i) for i in quorum) == list(NODES)
    for i, config in nodes.items():
        assert config["node.id"] == str(i)
        assert config["process.roles"] == "broker,controller"
        host, port = listener(config["listeners"], "CONTROLLER")
        assert quorum[str(i)] == f"{host}:{port}"
        assert listener(config["listeners"], "SASL_SSL") == (host, 9092)
        assert config["advertised.listeners"] == f"SASL_SSL://{host}:9092"
    hosts = {listener(nodes[i]["listeners"], "SASL_SSL")[0] for i in NODES}
    assert len(hosts) == 3


def test_nodes_differ_only_in_who_they_are(nodes: dict[int, dict[str, str]]) -> None:
    assert all(set(nodes[i]) == set(nodes[1]) for i in NODES)
    for key in set(nodes[1]) - NODE_OWN:
        assert len({nodes[i][key] for i in NODES}) == 1, key


def test_clients_use_sasl_ssl_with_scram_and_acls(nodes: dict[int, dict[str, str]]) -> None:
    config = nodes[1]
    protocols = dict(p.split(":") for p in config["listener.security.protocol.map"].split(","))

    assert protocols == {"SASL_SSL": "SASL_SSL", "CONTROLLER": "SASL_SSL"}
    assert config["inter.broker.listener.name"] == "SASL_SSL"
    assert config["controller.listener.names"] == "CONTROLLER"
    assert config["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert config["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    # the quorum cannot use SCRAM: its credentials live in the metadata the quorum serves
    assert config["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
    assert config["sasl.mechanism.controller.protocol"] == "PLAIN"
    assert config["authorizer.class.name"] == (
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer")
    assert config["super.users"] == "User:admin"
    assert config["allow.everyone.if.no.acl.found"] == "false"
    for key in ("ssl.keystore.location", "ssl.truststore.location"):
        assert config[key].startswith("/etc/kafka/tls/")
    assert config["ssl.keystore.type"] == config["ssl.truststore.type"] == "PEM"
    assert not any("password" in key for key in config), "passwords belong in the JAAS file"
    jaas = (SYSTEMD / "kafka_server_jaas.conf.example").read_text(encoding="utf-8")
    assert re.search(r"sasl_ssl\.KafkaServer \{\s+\S+ScramLoginModule required", jaas)
    assert re.search(r"controller\.KafkaServer \{\s+\S+PlainLoginModule required", jaas)
    assert 'username="admin"' in jaas


def test_durability_is_what_the_topics_declare(nodes: dict[int, dict[str, str]]) -> None:
    settings = HubSettings()
    specs = load_topics(settings.topics_dir, load_parties(settings.parties_file))
    replication = max(spec.replication_factor for spec in specs)
    min_isr = max(spec.min_insync_replicas for spec in specs)
    config = nodes[1]

    assert (replication, min_isr) == (3, 2)
    assert int(config["default.replication.factor"]) == replication <= len(NODES)
    assert int(config["min.insync.replicas"]) == min_isr
    assert int(config["offsets.topic.replication.factor"]) == replication
    assert int(config["transaction.state.log.replication.factor"]) == replication
    assert int(config["transaction.state.log.min.isr"]) == min_isr
    assert config["auto.create.topics.enable"] == "false"
    assert config["unclean.leader.election.enable"] == "false"


def kafka_config_check(*files: Path) -> tuple[int, list[str]]:
    """Kafka's own model on the files: the local broker's jars (fetched once, kafka.sh)."""
    fetch = subprocess.run(["bash", str(ROOT / "deploy" / "kafka" / "kafka.sh"), "fetch"],
                           capture_output=True, text=True, timeout=900, check=False)
    assert fetch.returncode == 0, f"the Kafka jars are needed (make kafka):\n{fetch.stderr}"
    java = shutil.which("java")
    assert java, "Java 17+ is needed (make system)"
    result = subprocess.run(
        [java, "-cp", f"{KAFKA_LIBS}/*", str(SYSTEMD / "KafkaConfigCheck.java"), *map(str, files)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, result.stdout.splitlines()


def test_kafka_accepts_the_properties_and_refuses_broken_ones(tmp_path: Path) -> None:
    good = [SYSTEMD / f"server-{i}.properties" for i in NODES]
    text = good[0].read_text(encoding="utf-8")
    broken = {
        "not-a-voter.properties": ("node.id=1", "node.id=4",
                                   "must be included in the set of voters"),
        "typo.properties": ("num.partitions=", "num.partition=", "keys Kafka does not know: "
                            "[num.partition]"),
        "mechanism.properties": ("sasl.enabled.mechanisms=SCRAM-SHA-512",
                                 "sasl.enabled.mechanisms=PLAIN",
                                 "sasl.mechanism.inter.broker.protocol must be included"),
        "type.properties": ("min.insync.replicas=2", "min.insync.replicas=two",
                            "Invalid value two for configuration min.insync.replicas"),
    }
    for name, (old, new, _) in broken.items():
        assert old in text
        (tmp_path / name).write_text(text.replace(old, new, 1), encoding="utf-8")

    code, lines = kafka_config_check(*good, *(tmp_path / name for name in broken))

    assert code == 1
    assert lines[:3] == [f"OK {path}" for path in good]
    for line, (name, (_, _, reason)) in zip(lines[3:], broken.items(), strict=True):
        assert line.startswith(f"FAIL {tmp_path / name}: ") and reason in line, line


# ------------------------------------------------------------ systemd units


def test_worker_unit_restarts_and_outlasts_the_shutdown() -> None:
    from hub.worker._app import STOP_GRACE

    service = unit(SYSTEMD / "hub-worker.service")["Service"]
    env = env_file(SYSTEMD / "hub.env.example")

    assert service["Restart"] == ["always"]
    assert service["EnvironmentFile"] == ["/etc/hub/hub.env"]
    assert service["ExecStart"][0].endswith("/.venv/bin/hub worker")
    assert service["User"] == ["hub"] and service["Group"] == ["hub"]
    assert int(service["TimeoutStopSec"][0]) >= STOP_GRACE + 30
    assert service["KillSignal"] == ["SIGTERM"]
    assert f"/var/lib/{service['StateDirectory'][0]}" == env["HUB_DATA_DIR"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "CapabilityBoundingSet": ""}.items():
        assert service[key] == [value], key


def test_kafka_unit_restarts_and_finds_its_files(nodes: dict[int, dict[str, str]]) -> None:
    service = unit(SYSTEMD / "kafka.service")["Service"]
    environment = dict(e.strip('"').split("=", 1) for e in service["Environment"])

    assert service["Restart"] == ["always"]
    assert service["User"] == ["kafka"]
    assert service["ExecStart"] == [
        "/opt/kafka/bin/kafka-server-start.sh /etc/kafka/server.properties"]
    assert environment["KAFKA_OPTS"] == (
        "-Djava.security.auth.login.config=/etc/kafka/secrets/kafka_server_jaas.conf")
    assert nodes[1]["log.dirs"].startswith(f"/var/lib/{service['StateDirectory'][0]}/")
    assert int(service["TimeoutStopSec"][0]) >= 120  # a controlled shutdown moves leaders
    assert service["NoNewPrivileges"] == ["yes"] and service["ProtectSystem"] == ["strict"]


def test_units_pass_systemd_analyze() -> None:
    assert shutil.which("systemd-analyze"), "systemd-analyze is missing: make system installs it"
    files = [str(SYSTEMD / name) for name in ("hub-worker.service", "kafka.service")]
    verify = subprocess.run(["systemd-analyze", "verify", *files], capture_output=True,
                            text=True, timeout=60, check=False)
    # the binaries live on the servers, not here: that is the only complaint allowed
    complaints = [line for line in (verify.stdout + verify.stderr).splitlines()
                  if line.strip() and "is not executable" not in line]
    assert not complaints, complaints
    for path in files:
        security = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--threshold=20", path],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert security.returncode == 0, security.stdout[-2000:]


def test_worker_settings_example_holds_real_settings(nodes: dict[int, dict[str, str]]) -> None:
    env = env_file(SYSTEMD / "hub.env.example")
    fields = {f"HUB_{name.upper()}" for name in HubSettings.model_fields}

    assert set(env) <= fields, set(env) - fields
    filled = {key.removeprefix("HUB_").lower(): value.replace("REPLACE", "x")
              for key, value in env.items()}
    filled |= {"http_host": "10.0.0.21", "registry_credentials": "connect:" + "0" * 64}
    settings = HubSettings(**filled)  # type: ignore[arg-type]
    assert settings.environment == "production"
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == nodes[1]["sasl.enabled.mechanisms"]
    assert settings.kafka_sasl_username in (WORKER, OPS)
    advertised = [nodes[i]["advertised.listeners"].removeprefix("SASL_SSL://") for i in NODES]
    assert settings.bootstrap_servers == advertised
