"""The operator CLI as a real process against the real Consul, Swarm and OpenBao."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import consul
import pytest

import teststack as stack
from gateways.consul import ConsulGateway
from gateways.definition_reader import fetch_if_changed
from neon_cm import __version__
from neon_cm.encoding import canonical_json, decode_definition, deflate, inflate, verify_definition, with_hash
from neon_cm.keys import DEFINITION_KEY, DISABLE_AUTO_UNSEAL_KEY, HASH_KEY, SETTINGS_PREFIX
from neon_cm.stored_definition import Fetched
from tests.integration.conftest import Cli, address
from tests.integration.test_vault import MANAGER_2, UNSEALED_BY_SERVICE, sealed
from tests.service import ROOT, Service

CONFIDENTIAL = {"hunter2", "gossip-key-value", "root-token-value", "nested-root-token", "aws-secret"}
BASE = {
    "Name": "cli-cluster",
    "Schema": "1.0",
    "Datacenter": "dc-zürich",
    "Hosting": {"Aws": {"SecretKey": "aws-secret"}},
    "Docker": {"RegistryCache": True, "RegistryPassword": "hunter2"},
    "Consul": {"Version": "1.8.7", "EncryptionKey": "gossip-key-value"},
    "Vault": {"RootToken": "root-token-value", "AutoUnseal": True, "Extra": [{"RootToken": "nested-root-token"}]},
    "SomethingNewer": {"kept": [1, 2, 3]},
    "Nodes": {"given": {"Name": "given"}},
    "Hash": None,
}
PUBLIC = {
    "Name": "cli-cluster",
    "Schema": "1.0",
    "Datacenter": "dc-zürich",
    "Docker": {"RegistryCache": True},
    "Consul": {"Version": "1.8.7"},
    "Vault": {"AutoUnseal": True, "Extra": [{}]},
    "SomethingNewer": {"kept": [1, 2, 3]},
    "Nodes": {"given": {"Name": "given"}},
}
CONSUL_REFUSED = (
    "neon-cluster-manager: error: cannot reach Consul at http://127.0.0.1:1: [Errno 111] Connection refused"
)


def out(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stdout.decode("utf-8")


def err(result: subprocess.CompletedProcess[bytes]) -> str:
    return result.stderr.decode("utf-8")


def failed_with(result: subprocess.CompletedProcess[bytes], pattern: str) -> str:
    """Assert exit 1 with exactly one line on stderr matching `pattern`; return that line."""
    lines = err(result).splitlines()
    assert (1, 1) == (result.returncode, len(lines)), err(result)
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def put_file(tmp_path: Path, definition: dict[str, Any], name: str = "definition.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(definition, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def stored(kv: consul.Consul) -> tuple[dict[str, Any], bytes, str, int, int]:
    """(definition, its inflated JSON, hash key, definition ModifyIndex, hash ModifyIndex) in Consul."""
    _, item = kv.kv.get(DEFINITION_KEY)
    _, hash_item = kv.kv.get(HASH_KEY)
    return (
        decode_definition(item["Value"]),
        inflate(item["Value"]),
        hash_item["Value"].decode(),
        item["ModifyIndex"],
        hash_item["ModifyIndex"],
    )


def rows(result: subprocess.CompletedProcess[bytes]) -> dict[str, list[str]]:
    """`vault status` rows by manager: [url, state, detail] (the seal column: `seals`)."""
    lines = out(result).split("\n\n")[0].splitlines()  # the table, not the unseal keys' lines below it
    assert ["MANAGER", "URL", "STATE", "SEAL", "DETAIL"] == lines[0].split()
    return {line.split()[0]: [*line.split(maxsplit=4)[1:3], *line.split(maxsplit=4)[4:]] for line in lines[1:]}


def seals(result: subprocess.CompletedProcess[bytes]) -> dict[str, str]:
    """`vault status`'s SEAL column by manager."""
    return {line.split()[0]: line.split()[3] for line in out(result).split("\n\n")[0].splitlines()[1:]}


# --------------------------------------------------------------------------- definition put / get


