"""The process environment: log level, Consul address and token, TLS for Consul and Vault, parsed without I/O
(but the token file, and whether named certificate files exist)."""

from __future__ import annotations

import os
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


def parse_consul_address(text: str | None, ssl: bool = False) -> ConsulAddress:
    """CONSUL_HTTP_ADDR (`host:port` or `http(s)://host:port`, default 127.0.0.1:8500); ValueError if malformed.

    `ssl` (CONSUL_HTTP_SSL=true) makes an address without a scheme https.
    """
    text = (text or "").strip() or "127.0.0.1:8500"
    parts = urlsplit(text if "//" in text else f"{'https' if ssl else 'http'}://{text}")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"CONSUL_HTTP_ADDR={text!r} is not host:port or http(s)://host:port")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8500)
    except ValueError:
        raise ValueError(f"CONSUL_HTTP_ADDR={text!r} has an invalid port") from None
    return ConsulAddress(parts.scheme, parts.hostname, port)


def consul_address(env: Mapping[str, str]) -> ConsulAddress:
    """CONSUL_HTTP_ADDR, https also when CONSUL_HTTP_SSL is true; ValueError if malformed."""
    ssl = env.get("CONSUL_HTTP_SSL", "").strip().lower() in TRUE
    return parse_consul_address(env.get("CONSUL_HTTP_ADDR"), ssl)


TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


@attrs.frozen
class TlsSettings:
    """How to speak TLS to one kind of peer (Consul or Vault), as requests takes it."""

    verify: bool | str = True
    """True (the system's CAs), a CA bundle file or a hashed CA directory (CAPATH), or False (no verification)."""
    cert: tuple[str, str] | None = None
    """The client certificate and key (PEM files) for mutual TLS."""
    server_name: str | None = None
    """The name the server's certificate must carry (and sent as SNI) instead of the URL's host."""

    def describe(self) -> str:
        """For the start-up line: what is trusted, and whether a client certificate is presented."""
        trust = "verified" if self.verify is True else f"trusting {self.verify}" if self.verify else "NOT verified"
        name = f" as {self.server_name}" if self.server_name else ""
        return f"{trust}{name}{', client certificate ' + self.cert[0] if self.cert else ''}"


def parse_tls(env: Mapping[str, str], peer: str) -> tuple[TlsSettings, tuple[str, ...]]:
    """TLS for `peer` ("CONSUL" or "VAULT") from the variables its own CLI reads, and warnings.

    <peer>_CACERT (a PEM bundle) or <peer>_CAPATH (a directory of them; CACERT wins when both are set),
    <peer>_CLIENT_CERT with <peer>_CLIENT_KEY, <peer>_TLS_SERVER_NAME; verification off with
    VAULT_SKIP_VERIFY=true or CONSUL_HTTP_SSL_VERIFY=false. A file that is not there is a warning naming it
    (checked without reading it); a certificate without its key, or a key without its certificate, too.
    """
    warnings: list[str] = []
    cacert = env.get(f"{peer}_CACERT", "").strip()
    capath = env.get(f"{peer}_CAPATH", "").strip()
    verify: bool | str = cacert or capath or True
    if peer == "VAULT":
        switch, skip_words, keep_words = "VAULT_SKIP_VERIFY", TRUE, FALSE
    else:
        switch, skip_words, keep_words = "CONSUL_HTTP_SSL_VERIFY", FALSE, TRUE
    word = env.get(switch, "").strip().lower()
    if word in skip_words:
        verify = False
        warnings.append(f"{switch} is set to {word}: {peer.title()}'s TLS certificates are NOT verified")
    elif word and word not in keep_words:
        warnings.append(f"{switch}={word!r} is neither true nor false; verifying {peer.title()}'s TLS certificates")
    cert_file = env.get(f"{peer}_CLIENT_CERT", "").strip()
    key_file = env.get(f"{peer}_CLIENT_KEY", "").strip()
    cert = (cert_file, key_file) if cert_file and key_file else None
    if bool(cert_file) != bool(key_file):
        given, missing = ("CLIENT_CERT", "CLIENT_KEY") if cert_file else ("CLIENT_KEY", "CLIENT_CERT")
        warnings.append(f"{peer}_{given} is set without {peer}_{missing}: no client certificate is presented")
    files = {"CACERT": cacert, "CLIENT_CERT": cert_file if cert else "", "CLIENT_KEY": key_file if cert else ""}
    for name, path in files.items():
        if path and not os.path.isfile(path):
            warnings.append(f"{peer}_{name}={path} is not a file: TLS to {peer.title()} fails until it is")
    if capath and not cacert and not os.path.isdir(capath):
        warnings.append(f"{peer}_CAPATH={capath} is not a directory: TLS to {peer.title()} fails until it is")
    server_name = env.get(f"{peer}_TLS_SERVER_NAME", "").strip() or None
    return TlsSettings(verify, cert, server_name), tuple(warnings)


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
