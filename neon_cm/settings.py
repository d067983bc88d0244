"""Parsing and validating the service's settings as stored in Consul (plain-text values)."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

import attrs

from messages.settings import Settings
from neon_cm.keys import SETTINGS_PREFIX
from neon_cm.urls import has_user_info, masked

#: Longer than a day, or shorter than a tenth of a second, between polls is taken for a typo, not a wish.
MAX_POLL_SECONDS = 86_400.0
MIN_POLL_SECONDS = 0.1
TEMPLATE_FIELDS = frozenset({"hostname", "addr"})
DEFAULTS = Settings()
#: Longer than any sane URL or number; a longer value is refused before it is parsed, and never echoed in full.
MAX_SETTING_CHARS = 512
#: What every reader of a number reads alike (.NET's double.Parse, Go, the shell): ASCII digits, one point.
PLAIN_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
#: A host a URL may carry: a name or IPv4 address, or an IPv6 address in brackets.
URL_HOST = re.compile(r"[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\]")
#: How much of a rejected value a message shows.
SHOWN_CHARS = 60


def shown(value: str) -> str:
    """A value quoted for a message; a long one cut, with its length, so one bad value is never a huge line; a URL's
    user-info (`user:password@`) hidden."""
    value = masked(value)
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    return f"{value[:SHOWN_CHARS]!r}... ({len(value)} characters)"


@attrs.frozen
class SettingProblem:
    """A stored setting that does not parse; the default is used instead."""

    name: str
    """Setting name, e.g. `node_poll_seconds`."""
    value: str
    """The stored text (never a secret: settings hold none)."""
    reason: str
    """Why it was rejected."""

    def describe(self) -> str:
        """One WARN line's worth, naming the key and the value."""
        return f"setting {SETTINGS_PREFIX}{self.name}={shown(self.value)} rejected ({self.reason}); using the default"


def parse_seconds(text: str) -> float:
    """A poll interval in seconds, a plain ASCII decimal; raise ValueError saying why it is not one."""
    text = checked_length(text).strip()
    if not PLAIN_DECIMAL.fullmatch(text):
        raise ValueError("not a number (plain decimal digits 0-9 with an optional point, e.g. 30 or 0.5)")
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a number of seconds above 0")
    if value < MIN_POLL_SECONDS:
        raise ValueError(f"must be at least {MIN_POLL_SECONDS:g} seconds")
    if value > MAX_POLL_SECONDS:
        raise ValueError(f"must be at most {MAX_POLL_SECONDS:g} seconds")
    return value


def parse_url_template(text: str) -> str:
    """A Vault URL template that builds a valid http(s) URL; raise ValueError saying why it is not one."""
    template = checked_length(text).strip()
    if any(character.isspace() for character in template):
        raise ValueError("a URL has no spaces or other whitespace in it")
    if not template.isascii():
        raise ValueError("a URL is ASCII (write an international host name in its xn-- form)")
    if not template.isprintable():
        raise ValueError("a URL has no control characters in it")
    try:
        parsed = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)]
    except ValueError as error:
        raise ValueError(f"not a template: {error}") from None
    fields = {name for name, _, _ in parsed if name is not None}
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join(sorted(unknown))}; use {{hostname}} or {{addr}}")
    dressed = next(
        (name for name, spec, conversion in parsed if name in TEMPLATE_FIELDS and (spec or conversion)), None
    )
    if dressed is not None:
        raise ValueError(f"write {{{dressed}}} plain: a placeholder takes no conversion (!r) or format (:>20)")
    glued = glued_placeholders(template)
    if glued:
        raise ValueError(f"{glued} run two values together; put text (a dot, a colon) between placeholders")
    for name in sorted(TEMPLATE_FIELDS):
        if f"[{{{name}}}]" in template:
            raise ValueError(
                f"write {{{name}}} without brackets: an IPv6 manager address already carries them in {{addr}}"
            )
    if has_user_info(template):
        raise ValueError(
            "a user name or password (user:password@) is never sent to Vault, and would show in the log; remove it"
        )
    try:
        example = template.format(hostname="manager-1", addr="10.0.0.1")
    except (ValueError, IndexError, KeyError) as error:
        raise ValueError(f"not a template: {error}") from None
    for mark, part in (("?", "a query (?...)"), ("#", "a fragment (#...)")):
        if mark in example:
            raise ValueError(f"{part} has no place in a Vault's address; end the template at the port")
    try:
        parts = urlsplit(example)
    except ValueError:
        raise ValueError("not a URL (a host in brackets must be an IPv6 address)") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http:// or https:// URL")
    if parts.path not in ("", "/"):
        raise ValueError(
            f"a path ({parts.path}) has no place in a Vault's address: the service asks for /v1/sys/... itself; "
            "end the template at the port"
        )
    address = parts.netloc
    host, port = (address, None) if address.endswith("]") or ":" not in address else address.rpartition(":")[::2]
    if port is not None and not (port.isdigit() and port.isascii() and 1 <= int(port) <= 65535):
        raise ValueError("the port must be a number from 1 to 65535")
    if not URL_HOST.fullmatch(host):
        raise ValueError(f"{shown(host)} is not a host name or address")
    return template