def test_definition_put_strips_confidential_fields_and_writes_both_keys_together(
    kv: consul.Consul, cli: Cli, tmp_path: Path
) -> None:
    """Confidential fields never reach Consul; definition and hash land in one transaction; the hash is printed."""
    result = cli("definition", "put", str(put_file(tmp_path, BASE)))

    definition, _, digest, definition_index, hash_index = stored(kv)
    assert 0 == result.returncode, err(result)
    assert f"{digest}\n" == out(result)
    assert {**PUBLIC, "Hash": digest} == definition
    assert verify_definition(definition, digest)
    assert definition_index == hash_index, "both keys written by one transaction"
    assert (
        "neon-cluster-manager: not published (confidential): Hosting, Docker.RegistryPassword, Consul.EncryptionKey, "
        "Vault.RootToken, Vault.Extra[0].RootToken\n"
    ) == err(result)
    assert not any(secret in out(result) + err(result) for secret in CONFIDENTIAL)


def test_definition_put_reads_standard_input(kv: consul.Consul, cli: Cli) -> None:
    """`definition put -` publishes the JSON piped in."""
    piped = {"Name": "piped", "Schema": "1.0", "Datacenter": "dc"}
    result = cli("definition", "put", "-", stdin=json.dumps({**piped, "Hosting": {}}).encode())

    definition, _, digest, _, _ = stored(kv)
    assert (0, f"{digest}\n") == (result.returncode, out(result))
    assert {**piped, "Hash": digest} == definition


def test_definition_get_prints_pretty_json_or_the_stored_bytes(kv: consul.Consul, cli: Cli, tmp_path: Path) -> None:
    """By default indented JSON; --raw the compact JSON exactly as stored (inflated), non-ASCII as UTF-8."""
    cli("definition", "put", str(put_file(tmp_path, BASE)))
    definition, raw, _, _, _ = stored(kv)

    pretty = cli("definition", "get")
    exact = cli("definition", "get", "--raw")

    assert (0, 0) == (pretty.returncode, exact.returncode)
    assert definition == json.loads(out(pretty))
    assert out(pretty).startswith('{\n  "Name": "cli-cluster",\n') and "dc-zürich" in out(pretty)
    assert raw == exact.stdout
    assert ("", "") == (err(pretty), err(exact))


def test_definition_get_with_cache_downloads_only_when_the_hash_changes(
    kv: consul.Consul, cli: Cli, tmp_path: Path
) -> None:
    """The hash key is read first; an equal hash means the cached copy, and the definition key is not read.

    Proof that it is not read: garbage in the definition key (hash left alone) does not disturb it.
    """
    cache = tmp_path / "cache" / "definition.json"
    cli("definition", "put", str(put_file(tmp_path, BASE)))
    no_folder = cli("definition", "get", "--cache", str(tmp_path / "not-yet" / "definition.json"))
    cache.parent.mkdir()
    first = cli("definition", "get", "--cache", str(cache))
    _, raw, digest, _, _ = stored(kv)
    kv.kv.put(DEFINITION_KEY, b"garbage, would not inflate")
    second = cli("definition", "get", "--cache", str(cache))
    cli("definition", "put", str(put_file(tmp_path, {**BASE, "Name": "renamed"})))
    third = cli("definition", "get", "--cache", str(cache))

    assert (0, 0, 0) == (first.returncode, second.returncode, third.returncode)
    failed_with(no_folder, rf"cannot use the cache: cannot create .*: the folder {tmp_path}/not-yet does not exist$")
    assert f"neon-cluster-manager: definition {digest} downloaded; cached in {cache}\n" == err(first)
    assert f"neon-cluster-manager: definition {digest} unchanged; read from the cache {cache}\n" == err(second)
    assert out(first) == out(second)
    assert "downloaded" in err(third) and "renamed" == json.loads(out(third))["Name"]
    assert stored(kv)[1] == cache.read_bytes() != raw


def test_reader_library_counts_downloads(kv: consul.Consul, cli: Cli, tmp_path: Path) -> None:
    """In-process: fetch_if_changed downloads once, reuses the copy while the hash stays, then downloads again."""
    cli("definition", "put", str(put_file(tmp_path, BASE)))

    consul = ConsulGateway(kv)
    first = fetch_if_changed(consul)
    assert isinstance(first, Fetched)
    second = fetch_if_changed(consul, first.stored)
    assert isinstance(second, Fetched)
    cli("definition", "put", str(put_file(tmp_path, {**BASE, "Name": "renamed"})))
    third = fetch_if_changed(consul, second.stored)
    assert isinstance(third, Fetched)

    assert (True, False, True) == (first.downloaded, second.downloaded, third.downloaded)
    assert second.stored is first.stored
    assert ("cli-cluster", "renamed") == (first.stored.definition["Name"], third.stored.definition["Name"])


