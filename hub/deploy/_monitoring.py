"""Prometheus-operator objects: a ``ServiceMonitor`` that scrapes every worker's /metrics
with an ops bearer token, and a ``PrometheusRule`` holding deploy/prometheus/alerts.yml's
groups unchanged (one set of alerts for both ways of running Prometheus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub._yaml import read_yaml
from hub.deploy._options import StrimziOptions
from hub.deploy._workload import METRICS_SECRET, SECRETS, SERVICE, labels, worker_selector
from hub.errors import ConfigError
from hub.settings import PROJECT_ROOT

API = "monitoring.coreos.com/v1"
ALERTS = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"


def alert_groups(path: Path) -> list[dict[str, Any]]:
    """The rule groups of a Prometheus rules file."""
    document = read_yaml(path)
    groups = document.get("groups") if isinstance(document, dict) else None
    if not isinstance(groups, list) or not groups:
        raise ConfigError(f"{path}: a Prometheus rules file needs a non-empty 'groups' list")
    return groups


def monitoring(options: StrimziOptions, alerts: Path = ALERTS) -> list[dict[str, Any]]:
    """ServiceMonitor and PrometheusRule. Prometheus names the job after the Service, as
    alerts.yml expects (job="wuchang-hub")."""
    meta = {"namespace": options.namespace, "labels": labels("monitoring")}
    return [
        {
            "apiVersion": API,
            "kind": "ServiceMonitor",
            "metadata": {"name": SERVICE, **meta},
            "spec": {
                "selector": {"matchLabels": worker_selector()},
                "endpoints": [{
                    "port": "http",
                    "path": "/metrics",
                    "interval": "15s",
                    "scrapeTimeout": "10s",
                    "authorization": {"type": "Bearer", "credentials": {
                        "name": METRICS_SECRET, "key": SECRETS[METRICS_SECRET][0]}},
                }],
            },
        },
        {
            "apiVersion": API,
            "kind": "PrometheusRule",
            "metadata": {"name": SERVICE, **meta},
            "spec": {"groups": alert_groups(alerts)},
        },
    ]