def template_caveat(template: str) -> str | None:
    """What an operator must know of a valid template that gives every manager one URL (no `{addr}` or `{hostname}`):
    right for a single manager, or one address in front of all the Vaults; wrong when each manager runs its own Vault,
    as the one it reaches is then reported as each manager's and the others go unwatched (operator tryout
    2026-12-07: `http://127.0.21.11:8200` reported manager-1's Vault as manager-2's). Taken, not refused: such a
    template works where it is meant, and refusing it would swap a working address for the default. None: it has
    a placeholder."""
    if "{addr}" in template or "{hostname}" in template:
        return None
    return (
        f"vault_url_template {template} has no {{addr}} or {{hostname}}: every manager's Vault is polled at this one "
        "URL, which is right for a single manager or one address in front of every Vault, and wrong when each manager "
        "runs its own (the one reached is reported as each manager's, the others go unwatched)"
    )


def glued_placeholders(template: str) -> str | None:
    """`{addr}{hostname}` when two placeholders follow each other with no text between them, else None."""
    previous: str | None = None
    for literal, name, _, _ in string.Formatter().parse(template):
        if name is not None and previous is not None and not literal:
            return f"{{{previous}}}{{{name}}}"
        previous = name
    return None


def checked_length(text: str) -> str:
    """`text`, if it is not longer than MAX_SETTING_CHARS."""
    if len(text) > MAX_SETTING_CHARS:
        raise ValueError(f"{len(text)} characters, over the {MAX_SETTING_CHARS} a setting may have")
    return text


PARSERS = {
    "node_poll_seconds": parse_seconds,
    "vault_poll_seconds": parse_seconds,
    "vault_url_template": parse_url_template,
}


def setting_text(value: object) -> str:
    """A setting's value as an operator writes it in Consul: `30` (not `30.0`), `0.5`, a template as it is."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def default_text(name: str) -> str:
    """The default of a setting as it is written to Consul."""
    return setting_text(getattr(DEFAULTS, name))


def default_written(name: str, in_use: Settings | None) -> tuple[bool, str]:
    """The line for a missing setting whose default was just written: (whether it is a WARN, its words). A WARN when
    another value was in use: the key was deleted, or Consul lost it (restarted without its data, a snapshot restore),
    and the default now applies where the operator's value did (a template watching no Vault where it really is)."""
    default = default_text(name)
    line = f"setting {SETTINGS_PREFIX}{name} was missing; wrote the default {default}"
    if in_use is None or getattr(in_use, name) == getattr(DEFAULTS, name):
        return False, line
    was = shown(setting_text(getattr(in_use, name)))
    return True, (
        f"{line} in place of {was}, the value in use until now (the key deleted, or lost by Consul with its data): set "
        f"it again if {was} is meant"
    )


def stored_settings(values: Iterable[tuple[str, bytes | None]]) -> dict[str, str | None]:
    """What Consul holds under SETTINGS_PREFIX as text by setting name: None for a setting that is missing, ""
    for a key without a value; keys that are no setting are left out."""
    stored: dict[str, str | None] = dict.fromkeys(PARSERS)
    for key, value in values:
        name = key[len(SETTINGS_PREFIX) :]
        if key.startswith(SETTINGS_PREFIX) and name in PARSERS:
            stored[name] = (value or b"").decode("utf-8", errors="replace")
    return stored


def unknown_settings(values: Iterable[tuple[str, bytes | None]]) -> tuple[str, ...]:
    """The names (after SETTINGS_PREFIX) of the keys under it that are no setting: a typo, a key with a trailing
    slash (a folder in Consul's UI) or one inside such a folder; sorted."""
    names = (key[len(SETTINGS_PREFIX) :] for key, _ in values if key.startswith(SETTINGS_PREFIX))
    return tuple(sorted(name for name in names if name not in PARSERS))


def describe_unknown_setting(name: str) -> str:
    """One WARN line's worth about a key under SETTINGS_PREFIX that is no setting (its value is not shown: it is
    not read)."""
    key = name if len(name) <= SHOWN_CHARS else f"{name[:SHOWN_CHARS]}... ({len(name)} characters)"
    known = ", ".join(PARSERS)
    return f"{SETTINGS_PREFIX}{key} is no setting of this service, so it has no effect (the settings are {known})"


def parse_settings(stored: Mapping[str, str | None]) -> tuple[Settings, list[SettingProblem]]:
    """Effective settings from stored values by name (None: missing), and the rejected ones."""
    values: dict[str, object] = {}
    problems: list[SettingProblem] = []
    for name, parse in PARSERS.items():
        text = stored.get(name)
        if text is None:
            continue
        try:
            values[name] = parse(text)
        except ValueError as error:
            problems.append(SettingProblem(name, text, str(error)))
    return Settings(**values), problems  # type: ignore[arg-type]  # values are typed per field by PARSERS


def describe_settings(settings: Settings) -> str:
    """The effective settings on one line, for the log."""
    return " ".join(f"{name}={setting_text(getattr(settings, name))}" for name in PARSERS)