def test_a_tampered_definition_is_refused_and_the_cache_kept(kv: consul.Consul, cli: Cli, tmp_path: Path) -> None:
    """Content that does not match its hash: exit 1 with a clear reason; the cache keeps the last good copy."""
    cache = tmp_path / "definition.cache"
    cli("definition", "put", str(put_file(tmp_path, BASE)))
    cli("definition", "get", "--cache", str(cache))
    good = cache.read_bytes()
    definition, _, digest, _, _ = stored(kv)
    kv.kv.put(DEFINITION_KEY, deflate(canonical_json({**definition, "Name": "evil"})))  # embedded Hash kept

    plain = cli("definition", "get")
    kv.kv.put(HASH_KEY, with_hash({**definition, "Name": "evil"})["Hash"])  # a hash key to match: still refused
    cached = cli("definition", "get", "--cache", str(cache))

    failed_with(plain, rf"neon/cluster/definition\.deflate refused: the definition does not match its hash: .*{digest}")
    failed_with(cached, r"does not match its hash.*; the cache .* is left as it was$")
    assert ("", "") == (out(plain), out(cached))
    assert good == cache.read_bytes()


@pytest.mark.parametrize(
    ("keys", "says"),
    [
        ({}, r"no cluster definition published \(neon/cluster/definition\.hash is missing"),
        ({DEFINITION_KEY: deflate(b'{"Name":"base only","Hash":null}')}, r"neon/cluster/definition\.hash is missing"),
        ({HASH_KEY: b"AAAAAAAAAAAAAAAAAAAAAA=="}, r"no cluster definition at neon/cluster/definition\.deflate$"),
        ({HASH_KEY: b"x", DEFINITION_KEY: b"not deflate"}, r"definition\.deflate is unreadable: not raw DEFLATE"),
    ],
)
def test_definition_get_without_a_published_definition(
    kv: consul.Consul, cli: Cli, keys: dict[str, bytes], says: str
) -> None:
    """Nothing (or half of it) published: one clear line, exit 1, nothing on stdout."""
    for key, value in keys.items():
        kv.kv.put(key, value)

    result = cli("definition", "get")

    failed_with(result, says)
    assert b"" == result.stdout


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"[1, 2]", r"holds an array; a cluster definition is a JSON object"),
        (b"{not json", r"is not JSON: "),
        (b'{"Name": NaN}', r"is not JSON: NaN is not JSON"),
        (b"", r"is empty; a cluster definition is a JSON object"),
        (b"{}", r"is not a cluster definition: no Name, Schema, Datacenter \(cluster setup always writes"),
        (None, r"cannot read .*missing\.json: No such file or directory"),
    ],
)
def test_definition_put_refuses_what_is_not_a_definition(
    kv: consul.Consul, cli: Cli, tmp_path: Path, content: bytes | None, says: str
) -> None:
    """Not a JSON object (or no file): one line, exit 1, nothing written to Consul."""
    path = tmp_path / "missing.json"
    if content is not None:
        path.write_bytes(content)

    failed_with(cli("definition", "put", str(path)), says)
    assert (None, None) == (kv.kv.get(DEFINITION_KEY)[1], kv.kv.get(HASH_KEY)[1])


# --------------------------------------------------------------------------- unreachable Consul and Docker


@pytest.mark.parametrize(
    "command",
    [
        ["definition", "get"],
        ["definition", "put", "FILE"],
        ["settings", "get"],
        ["settings", "set", "node_poll_seconds", "5"],
        ["vault", "auto-unlock", "off"],
        ["vault", "status"],
    ],
)
def test_unreachable_consul_is_one_line_and_exit_1(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    """Consul on a closed port: every command says so in one line naming the address; no traceback."""
    command = [str(put_file(tmp_path, BASE)) if arg == "FILE" else arg for arg in command]

    result = cli(*command, CONSUL_HTTP_ADDR="127.0.0.1:1")

    assert CONSUL_REFUSED == failed_with(result, "")
    assert b"" == result.stdout


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("unix:///nonexistent/docker.sock", r"cannot reach Docker at unix:///nonexistent/docker.sock: \[Errno 2\] "),
        ("tcp://127.0.0.1:1", r"cannot reach Docker at tcp://127.0.0.1:1: \[Errno 111\] Connection refused$"),
    ],
)
def test_unreachable_docker_is_one_line_and_exit_1(kv: consul.Consul, cli: Cli, host: str, says: str) -> None:
    """`vault status` lists the managers through Docker: a dead socket or port is one line, exit 1."""

    failed_with(cli("vault", "status", DOCKER_HOST=host), says)


