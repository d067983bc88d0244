"""Bad input on the real stack: one clear log line for the problem, nothing in Consul lost or overwritten,
and the service still running and doing its job afterwards."""

from __future__ import annotations

import base64
import gzip
import json
import random
import re
import subprocess
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import consul
import docker
import pytest

import teststack as stack
from gateways.docker import DOCKER_API_VERSION
from messages.swarm import SwarmNode
from neon_cm.definition import build_nodes, with_nodes
from neon_cm.encoding import decode_definition, deflate, encode_definition, inflate, md5_base64, verify_definition
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, MAX_VALUE_BYTES, SETTINGS_PREFIX
from tests.integration.conftest import MANAGER, address
from tests.integration.test_definition_pipeline import ACTIVE, BASE, LISTED, PUBLISHED, read_definition, seed_base
from tests.integration.test_metrics import health_command
from tests.prometheus_server import free_port
from tests.service import LOG_LINE, Service
from tests.waiting import settings_seen, wait_for_metric, wait_for_polls, wait_until

UNCHANGED = r"\[DEBUG\] \[module:definition-publisher\] definition unchanged"
DIED = r"\[module:supervisor:[^\]]*\] .*crashed"
DEFINITION_ERROR = rf"\[ERROR\] \[module:definition-publisher\] .*{re.escape(DEFINITION_KEY)}"
#: Consul's /v1/txn refuses a request body over 512 KiB (txn_max_req_len), and a value travels in it as base64.
TXN_VALUE_LIMIT = MAX_VALUE_BYTES * 3 // 4
GOOD_TEMPLATE = "http://{addr}:8200"
SETTINGS_REJECTED = 'neon_cm_degraded{reason="settings_rejected"}'
DEFAULT_TEMPLATE = "https://{hostname}.neon-vault.cluster:8200"
MANAGER_1_URL = f"http://{address('manager-1')}:8200"


def modify_index(kv: consul.Consul, key: str) -> int | None:
    """The key's ModifyIndex, None when it is missing."""
    _, item = kv.kv.get(key)
    return None if item is None else int(item["ModifyIndex"])


def stored_value(kv: consul.Consul, key: str) -> bytes | None:
    _, item = kv.kv.get(key)
    return None if item is None else item["Value"]


def lines_after(service: Service, mark: int, pattern: str) -> list[str]:
    """Log lines written after `mark` that match `pattern`."""
    with service.changed:
        return [line for line in service.stdout[mark:] if re.search(pattern, line)]


def first_line_after(service: Service, mark: int, pattern: str) -> int:
    """The index of the first log line after `mark` that matches `pattern`."""
    with service.changed:
        return next(mark + i for i, line in enumerate(service.stdout[mark:]) if re.search(pattern, line))


def assert_running(service: Service) -> None:
    assert service.process.poll() is None, "the service exited:\n" + "\n".join(service.stdout + service.stderr)
    assert [] == service.lines(DIED), "an actor died on bad input"


def quick(kv: consul.Consul, node_poll: str = "0.3", vault_poll: str = "0.5") -> None:
    """Quick polls and a Vault URL template that reaches the stack's OpenBao nodes."""
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", node_poll)
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", vault_poll)
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", GOOD_TEMPLATE)


class NodeLabels:
    """Sets any labels (keys `docker node update` cannot spell too) through manager-1's Docker API, one
    update per call; `restore` puts back a node's labels (every touched node's by default) as they were."""

    def __init__(self, api: docker.APIClient) -> None:
        self.api = api
        self.original: dict[str, dict[str, str]] = {}

    def add(self, node: str, labels: dict[str, str]) -> None:
        """Add (or change) these labels on `node`, keeping its others."""
        self.write(node, labels, merge=True)

    def restore(self, node: str | None = None) -> None:
        for name in [node] if node else list(self.original):
            self.write(name, self.original[name], merge=False)
            del self.original[name]

    def write(self, node: str, labels: dict[str, str], merge: bool) -> None:
        inspected = self.api.inspect_node(node)
        spec = inspected["Spec"]
        current = dict(spec.get("Labels") or {})
        self.original.setdefault(node, current)
        spec["Labels"] = {**current, **labels} if merge else labels
        self.api.update_node(inspected["ID"], inspected["Version"]["Index"], spec)


@pytest.fixture
def manager_api(real_stack: dict[str, Any]) -> Iterator[docker.APIClient]:
    """A Docker API client on manager-1."""
    manager = next(node for node in real_stack["nodes"] if node["hostname"] == MANAGER)
    api = docker.APIClient(base_url=manager["docker_host"], version=DOCKER_API_VERSION)
    yield api
    api.close()


