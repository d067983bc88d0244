"""The service against a real Consul with ACLs on (default deny): the shipped least-privilege policy is
enough for everything, and a token missing one right gives one clear ERROR while the rest keeps working."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import teststack as stack
from neon_cm.encoding import deflate
from neon_cm.keys import DEFINITION_KEY, DISABLE_AUTO_UNSEAL_KEY, HASH_KEY, SETTINGS_PREFIX
from tests.consul_server import ConsulServer
from tests.integration.conftest import Cli
from tests.service import ROOT, Service

POLICY = (ROOT / "examples" / "consul-acl-policy.hcl").read_text()
BASE: dict[str, Any] = {"Name": "acl-test", "Schema": "1.0", "Datacenter": "dc1", "Nodes": {}, "Hash": None}
PUBLISHED = r"\[INFO\] \[module:definition-publisher\] published the cluster definition"
ACTIVE = r"\[INFO\] \[module:leadership\] this instance .* is active"
MANAGER_2 = 1
UNSEALED_BY_SERVICE = r"unsealed the Vault on manager-2 "


def without(rules: str, key: str, kind: str = r"\w+") -> str:
    """The policy with the block for `key` (its `key`/`key_prefix`/`session_prefix`/`node_prefix` rule, or
    only the `kind` given) taken out."""
    block = re.compile(r"^" + kind + r' "' + re.escape(key) + r'" \{\n  policy = "\w+"\n\}\n', re.MULTILINE)
    assert block.search(rules), f"no rule for {key!r} in the policy"
    return block.sub("", rules)


@pytest.fixture(scope="module")
def acl_consul(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsulServer]:
    """A Consul of its own with ACLs on (default deny), on free loopback ports, for this module."""
    server = ConsulServer(tmp_path_factory.mktemp("acl-consul"))
    yield server
    server.stop()


@pytest.fixture
def acl_env(acl_consul: ConsulServer, real_stack: dict[str, Any]) -> dict[str, str]:
    """The ACL Consul's keys cleared and seeded (base definition, quick polls, the stack's Vaults over HTTP);
    an environment pointing a service at it."""
    seed(acl_consul)
    return {"CONSUL_HTTP_ADDR": acl_consul.http_url}


def seed(server: ConsulServer) -> None:
    """Clear neon/ and write a base definition, quick polls and the stack's Vaults over HTTP (master token)."""
    server.api("DELETE", "/v1/kv/neon/?recurse")
    server.put(DEFINITION_KEY, deflate(json.dumps(BASE).encode()))
    server.put(SETTINGS_PREFIX + "node_poll_seconds", b"0.5")
    server.put(SETTINGS_PREFIX + "vault_poll_seconds", b"0.5")
    server.put(SETTINGS_PREFIX + "vault_url_template", b"http://{addr}:8200")


def no_token_in_log(service: Service, token: str) -> None:
    assert [] == service.lines(re.escape(token))


def test_least_privilege_policy_is_enough_for_everything(
    acl_consul: ConsulServer,
    acl_env: dict[str, str],
    start_service: Callable[..., Service],
    tmp_path: Path,
) -> None:
    """With a token holding only examples/consul-acl-policy.hcl, read from CONSUL_HTTP_TOKEN_FILE: the lock
    is taken, the missing settings' defaults are written, the definition is published; no refusal anywhere."""
    token = acl_consul.token_for("neon-cluster-manager-full", POLICY)
    token_file = tmp_path / "consul-token"
    token_file.write_text(token + "\n")
    acl_consul.api("DELETE", f"/v1/kv/{SETTINGS_PREFIX}node_poll_seconds")

    service = start_service(**acl_env, CONSUL_HTTP_TOKEN_FILE=str(token_file))
    service.wait_for(ACTIVE)
    service.wait_for(PUBLISHED)
    service.wait_for(r"setting .*node_poll_seconds was missing; wrote the default 30")

    assert acl_consul.get(HASH_KEY)
    assert [] == service.lines(r"\[(ERROR|WARN)\]")
    no_token_in_log(service, token)


def test_no_write_right_on_the_definition_is_one_error_and_vaults_are_still_unsealed(
    acl_consul: ConsulServer,
    acl_env: dict[str, str],
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
) -> None:
    """A token without write on the definition keys: one ERROR naming both keys and the refusal (not the
    "changed while publishing" WARN of a concurrent write, not once per poll); the lock, the settings and
    the Vault side are untouched: a restarted Vault is unsealed."""
    rules = without(without(POLICY, DEFINITION_KEY), HASH_KEY)
    token = acl_consul.token_for("neon-cluster-manager-no-definition-write", rules)

    service = start_service(**acl_env, **with_keys, CONSUL_HTTP_TOKEN=token)
    service.wait_for(ACTIVE)
    service.wait_for(r"listed 5 nodes", count=4)
    stack.vault_restart(MANAGER_2)
    service.wait_for(UNSEALED_BY_SERVICE)

    refused = (
        r"\[ERROR\] \[module:definition-publisher\] cannot publish the cluster definition: permission denied "
        rf"\(403\) writing {DEFINITION_KEY}, {HASH_KEY}: the Consul token's ACL policy does not allow it"
    )
    assert 1 == len(service.lines(refused))
    assert [] == service.lines(r"changed while publishing")
    assert None is acl_consul.get(HASH_KEY)
    assert not stack.vault_seal_status(MANAGER_2)["sealed"]
    no_token_in_log(service, token)


