"""The definition pipeline against the real Swarm and Consul: what an operator finds in Consul and the log."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import consul
import pytest

from neon_cm.encoding import decode_definition, deflate, verify_definition
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, SETTINGS_PREFIX
from tests.prometheus_server import free_port
from tests.service import LOG_LINE, Service, readme_seconds
from tests.waiting import settings_seen, wait_for_metric, wait_until

BASE = {
    "Name": "test-cluster",
    "Schema": "1.0",
    "Datacenter": "dc-zürich",
    "Docker": {"RegistryCache": True},
    "SomethingNewer": {"kept": [1, 2, 3]},
    "Nodes": {},
    "Hash": None,
}
PUBLISHED = r"published the cluster definition"
LISTED = r"\[DEBUG\] \[module:swarm-watcher\] listed 5 nodes"
ACTIVE = r"\[INFO\] \[module:leadership\] this instance \(.*\) is active"


def seed_base(kv: consul.Consul, base: dict[str, Any] = BASE) -> None:
    kv.kv.put(DEFINITION_KEY, deflate(json.dumps(base).encode()))


def read_definition(kv: consul.Consul) -> tuple[dict[str, Any], str, int, int]:
    """(definition, hash key, definition ModifyIndex, hash ModifyIndex) as stored in Consul."""
    _, item = kv.kv.get(DEFINITION_KEY)
    _, hash_item = kv.kv.get(HASH_KEY)
    return decode_definition(item["Value"]), hash_item["Value"].decode(), item["ModifyIndex"], hash_item["ModifyIndex"]


def fast_polls(kv: consul.Consul, seconds: str = "0.3") -> None:
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", seconds)


def expected_node(node: dict[str, Any]) -> tuple[str, str, str, dict[str, str]]:
    return (
        node["Description"]["Hostname"].lower(),
        node["Spec"]["Role"],
        node["Status"]["Addr"],
        node["Spec"].get("Labels") or {},
    )


def test_definition_lists_every_node_as_docker_shows(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    swarm_nodes: Callable[[], list[dict[str, Any]]],
    labels: Callable[..., None],
) -> None:
    """Every Swarm node with its role, address and labels; io.neon.* mapped, the rest in Custom; base kept."""
    labels("worker-1", "io.neon.compute.cores", "16")
    labels("worker-1", "io.neon.node.public_address", "198.51.100.21")
    labels("manager-2", "rack", "Zürich ④")
    seed_base(kv)
    fast_polls(kv)
    service = start_service()

    service.wait_for(PUBLISHED)
    definition, digest, _, _ = read_definition(kv)
    inspected = swarm_nodes()

    assert sorted(expected_node(node)[0] for node in inspected) == list(definition["Nodes"])
    for node in inspected:
        name, role, addr, node_labels = expected_node(node)
        published = definition["Nodes"][name]
        assert (name, role, role == "manager", addr) == (
            published["Name"],
            published["Role"],
            published["IsManager"],
            published["PrivateAddress"],
        )
        custom = {k: v for k, v in node_labels.items() if not k.startswith("io.neon.")}
        assert custom == published["Labels"]["Custom"]
    assert 16 == definition["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert "198.51.100.21" == definition["Nodes"]["worker-1"]["PublicAddress"]
    assert "Zürich ④" == definition["Nodes"]["manager-2"]["Labels"]["Custom"]["rack"]
    assert {k: v for k, v in BASE.items() if k not in ("Nodes", "Hash")} == {
        k: v for k, v in definition.items() if k not in ("Nodes", "Hash")
    }
    assert verify_definition(definition, digest)


def test_label_added_and_removed_appears_at_next_poll(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    docker_cli: Callable[..., str],
    labels: Callable[..., None],
) -> None:
    """`docker node update --label-add/--label-rm` shows in Consul's definition at the next poll."""
    seed_base(kv)
    fast_polls(kv)
    service = start_service()
    service.wait_for(PUBLISHED)

    mark = service.mark()
    labels("worker-2", "io.neon.physical.location", "row 7")
    service.wait_for(PUBLISHED, after=mark)
    with_label, _, _, _ = read_definition(kv)
    mark = service.mark()
    docker_cli("node", "update", "--label-rm", "io.neon.physical.location", "worker-2")
    service.wait_for(PUBLISHED, after=mark)
    without_label, _, _, _ = read_definition(kv)

    assert "row 7" == with_label["Nodes"]["worker-2"]["Labels"]["PhysicalLocation"]
    assert "" == without_label["Nodes"]["worker-2"]["Labels"]["PhysicalLocation"]


