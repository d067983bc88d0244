"""The process environment: log level and Consul address, parsed without I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import attrs

from messages.log import Level

LEVEL_ALIASES = {"WARNING": Level.WARN, "INFORMATION": Level.INFO}


def parse_log_level(text: str | None) -> tuple[Level, str | None]:
    """The log level for LOG_LEVEL's value, and a warning when the value was not understood."""
    if text is None or not text.strip():
        return Level.INFO, None
    word = text.strip().upper()
    if word in Level.__members__:
        return Level[word], None
    if word in LEVEL_ALIASES:
        return LEVEL_ALIASES[word], None
    return Level.INFO, (f"LOG_LEVEL={text!r} is not one of FATAL, ERROR, WARN, INFO, DEBUG, NONE; logging at INFO")


@attrs.frozen
class ConsulAddress:
    """Where Consul's HTTP API is."""

    scheme: str
    host: str
    port: int

    @property
    def url_host(self) -> str:
        """The host as it goes in a URL: an IPv6 address in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    def __str__(self) -> str:
        return f"{self.scheme}://{self.url_host}:{self.port}"


def parse_consul_address(text: str | None) -> ConsulAddress:
    """CONSUL_HTTP_ADDR (`host:port` or `http(s)://host:port`, default 127.0.0.1:8500); ValueError if malformed."""
    text = (text or "").strip() or "127.0.0.1:8500"
    parts = urlsplit(text if "//" in text else f"http://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"CONSUL_HTTP_ADDR={text!r} is not host:port or http(s)://host:port")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8500)
    except ValueError:
        raise ValueError(f"CONSUL_HTTP_ADDR={text!r} has an invalid port") from None
    return ConsulAddress(parts.scheme, parts.hostname, port)


def parse_vault_verify(env: Mapping[str, str]) -> tuple[bool | str, str | None]:
    """TLS verification for Vault (requests' `verify`): True, a CA bundle path, or False; and a warning.

    VAULT_SKIP_VERIFY=true switches verification off; VAULT_CACERT names a PEM bundle to trust.
    """
    skip = env.get("VAULT_SKIP_VERIFY", "").strip().lower()
    cacert = env.get("VAULT_CACERT", "").strip()
    if skip in ("true", "1", "yes", "on"):
        return False, "VAULT_SKIP_VERIFY is set: Vault's TLS certificates are NOT verified"
    if skip not in ("", "false", "0", "no", "off"):
        return (cacert or True), f"VAULT_SKIP_VERIFY={skip!r} is not true or false; verifying Vault's TLS certificates"
    return (cacert or True), None


def parse_swarm_events(env: Mapping[str, str]) -> tuple[bool, str | None]:
    """Whether to follow Docker's node events (SWARM_EVENTS, default on), and a warning if the value is odd.

    Off leaves only the node poll, as the original service had.
    """
    text = env.get("SWARM_EVENTS", "").strip().lower()
    if text in ("", "on", "true", "1", "yes"):
        return True, None
    if text in ("off", "false", "0", "no"):
        return False, None
    return True, f"SWARM_EVENTS={text!r} is not on or off; following node events"


def parse_log_format(text: str | None) -> tuple[str, str | None]:
    """LOG_FORMAT: `text` (default, the spec's line format) or `json`; and a warning for anything else."""
    word = (text or "").strip().lower()
    if word in ("", "text"):
        return "text", None
    if word == "json":
        return "json", None
    return "text", f"LOG_FORMAT={text!r} is not text or json; writing text"


def consul_token(env: Mapping[str, str], read_text: Callable[[str], str]) -> str | None:
    """The Consul ACL token: CONSUL_HTTP_TOKEN_FILE's content (stripped), else CONSUL_HTTP_TOKEN, else None.

    The file wins when both are set, as with Consul's own tools. ValueError naming the file (never its
    content) when it cannot be read or is empty.
    """
    path = env.get("CONSUL_HTTP_TOKEN_FILE", "").strip()
    if path:
        try:
            token = read_text(path).lstrip("\ufeff").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise ValueError(f"CONSUL_HTTP_TOKEN_FILE={path} cannot be read ({type(error).__name__})") from None
        if not token:
            raise ValueError(f"CONSUL_HTTP_TOKEN_FILE={path} is empty")
        return token
    return env.get("CONSUL_HTTP_TOKEN", "").strip() or None
