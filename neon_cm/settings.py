"""Parsing and validating the service's settings as stored in Consul (plain-text values)."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from urllib.parse import urlsplit

import attrs

from messages.settings import Settings
from neon_cm.keys import SETTINGS_PREFIX

#: Longer than a day, or shorter than a tenth of a second, between polls is taken for a typo, not a wish.
MAX_POLL_SECONDS = 86_400.0
MIN_POLL_SECONDS = 0.1
TEMPLATE_FIELDS = frozenset({"hostname", "addr"})
DEFAULTS = Settings()


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
        return f"setting {SETTINGS_PREFIX}{self.name}={self.value!r} rejected ({self.reason}); using the default"


def parse_seconds(text: str) -> float:
    """A poll interval in seconds; raise ValueError saying why it is not one."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a number of seconds above 0")
    if value < MIN_POLL_SECONDS:
        raise ValueError(f"must be at least {MIN_POLL_SECONDS:g} seconds")
    if value > MAX_POLL_SECONDS:
        raise ValueError(f"must be at most {MAX_POLL_SECONDS:g} seconds")
    return value


def parse_url_template(text: str) -> str:
    """A Vault URL template; raise ValueError saying why it is not one."""
    template = text.strip()
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise ValueError(f"not a template: {error}") from None
    unknown = fields - TEMPLATE_FIELDS
    if unknown:
        raise ValueError(f"unknown placeholder(s) {', '.join(sorted(unknown))}; use {{hostname}} or {{addr}}")
    try:
        example = template.format(hostname="manager-1", addr="10.0.0.1")
    except (ValueError, IndexError, KeyError) as error:
        raise ValueError(f"not a template: {error}") from None
    parts = urlsplit(example)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http:// or https:// URL")
    return template


PARSERS = {
    "node_poll_seconds": parse_seconds,
    "vault_poll_seconds": parse_seconds,
    "vault_url_template": parse_url_template,
}


def default_text(name: str) -> str:
    """The default of a setting as it is written to Consul."""
    value = getattr(DEFAULTS, name)
    return f"{value:g}" if isinstance(value, float) else str(value)


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
    return " ".join(f"{name}={getattr(settings, name)}" for name in PARSERS)
