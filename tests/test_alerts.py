"""The Prometheus alert rules and the Grafana dashboard in examples/, checked without a running service."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from actors.metrics import ServiceMetrics
from tests.prometheus_server import ALERTS, JOB, binary, documented_config
from tests.service import ROOT

DASHBOARD = ROOT / "examples" / "grafana" / "neon-cluster-manager.json"
RULE_TESTS = ROOT / "tests" / "promtool" / "alerts_test.yml"
#: Prometheus' own per-target metric: the scrape succeeded.
PROMETHEUS_METRICS = {"up"}


def declared_metrics() -> set[str]:
    """Every name a scrape can show (prometheus_client adds `_total` and `_created` to counters)."""
    names = set()
    for family in ServiceMetrics().registry.collect():
        if family.type == "counter":
            names |= {f"{family.name}_total", f"{family.name}_created"}
        else:
            names.add(family.name)
    return names


def exported_metrics() -> set[str]:
    """The names a scrape of /metrics shows once the service has started its actors and monitors a Vault: only
    metrics with a series (a labelled metric without one would show "No data" on the dashboard)."""
    metrics = ServiceMetrics()
    metrics.actors_known(["swarm-watcher"])
    metrics.nodes_monitored(["manager-1"])
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}


def metrics_named(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: neon_cm_* anywhere, and `up` as a selector."""
    return set(re.findall(r"\bneon_cm_[a-z0-9_]+", expr)) | set(re.findall(r"\b(up)\s*\{", expr))


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL query of the dashboard: panel targets and the template variables' queries."""
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["definition"])
    return queries


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary("promtool"), *args], capture_output=True, text=True, check=False)


def test_the_alert_rules_are_valid() -> None:
    """`promtool check rules` accepts examples/prometheus/alerts.yml."""
    result = promtool("check", "rules", str(ALERTS))

    assert (0, "SUCCESS: 12 rules found") == (result.returncode, result.stdout.strip().splitlines()[-1].strip()), (
        result.stderr
    )


def test_the_documented_prometheus_configuration_is_valid(tmp_path: Path) -> None:
    """docs/operations.md's prometheus.yml (with this repository's rules file) passes `promtool check config`, and
    scrapes under the job name the rules select. (test_stack_deploy runs it against the deployed stack.)"""
    config = tmp_path / "prometheus.yml"
    config.write_text(documented_config(), encoding="utf-8")
    result = promtool("check", "config", str(config))

    assert 0 == result.returncode, result.stdout + result.stderr
    assert f"- job_name: {JOB} " in config.read_text(encoding="utf-8")


def test_the_alert_rules_pass_their_unit_tests() -> None:
    """`promtool test rules` passes tests/promtool/alerts_test.yml: each alert fires when it should, and not before."""
    result = promtool("test", "rules", str(RULE_TESTS))

    assert (0, "SUCCESS") == (result.returncode, result.stdout.strip().splitlines()[-1].strip()), (
        result.stdout + result.stderr
    )


def test_every_alert_has_a_summary_and_a_runbook() -> None:
    """Each rule carries a summary and a runbook line pointing at the alert table of docs/operations.md."""
    text = ALERTS.read_text()
    alerts = re.findall(r"- alert: (\w+)", text)

    assert len(alerts) == text.count("summary:")
    expected = [f'runbook: "neon-cluster-manager docs/operations.md, Alerts: {alert}"' for alert in alerts]
    assert expected == re.findall(r"runbook: .*", text)
    runbook = (ROOT / "docs" / "operations.md").read_text()
    assert [] == [alert for alert in alerts if f"| `{alert}` |" not in runbook]


def test_the_alert_rules_name_only_exported_metrics() -> None:
    """Every metric the rules use is one the service exports, at least once it has seen what the metric is about
    (a Vault state change's time), or Prometheus' own `up`."""
    named = metrics_named(ALERTS.read_text())

    assert set() == named - declared_metrics() - PROMETHEUS_METRICS


def test_the_dashboard_is_valid_json_whose_queries_name_exported_metrics() -> None:
    """The dashboard parses; each query names at least one metric, and every one it names is exported."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = dashboard_queries(dashboard)

    assert [] == [query for query in queries if not metrics_named(query)]
    named = set().union(*(metrics_named(query) for query in queries))
    assert set() == named - exported_metrics() - PROMETHEUS_METRICS


def test_the_dashboard_shows_what_the_alerts_watch() -> None:
    """Vault states, unseals, publishes and failures, definition size and age, health and leadership each have a
    panel."""
    dashboard = json.loads(DASHBOARD.read_text())
    named = set().union(*(metrics_named(query) for query in dashboard_queries(dashboard)))

    expected = {
        "neon_cm_vault_state",
        "neon_cm_vault_unseal_attempts_total",
        "neon_cm_vault_unseal_failures_total",
        "neon_cm_definition_publishes_total",
        "neon_cm_definition_publish_failures_total",
        "neon_cm_definition_compressed_bytes",
        "neon_cm_definition_last_publish_timestamp_seconds",
        "neon_cm_healthy",
        "neon_cm_active",
        "up",
    }
    assert set() == expected - named


def test_panels_do_not_overlap() -> None:
    """Grafana lays panels out by gridPos: no two share a cell, and all fit the 24-column width."""
    cells: set[tuple[int, int]] = set()
    overlapping = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        pos = panel["gridPos"]
        mine = {(x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])}
        if mine & cells or pos["x"] + pos["w"] > 24:
            overlapping.append(panel["title"])
        cells |= mine

    assert [] == overlapping


def test_the_rule_tests_cover_every_alert() -> None:
    """tests/promtool/alerts_test.yml expects each alert firing at least once."""
    alerts = set(re.findall(r"- alert: (\w+)", ALERTS.read_text()))
    tested = re.findall(r"alertname: (\w+)\n\s+exp_alerts:\n\s+- exp_labels", RULE_TESTS.read_text())

    assert set() == alerts - set(tested)


def test_promtool_is_debians() -> None:
    """promtool comes from Debian 12's prometheus package, as scripts/install-deps unpacks it."""
    version = promtool("--version")

    assert "2.42.0+ds" in version.stdout + version.stderr
