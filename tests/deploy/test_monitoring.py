"""deploy/monitoring: the alert rules and the Grafana dashboard parse (PromQL too), name only
metrics services/telemetry/metrics.py exports (and only labels those metrics have), cover what
operators must hear about, and point at runbooks that exist in docs/operations.md."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from deploy.kustomize import build
from services.telemetry import metrics

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
# kube-state-metrics' names the rules use (a standard part of a Kubernetes monitoring stack).
KUBE_STATE_METRICS = frozenset(
    {
        "kube_deployment_status_replicas_available",
        "kube_deployment_spec_replicas",
        "kube_pod_container_status_restarts_total",
    }
)
# Labels Prometheus attaches to every scraped series (Kubernetes service discovery).
TARGET_LABELS = frozenset({"namespace", "pod", "container", "job", "instance", "service"})
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}
# Grafana's variables, replaced by a value of the same kind before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@cache
def exported() -> dict[str, frozenset[str]]:
    """Every series name services/telemetry/metrics.py exports, with its label names."""
    names: dict[str, frozenset[str]] = {}
    for collector in vars(metrics).values():
        if isinstance(collector, MetricWrapperBase):
            [described] = collector.describe()
            labels = frozenset(collector._labelnames)
            for suffix in SUFFIXES[described.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                names[described.name + suffix] = labels | extra
    return names


def selectors(expr: str) -> Iterator[promql_parser.VectorSelector]:
    found: list[promql_parser.VectorSelector] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.append(node)

    promql_parser.walk(promql_parser.parse(expr), visit)
    yield from found


def check_names(expr: str, external: frozenset[str] = frozenset()) -> set[str]:
    """The metric names `expr` selects, each exported (or external), each matcher label one
    the metric has; parsing fails on anything that is not PromQL."""
    names: set[str] = set()
    for selector in selectors(expr):
        name = selector.name
        assert name, f"a selector without a metric name in {expr!r}"
        names.add(name)
        if name in external:
            continue
        assert name in exported(), f"{name} is not in services/telemetry/metrics.py"
        for matcher in selector.matchers.matchers:
            assert matcher.name in exported()[name] | TARGET_LABELS, f"{name} has no {matcher.name}"
    return names


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a document's headings."""
    slugs = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug)
    return slugs


@cache
def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    assert set(loaded) == {"groups"}
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_metrics_are_read_from_the_declarations() -> None:
    assert exported()["invoiceflow_tasks_failed_total"] == {"code"}
    assert "invoiceflow_publish_to_socket_seconds_bucket" in exported()
    assert exported()["invoiceflow_draining"] == frozenset()


def test_the_name_checks_bite() -> None:
    with pytest.raises(AssertionError, match="not in services/telemetry"):
        check_names("rate(invoiceflow_tasks_failled_total[5m])")
    with pytest.raises(AssertionError, match="has no reason"):
        check_names('invoiceflow_dead_letters_total{reason="x"}')
    with pytest.raises(ValueError):
        check_names("sum(rate(invoiceflow_tasks_failed_total[5m])")


@pytest.mark.parametrize("rule", rules(), ids=lambda rule: str(rule["alert"]))
def test_every_alert_is_promql_on_our_metrics_with_a_runbook(rule: dict[str, Any]) -> None:
    assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
    names = check_names(rule["expr"], KUBE_STATE_METRICS)
    assert any(name.startswith("invoiceflow_") for name in names) or names <= KUBE_STATE_METRICS
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    assert rule["annotations"]["summary"]
    document, _, anchor = rule["annotations"]["runbook_url"].partition("#")
    assert anchor in anchors((REPO / document).read_text()), f"no section #{anchor} in {document}"
    if "for" in rule:
        assert re.fullmatch(r"\d+[smh]", rule["for"])


def test_the_alerts_cover_what_operators_must_hear_about() -> None:
    covered = {rule["alert"] for rule in rules()}
    assert len(covered) == len(rules()), "alert names are unique"
    watched = {name for rule in rules() for name in check_names(rule["expr"], KUBE_STATE_METRICS)}
    assert {
        "invoiceflow_tasks_failed_total",  # failures, by code
        "invoiceflow_dead_letters_total",
        "invoiceflow_dependency_up",  # NATS, PostgreSQL, the model down
        "invoiceflow_consumer_pending_messages",  # lag high, lag growing
        "kube_deployment_status_replicas_available",  # no replica ready
        "invoiceflow_publish_to_socket_seconds_bucket",  # slow publish -> socket
        "invoiceflow_draining",  # a stuck drain
    } <= watched
    down = [rule for rule in rules() if "invoiceflow_dependency_up" in rule["expr"]]
    assert {rule["for"] for rule in down} == {"1m"}


@cache
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((MONITORING / "dashboard.json").read_text())
    return loaded


def expressions() -> list[str]:
    return [
        target["expr"] for panel in dashboard()["panels"] for target in panel.get("targets", [])
    ]


def test_the_dashboard_queries_only_our_metrics() -> None:
    assert dashboard()["uid"] and dashboard()["title"]
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids))
    shown: set[str] = set()
    for query in expressions():
        expr = query
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown Grafana variable in {query!r}"
        shown |= check_names(expr)
    assert {
        "invoiceflow_tasks_accepted_total",  # throughput
        "invoiceflow_tasks_completed_total",
        "invoiceflow_tasks_failed_total",  # failures by code
        "invoiceflow_stage_duration_seconds_bucket",  # stage durations p50/p99
        "invoiceflow_consumer_pending_messages",  # lag per consumer
        "invoiceflow_messages_in_flight",
        "invoiceflow_sockets_open",
        "invoiceflow_publish_to_socket_seconds_bucket",
        "invoiceflow_model_tokens_total",
    } <= shown


def test_the_dashboard_panels_use_its_datasource_variable() -> None:
    [variable] = dashboard()["templating"]["list"]
    assert variable["type"] == "datasource"
    for panel in dashboard()["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${" + variable["name"] + "}"


def test_the_pod_monitor_scrapes_the_ports_the_pods_name() -> None:
    [monitor] = yaml.safe_load_all((MONITORING / "podmonitor.yaml").read_text())
    resources = build(REPO / "deploy/k8s/base")
    [namespace] = [r["metadata"]["name"] for r in resources if r["kind"] == "Namespace"]
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    selector = monitor["spec"]["selector"]["matchLabels"]
    ports: set[str] = set()
    for deployment in (r for r in resources if r["kind"] == "Deployment"):
        template = deployment["spec"]["template"]
        assert selector.items() <= template["metadata"]["labels"].items()
        ports |= {p["name"] for c in template["spec"]["containers"] for p in c["ports"]}
    endpoints = monitor["spec"]["podMetricsEndpoints"]
    assert {e["port"] for e in endpoints} == ports == {"http", "metrics"}
    assert {e["path"] for e in endpoints} == {"/metrics"}
