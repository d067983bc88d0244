"""The process environment: log level, Consul address and token, TLS for Consul and Vault, parsed without I/O
(the token file and the certificate files are looked at through the functions given)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import attrs

from messages.log import Level
from neon_cm.booleans import parse_switch
from neon_cm.filewords import describe_os_error
from neon_cm.urls import masked

LEVEL_ALIASES = {"WARNING": Level.WARN, "INFORMATION": Level.INFO}
#: The Docker daemon asked when DOCKER_HOST is not set.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


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
        raise ValueError(f"CONSUL_HTTP_ADDR={masked(text)!r} is not host:port or http(s)://host:port")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8500)
    except ValueError:
        raise ValueError(f"CONSUL_HTTP_ADDR={masked(text)!r} has an invalid port") from None
    return ConsulAddress(parts.scheme, parts.hostname, port)


def consul_address(env: Mapping[str, str]) -> ConsulAddress:
    """CONSUL_HTTP_ADDR, https also when CONSUL_HTTP_SSL is true; ValueError if malformed."""
    ssl, _ = env_switch(env, "CONSUL_HTTP_SSL")  # its note is switch_notes'
    return parse_consul_address(env.get("CONSUL_HTTP_ADDR"), ssl)


#: The yes/no variables of Consul's and Vault's tools this service reads: their defaults, and what that means.
SWITCHES = {
    "CONSUL_HTTP_SSL": (False, "plain http:// for an address without a scheme"),
    "CONSUL_HTTP_SSL_VERIFY": (True, "Consul's TLS certificates are verified"),
    "VAULT_SKIP_VERIFY": (False, "Vault's TLS certificates are verified"),
}


def env_switch(env: Mapping[str, str], name: str) -> tuple[bool, str | None]:
    """A yes/no variable's value (neon_cm.booleans, default from SWITCHES), and the note to say once if odd."""
    default, meaning = SWITCHES[name]
    value, note = parse_switch(env.get(name), default)
    if note is None:
        return value, None
    return value, f"{name}={note}" + (f" ({meaning})" if value == default else "")


def switch_notes(env: Mapping[str, str], peer: str | None = None) -> tuple[str, ...]:
    """What to say once about the yes/no variables (all, or `peer`'s: "CONSUL" or "VAULT") with an odd value."""
    names = [name for name in SWITCHES if peer is None or name.startswith(peer)]
    return tuple(note for note in (env_switch(env, name)[1] for name in names) if note)


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
        switch, skip = "VAULT_SKIP_VERIFY", env_switch(env, "VAULT_SKIP_VERIFY")[0]
    else:
        switch, skip = "CONSUL_HTTP_SSL_VERIFY", not env_switch(env, "CONSUL_HTTP_SSL_VERIFY")[0]
    if skip:
        verify = False
        warnings.append(f"{switch}={env[switch].strip()}: {peer.title()}'s TLS certificates are NOT verified")
    cert_file = env.get(f"{peer}_CLIENT_CERT", "").strip()
    key_file = env.get(f"{peer}_CLIENT_KEY", "").strip()
    cert = (cert_file, key_file) if cert_file and key_file else None
    if bool(cert_file) != bool(key_file):
        given, missing = ("CLIENT_CERT", "CLIENT_KEY") if cert_file else ("CLIENT_KEY", "CLIENT_CERT")
        warnings.append(f"{peer}_{given} is set without {peer}_{missing}: no client certificate is presented")
    server_name = env.get(f"{peer}_TLS_SERVER_NAME", "").strip() or None
    return TlsSettings(verify, cert, server_name), tuple(warnings)


PathKind = Callable[[str], str]
"""What is at a path: `file`, `directory`, `missing` or `other` (gateways/files.py's path_kind looks)."""
#: Why a path of each kind is no file to read a certificate from, in words.
NOT_A_FILE = {
    "missing": "does not exist",
    "directory": "is a directory, not a PEM file",
    "other": "is not a regular file",
}


def tls_file_warnings(env: Mapping[str, str], peer: str, path_kind: PathKind) -> list[str]:
    """tls_file_problems as start-up warnings (parse_tls' are about the values alone)."""
    return [
        f"{problem}: TLS to {peer.title()} fails until it is fixed"
        for problem in tls_file_problems(env, peer, path_kind)
    ]