@pytest.fixture
def node_labels(manager_api: docker.APIClient) -> Iterator[NodeLabels]:
    """Labels set during the test; every node's labels are as they were afterwards."""
    labels = NodeLabels(manager_api)
    yield labels
    labels.restore()


@pytest.fixture
def extra_node(real_stack: dict[str, Any]) -> Iterator[Callable[[str, str, str], dict[str, Any]]]:
    """Start a sixth dockerd (outside the swarm until joined); it leaves the swarm and is removed afterwards."""
    started: list[str] = []

    def start(name: str, hostname: str, addr: str) -> dict[str, Any]:
        started.append(name)
        return stack.extra_node_start(name, hostname, addr)

    yield start
    for name in started:
        stack.extra_node_remove(name)


def expected_publication(kv: consul.Consul, api: docker.APIClient) -> tuple[bytes, str]:
    """(value, hash) the service should publish now: the base in Consul with `Nodes` from Docker's listing."""
    base = decode_definition(stored_value(kv, DEFINITION_KEY) or b"")
    built = build_nodes(SwarmNode.from_docker(node) for node in api.nodes())
    return encode_definition(with_nodes(base, built.nodes))


def random_labels(total_chars: int, seed: int, per_label: int = 4000) -> dict[str, str]:
    """Labels of incompressible text (base64 of random bytes) adding up to about `total_chars`."""
    rng = random.Random(seed)
    count = -(-total_chars // per_label)
    return {
        f"bulk.{index:04d}": base64.b64encode(rng.randbytes(per_label * 3 // 4)).decode("ascii")
        for index in range(count)
    }


# --------------------------------------------------------------------------- settings

BAD_SECONDS = ["-5", "0", "", "often", "1e300", "nan", "inf", "30s"]


def warned_once(service: Service, name: str, value: str) -> str:
    """The one WARN about setting `name`; it names the key and the value."""
    warnings = service.lines(rf"\[WARN\] .*{name}")

    assert 1 == len(warnings), warnings
    assert SETTINGS_PREFIX + name in warnings[0]
    assert repr(value) in warnings[0]
    return warnings[0]


def started_with_bad_setting(
    kv: consul.Consul, start_service: Callable[..., Service], name: str, value: str
) -> tuple[Service, str, int | None]:
    """A service started with a bad stored setting, once it has warned about it: (service, key, ModifyIndex)."""
    seed_base(kv)
    quick(kv)
    key = SETTINGS_PREFIX + name
    kv.kv.put(key, value)
    index = modify_index(kv, key)
    service = start_service()
    service.wait_for(rf"\[WARN\] .*{name}")
    return service, key, index


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_bad_node_poll_seconds_warns_once_default_applies_and_a_fix_applies(
    kv: consul.Consul, start_service: Callable[..., Service], value: str
) -> None:
    """node_poll_seconds that is not a number of seconds in (0, one day]: one WARN naming key and value, 30 s
    used, the operator's value left alone; the service publishes; writing a good value applies it at once."""
    service, key, index = started_with_bad_setting(kv, start_service, "node_poll_seconds", value)
    service.wait_for(r"\[INFO\] \[module:settings\] settings: node_poll_seconds=30 ")
    service.wait_for(PUBLISHED)
    settings_seen(kv, service, "vault_poll_seconds", "0.6")  # every earlier wake of the watch handled: no second WARN

    warned_once(service, "node_poll_seconds", value)
    assert index == modify_index(kv, key), "the operator's value was overwritten"
    mark = service.mark()
    kv.kv.put(key, "0.3")
    service.wait_for(r"settings: node_poll_seconds=0.3 ", after=mark, timeout=5)
    service.wait_for(LISTED, count=4, after=mark, timeout=5)  # at 30 s this would take 90 s
    warned_once(service, "node_poll_seconds", value)
    assert_running(service)


@pytest.mark.parametrize("value", BAD_SECONDS)
def test_bad_vault_poll_seconds_warns_once_default_applies_and_a_fix_applies(
    kv: consul.Consul, start_service: Callable[..., Service], value: str
) -> None:
    """vault_poll_seconds bad: one WARN naming key and value, monitors poll every 30 s and report the
    Vaults; writing a good value makes them poll at that pace at once."""
    service, key, index = started_with_bad_setting(kv, start_service, "vault_poll_seconds", value)
    service.wait_for(r"settings: .*vault_poll_seconds=30 ")
    service.wait_for(rf"\[DEBUG\] \[module:vault-monitor:manager-1\] monitoring {MANAGER_1_URL} every 30 s")
    service.wait_for(r"\[INFO\] \[module:vault-monitor:manager-1\] Vault on manager-1 .* is unsealed")
    settings_seen(kv, service, "node_poll_seconds", "0.4")  # every earlier wake of the watch handled: no second WARN

    warned_once(service, "vault_poll_seconds", value)
    assert index == modify_index(kv, key), "the operator's value was overwritten"
    mark = service.mark()
    kv.kv.put(key, "0.3")
    service.wait_for(r"settings: .*vault_poll_seconds=0.3 ", after=mark, timeout=5)
    service.wait_for(MANAGER_1_POLLED, count=4, after=mark, timeout=5)
    warned_once(service, "vault_poll_seconds", value)
    assert_running(service)


MANAGER_1_POLLED = rf"\[DEBUG\] \[module:vault-monitor:manager-1\] {MANAGER_1_URL}: unsealed"


@pytest.mark.parametrize(
    ("name", "polls", "clock", "ticks"),
    [
        # Each poll is timed by the other one, still quick: 6 Vault polls at 0.5 s, 10 node polls at 0.3 s (3 s).
        pytest.param("node_poll_seconds", LISTED, MANAGER_1_POLLED, 6, id="node_poll_seconds"),
        pytest.param("vault_poll_seconds", MANAGER_1_POLLED, LISTED, 10, id="vault_poll_seconds"),
    ],
)
def test_poll_seconds_too_small_to_be_meant_warns_once_and_the_default_applies(
    kv: consul.Consul, start_service: Callable[..., Service], name: str, polls: str, clock: str, ticks: int
) -> None:
    """1e-300 s between polls is a typo as surely as 1e300 s: one WARN naming key and value, the default used,
    polls at a sane pace (counted while the other poll, still quick, ticks `ticks` times)."""
    seed_base(kv)
    quick(kv)
    kv.kv.put(SETTINGS_PREFIX + name, "1e-300")
    service = start_service()
    try:
        service.wait_for(ACTIVE)
        service.wait_for(rf"\[INFO\] \[module:settings\] settings: .*{name}=30( |$)")
        service.wait_for(clock, count=ticks)

        warned_once(service, name, "1e-300")
        assert len(service.lines(polls)) < 20, "polling flat out"
        assert_running(service)
    except BaseException:
        service.kill()  # a service flooded with ticks would not stop on SIGTERM: never leave one running
        raise


@pytest.mark.parametrize(
    "value",
    [
        "ftp://{hostname}:8200",
        "http://{host}:8200",
        "http://{hostname:8200",
        "http://{hostname.__class__}:8200",
        "{addr}:8200",
        "",
    ],
)
def test_bad_vault_url_template_warns_once_default_applies_and_a_fix_applies(
    kv: consul.Consul, start_service: Callable[..., Service], value: str
) -> None:
    """vault_url_template bad (not http(s), unknown or malformed placeholder, empty): one WARN naming key and
    value, the default template used (unreachable here, so ERRORs); a good template monitors the real Vaults
    and the ERRORs stop."""
    service, key, index = started_with_bad_setting(kv, start_service, "vault_url_template", value)
    service.wait_for(rf"settings: .*vault_url_template={re.escape(DEFAULT_TEMPLATE)}")
    service.wait_for(r"monitoring the Vault on manager manager-1 at https://manager-1.neon-vault.cluster:8200")
    service.wait_for(r"\[ERROR\] .*Vault on manager-1 \(https://manager-1.neon-vault.cluster:8200\) is unreachable")
    service.wait_for(PUBLISHED)
    settings_seen(kv, service, "node_poll_seconds", "0.4")  # every earlier wake of the watch handled: no second WARN

    warned_once(service, "vault_url_template", value)
    assert index == modify_index(kv, key), "the operator's value was overwritten"
    mark = service.mark()
    kv.kv.put(key, GOOD_TEMPLATE)
    for number in (1, 2, 3):
        service.wait_for(
            rf"\[INFO\] .*Vault on manager-{number} \(http://{address(f'manager-{number}')}:8200\) is unsealed",
            after=mark,
        )
    settled = service.mark()
    wait_for_polls(service, settled)
    assert [] == lines_after(service, settled, r"\[ERROR\]")
    warned_once(service, "vault_url_template", value)
    assert_running(service)


def test_a_template_with_no_placeholder_is_taken_with_one_warn_saying_what_it_means(
    kv: consul.Consul, start_service: Callable[..., Service]
) -> None:
    """Operator tryout: `http://<manager-1>:8200` was taken without a word, and manager-1's Vault was reported as each
    manager's. It is still taken (right for one manager, or one address in front of every Vault): every monitor polls
    it, and one WARN says what that means, however often the settings are read again."""
    seed_base(kv)
    quick(kv)
    kv.kv.put(SETTINGS_PREFIX + "vault_url_template", MANAGER_1_URL)
    service = start_service()
    service.wait_for(rf"settings: .*vault_url_template={re.escape(MANAGER_1_URL)}$")
    service.wait_for(rf"\[DEBUG\] \[module:vault-monitor:manager-2\] {re.escape(MANAGER_1_URL)}: unsealed")
    settings_seen(kv, service, "node_poll_seconds", "0.4")  # a later wake of the watch: not said again
    warnings = service.lines(r"\[WARN\] \[module:settings\] ")

    assert [
        f"vault_url_template {MANAGER_1_URL} has no {{addr}} or {{hostname}}: every manager's Vault is polled at this "
        "one URL, which is right for a single manager or one address in front of every Vault, and wrong when each "
        "manager runs its own (the one reached is reported as each manager's, the others go unwatched)"
    ] == [line.split("] ", 3)[3] for line in warnings]
    assert_running(service)


def test_a_rejected_setting_makes_the_service_degraded_until_it_is_mended(
    kv: consul.Consul, start_service: Callable[..., Service], service_env: dict[str, str]
) -> None:
    """Operator tryout: a template with a typo falls back to the default (as the spec asks), which may watch no Vault
    where it really is; the one WARN scrolls away. `health` says degraded (exit 0: a new task would read the same
    value) naming the key, and neon_cm_degraded{reason="settings_rejected"} is 1, until the value is mended."""
    port = free_port()
    seed_base(kv)
    quick(kv)
    key = SETTINGS_PREFIX + "vault_url_template"
    kv.kv.put(key, "http://{adr}:8200")
    service = start_service(METRICS_PORT=str(port))
    service.wait_for(r"\[WARN\] .*vault_url_template=")
    health_file = Path(service_env["NEON_CM_HEALTH_FILE"])

    def health() -> subprocess.CompletedProcess[str]:
        return health_command(health_file)

    degraded = wait_until(lambda: done if (done := health()).stdout.startswith("degraded") else None, 30, "degraded")
    assert 1 == wait_for_metric(port, SETTINGS_REJECTED, lambda value: value == 1)
    kv.kv.put(key, GOOD_TEMPLATE)
    assert 0 == wait_for_metric(port, SETTINGS_REJECTED, lambda value: value == 0)
    healthy = wait_until(lambda: done if (done := health()).stdout == "healthy\n" else None, 30, "healthy again")

    assert (0, "") == (degraded.returncode, degraded.stderr)
    assert (
        f"degraded: the value stored at {key} was rejected, so the default applies: see the WARN or "
        "`neon-cluster-manager settings get`, and mend it\n"
    ) == degraded.stdout
    assert 0 == healthy.returncode
    assert_running(service)


def test_a_key_under_the_settings_that_is_no_setting_is_named_once(
    kv: consul.Consul, start_service: Callable[..., Service]
) -> None:
    """Operator tryout 2026-12-07: `node_poll_seconds/` (a trailing slash: a folder in Consul's UI) set to 7 was
    ignored without a word, so an operator could not tell why the poll stayed as it was. Each key under the settings
    prefix that is no setting gets one WARN naming it, while it is there; the settings apply as before."""
    seed_base(kv)
    quick(kv)
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds/", "7")
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for(r"\[WARN\] \[module:settings\] .*node_poll_seconds/ is no setting of this service")
    settings_seen(kv, service, "vault_poll_seconds", "0.4")  # a later wake of the watch: not said again
    mark = service.mark()
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_second", "5")
    typo = service.wait_for(r"\[WARN\] .*vault_poll_second is no setting", after=mark)

    assert 1 == len(service.lines(r"node_poll_seconds/ is no setting")), "said once while it is there"
    assert (
        f"{SETTINGS_PREFIX}vault_poll_second is no setting of this service, so it has no effect (the settings are"
        " node_poll_seconds, vault_poll_seconds, vault_url_template)"
    ) == typo[0].split("] ", 3)[3]
    assert service.lines(r"settings: node_poll_seconds=0.3 vault_poll_seconds=0.4 ")
    assert_running(service)


# --------------------------------------------------------------------------- node labels


def odd_labels() -> dict[str, str]:
    """Labels Docker accepts that a careless encoder would mangle or drop."""
    rng = random.Random(7)
    alphabet = "abcxyz019 =.,;:'\"\\/{}[]<>äöüßçé④€🚀中文\t"
    return {
        "rack": "Zürich ④ 🚀 naïve",
        "région.ключ.鍵": "値",
        "key with spaces": "value with spaces",
        "equation": "a=b=c==",
        "dotted.key.with.many.parts": "x",
        "k" * 4096: "a 4 KiB key",
        "": "an empty key",
        'quote"back\\slash': "line one\nline two\ttab",
        "io.neon.not.a.known.label": "kept in Custom",
        "blob": "".join(rng.choice(alphabet) for _ in range(10 * 1024)),
    }


def test_odd_labels_are_published_verbatim(
    kv: consul.Consul, start_service: Callable[..., Service], node_labels: NodeLabels
) -> None:
    """Unicode, a 10 KB value, keys with spaces, dots, quotes, 4 KiB or empty, '=' in a value: all in Custom
    exactly as Docker holds them (UTF-8, not \\u escapes), the hash verifies; a mapped text label keeps its
    odd value; no WARN; every log line is still one line; a later change is published."""
    labels = odd_labels()
    node_labels.add("worker-2", labels)
    node_labels.add("worker-1", {"io.neon.physical.location": "Halle ④ = row 7\nrack 3"})
    seed_base(kv)
    quick(kv)
    service = start_service()
    service.wait_for(PUBLISHED)
    definition, digest, _, _ = read_definition(kv)
    stored_json = inflate(stored_value(kv, DEFINITION_KEY) or b"")

    assert labels == definition["Nodes"]["worker-2"]["Labels"]["Custom"]
    assert "Halle ④ = row 7\nrack 3" == definition["Nodes"]["worker-1"]["Labels"]["PhysicalLocation"]
    assert {} == definition["Nodes"]["worker-1"]["Labels"]["Custom"]
    assert verify_definition(definition, digest)
    assert "Zürich ④ 🚀".encode() in stored_json
    assert [] == service.lines(r"\[WARN\]")
    assert all(LOG_LINE.match(line) for line in service.stdout)
    mark = service.mark()
    node_labels.add("worker-2", {"rack": "moved"})
    service.wait_for(PUBLISHED, after=mark)
    later, later_digest, _, _ = read_definition(kv)
    assert {**labels, "rack": "moved"} == later["Nodes"]["worker-2"]["Labels"]["Custom"]
    assert verify_definition(later, later_digest)
    assert_running(service)


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "1.5",
        "",
        "16 cores",
        "0x10",
        "1e3",
        # Python's int() reads these; neon-tool's int.Parse (a .NET Int32) does not.
        pytest.param("1_000", id="underscore"),
        pytest.param("١٦", id="arabic-indic-digits"),
        pytest.param("99999999999999999999", id="over-int32"),
    ],
)
def test_int_label_that_does_not_parse_warns_once_and_keeps_the_default(
    kv: consul.Consul, start_service: Callable[..., Service], node_labels: NodeLabels, value: str
) -> None:
    """io.neon.compute.cores that is not an integer: one WARN naming node, label and value however many polls;
    ComputeCores keeps its default 0 and the definition is published; fixing the label publishes the value."""
    service, definition, digest, warnings = published_with_labels(
        kv, start_service, node_labels, {"io.neon.compute.cores": value}
    )

    assert 0 == definition["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert verify_definition(definition, digest)
    assert 1 == len(warnings), warnings
    assert all(part in warnings[0] for part in ("worker-1", "io.neon.compute.cores", repr(value))), warnings[0]
    mark = service.mark()
    node_labels.add("worker-1", {"io.neon.compute.cores": "8"})
    service.wait_for(PUBLISHED, after=mark)
    assert 8 == read_definition(kv)[0]["Nodes"]["worker-1"]["Labels"]["ComputeCores"]
    assert 1 == len(service.lines(LABEL_WARNING))
    assert_running(service)


#: The label's WARN alone: on a starved machine the instance may also say it lost its lease (and take it again).
LABEL_WARNING = r"\[WARN\] \[module:definition-publisher\] "


def published_with_labels(
    kv: consul.Consul, start_service: Callable[..., Service], node_labels: NodeLabels, labels: dict[str, str]
) -> tuple[Service, dict[str, Any], str, list[str]]:
    """worker-1 labelled `labels`, a service started and 4 polls past its publish: (the service, the definition
    published and its hash, the publisher's WARN lines)."""
    node_labels.add("worker-1", labels)
    seed_base(kv)
    quick(kv)
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for(UNCHANGED, count=4)
    definition, digest, _, _ = read_definition(kv)
    return service, definition, digest, service.lines(LABEL_WARNING)


def test_a_misspelt_neon_label_warns_once_naming_the_one_meant_and_a_later_neons_label_is_kept_quietly(
    kv: consul.Consul, start_service: Callable[..., Service], node_labels: NodeLabels
) -> None:
    """Operator tryout: `io.neon.compute.core=8` (the `s` forgotten) went to Custom without a word, ComputeCores
    staying 0. Now one WARN names node, label, value and the label meant, however many polls; a label in neon's
    namespace that reads like none of its labels (`io.neon.future.thing`: a later neon's) goes to Custom quietly."""
    service, definition, digest, warnings = published_with_labels(
        kv, start_service, node_labels, {"io.neon.compute.core": "8", "io.neon.future.thing": "x"}
    )

    assert verify_definition(definition, digest)
    labels = definition["Nodes"]["worker-1"]["Labels"]
    assert (0, {"io.neon.compute.core": "8", "io.neon.future.thing": "x"}) == (labels["ComputeCores"], labels["Custom"])
    assert [
        "node worker-1: label io.neon.compute.core='8' is no label of neon's (did you mean io.neon.compute.cores?): "
        "it goes to Custom and sets nothing"
    ] == [line.split("] ", 3)[3] for line in warnings]
    assert_running(service)


# --------------------------------------------------------------------------- the stored definition

BASE_JSON = json.dumps(BASE).encode()


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        pytest.param(zlib.compress(BASE_JSON), "not raw DEFLATE", id="zlib-with-header"),
        pytest.param(gzip.compress(BASE_JSON), "not raw DEFLATE", id="gzip"),
        pytest.param(BASE_JSON, "not raw DEFLATE", id="plain-json"),
        pytest.param(b"the cluster definition", "not raw DEFLATE", id="plain-text"),
        pytest.param(deflate(b"{not json"), "not JSON", id="deflated-not-json"),
        pytest.param(deflate(b'{"Name":"caf\xe9"}'), "not JSON", id="deflated-latin-1"),
        pytest.param(deflate(b"[1, 2, 3]"), "JSON is an array, not an object", id="deflated-array"),
        pytest.param(deflate(b'"a string"'), "JSON is a string, not an object", id="deflated-string"),
        pytest.param(b"", "no cluster definition|empty", id="empty-value"),
        pytest.param(
            deflate(b'{"Name":"nan","Weight":NaN,"Nodes":{},"Hash":null}'),
            "not JSON|NaN",
            id="deflated-json-with-nan",
        ),
        pytest.param(
            deflate(b'{"a":' * 100_000 + b"1" + b"}" * 100_000),
            "not JSON|deep|nest",
            id="deflated-json-nested-too-deep",
        ),
    ],
)
def test_unreadable_definition_is_never_overwritten_and_a_good_one_is_published(
    kv: consul.Consul, start_service: Callable[..., Service], stored: bytes, reason: str
) -> None:
    """A definition key that is not a raw-deflated JSON object: an ERROR at each poll (no more) naming the key
    and what is wrong; the operator's value is left exactly as it is and no hash is written; once a good base
    definition is put there, it is published."""
    kv.kv.put(DEFINITION_KEY, stored)
    index = modify_index(kv, DEFINITION_KEY)
    quick(kv)
    service = start_service()
    # An empty value is no definition at all: said once (then every 5 minutes), not at each poll.
    missing = stored == b""
    # A wide bound: the service's start alone took over 10 s on a loaded 2-core machine.
    errors = service.wait_for(DEFINITION_ERROR, count=1 if missing else 3, timeout=60)
    mark = service.mark()
    if missing:
        service.wait_for(LISTED, count=3, after=mark)  # three more polls, nothing written, nothing more said
        assert 1 == len(service.lines(DEFINITION_ERROR)), service.lines(DEFINITION_ERROR)
    else:
        service.wait_for(DEFINITION_ERROR, count=2, after=mark)  # two more polls refused, nothing written

    assert all(re.search(reason, line) for line in errors), errors
    assert len(service.lines(DEFINITION_ERROR)) <= len(service.lines(LISTED)), "more than one ERROR per poll"
    assert index == modify_index(kv, DEFINITION_KEY), "the operator's value was overwritten"
    assert (stored or None) == stored_value(kv, DEFINITION_KEY)
    assert None is modify_index(kv, HASH_KEY)
    assert_running(service)
    mark = service.mark()
    seed_base(kv)
    service.wait_for(PUBLISHED, after=mark)
    definition, digest, _, _ = read_definition(kv)
    assert verify_definition(definition, digest)
    assert 5 == len(definition["Nodes"])


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"not a hash at all", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(md5_base64(b"an older definition").encode(), id="stale-hash"),
        pytest.param(md5_base64(b"x").encode().hex().encode(), id="hex-not-base64"),
        pytest.param(b"\xff\xfe\x00\x01binary", id="binary"),
        pytest.param(None, id="right-hash-with-newline"),
    ],
)
def test_garbage_hash_gets_definition_and_hash_rewritten_together(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    manager_api: docker.APIClient,
    garbage: bytes | None,
) -> None:
    """A hash key holding anything but the definition's hash: definition and hash rewritten in one transaction
    (one ModifyIndex for both), the pair verifies, and the next polls write nothing."""
    seed_base(kv)
    if garbage is None:  # the definition the service would write, stored as it would, the hash with a newline
        value, digest = expected_publication(kv, manager_api)
        kv.kv.put(DEFINITION_KEY, value)
        garbage = digest.encode() + b"\n"
    kv.kv.put(HASH_KEY, garbage)
    value_before, hash_index_before = stored_value(kv, DEFINITION_KEY), modify_index(kv, HASH_KEY)
    quick(kv)
    service = start_service()
    service.wait_for(PUBLISHED)
    service.wait_for(UNCHANGED, count=3)
    definition, digest, definition_index, hash_index = read_definition(kv)

    assert verify_definition(definition, digest)
    assert hash_index > (hash_index_before or 0)
    # Consul keeps a key's ModifyIndex when a transaction sets the value it already holds.
    if stored_value(kv, DEFINITION_KEY) != value_before:
        assert definition_index == hash_index, "definition and hash were not written in one transaction"
    assert 1 == len(service.lines(PUBLISHED))
    assert_running(service)


