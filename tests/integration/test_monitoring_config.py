"""The monitoring configuration in deploy/: Prometheus' scrape config and alert rules, the
Grafana dashboard and its provisioning files parse and have the structure their tools
expect, and every metric their PromQL queries is exposed by a real worker's /metrics
once traffic has flowed (an order, an overdue order, a refused record, a record parked
in the DLQ, a webhook delivery that fails once and then succeeds).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from deploy.demo.party import FailMode, PartySimulator
from tests.conftest import ROOT
from tests.integration.conftest import http_json, issue_tokens, running_worker, worker_env
from tests.samples import sample

HUB = str(ROOT / ".venv" / "bin" / "hub")
PROMETHEUS_YML = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTS_YML = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD_JSON = ROOT / "deploy" / "grafana" / "dashboard.json"
PROVISIONING = ROOT / "deploy" / "grafana" / "provisioning"

JOB = "wuchang-hub"
EXPECTED_ALERTS = {
    "HubWorkerDown",
    "HubDlqGrowing",
    "HubConsumerLagGrowing",
    "HubOffsetGap",
    "HubPartitionStalled",
    "HubKafkaViewStale",
    "HubOrdersOverdue",
    "HubDeliveriesFailing",
    "HubConnectorDown",
    "HubPartySilent",
}
SEVERITIES = {"critical", "warning", "info"}
ANNOTATIONS = ("summary", "description", "summary_zh", "description_zh")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")
CJK = re.compile(r"[\u4e00-\u9fff]")
GRID_COLUMNS = 24
# Series Prometheus itself makes (scrape health), not the worker.
PROMETHEUS_OWN = {"up"}
# Labels Prometheus attaches to every scraped series (target labels of prometheus.yml).
TARGET_LABELS = {"job", "instance", "env"}

# ------------------------------------------------------------------ PromQL names

# Everything PromQL calls with parentheses: functions and aggregation operators.
PROMQL_CALLS = frozenset(
    """
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes
    clamp clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year
    days_in_month deg delta deriv exp floor histogram_avg histogram_count histogram_fraction
    histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters hour idelta
    increase irate label_join label_replace last_over_time ln log10 log2 mad_over_time
    max_over_time min_over_time minute month pi predict_linear present_over_time
    quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_by_label
    sort_by_label_desc sort_desc sqrt stddev_over_time stdvar_over_time sum_over_time tan tanh
    time timestamp vector year
    sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk
    limit_ratio
    """.split()
)
# Bare words of PromQL that are not metric names.
PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "offset", "bool", "inf", "nan", "atan2", "group_left", "group_right"}
)
# Clauses whose parenthesised list holds label names, not expressions.
_LABEL_LISTS = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?")
_SELECTOR = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER = re.compile(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:\\.|[^"\\])*)"')
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def metric_names(expr: str) -> set[str]:
    """The series names an expression selects: strings, Grafana variables, label
    matchers, ranges and label lists (by, on, …) removed, then every identifier that is
    neither called (a function or aggregation) nor a PromQL word. An unknown function or
    an identifier that is neither ``hub_…`` nor Prometheus' own ``up`` is an error: a typo
    must not pass as "no metric here"."""
    text = _STRINGS.sub('""', expr)
    text = _GRAFANA_VARIABLES.sub("1", text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    names: set[str] = set()
    for match in _IDENTIFIER.finditer(text):
        word, called = match.group(1), match.group(2)
        if word.lower() in PROMQL_WORDS:  # `and (…)` is an operator, not a call
            continue
        if called:
            if word.lower() not in PROMQL_CALLS:
                raise ValueError(f"unknown PromQL function {word!r} in {expr!r}")
        elif word.startswith("hub_") or word in PROMETHEUS_OWN:
            names.add(word)
        else:
            raise ValueError(f"unexpected identifier {word!r} in {expr!r}")
    return names


def selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(series name, [(label, operator, value), …]) of each ``name{…}`` in expr."""
    return [
        (match.group(1), _MATCHER.findall(match.group(2)))
        for match in _SELECTOR.finditer(expr)
        if match.group(1).lower() not in PROMQL_CALLS
    ]


def family_of(series: str) -> str:
    """The metric family a series name belongs to (histograms' _bucket/_sum/_count)."""
    for suffix in HISTOGRAM_SUFFIXES:
        if series.endswith(suffix):
            return series[: -len(suffix)]
    return series


