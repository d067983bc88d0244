"""`vault status` and `vault auto-unlock`: the Vault of every Swarm manager, and the auto-unseal switch."""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cli.common import (
    OK,
    CliError,
    command,
    command_group,
    consul_answer,
    consul_errors,
    note,
    swarm_nodes,
    switches_noted,
    table,
    tls_for,
    write_key,
)
from cli.settings import read_settings
from gateways.consul import ConsulGateway
from gateways.files import read_given, read_text
from gateways.vault import VaultGateway
from messages.swarm import SwarmNode
from messages.vault import VaultState
from neon_cm.booleans import parse_switch, stored_switch, switch_text
from neon_cm.credentials import CredentialsError, credentials_from_env
from neon_cm.environment import TlsSettings
from neon_cm.health import DEFAULT_HEALTH_FILE, keys_seen
from neon_cm.keys import DISABLE_AUTO_UNSEAL_KEY, SETTINGS_PREFIX
from neon_cm.settings import parse_settings
from neon_cm.urls import masked
from neon_cm.vault import UnusableNode, vault_url


def vault_auto_unlock(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Show or flip neon/cluster/disable-auto-unseal (`off` writes `true`, `on` writes `false`); the stored text is
    read with neon_cm.booleans, as the service reads it."""
    doing = f"{'reading' if args.switch is None else 'writing'} {DISABLE_AUTO_UNSEAL_KEY}"
    with consul_errors(env, doing) as client:
        if args.switch is None:
            stored = stored_switch(consul_answer(ConsulGateway(client).read_key(DISABLE_AUTO_UNSEAL_KEY)).value)
        else:
            stored = "true" if args.switch == "off" else "false"
            write_key(client, DISABLE_AUTO_UNSEAL_KEY, stored)
    disabled, odd = parse_switch(stored)
    if odd is not None:
        note(f"{DISABLE_AUTO_UNSEAL_KEY}={odd}")
    follow = "; the service follows at its next Vault poll" if args.switch is not None else ""
    print(f"auto-unseal is {'off' if disabled else 'on'} ({DISABLE_AUTO_UNSEAL_KEY}={switch_text(stored)}){follow}")
    return OK


Row = tuple[str, str, str, str, str]
"""Manager, URL, state, seal type, detail."""


def probe_manager(node: SwarmNode, template: str, tls: TlsSettings) -> Row:
    """One manager's row: GET /v1/sys/seal-status (and /v1/sys/health when unsealed) on its Vault."""
    hostname = node.hostname.lower()
    try:
        url = vault_url(template, node)
    except UnusableNode as problem:  # never probed: the URL could point at another host
        return hostname, "-", "unknown", "-", f"{problem}: not probed"
    if url is None:
        return hostname, "-", "unknown", "-", "no manager address yet, so {addr} cannot be filled in"
    gateway = VaultGateway(url, tls)
    try:
        found = gateway.probe()
    finally:
        gateway.close()
    return hostname, masked(url), found.state.value, found.seal_type or "-", found.detail


def unseal_keys_lines(env: Mapping[str, str]) -> list[str]:
    """What `vault status` says of the unseal keys: the set this environment loads (the service's, when run in its
    container) and, from the running service's health file, the set it loaded and the Vaults that refused it."""
    said: list[str] = []
    try:
        here = credentials_from_env(env, read_text)
    except CredentialsError as error:
        note(f"the unseal keys here cannot be used: {error}")
        here = None
    if here is not None:
        said.append(f"unseal keys here: {here.describe()}")
    path = env.get("NEON_CM_HEALTH_FILE") or DEFAULT_HEALTH_FILE
    try:
        key_set, refused = keys_seen(read_given(path), time.time())
    except OSError:
        return said  # no service runs here (the command was run elsewhere than in its container)
    if key_set is not None and (here is None or key_set != here.fingerprint()):
        said.append(f"the running service's unseal keys: key set {key_set}")
    if key_set is not None and refused:
        said.append(
            f"refused by the Vault on {', '.join(refused)}: every combination of key set {key_set} was refused "
            "(rotated, or another cluster's); put its current keys in the credentials secret"
        )
    return said


def vault_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """One row per Swarm manager: its Vault's URL, state, seal type and detail."""
    switches_noted(env, "VAULT")
    # Missing certificate files are a warning here, not an error: they matter only to an https:// Vault.
    tls = tls_for(env, "VAULT", files_required=False)
    # Consul first: its address, TLS files and token are checked before anything else is asked.
    with consul_errors(env, f"reading {SETTINGS_PREFIX}*") as client:
        settings, problems = parse_settings(read_settings(client))
    managers = sorted(
        (node for node in swarm_nodes(env) if node.role == "manager"), key=lambda node: node.hostname.lower()
    )
    if not managers:
        raise CliError("Docker lists no Swarm manager")
    for problem in problems:
        if problem.name == "vault_url_template":
            note(problem.describe())
    with ThreadPoolExecutor(max_workers=len(managers)) as pool:  # an unreachable Vault costs its timeout once
        rows = list(pool.map(lambda node: probe_manager(node, settings.vault_url_template, tls), managers))
    print(table(("MANAGER", "URL", "STATE", "SEAL", "DETAIL"), rows))
    keys = unseal_keys_lines(env)
    if keys:
        print("\n" + "\n".join(keys))
    troubled = [f"{row[0]} is {row[2]}" for row in rows if row[2] != VaultState.UNSEALED.value]
    if args.check and troubled:
        raise CliError(f"not every Vault is unsealed: {', '.join(troubled)}")
    return OK


def add_commands(commands: Any) -> None:
    """`vault status` and `vault auto-unlock` (alias `auto-unseal`)."""
    vault = command_group(commands, "vault", "the Vault on every Swarm manager")
    status = command(
        vault,
        "status",
        vault_status,
        "one row per Swarm manager: Vault URL, state, seal type, detail",
        epilog="states: unsealed (detail: active or standby), sealed, not-initialized, unreachable,\n"
        "unexpected, removed (from its raft cluster), disconnected (a standby that cannot reach the active\n"
        "node). SEAL: shamir, or an auto seal (static, transit, awskms...); - when the Vault did not say.\n"
        "Below the table: the unseal keys' set (a fingerprint, never a key) loaded here and by the running\n"
        "service (its health file, in its container), and each Vault that refused every combination of them.\n"
        "The exit status is 0 whatever the states, unless --check is given.",
    )
    status.add_argument("--check", action="store_true", help="exit 1 unless every Vault is unsealed")
    unlock = command(
        vault,
        "auto-unlock",
        vault_auto_unlock,
        f"show, or switch on or off, auto-unseal ({DISABLE_AUTO_UNSEAL_KEY})",
        aliases=["auto-unseal"],
    )
    unlock.add_argument("switch", nargs="?", choices=["on", "off"], metavar="on|off", help="without it, show the state")