# --------------------------------------------------------------------------- the Swarm


def test_two_nodes_with_one_hostname_log_both_ids_and_write_nothing(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    manager_api: docker.APIClient,
    node_labels: NodeLabels,
    extra_node: Callable[[str, str, str], dict[str, Any]],
) -> None:
    """A sixth dockerd with the hostname worker-1 joins: one ERROR naming both node IDs (said again only when the
    nodes change or after 5 minutes), nothing written; once it is gone, an INFO says so and changes are published
    again."""
    seed_base(kv)
    quick(kv)
    service = start_service()
    service.wait_for(PUBLISHED)
    first_id = manager_api.inspect_node("worker-1")["ID"]
    extra_node("twin", "worker-1", stack.node_address(23))
    mark = service.mark()
    twin_id = stack.extra_node_join("twin")
    # Until the twin is listed a publish is legitimate (Docker's Status.Addr of a node changes when it
    # reconnects to a new swarm leader); from the first duplicate ERROR on, nothing may be written.
    service.wait_for(r"\[ERROR\]", after=mark)
    duplicated = first_line_after(service, mark, r"\[ERROR\]")
    before = read_definition(kv)
    service.wait_for(r"\[DEBUG\] \[module:swarm-watcher\] listed 6 nodes", count=4, after=duplicated)
    errors = lines_after(service, mark, r"\[ERROR\]")

    assert all(first_id in line and twin_id in line and "worker-1" in line for line in errors), errors
    assert 1 == len(errors), "said again within 5 minutes"
    assert before == read_definition(kv), "something was written"
    assert [] == lines_after(service, duplicated, PUBLISHED)
    stack.extra_node_remove("twin")
    gone = service.mark()
    service.wait_for(rf"{UNCHANGED}|{PUBLISHED}", after=gone)
    assert 1 == len(lines_after(service, duplicated, r"\[INFO\] .*no two nodes share a hostname any more"))
    a_later_change_is_published(kv, service, node_labels, "after.twin")