def test_steady_swarm_writes_nothing(kv: consul.Consul, start_service: Callable[..., Service]) -> None:
    """With nothing changing, several polls leave both keys' ModifyIndex untouched."""
    seed_base(kv)
    fast_polls(kv)
    service = start_service()
    service.wait_for(PUBLISHED)
    _, _, definition_index, hash_index = read_definition(kv)

    mark = service.mark()
    service.wait_for("definition unchanged", count=5, after=mark)
    _, _, definition_index_after, hash_index_after = read_definition(kv)

    assert (definition_index, hash_index) == (definition_index_after, hash_index_after)
    assert 1 == len(service.lines(PUBLISHED))


def test_no_base_definition_is_one_error_naming_definition_put_and_nothing_written(
    kv: consul.Consul, start_service: Callable[..., Service], service_env: dict[str, str]
) -> None:
    """Without a definition from cluster setup (a first deployment): one ERROR naming `definition put`, not one per
    poll (docs/troubleshooting.md: once, then every 5 minutes); `health` says degraded and what is missing; nothing
    written. Once cluster setup's definition is put, one INFO and the definition is published."""
    from tests.integration.test_metrics import health_command  # here: test_metrics imports this module

    fast_polls(kv)
    port = free_port()
    service = start_service(METRICS_PORT=str(port))

    service.wait_for(r"\[ERROR\] .*no cluster definition at neon/cluster/definition.deflate")
    wait_for_metric(port, "neon_cm_definition_publish_failures_total", lambda failures: failures >= 5)
    health = wait_until(  # the verdict is refreshed every 5 s
        lambda: (
            result
            if (result := health_command(Path(service_env["NEON_CM_HEALTH_FILE"]))).stdout != "healthy\n"
            else None
        ),
        30,
        "`health` to say what is missing",
    )
    written = (kv.kv.get(DEFINITION_KEY)[1], kv.kv.get(HASH_KEY)[1])
    seed_base(kv)
    service.wait_for(PUBLISHED)

    assert (None, None) == written
    assert [
        "[ERROR] [module:definition-publisher] no cluster definition at neon/cluster/definition.deflate: publish "
        "cluster setup's base definition with `neon-cluster-manager definition put FILE`; nothing is written until "
        "then (said again every 5 minutes)"
    ] == [line.split("] ", 1)[1] for line in service.lines(r"no cluster definition")]
    assert (0, "degraded: no base definition at neon/cluster/definition.deflate, so no definition is published: "
            "publish cluster setup's with `neon-cluster-manager definition put FILE`\n") == (
        health.returncode, health.stdout)  # fmt: skip
    assert service.lines(r"\[INFO\] .*a base definition is at neon/cluster/definition.deflate now; publishing")


def test_garbage_hash_gets_the_definition_rewritten(kv: consul.Consul, start_service: Callable[..., Service]) -> None:
    """A hash key holding garbage does not match: definition and hash are rewritten together."""
    seed_base(kv)
    kv.kv.put(HASH_KEY, "not a hash at all")
    fast_polls(kv)
    service = start_service()

    service.wait_for(PUBLISHED)
    definition, digest, _, _ = read_definition(kv)

    assert verify_definition(definition, digest)
    assert "(was not a hash at all)" in service.lines(PUBLISHED)[0]