def test_no_session_right_is_one_error_and_monitoring_goes_on(
    acl_consul: ConsulServer, acl_env: dict[str, str], start_service: Callable[..., Service]
) -> None:
    """A token without session rights cannot take the lock: one ERROR saying Consul refused creating a
    session; settings are still read and every Vault is still monitored."""
    token = acl_consul.token_for("neon-cluster-manager-no-session", without(POLICY, "", "session_prefix"))

    service = start_service(**acl_env, CONSUL_HTTP_TOKEN=token)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-3\] .*unsealed", count=3)
    service.wait_for(r"settings: .*vault_poll_seconds=0.5")

    refused = (
        r"\[ERROR\] \[module:leadership\] Consul refused creating a session for the instance lock: "
        r"permission denied \(403\)"
    )
    assert 1 == len(service.lines(refused))
    assert [] == service.lines(PUBLISHED)
    no_token_in_log(service, token)


def test_settings_prefix_without_write_right_is_one_error_per_default(
    acl_consul: ConsulServer, acl_env: dict[str, str], start_service: Callable[..., Service]
) -> None:
    """A token that may only read the settings: a missing setting's default cannot be written; one ERROR
    naming the key, the default applies, and publishing goes on."""
    rules = POLICY.replace(
        'key_prefix "neon/services/neon-cluster-manager/" {\n  policy = "write"',
        'key_prefix "neon/services/neon-cluster-manager/" {\n  policy = "read"',
    )
    token = acl_consul.token_for("neon-cluster-manager-settings-read-only", rules)
    acl_consul.api("DELETE", f"/v1/kv/{SETTINGS_PREFIX}vault_poll_seconds")

    service = start_service(**acl_env, CONSUL_HTTP_TOKEN=token)
    service.wait_for(PUBLISHED)
    service.wait_for(r"listed 5 nodes", count=3)

    refused = (
        rf"\[ERROR\] \[module:settings\] cannot write the default of {SETTINGS_PREFIX}vault_poll_seconds: "
        r"permission denied \(403\)"
    )
    assert 1 == len(service.lines(refused))
    no_token_in_log(service, token)


def test_cli_read_only_policy_reads_and_every_write_is_refused_in_one_line(
    acl_consul: ConsulServer, acl_env: dict[str, str], cli: Cli, tmp_path: Path
) -> None:
    """A token with examples/consul-acl-policy-cli-readonly.hcl: `settings get` and `vault auto-unlock` work;
    `settings set` and `definition put` exit 1 with one line saying permission was denied, naming the keys."""
    rules = (ROOT / "examples" / "consul-acl-policy-cli-readonly.hcl").read_text()
    env = {**acl_env, "CONSUL_HTTP_TOKEN": acl_consul.token_for("neon-cluster-manager-cli-readonly", rules)}
    definition = tmp_path / "cluster.json"
    definition.write_text(json.dumps(BASE))

    settings = cli("settings", "get", "vault_poll_seconds", **env)
    switch = cli("vault", "auto-unlock", **env)
    set_refused = cli("settings", "set", "vault_poll_seconds", "5", **env)
    put_refused = cli("definition", "put", str(definition), **env)

    assert (0, b"0.5\n") == (settings.returncode, settings.stdout), settings.stderr
    assert 0 == switch.returncode, switch.stderr
    assert (1, 1) == (set_refused.returncode, len(set_refused.stderr.splitlines())), set_refused.stderr
    assert (
        f"refused writing {SETTINGS_PREFIX}vault_poll_seconds: permission denied (403)".encode() in set_refused.stderr
    )
    expected = (
        f"neon-cluster-manager: error: Consul refused the definition: permission denied (403) writing "
        f"{DEFINITION_KEY}, {HASH_KEY}: the Consul token's ACL policy does not allow it "
        "(see examples/consul-acl-policy.hcl); nothing published\n"
    )
    assert (1, expected) == (put_refused.returncode, put_refused.stderr.decode())


def test_no_read_right_on_the_switch_is_one_error_and_nothing_is_unsealed(
    acl_consul: ConsulServer,
    acl_env: dict[str, str],
    start_service: Callable[..., Service],
    with_keys: dict[str, str],
) -> None:
    """A token that may not read neon/cluster/disable-auto-unseal: a sealed Vault stays sealed (the safe side),
    with one ERROR naming the key and the refusal, not one per poll; publishing is untouched."""
    token = acl_consul.token_for("neon-cluster-manager-no-switch", without(POLICY, DISABLE_AUTO_UNSEAL_KEY))

    service = start_service(**acl_env, **with_keys, CONSUL_HTTP_TOKEN=token)
    service.wait_for(PUBLISHED)
    stack.vault_restart(MANAGER_2)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-2\] .*: sealed", count=6)

    refused = (
        rf"\[ERROR\] \[module:unsealer\] cannot read {DISABLE_AUTO_UNSEAL_KEY} from Consul \(permission denied "
        r"\(403\): .*\); not unsealing until it can"
    )
    assert 1 == len(service.lines(refused))
    assert stack.vault_seal_status(MANAGER_2)["sealed"]
    assert [] == service.lines(UNSEALED_BY_SERVICE)