def a_later_change_is_published(kv: consul.Consul, service: Service, node_labels: NodeLabels, label: str) -> None:
    """Once the bad input is gone, the service works as before: a new label is published, with no ERROR."""
    quiet = service.mark()
    node_labels.add("worker-2", {label: "yes"})
    service.wait_for(PUBLISHED, after=quiet)
    assert [] == lines_after(service, quiet, r"\[ERROR\]")
    definition, digest, _, _ = read_definition(kv)
    assert "yes" == definition["Nodes"]["worker-2"]["Labels"]["Custom"][label]
    assert verify_definition(definition, digest)
    assert_running(service)


def refused_listing_is_one_error_and_nothing_written(
    kv: consul.Consul, start_service: Callable[..., Service], docker_host: str
) -> None:
    """The service pointed at a Docker daemon that cannot list the Swarm: one ERROR saying why, kept
    quiet while it lasts (ten failed listings counted by its metrics), no write, and the service keeps running."""
    seed_base(kv)
    quick(kv)
    index = modify_index(kv, DEFINITION_KEY)
    port = free_port()
    service = start_service(DOCKER_HOST=docker_host, METRICS_PORT=str(port))
    service.wait_for(ACTIVE)
    errors = service.wait_for(r"\[ERROR\] \[module:swarm-watcher\] cannot list the Swarm's nodes")
    wait_for_metric(port, "neon_cm_node_listing_failures_total", lambda failures: failures >= 10)

    assert "not a swarm manager" in errors[0]
    assert "no manager is listed yet: until a listing succeeds, the Vaults monitored are those of the" in errors[0]
    assert 1 == len(service.lines(r"\[ERROR\]")), service.lines(r"\[ERROR\]")
    assert index == modify_index(kv, DEFINITION_KEY)
    assert None is modify_index(kv, HASH_KEY)
    assert_running(service)