def test_unknown_subcommand_is_one_line_and_exit_2(cli: Cli) -> None:
    """A command that does not exist: exit 2, one line naming the valid ones, no usage block."""
    result = cli("definition", "delete")

    assert 2 == result.returncode
    assert [
        "neon-cluster-manager definition: error: argument COMMAND: invalid choice: 'delete' (choose from 'get', "
        "'put') (see neon-cluster-manager definition --help)"
    ] == err(result).splitlines()


# --------------------------------------------------------------------------- settings


def test_settings_get_and_set(kv: consul.Consul, cli: Cli) -> None:
    """`get` shows effective values and where they come from; `set` stores the plain text the service reads."""
    before = cli("settings", "get")
    changed = cli("settings", "set", "vault_poll_seconds", " 0.5 ")
    template = cli("settings", "set", "vault_url_template", "http://{addr}:8200")
    one = cli("settings", "get", "vault_poll_seconds")
    after = cli("settings", "get")

    assert [
        "SETTING             VALUE                                       SOURCE",
        "node_poll_seconds   30                                          default (not set in Consul)",
        "vault_poll_seconds  30                                          default (not set in Consul)",
        "vault_url_template  https://{hostname}.neon-vault.cluster:8200  default (not set in Consul)",
    ] == out(before).splitlines()
    assert "vault_poll_seconds = 0.5 (the service applies it at once)\n" == out(changed)
    assert 0 == template.returncode
    assert (b"0.5", b"http://{addr}:8200") == (
        kv.kv.get(SETTINGS_PREFIX + "vault_poll_seconds")[1]["Value"],
        kv.kv.get(SETTINGS_PREFIX + "vault_url_template")[1]["Value"],
    )
    assert ("0.5\n", "") == (out(one), err(one))
    assert [
        "SETTING             VALUE               SOURCE",
        "node_poll_seconds   30                  default (not set in Consul)",
        "vault_poll_seconds  0.5                 consul",
        "vault_url_template  http://{addr}:8200  consul",
    ] == out(after).splitlines()


def test_settings_set_stores_a_template_with_no_placeholder_and_says_what_it_means(kv: consul.Consul, cli: Cli) -> None:
    """A fixed URL is stored (right for one manager, or one address in front of every Vault), and stderr says, as the
    service's WARN does, that every manager's Vault is then polled at it."""
    result = cli("settings", "set", "vault_url_template", "http://10.0.0.11:8200")

    assert "vault_url_template = http://10.0.0.11:8200 (the service applies it at once)\n" == out(result)
    assert (
        "neon-cluster-manager: vault_url_template http://10.0.0.11:8200 has no {addr} or {hostname}: every manager's "
        "Vault is polled at this one URL, which is right for a single manager or one address in front of every Vault, "
        "and wrong when each manager runs its own (the one reached is reported as each manager's, the others go "
        "unwatched)\n"
    ) == err(result)
    assert b"http://10.0.0.11:8200" == kv.kv.get(SETTINGS_PREFIX + "vault_url_template")[1]["Value"]


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("node_poll_seconds", "abc", "not a number (plain decimal digits 0-9 with an optional point, e.g. 30 or 0.5)"),
        (
            "node_poll_seconds",
            "\u0663",
            "not a number (plain decimal digits 0-9 with an optional point, e.g. 30 or 0.5)",
        ),
        ("node_poll_seconds", "1_0", "not a number (plain decimal digits 0-9 with an optional point, e.g. 30 or 0.5)"),
        ("vault_url_template", "http://{addr}:99999", "the port must be a number from 1 to 65535"),
        ("vault_url_template", "http://my vault:8200", "a URL has no spaces or other whitespace in it"),
        ("vault_poll_seconds", "-1", "must be a number of seconds above 0"),
        ("node_poll_seconds", "86401", "must be at most 86400 seconds"),
        ("vault_url_template", "https://{host}:8200", "unknown placeholder(s) host; use {hostname} or {addr}"),
        ("vault_url_template", "{hostname}:8200", "not an http:// or https:// URL"),
    ],
)
def test_settings_set_refuses_bad_values_with_the_services_reason(
    kv: consul.Consul, cli: Cli, name: str, value: str, reason: str
) -> None:
    """A value the service would reject is refused with the same reason, and nothing is written."""
    result = cli("settings", "set", name, value)

    line = failed_with(result, "")
    assert f"neon-cluster-manager: error: {name}={value!r} refused ({reason}); nothing written" == line
    assert None is kv.kv.get(SETTINGS_PREFIX + name)[1]


