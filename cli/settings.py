"""`settings get` and `settings set`: the service's settings in Consul, read and validated as the service does."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

import consul

from cli.common import OK, CliError, command, command_group, consul_answer, consul_errors, note, table, write_key
from gateways.consul import ConsulGateway
from neon_cm.keys import SETTINGS_PREFIX
from neon_cm.settings import (
    PARSERS,
    SettingProblem,
    describe_unknown_setting,
    parse_settings,
    setting_text,
    shown,
    stored_settings,
    template_caveat,
    unknown_settings,
)


def read_settings(client: consul.Consul) -> dict[str, str | None]:
    """GET /v1/kv/neon/services/neon-cluster-manager/?recurse, as the SettingsWatcher reads it: stored text by
    setting name (None: missing)."""
    return stored_settings(consul_answer(ConsulGateway(client).read_keys(SETTINGS_PREFIX)).values)


def setting_name(text: str) -> str:
    """argparse type of a setting's name: one of neon_cm.settings.PARSERS."""
    if text not in PARSERS:
        raise argparse.ArgumentTypeError(f"unknown setting {text!r}; the settings are {', '.join(PARSERS)}")
    return text


def why_default(name: str, stored: Mapping[str, str | None], problems: Sequence[SettingProblem]) -> str | None:
    """Why a setting's default applies (missing, or the stored value is invalid and why); None when Consul's does."""
    problem = next((problem for problem in problems if problem.name == name), None)
    if problem is not None:
        return f"the stored {shown(problem.value)} is invalid: {problem.reason}"
    return "not set in Consul" if stored.get(name) is None else None


def settings_get(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print the effective settings (one, or all with where each comes from)."""
    with consul_errors(env, f"reading {SETTINGS_PREFIX}*") as client:
        values = consul_answer(ConsulGateway(client).read_keys(SETTINGS_PREFIX)).values
    stored = stored_settings(values)
    settings, problems = parse_settings(stored)
    for unknown in unknown_settings(values):
        note(describe_unknown_setting(unknown))
    if args.name is not None:
        why = why_default(args.name, stored, problems)
        if why is not None:
            note(f"{args.name}: {why}; the default applies")
        print(setting_text(getattr(settings, args.name)))
        return OK
    rows = []
    for name in PARSERS:
        why = why_default(name, stored, problems)
        rows.append((name, setting_text(getattr(settings, name)), "consul" if why is None else f"default ({why})"))
    print(table(("SETTING", "VALUE", "SOURCE"), rows))
    return OK


def settings_set(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Validate a value exactly as the service does, then PUT /v1/kv/neon/services/neon-cluster-manager/NAME."""
    text = args.value.strip()
    try:
        PARSERS[args.name](text)
    except ValueError as error:
        raise CliError(f"{args.name}={shown(args.value)} refused ({error}); nothing written") from None
    with consul_errors(env, f"writing {SETTINGS_PREFIX}{args.name}") as client:
        write_key(client, SETTINGS_PREFIX + args.name, text)
    print(f"{args.name} = {text} (the service applies it at once)")
    caveat = template_caveat(text) if args.name == "vault_url_template" else None
    if caveat is not None:
        note(caveat)
    return OK


def add_commands(commands: Any) -> None:
    """`settings get` and `settings set`."""
    settings = command_group(commands, "settings", "the service's settings, kept in Consul")
    setting_names = ", ".join(PARSERS)
    show = command(settings, "get", settings_get, "print the effective settings, or one setting's value")
    show.add_argument("name", nargs="?", type=setting_name, metavar="NAME", help=f"one of {setting_names}")
    change = command(settings, "set", settings_set, "validate a value as the service does, then store it")
    change.add_argument("name", type=setting_name, metavar="NAME", help=f"one of {setting_names}")
    change.add_argument("value", metavar="VALUE", help="plain text, e.g. 30 or http://{addr}:8200")