def test_a_worker_docker_host_is_one_error_and_nothing_written(
    kv: consul.Consul, start_service: Callable[..., Service], real_stack: dict[str, Any]
) -> None:
    """DOCKER_HOST on a worker (which answers 'This node is not a swarm manager')."""
    worker = next(node for node in real_stack["nodes"] if node["hostname"] == "worker-1")
    refused_listing_is_one_error_and_nothing_written(kv, start_service, worker["docker_host"])


def test_a_docker_host_outside_the_swarm_is_one_error_and_nothing_written(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    extra_node: Callable[[str, str, str], dict[str, Any]],
) -> None:
    """DOCKER_HOST on a dockerd in no swarm, as a manager that left it would be (a real daemon answers an
    error there, never an empty node list)."""
    node = extra_node("standalone", "standalone", stack.node_address(24))
    refused_listing_is_one_error_and_nothing_written(kv, start_service, node["docker_host"])


# --------------------------------------------------------------------------- an oversized definition


def oversized_definition_keeps_the_previous_one(
    kv: consul.Consul,
    service: Service,
    manager_api: docker.APIClient,
    node_labels: NodeLabels,
    total_chars: int,
    size_range: tuple[int, int],
) -> None:
    """Labels that make the definition too big for Consul: ERROR with the compressed size, the previous
    definition and hash stay; with the labels gone, nothing is written and a later change is published."""
    service.wait_for(PUBLISHED)
    before = read_definition(kv)
    mark = service.mark()
    # One node, one update: the definition goes from small to too big at once, never through sizes between.
    node_labels.add("worker-2", random_labels(total_chars, seed=total_chars))
    size = len(expected_publication(kv, manager_api)[0])
    assert size_range[0] < size < size_range[1], f"the labels make a {size}-byte definition; adjust the test"
    errors = service.wait_for(rf"\[ERROR\] \[module:definition-publisher\] .*\b{size} bytes", after=mark)
    service.wait_for(LISTED, count=3, after=mark)

    assert "512" in errors[0] or str(MAX_VALUE_BYTES) in errors[0], errors[0]
    assert [] == lines_after(service, mark, r"cannot reach Consul")
    assert before == read_definition(kv), "the previous definition did not stay"
    node_labels.restore("worker-2")
    gone = service.mark()
    service.wait_for(UNCHANGED, after=gone)
    a_later_change_is_published(kv, service, node_labels, "after.oversize")


@pytest.mark.parametrize(
    ("total_chars", "size_range"),
    [
        # About 600 KB compressed (800 KB of random labels): over Consul's 512 KiB value limit.
        pytest.param(800_000, (MAX_VALUE_BYTES, 2 * MAX_VALUE_BYTES), id="over-512-kib"),
        # About 450 KB compressed: under 512 KiB, but its base64 in the transaction is over Consul's 512 KiB.
        pytest.param(590_000, (TXN_VALUE_LIMIT, MAX_VALUE_BYTES), id="over-a-transaction"),
    ],
)
def test_definition_too_big_for_consul_is_not_written(
    kv: consul.Consul,
    start_service: Callable[..., Service],
    manager_api: docker.APIClient,
    node_labels: NodeLabels,
    total_chars: int,
    size_range: tuple[int, int],
) -> None:
    """A definition Consul would refuse is not sent: ERROR with its size, the previous one stays."""
    seed_base(kv)
    quick(kv)
    oversized_definition_keeps_the_previous_one(kv, start_service(), manager_api, node_labels, total_chars, size_range)