def test_settings_get_says_when_a_stored_value_is_invalid(kv: consul.Consul, cli: Cli) -> None:
    """A bad stored value: the default is printed, and stderr says the stored one is invalid and why."""
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds", "abc")

    one = cli("settings", "get", "node_poll_seconds")
    every = cli("settings", "get")

    assert (0, "30\n") == (one.returncode, out(one))
    assert (
        "neon-cluster-manager: node_poll_seconds: the stored 'abc' is invalid: not a number (plain decimal digits "
        "0-9 with an optional point, e.g. 30 or 0.5); the default applies\n" == (err(one))
    )
    assert "node_poll_seconds   30" in out(every) and "default (the stored 'abc' is invalid: not a number" in out(every)


def test_settings_get_names_a_key_that_is_no_setting(kv: consul.Consul, cli: Cli) -> None:
    """A key under the prefix that is no setting (`node_poll_seconds/`, a folder in Consul's UI): `settings get`
    says so on stderr, as the service's WARN does, so that the operator sees why the value they wrote is not used."""
    kv.kv.put(SETTINGS_PREFIX + "node_poll_seconds/", "7")

    every = cli("settings", "get")
    one = cli("settings", "get", "node_poll_seconds")

    said = (
        f"neon-cluster-manager: {SETTINGS_PREFIX}node_poll_seconds/ is no setting of this service, so it has no effect"
        " (the settings are node_poll_seconds, vault_poll_seconds, vault_url_template)\n"
    )
    assert (0, said) == (every.returncode, err(every))
    assert "node_poll_seconds   30" in out(every)
    assert (0, "30\n", said) == (
        one.returncode,
        out(one),
        err(one).replace("neon-cluster-manager: node_poll_seconds: not set in Consul; the default applies\n", ""),
    )


def test_unknown_setting_lists_the_valid_ones(cli: Cli) -> None:
    """An unknown setting name is a bad command line (exit 2) naming every setting."""
    result = cli("settings", "set", "poll_seconds", "5")

    assert 2 == result.returncode
    assert (
        "unknown setting 'poll_seconds'; the settings are node_poll_seconds, vault_poll_seconds, vault_url_template"
        in err(result)
    )


# --------------------------------------------------------------------------- vault


def test_vault_status_shows_every_manager_and_a_restarted_one_sealed(vault: dict[str, Any], cli: Cli) -> None:
    """Three managers, unsealed (active/standby); after a restart with no service running, manager-2 is sealed."""
    healthy = cli("vault", "status")
    healthy_check = cli("vault", "status", "--check")
    stack.vault_restart(MANAGER_2)
    restarted = cli("vault", "status")
    restarted_check = cli("vault", "status", "--check")

    assert (0, 0) == (healthy.returncode, healthy_check.returncode)
    table = rows(healthy)
    assert ["manager-1", "manager-2", "manager-3"] == list(table)
    assert [f"http://{address(f'manager-{n}')}:8200" for n in (1, 2, 3)] == [row[0] for row in table.values()]
    assert {"unsealed"} == {row[1] for row in table.values()}
    assert ["active", "standby", "standby"] == sorted(row[2] for row in table.values())
    assert {"manager-1": "shamir", "manager-2": "shamir", "manager-3": "shamir"} == seals(healthy)
    assert 0 == restarted.returncode
    manager_2 = f"http://{address('manager-2')}:8200"
    assert [manager_2, "sealed", "0/2 unseal keys submitted"] == rows(restarted)["manager-2"]
    assert "unsealed" == rows(restarted)["manager-1"][1]
    failed_with(restarted_check, r"error: not every Vault is unsealed: manager-2 is sealed$")
    assert rows(restarted) == rows(restarted_check), "--check prints the same table"