def test_settings_defaults_written_and_changes_picked_up_live(
    kv: consul.Consul, start_service: Callable[..., Service]
) -> None:
    """Missing settings get their defaults; a changed poll interval applies without restart; bad ones WARN once."""
    seed_base(kv)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "300")
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for("vault_poll_seconds was missing; wrote the default 30")

    assert b"30" == kv.kv.get(SETTINGS_PREFIX + "vault_poll_seconds")[1]["Value"]
    mark = service.mark()
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "0.3")
    service.wait_for(r"settings: node_poll_seconds=0.3 ", after=mark)
    service.wait_for(LISTED, count=3, after=mark)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "-5")
    service.wait_for(r"\[WARN\] .*node_poll_seconds='-5' rejected", after=mark)
    service.wait_for(r"settings: node_poll_seconds=30 ", after=mark)
    settings_seen(kv, service, "vault_poll_seconds", "29")  # the watch woke again with the bad value still stored

    assert 1 == len(service.lines(r"node_poll_seconds='-5' rejected"))
    # Deleted (or lost with Consul's data) while another value was in use: the default written, with a WARN naming it.
    mark = service.mark()
    kv.kv.delete(SETTINGS_PREFIX + "vault_poll_seconds")
    service.wait_for(
        r"\[WARN\] .*vault_poll_seconds was missing; wrote the default 30 in place of '29', the value in use until now",
        after=mark,
    )
    assert b"30" == kv.kv.get(SETTINGS_PREFIX + "vault_poll_seconds")[1]["Value"]


@pytest.mark.parametrize(
    ("level", "allowed"),
    [("WARN", {"ERROR", "WARN"}), ("error", {"ERROR"}), ("NONE", set())],
)
def test_log_level_filters_and_every_line_matches_the_format(
    kv: consul.Consul, start_service: Callable[..., Service], level: str, allowed: set[str]
) -> None:
    """LOG_LEVEL keeps only entries at or above it; every line is in the spec's format.

    The run has ERROR lines (no base definition) and a WARN (a bad setting) to filter.
    """
    fast_polls(kv)  # no base definition: one ERROR, and a publish failure at every poll
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "zero")  # one WARN
    port = free_port()
    service = start_service(LOG_LEVEL=level, METRICS_PORT=str(port))
    if "ERROR" in allowed:
        service.wait_for(r"\[ERROR\] .*no cluster definition")
    else:  # nothing in the log to wait for: its metrics say the polls found no definition (the ERROR filtered out)
        wait_for_metric(port, "neon_cm_definition_publish_failures_total", lambda failures: failures >= 2)
    code, _ = service.stop()

    assert 0 == code
    assert all(LOG_LINE.match(line) for line in service.stdout), service.stdout
    assert allowed == {LOG_LINE.match(line).group(1) for line in service.stdout}  # type: ignore[union-attr]


def test_unknown_log_level_means_info_and_one_warning(kv: consul.Consul, start_service: Callable[..., Service]) -> None:
    """An unknown LOG_LEVEL logs at INFO and says so once."""
    seed_base(kv)
    service = start_service(LOG_LEVEL="chatty")

    service.wait_for(PUBLISHED)

    assert 1 == len(service.lines(r"\[WARN\] .*LOG_LEVEL='chatty'"))
    assert [] == service.lines(r"\[DEBUG\]")


def test_sigterm_exits_zero_promptly(kv: consul.Consul, start_service: Callable[..., Service]) -> None:
    """SIGTERM stops every actor and exits 0, logging that it stopped."""
    seed_base(kv)
    service = start_service()
    service.wait_for(PUBLISHED)

    code, seconds = service.stop()

    assert 0 == code
    assert service.lines(r"\[INFO\] \[module:main\] stopped$")
    assert [] == service.lines(r"still running after shutdown")
    print(f"SIGTERM to exit: {seconds:.2f} s")
    bound = readme_seconds(r"on SIGTERM the service stops its actors in reverse start order and exits 0 within (\d+) s")
    assert seconds < bound, f"{seconds:.2f} s to exit; README promises within {bound:g} s"


def test_json_log_lines_parse(kv: consul.Consul, start_service: Callable[..., Service]) -> None:
    """LOG_FORMAT=json: every line is a JSON object with timestamp, level, component and message."""
    seed_base(kv)
    service = start_service(LOG_FORMAT="json")
    service.wait_for(PUBLISHED)
    code, _ = service.stop()

    records = [json.loads(line) for line in service.stdout]
    assert 0 == code
    assert all({"timestamp", "level", "component", "message"} <= set(record) for record in records)
    assert any(record["component"] == "definition-publisher" for record in records)