def tls_file_problems(env: Mapping[str, str], peer: str, path_kind: PathKind) -> list[str]:
    """What is wrong with the files `peer`'s TLS variables name (`path_kind` looks, without reading them), in
    words: `CONSUL_CACERT=/x/ca.pem does not exist`, `VAULT_CAPATH=/x is not a directory`, ..."""
    cacert = env.get(f"{peer}_CACERT", "").strip()
    capath = env.get(f"{peer}_CAPATH", "").strip()
    cert_file = env.get(f"{peer}_CLIENT_CERT", "").strip()
    key_file = env.get(f"{peer}_CLIENT_KEY", "").strip()
    problems = []
    files = {"CACERT": cacert}
    if cert_file and key_file:  # a lone certificate or key is parse_tls' warning: it is not presented at all
        files.update(CLIENT_CERT=cert_file, CLIENT_KEY=key_file)
    for name, path in files.items():
        kind = path_kind(path) if path else "file"
        if kind != "file":
            problems.append(f"{peer}_{name}={path} {NOT_A_FILE[kind]}")
    kind = path_kind(capath) if capath and not cacert else "directory"
    if kind != "directory":
        words = "does not exist" if kind == "missing" else "is not a directory (of PEM certificates)"
        problems.append(f"{peer}_CAPATH={capath} {words}")
    return problems


def docker_host(env: Mapping[str, str]) -> str:
    """DOCKER_HOST: a Swarm manager's Docker API (default: the local socket)."""
    return env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def parse_swarm_events(env: Mapping[str, str]) -> tuple[bool, str | None]:
    """Whether to follow Docker's node events (SWARM_EVENTS, default on), and a warning if the value is odd.

    Off leaves only the node poll, as the original service had.
    """
    text = env.get("SWARM_EVENTS")
    value, note = parse_switch(text, default=True)
    if note is not None and (text or "").strip().lower() not in ("on", "off"):  # on and off are its own words
        return value, f"SWARM_EVENTS={note} ({'following' if value else 'not following'} node events)"
    return value, None


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
    content) when it cannot be read, is empty, or holds more than one word (a wrong file: its content would
    otherwise travel in a header, and come back in the header's error text), saying why in words.
    """
    path = env.get("CONSUL_HTTP_TOKEN_FILE", "").strip()
    if path:
        source = f"CONSUL_HTTP_TOKEN_FILE={path}"
        try:
            token = read_text(path).lstrip("\ufeff").strip()
        except OSError as error:
            raise ValueError(f"{source} cannot be read: {describe_os_error(error)}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{source} is not UTF-8 text; a token is a UUID") from None
        if not token:
            raise ValueError(f"{source} is empty")
    else:
        source, token = "CONSUL_HTTP_TOKEN", env.get("CONSUL_HTTP_TOKEN", "").strip()
    if token and not (token.isascii() and token.isprintable() and not any(char.isspace() for char in token)):
        lines = len(token.splitlines())
        shape = f"{lines} lines" if lines > 1 else "spaces, control or non-ASCII characters"
        check = "is it the right file?" if source != "CONSUL_HTTP_TOKEN" else "check the value given"
        raise ValueError(f"{source} holds {shape}, not one token (a UUID); {check}")
    return token or None


@attrs.frozen
class ConsulAccess:
    """How to reach Consul, parsed once from the environment: what every Consul client is built from."""

    address: ConsulAddress
    tls: TlsSettings
    token: str | None = attrs.field(default=None, repr=False)
    """The ACL token (CONSUL_HTTP_TOKEN_FILE's content or CONSUL_HTTP_TOKEN); never shown."""


def consul_access(env: Mapping[str, str], read_text: Callable[[str], str]) -> ConsulAccess:
    """CONSUL_HTTP_ADDR (with CONSUL_HTTP_SSL), the ACL token and Consul's TLS settings (their warnings are
    parse_tls'); ValueError when the address is malformed or the token file cannot be used."""
    address = consul_address(env)
    token = consul_token(env, read_text)
    tls, _ = parse_tls(env, "CONSUL")
    return ConsulAccess(address, tls, token)