def test_vault_status_reports_a_stopped_vault_unreachable(vault: dict[str, Any], cli: Cli) -> None:
    """A stopped node is a row like the others (`unreachable`, connection refused); the command itself succeeds."""
    stack.vault_stop(MANAGER_2)

    result = cli("vault", "status")

    assert 0 == result.returncode
    refused = "cannot connect: [Errno 111] Connection refused"
    assert [f"http://{address('manager-2')}:8200", "unreachable", refused] == rows(result)["manager-2"]


def test_auto_unlock_off_leaves_a_restarted_vault_sealed_and_on_unseals_it(
    with_keys: dict[str, str], kv: consul.Consul, cli: Cli, start_service: Callable[..., Service]
) -> None:
    """`vault auto-unlock off`: the running service leaves a restarted Vault sealed; `on`: it unseals it."""
    service = start_service(**with_keys)
    service.wait_for(r"Vault on manager-2 .* is unsealed")
    off = cli("vault", "auto-unlock", "off")

    mark = service.mark()
    stack.vault_restart(MANAGER_2)
    # The Unsealer read the switch (it does so only for a sealed Vault), then several polls went by.
    service.wait_for(r"auto-unseal is switched off \(neon/cluster/disable-auto-unseal=true\)", after=mark)
    service.wait_for(r"\[DEBUG\] \[module:vault-monitor:manager-2\] .*: sealed", count=4, after=mark)
    shown, while_off = cli("vault", "auto-unlock"), cli("vault", "status")
    assert [] == service.lines(UNSEALED_BY_SERVICE) and sealed(MANAGER_2)

    on = cli("vault", "auto-unlock", "on")
    service.wait_for(UNSEALED_BY_SERVICE, after=mark)
    after = cli("vault", "status", "--check")

    assert (
        "auto-unseal is off (neon/cluster/disable-auto-unseal=true); the service follows at its next Vault poll\n"
    ) == out(off)
    assert "auto-unseal is off (neon/cluster/disable-auto-unseal=true)\n" == out(shown)
    assert "sealed" == rows(while_off)["manager-2"][1]
    assert (
        "auto-unseal is on (neon/cluster/disable-auto-unseal=false); the service follows at its next Vault poll\n"
    ) == out(on)
    assert b"false" == kv.kv.get(DISABLE_AUTO_UNSEAL_KEY)[1]["Value"]
    assert not sealed(MANAGER_2)
    assert 0 == after.returncode, out(after) + err(after)


def test_auto_unlock_shows_on_when_the_switch_is_missing(kv: consul.Consul, cli: Cli) -> None:
    """No switch in Consul means auto-unseal is on, as the service reads it."""
    result = cli("vault", "auto-unseal")

    assert "auto-unseal is on (neon/cluster/disable-auto-unseal=<missing>)\n" == out(result)


# --------------------------------------------------------------------------- run


@pytest.mark.parametrize("command", [["run"], []])
def test_run_and_no_command_start_the_service(kv: consul.Consul, cli_env: dict[str, str], command: list[str]) -> None:
    """`run`, or no command at all, is the service: its log on stdout, exit 0 on SIGTERM."""
    with subprocess.Popen(
        [sys.executable, "-m", "cli", *command],
        env={**os.environ, **cli_env, "PYTHONUNBUFFERED": "1"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        watchdog = threading.Timer(30, process.kill)  # a service that never says it started fails, not hangs
        watchdog.start()
        lines: list[str] = []
        for line in process.stdout or []:
            lines.append(line.rstrip("\n"))
            if f"neon-cluster-manager {__version__} starting" in line:
                break
        watchdog.cancel()
        process.send_signal(signal.SIGTERM)
        rest, stderr = process.communicate(timeout=15)
    lines += rest.splitlines()

    assert (0, "") == (process.returncode, stderr), "\n".join(lines)
    assert any(re.search(r"\[INFO\] \[module:main\] stopped$", line) for line in lines)