def test_metric_names_are_read_from_promql_as_prometheus_would() -> None:
    expr = (
        'sum by (party) (increase(hub_records_in_total{party=~"$party",kind!="x"}[1h] offset 1w))'
        " > 0 and on (party) histogram_quantile(0.99, sum without (instance) "
        "(rate(hub_processing_seconds_bucket[$__rate_interval]))) "
        '/ ignoring(le) group_left max(hub_dlq_depth) or (count(up{job="a"} == 0) * 1e3)'
    )
    assert metric_names(expr) == {
        "hub_records_in_total",
        "hub_processing_seconds_bucket",
        "hub_dlq_depth",
        "up",
    }
    assert metric_names('sum(rate(hub_x_total{reason="rate"}[5m])) by (stage)') == {"hub_x_total"}
    assert selectors('rate(hub_a_total{party=~"$party", stage="map"}[5m]) / hub_b') == [
        ("hub_a_total", [("party", "=~", "$party"), ("stage", "=", "map")])
    ]
    assert family_of("hub_processing_seconds_bucket") == "hub_processing_seconds"
    with pytest.raises(ValueError, match="unknown PromQL function 'histogram_quantil'"):
        metric_names("histogram_quantil(0.5, hub_x_bucket)")
    with pytest.raises(ValueError, match="unexpected identifier 'records_in_total'"):
        metric_names("rate(records_in_total[5m])")


# ------------------------------------------------------------------ the files


def _load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _rules() -> list[dict[str, Any]]:
    return [rule for group in _load_yaml(ALERTS_YML)["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_JSON.read_text(encoding="utf-8"))
    return loaded


def _data_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel but rows, including those nested in collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels", [])
        else:
            found.append(panel)
    return found


def _queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every alert and every dashboard target."""
    queries = [(f"alert {rule['alert']}", str(rule["expr"])) for rule in _rules()]
    for panel in _data_panels(_dashboard()):
        for target in panel["targets"]:
            queries.append((f"panel {panel['title']!r} target {target['refId']}", target["expr"]))
    return queries


@dataclass
class VariableQuery:
    """A dashboard query variable ``label_values(selector, label)``: the series it reads
    (a metric name, or a ``__name__`` regex) and the label whose values it lists."""

    where: str
    name: str | None
    name_pattern: str | None
    label: str


_LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][\w:]*)?\s*(\{[^{}]*\})?\s*,\s*(\w+)\s*\)")


def _variable_queries(dashboard: dict[str, Any]) -> list[VariableQuery]:
    found = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        where = f"variable {variable['name']}"
        match = _LABEL_VALUES.fullmatch(text.strip())
        assert match, f"{where}: expected label_values(selector, label): {text}"
        name, matchers, label = match.groups()
        pattern = None
        for key, operator, value in _MATCHER.findall(matchers or ""):
            if key == "__name__":
                assert operator in ("=", "=~"), f"{where}: {text}"
                pattern = value if operator == "=~" else re.escape(value)
        assert name or pattern, f"{where} names no metric: {text}"
        found.append(VariableQuery(where, name, pattern, label))
    return found


def test_the_scrape_config_scrapes_the_workers_with_a_token_from_outside_git() -> None:
    config = _load_yaml(PROMETHEUS_YML)
    assert config["global"]["scrape_interval"] == "15s"
    assert DURATION.match(config["global"]["evaluation_interval"])
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS_YML.parent / rule_file).is_file(), rule_file
    assert "alerts.yml" in config["rule_files"]
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == JOB]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    authorization = job["authorization"]
    assert authorization["type"] == "Bearer"
    assert "credentials" not in authorization and "bearer_token" not in job
    secret = Path(authorization["credentials_file"])
    assert secret.is_absolute(), secret
    assert not secret.is_relative_to(ROOT), f"{secret} would be inside the repository"
    targets = [target for static in job["static_configs"] for target in static["targets"]]
    assert "127.0.0.1:8080" in targets
    text = PROMETHEUS_YML.read_text(encoding="utf-8")
    assert "file_sd_configs" in text and "kubernetes_sd_configs" in text  # how to scale out
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert len(names) == len(set(names))


def test_the_alert_rules_are_a_prometheus_rule_file_with_bilingual_annotations() -> None:
    document = _load_yaml(ALERTS_YML)
    assert set(document) == {"groups"}
    assert document["groups"], "no rule groups"
    group_names = [group["name"] for group in document["groups"]]
    assert len(group_names) == len(set(group_names))
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "limit", "rules"}, group["name"]
        assert group["rules"], group["name"]
    rules = _rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), names
    assert set(names) >= EXPECTED_ALERTS, EXPECTED_ALERTS - set(names)
    for rule in rules:
        where = rule["alert"]
        assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
        assert isinstance(rule["expr"], str) and rule["expr"].strip(), where
        assert DURATION.match(str(rule["for"])), (where, rule["for"])
        assert rule["labels"]["severity"] in SEVERITIES, where
        for key in ANNOTATIONS:
            assert str(rule["annotations"].get(key, "")).strip(), (where, key)
        for key in ("summary_zh", "description_zh"):
            assert CJK.search(rule["annotations"][key]), (where, key, "not Chinese")
        for key in ("summary", "description"):
            assert not CJK.search(rule["annotations"][key]), (where, key, "not English")
        for _, matchers in selectors(rule["expr"]):
            for label, _, value in matchers:
                if label == "job":
                    assert value == JOB, (where, "no scrape job", value)


def test_the_dashboard_is_importable_grafana_json() -> None:
    dashboard = _dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    every = [*dashboard["panels"], *(p for r in dashboard["panels"] for p in r.get("panels", []))]
    ids = [panel["id"] for panel in every]
    assert all(isinstance(i, int) for i in ids), ids
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    cells: dict[tuple[int, int], int] = {}
    for panel in every:
        grid = panel["gridPos"]
        assert {"h", "w", "x", "y"} <= set(grid), panel["id"]
        assert all(isinstance(grid[k], int) for k in "hwxy"), panel["id"]
        assert grid["h"] > 0 and grid["w"] > 0 and grid["x"] >= 0 and grid["y"] >= 0
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, panel["id"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"panels {cells[(x, y)]} and {panel['id']} overlap"
                cells[(x, y)] = panel["id"]
    panels = _data_panels(dashboard)
    assert len(panels) >= 10
    for panel in panels:
        where = f"panel {panel['id']} {panel.get('title')!r}"
        assert panel["title"] and panel["type"], where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        assert panel["targets"], f"{where} has no targets"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), where
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), f"{where} target {target['refId']}: no expr"
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], where
    exprs = " ".join(target["expr"] for panel in panels for target in panel["targets"])
    for wanted in ("histogram_quantile(0.5", "histogram_quantile(0.99", "hub_consumer_lag"):
        assert wanted in exprs, wanted


def test_the_grafana_provisioning_files_parse() -> None:
    datasources = _load_yaml(PROVISIONING / "datasources" / "wuchang-hub.yml")
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["url"] and source["uid"]
    providers = _load_yaml(PROVISIONING / "dashboards" / "wuchang-hub.yml")
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


def test_every_query_names_known_functions_and_hub_metrics() -> None:
    """The static half of the live check below: every expression parses into names."""
    referenced = set()
    for where, expr in _queries():
        try:
            names = metric_names(expr)
        except ValueError as exc:
            raise AssertionError(f"{where}: {exc}") from None
        assert names, f"{where} selects no metric: {expr}"
        referenced |= names
    assert len(referenced - PROMETHEUS_OWN) >= 20, sorted(referenced)
    for variable in _variable_queries(_dashboard()):
        if variable.name is not None:
            assert variable.name.startswith("hub_"), variable
        if variable.name_pattern is not None:
            assert re.compile(variable.name_pattern).pattern.startswith("hub_"), variable


# ------------------------------------------------------------------ a real worker


@contextmanager
def party_in_thread() -> Iterator[PartySimulator]:
    """A webhook-receiving PartySimulator served by its own event loop in a thread, so
    it answers while this (synchronous) test blocks on HTTP and subprocesses."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="party-simulator", daemon=True)
    thread.start()
    party = PartySimulator(kind="webhook")
    try:
        asyncio.run_coroutine_threadsafe(party.start(), loop).result(timeout=10)
        yield party
    finally:
        asyncio.run_coroutine_threadsafe(party.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _order(issued: datetime, deadline: datetime) -> dict[str, Any]:
    """An order from 积玉桥 street to the urban management department."""
    return sample(
        "order",
        source_id=f"MON-{uuid.uuid4().hex[:12]}",
        occurred_at=issued.isoformat(),
        issued_at=issued.isoformat(),
        deadline=deadline.isoformat(),
    )


def _park_unknown_native_kind(bootstrap: str, topic: str) -> None:
    """A raw record whose native kind no mapping knows: the normaliser parks it."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topic,
                key=f"MON-{uuid.uuid4().hex[:8]}".encode(),
                value=b'{"no": "mapping"}',
                headers=[("hub.native.kind", b"no-such-native-kind")],
            )
        finally:
            await producer.stop()

    asyncio.run(send())


@dataclass
class Exposed:
    """What one /metrics answer exposes: series name → label sets, and family types."""

    series: dict[str, list[dict[str, str]]]
    families: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Exposed:
        series: dict[str, list[dict[str, str]]] = {}
        families: dict[str, str] = {}
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for point in family.samples:
                series.setdefault(point.name, []).append(dict(point.labels))
        return cls(series, families)

    def why_missing(self, name: str) -> str | None:
        """None when name has samples; otherwise what is wrong."""
        if self.series.get(name):
            return None
        family = family_of(name)
        counter = name.removesuffix("_total")
        if family in self.families or counter in self.families:
            kind = self.families.get(family) or self.families.get(counter)
            return f"{name}: family exposed ({kind}) but has no samples after the traffic"
        return f"{name}: not exposed at all"

    def label_problems(self, name: str, matchers: list[tuple[str, str, str]]) -> list[str]:
        problems = []
        points = self.series.get(name, [])
        for label, operator, value in matchers:
            if label in TARGET_LABELS:
                continue
            if not any(label in point for point in points):
                problems.append(f"{name} has no label {label!r} (matched {operator}{value!r})")
            elif operator == "=" and "$" not in value:
                if not any(point.get(label) == value for point in points):
                    seen = sorted({point[label] for point in points if label in point})
                    problems.append(f"{name}{{{label}={value!r}}}: no such series; seen {seen}")
        return problems


def _scrape(base: str, token: str) -> Exposed:
    request = urllib.request.Request(  # noqa: S310
        base + "/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        assert answer.headers["Content-Type"].startswith("text/plain")
        return Exposed.parse(answer.read().decode())


def test_every_metric_the_alerts_and_dashboard_query_is_exposed_by_a_worker(
    applied_topics: str, tmp_path: Path
) -> None:
    queries = _queries()
    wanted: dict[str, list[str]] = {}  # series → where it is used
    labelled: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    for where, expr in queries:
        for name in metric_names(expr) - PROMETHEUS_OWN:
            wanted.setdefault(name, []).append(where)
        labelled += [(where, n, m) for n, m in selectors(expr) if n not in PROMETHEUS_OWN]
    variables = _variable_queries(_dashboard())
    for variable in variables:
        if variable.name is not None:
            wanted.setdefault(variable.name, []).append(variable.where)

    with party_in_thread() as party:
        party.fail(FailMode.DOWN, count=1)  # the first delivery fails, its retry succeeds
        connectors = tmp_path / "connectors.yaml"
        connectors.write_text(
            "connectors:\n"
            "  - name: urban-webhook\n"
            "    party: dept-urban\n"
            "    type: webhook\n"
            f"    url: {party.inbox_url}\n"
            "    backoff_initial_seconds: 0.1\n"
            "    backoff_max_seconds: 0.5\n",
            encoding="utf-8",
        )
        env = worker_env(
            applied_topics,
            tmp_path / "data",
            "monitoring",
            HUB_CONNECTORS_FILE=str(connectors),
        )
        tokens = issue_tokens(env, ("street-jiyuqiao", "ops"))
        street = tokens["street-jiyuqiao"]
        with running_worker(env, tmp_path / "worker.log") as base:
            now = datetime.now(UTC)
            status, answer = http_json(
                base, "/v1/records/order", street, _order(now, now + timedelta(days=1))
            )
            assert status == 202, answer
            # issued 30 hours ago, due an hour ago: the deadline sweep reports it overdue
            late = _order(now - timedelta(hours=30), now - timedelta(hours=1))
            status, answer = http_json(base, "/v1/records/order", street, late)
            assert status == 202, answer
            refused = _order(now, now - timedelta(days=1))  # due before it was issued
            status, answer = http_json(base, "/v1/records/order", street, refused)
            assert status == 422, answer
            _park_unknown_native_kind(applied_topics, "raw.dept-urban.v1")

            # the Kafka gauges are read every 15 s: wait for a reading with the traffic
            deadline = time.monotonic() + 90
            while True:
                exposed = _scrape(base, tokens["ops"])
                missing = [why for name in sorted(wanted) if (why := exposed.why_missing(name))]
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(1)
            delivered = len(party.first_deliveries())
            failed = len(party.failed_attempts())

    assert not missing, (
        "metrics the alerts or the dashboard query that the worker does not expose:\n"
        + "\n".join(
            f"  {why}\n    used by: {'; '.join(wanted[why.split(':')[0]])}" for why in missing
        )
    )
    assert delivered >= 1 and failed >= 1, (delivered, failed)
    problems = [
        f"{where}: {problem}"
        for where, name, matchers in labelled
        for problem in exposed.label_problems(name, matchers)
    ]
    for variable in variables:
        names = [variable.name] if variable.name else []
        if variable.name_pattern is not None:
            names += [n for n in exposed.series if re.fullmatch(variable.name_pattern, n)]
            assert names, f"{variable.where}: no exposed series matches {variable.name_pattern!r}"
        for name in names:
            problems += exposed.label_problems(name, [(variable.label, "=~", ".+")])
    assert not problems, "label matchers that select nothing:\n" + "\n".join(problems)
