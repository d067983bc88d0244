"""The operator's command line: the service itself (`run`), the cluster definition, the Vaults and the settings."""

from __future__ import annotations

import sys

from neon_cm import stopping

if sys.argv[1:2] in ([], ["run"]) and sys.argv[0].endswith("neon-cluster-manager"):
    stopping.install()  # the service (the image's entry point): a stop during the imports below is a clean stop

import argparse
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import consul
import docker.errors
import requests
import urllib3

from gateways.consul import ConsulGateway, Write
from gateways.vault import VaultGateway
from messages.consul_answers import ConsulRefused, ConsulUnreachable
from messages.swarm import SwarmNode
from messages.vault import VaultState
from neon_cm import __version__
from neon_cm.booleans import parse_switch, switch_text
from neon_cm.clients import DEFAULT_DOCKER_HOST, consul_client, docker_api
from neon_cm.config import DEFAULT_HEALTH_FILE
from neon_cm.encoding import DefinitionFormatError, encode_definition
from neon_cm.environment import TlsSettings, consul_address, parse_tls, switch_notes, tls_file_problems
from neon_cm.errors import OS_ERROR, PLAIN_HTTP, acl_refusal, answered_plain_http, reason
from neon_cm.files import NotARegularFile, describe_os_error, read_given, replaceable, write_replacing
from neon_cm.health import from_document
from neon_cm.jsonwords import json_problem, json_type
from neon_cm.keys import DEFINITION_KEY, DISABLE_AUTO_UNSEAL_KEY, HASH_KEY, MAX_DEFINITION_BYTES, SETTINGS_PREFIX
from neon_cm.reader import DefinitionMismatch, DefinitionUnavailable, StoredDefinition, fetch_if_changed
from neon_cm.settings import PARSERS, SettingProblem, parse_settings, setting_text, shown
from neon_cm.urls import masked
from neon_cm.vault import vault_url

PROG = "neon-cluster-manager"
#: Exit codes: success, a command that failed or was refused, a command line argparse could not read.
OK, FAILED, USAGE = 0, 1, 2

#: Properties cluster setup never publishes (matched case-insensitively, as .NET's JSON reader matches names).
CONFIDENTIAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("Hosting",),
    ("Docker", "RegistryPassword"),
    ("Consul", "EncryptionKey"),
)
#: A property with this name is confidential wherever it is.
CONFIDENTIAL_ANYWHERE = "RootToken"
#: What cluster setup always writes: a definition without them is refused unless forced.
REQUIRED_PROPERTIES = ("Name", "Schema", "Datacenter")

ENVIRONMENT_HELP = """\
environment (the service reads them all; `health` the last, the other commands those down to VAULT_TLS_SERVER_NAME):
  CONSUL_HTTP_ADDR        Consul's HTTP API, host:port or http(s)://host:port (default 127.0.0.1:8500)
  CONSUL_HTTP_SSL         true: https for an address without a scheme
  CONSUL_HTTP_TOKEN       Consul ACL token
  CONSUL_HTTP_TOKEN_FILE  a file holding the Consul ACL token (wins over CONSUL_HTTP_TOKEN)
  CONSUL_CACERT           PEM bundle trusted for Consul's TLS
  CONSUL_CAPATH           directory of PEM certificates trusted for Consul's TLS
  CONSUL_CLIENT_CERT      client certificate presented to Consul (with CONSUL_CLIENT_KEY)
  CONSUL_CLIENT_KEY       its private key
  CONSUL_TLS_SERVER_NAME  the name Consul's certificate must carry (default: the address's host)
  CONSUL_HTTP_SSL_VERIFY  false: do not verify Consul's TLS certificates
  DOCKER_HOST             a Swarm manager's Docker API (default unix:///var/run/docker.sock)
  VAULT_CACERT            PEM bundle trusted for Vault's TLS
  VAULT_CAPATH            directory of PEM certificates trusted for Vault's TLS
  VAULT_CLIENT_CERT       client certificate presented to every Vault (mutual TLS; with VAULT_CLIENT_KEY)
  VAULT_CLIENT_KEY        its private key
  VAULT_TLS_SERVER_NAME   the name every Vault's certificate must carry (default: the URL's host)
  VAULT_SKIP_VERIFY       true: do not verify Vault's TLS certificates
  VAULT_CREDENTIALS       base64 of {"UnsealKeys": [...], "KeyThreshold": N}: auto-unseal
  VAULT_CREDENTIALS_FILE  a file holding that JSON in plain text (a Docker secret); set only one of the two
  LOG_LEVEL               FATAL, ERROR, WARN, INFO (default), DEBUG or NONE
  LOG_FORMAT              text (default) or json
  SWARM_EVENTS            on (default): follow Docker's node events; off: the node poll only
  METRICS_PORT            serve Prometheus /metrics and /health on this port (default: off)
  NEON_CM_HEALTH_FILE     the health verdict, for `health` (default /tmp/neon-cluster-manager.health)

exit status: 0 success, 1 the command failed (one line on stderr says why), 2 bad command line"""


class CliError(Exception):
    """A command that cannot be carried out; its text is the one line printed on stderr."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message: str) -> Any:  # argparse declares NoReturn; exit() raises SystemExit
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def note(text: str) -> None:
    """A line for the operator on stderr, so that stdout holds only the command's result."""
    print(f"{PROG}: {text}", file=sys.stderr)


def write_out(data: bytes) -> None:
    """Write bytes to stdout as they are (definitions are UTF-8 whatever the locale)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


# --------------------------------------------------------------------------- errors from Consul and Docker


def os_reason(error: BaseException) -> str:
    """The useful part of a connection failure (`[Errno 111] Connection refused`), else the error's text."""
    if isinstance(error, requests.Timeout):
        return "no answer in time"
    if answered_plain_http(error):
        return PLAIN_HTTP
    found = OS_ERROR.search(str(error))
    if found:
        return found.group(0).strip()
    pending: list[object] = [error]
    while pending:  # requests and urllib3 nest the OS error in args (docker's unix socket does)
        current = pending.pop()
        if isinstance(current, OSError) and current.errno is not None and current.strerror:
            return f"[Errno {current.errno}] {current.strerror}"
        if isinstance(current, BaseException):
            pending.extend(current.args)
    return reason(error)


#: What a request to a peer can raise besides the client library's own refusals: requests' and urllib3's errors,
#: and the OSError requests raises itself (a CA bundle it cannot find).
REQUEST_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


def tls_for(env: Mapping[str, str], peer: str) -> TlsSettings:
    """`peer`'s TLS settings for a command that speaks TLS to it: odd values and warnings noted once; a
    certificate file that is missing or no file is the command's error (the request could not succeed)."""
    problems = tls_file_problems(env, peer)
    if problems:
        raise CliError(f"{'; '.join(problems)}: TLS to {peer.title()} cannot be set up")
    tls, warnings = parse_tls(env, peer)
    for warning in warnings:
        note(warning)
    if tls.verify is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # said once above
    return tls


@contextlib.contextmanager
def consul_errors(env: Mapping[str, str], doing: str = "the request") -> Iterator[consul.Consul]:
    """A Consul client for the environment; its failures become one-line CliErrors naming Consul's address and,
    for a refusal, what was refused (`doing`: "writing neon/...")."""
    for switch in switch_notes(env, "CONSUL"):
        note(switch)
    try:
        address = consul_address(env)
        if address.scheme == "https":
            tls_for(env, "CONSUL")
        client = consul_client(env)
    except ValueError as error:
        raise CliError(str(error)) from None
    try:
        yield client
    except consul.ACLPermissionDenied as error:
        raise CliError(f"Consul at {address} refused {doing}: {acl_refusal(error)}") from None
    except consul.ConsulException as error:
        raise CliError(f"Consul at {address} refused {doing}: {error}") from None
    except REQUEST_ERRORS as error:
        raise CliError(f"cannot reach Consul at {address}: {os_reason(error)}") from None


#: What Docker answers (503) on a worker or a daemon in no Swarm, when asked for the Swarm's nodes.
NOT_A_MANAGER = "not a swarm manager"


@contextlib.contextmanager
def docker_errors(env: Mapping[str, str]) -> Iterator[Any]:
    """A Docker API client for DOCKER_HOST; its failures become one-line CliErrors naming the host."""
    host = env.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST
    try:
        yield docker_api(env)
    except docker.errors.APIError as error:  # before requests' errors: an APIError is a requests HTTPError
        explanation = str(error.explanation or error)
        if NOT_A_MANAGER in explanation.lower():
            raise CliError(
                f"Docker at {host} is not a Swarm manager (a worker, or a daemon in no Swarm); point DOCKER_HOST "
                "at a manager's Docker"
            ) from None
        raise CliError(f"Docker at {host} refused the request: {explanation}") from None
    except docker.errors.DockerException as error:
        raise CliError(f"Docker at {host}: {error}") from None
    except REQUEST_ERRORS as error:
        raise CliError(f"cannot reach Docker at {host}: {os_reason(error)}") from None


# --------------------------------------------------------------------------- run


def run_service(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The service in the foreground, exactly as `python neon_cm_main.py` runs it."""
    import neon_cm_main  # lazily: the other commands need no actor machinery

    return neon_cm_main.main(env)


# --------------------------------------------------------------------------- definition


def load_cache(path: Path) -> StoredDefinition | None:
    """The definition cached in `path` if there is one and it still matches its hash (else a note, and None).

    A path the cache could not be written to is refused here, before anything is read or downloaded.
    """
    try:
        target, mode = replaceable(path)
    except NotARegularFile as error:
        raise CliError(f"cannot use the cache: {error}") from None
    if mode is None:
        return None
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CliError(f"cannot read the cache {path}: {describe_os_error(error)}") from None
    try:
        return StoredDefinition.from_json(data)
    except ValueError as error:  # not JSON, not an object, or not matching its hash: download afresh
        unreadable = isinstance(error, json.JSONDecodeError | UnicodeDecodeError)
        note(f"ignoring the cache {path}: {f'not JSON ({json_problem(error)})' if unreadable else error}")
        return None


def save_cache(path: Path, data: bytes) -> None:
    """Write the cache so that a reader never finds half a definition: through a symlink to its target, and
    never over a device, a directory or anything else that is not a regular file (neon_cm.files)."""
    try:
        write_replacing(path, data)
    except NotARegularFile as error:
        raise CliError(f"cannot use the cache: {error}") from None
    except OSError as error:
        raise CliError(f"cannot write the cache {path}: {describe_os_error(error)}") from None


def definition_get(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print the published definition, downloading it only when its hash differs from the cached copy."""
    cache: Path | None = args.cache
    cached = load_cache(cache) if cache is not None else None
    with consul_errors(env, f"reading {HASH_KEY}") as client:
        try:
            fetched = fetch_if_changed(client, cached)
        except DefinitionUnavailable as error:
            raise CliError(str(error)) from None
        except DefinitionFormatError as error:
            raise CliError(f"{DEFINITION_KEY} is unreadable: {error}") from None
        except DefinitionMismatch as error:
            kept = f"; the cache {cache} is left as it was" if cache is not None else ""
            raise CliError(f"{DEFINITION_KEY} refused: {error}{kept}") from None
    stored = fetched.stored
    if cache is not None:
        if fetched.downloaded:
            save_cache(cache, stored.json_bytes)
            note(f"definition {stored.hash} downloaded; cached in {cache}")
        else:
            note(f"definition {stored.hash} unchanged; read from the cache {cache}")
    if args.raw:
        write_out(stored.json_bytes)
    else:
        write_out(json.dumps(stored.definition, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
    return OK


def _strip_path(value: Any, path: tuple[str, ...], where: str, removed: list[str]) -> None:
    """Delete `path` from `value` in place, matching names in any case (every spelling present)."""
    if not isinstance(value, dict):
        return
    for key in [key for key in value if key.lower() == path[0].lower()]:
        here = f"{where}.{key}" if where else key
        if len(path) == 1:
            del value[key]
            removed.append(here)
        else:
            _strip_path(value[key], path[1:], here, removed)


def _without_anywhere(value: Any, path: str, removed: list[str]) -> Any:
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, child in value.items():
            where = f"{path}.{key}" if path else key
            if key.lower() == CONFIDENTIAL_ANYWHERE.lower():
                removed.append(where)
            else:
                kept[key] = _without_anywhere(child, where, removed)
        return kept
    if isinstance(value, list):
        return [_without_anywhere(child, f"{path}[{index}]", removed) for index, child in enumerate(value)]
    return value


def strip_confidential(definition: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of `definition` without `Hosting`, `Docker.RegistryPassword`, `Consul.EncryptionKey`
    and any `RootToken` at any depth, as cluster setup publishes it; and the paths removed."""
    anywhere: list[str] = []
    public: dict[str, Any] = _without_anywhere(dict(definition), "", anywhere)
    removed: list[str] = []
    for path in CONFIDENTIAL_PATHS:
        _strip_path(public, path, "", removed)
    return public, removed + anywhere


def setup_problems(definition: Mapping[str, Any]) -> list[str]:
    """What a definition lacks of REQUIRED_PROPERTIES (each must be a non-empty string), in words."""
    missing = [name for name in REQUIRED_PROPERTIES if name not in definition]
    problems = [f"no {', '.join(missing)}"] if missing else []
    for name in REQUIRED_PROPERTIES:
        value = definition.get(name)
        if name in definition and not (isinstance(value, str) and value.strip()):
            problems.append(f"{name} is {json.dumps(value)[:40]}, not a non-empty string")
    return problems


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def definition_put(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Publish a base definition: confidential fields stripped, definition and hash in one transaction."""
    source = "standard input" if str(args.file) == "-" else str(args.file)
    try:
        # A device given as the file is refused, a pipe nobody writes to too, never waited on (files.read_given).
        data = sys.stdin.buffer.read() if str(args.file) == "-" else read_given(args.file)
    except OSError as error:
        raise CliError(f"cannot read {source}: {describe_os_error(error)}") from None
    try:
        text = data.decode("utf-8-sig")  # a BOM, as Windows editors write, is not content
        if not text.strip():
            raise CliError(f"{source} is empty; a cluster definition is a JSON object")
        document = json.loads(text, parse_constant=_no_constants)
    except ValueError as error:
        raise CliError(f"{source} is not JSON: {json_problem(error)}") from None
    if not isinstance(document, dict):
        raise CliError(f"{source} holds {json_type(document)}; a cluster definition is a JSON object")
    problems = setup_problems(document)
    if problems and not args.force:
        raise CliError(
            f"{source} is not a cluster definition: {'; '.join(problems)} (cluster setup always writes "
            f"{', '.join(REQUIRED_PROPERTIES)}); nothing published (--force publishes it anyway)"
        )
    public, removed = strip_confidential(document)
    value, new_hash = encode_definition(public)
    if len(value) > MAX_DEFINITION_BYTES:
        raise CliError(
            f"the definition is {len(value)} bytes compressed, over the {MAX_DEFINITION_BYTES} bytes a Consul "
            "transaction can carry (512 KiB of base64)"
        )
    with consul_errors(env, f"writing {DEFINITION_KEY} and {HASH_KEY}") as client:
        # PUT /v1/txn: a reader never sees the new hash beside the old definition, nor the reverse.
        writes = [Write(DEFINITION_KEY, value), Write(HASH_KEY, new_hash.encode("ascii"))]
        answer = ConsulGateway(client).write_definition(writes)
        if isinstance(answer, ConsulRefused):
            raise CliError(f"Consul refused the definition: {answer.detail}; nothing published")
        if isinstance(answer, ConsulUnreachable) and answer.cause is not None:
            raise answer.cause  # consul_errors words it, naming Consul's address
    if problems:
        note(f"published without what cluster setup writes (--force): {'; '.join(problems)}")
    if removed:
        note(f"not published (confidential): {', '.join(removed)}")
    print(new_hash)
    return OK


# --------------------------------------------------------------------------- settings


def read_settings(client: consul.Consul) -> dict[str, str | None]:
    """GET /v1/kv/neon/services/neon-cluster-manager/?recurse: stored text by setting name (None: missing)."""
    _, items = client.kv.get(SETTINGS_PREFIX, recurse=True)
    stored: dict[str, str | None] = dict.fromkeys(PARSERS)
    for item in items or []:
        name = item["Key"][len(SETTINGS_PREFIX) :]
        if name in PARSERS:
            value = item.get("Value")
            stored[name] = value.decode("utf-8", errors="replace") if value is not None else ""
    return stored


def setting_name(text: str) -> str:
    """argparse type of a setting's name: one of neon_cm.settings.PARSERS."""
    if text not in PARSERS:
        raise argparse.ArgumentTypeError(f"unknown setting {text!r}; the settings are {', '.join(PARSERS)}")
    return text


def file_path(text: str) -> Path:
    """argparse type of a file name: not empty (Path('') would be the current folder, `.`)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path is not a file name")
    return Path(text)


def why_default(name: str, stored: Mapping[str, str | None], problems: Sequence[SettingProblem]) -> str | None:
    """Why a setting's default applies (missing, or the stored value is invalid and why); None when Consul's does."""
    problem = next((problem for problem in problems if problem.name == name), None)
    if problem is not None:
        return f"the stored {shown(problem.value)} is invalid: {problem.reason}"
    return "not set in Consul" if stored.get(name) is None else None


def settings_get(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Print the effective settings (one, or all with where each comes from)."""
    with consul_errors(env, f"reading {SETTINGS_PREFIX}*") as client:
        stored = read_settings(client)
    settings, problems = parse_settings(stored)
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
        if not client.kv.put(SETTINGS_PREFIX + args.name, text):
            raise CliError(f"Consul did not store {SETTINGS_PREFIX}{args.name}")
    print(f"{args.name} = {text} (the service applies it at once)")
    return OK


# --------------------------------------------------------------------------- vault


def vault_auto_unlock(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Show or flip neon/cluster/disable-auto-unseal (`off` writes `true`, `on` writes `false`); the stored text is
    read with neon_cm.booleans, as the service reads it."""
    doing = f"{'reading' if args.switch is None else 'writing'} {DISABLE_AUTO_UNSEAL_KEY}"
    with consul_errors(env, doing) as client:
        if args.switch is None:
            _, item = client.kv.get(DISABLE_AUTO_UNSEAL_KEY)
            stored = item["Value"].decode("utf-8", errors="replace") if item and item.get("Value") else None
        else:
            stored = "true" if args.switch == "off" else "false"
            if not client.kv.put(DISABLE_AUTO_UNSEAL_KEY, stored):
                raise CliError(f"Consul did not store {DISABLE_AUTO_UNSEAL_KEY}")
    disabled, odd = parse_switch(stored)
    if odd is not None:
        note(f"{DISABLE_AUTO_UNSEAL_KEY}={odd}")
    follow = "; the service follows at its next Vault poll" if args.switch is not None else ""
    print(f"auto-unseal is {'off' if disabled else 'on'} ({DISABLE_AUTO_UNSEAL_KEY}={switch_text(stored)}){follow}")
    return OK


Row = tuple[str, str, str, str]


def probe_manager(node: SwarmNode, template: str, tls: TlsSettings) -> Row:
    """One manager's row: GET /v1/sys/seal-status (and /v1/sys/health when unsealed) on its Vault."""
    hostname = node.hostname.lower()
    url = vault_url(template, node)
    if url is None:
        return hostname, "-", "unknown", "no manager address yet, so {addr} cannot be filled in"
    gateway = VaultGateway(url, tls)
    try:
        found = gateway.probe()
    finally:
        gateway.close()
    return hostname, masked(url), found.state.value, found.detail


def vault_status(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """One row per Swarm manager: its Vault's URL, state and detail."""
    for switch in switch_notes(env, "VAULT"):
        note(switch)
    # Missing certificate files are a warning here, not an error: they matter only to an https:// Vault.
    tls, warnings = parse_tls(env, "VAULT")
    for warning in warnings:
        note(warning)
    if tls.verify is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # said once above
    # Consul first: its address, TLS files and token are checked before anything else is asked.
    with consul_errors(env, f"reading {SETTINGS_PREFIX}*") as client:
        settings, problems = parse_settings(read_settings(client))
    with docker_errors(env) as api:
        listed = api.nodes()
    managers = sorted(
        (node for node in map(SwarmNode.from_docker, listed) if node.role == "manager"),
        key=lambda node: node.hostname.lower(),
    )
    if not managers:
        raise CliError("Docker lists no Swarm manager")
    for problem in problems:
        if problem.name == "vault_url_template":
            note(problem.describe())
    with ThreadPoolExecutor(max_workers=len(managers)) as pool:  # an unreachable Vault costs its timeout once
        rows = list(pool.map(lambda node: probe_manager(node, settings.vault_url_template, tls), managers))
    print(table(("MANAGER", "URL", "STATE", "DETAIL"), rows))
    troubled = [f"{row[0]} is {row[2]}" for row in rows if row[2] != VaultState.UNSEALED.value]
    if args.check and troubled:
        raise CliError(f"not every Vault is unsealed: {', '.join(troubled)}")
    return OK


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(str(row[column])) for row in [headers, *rows]) for column in range(len(headers) - 1)]
    lines = [
        "  ".join([*(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)), str(row[-1])])
        for row in [headers, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


def health(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """The Docker HEALTHCHECK: the verdict of the running service, from its health file."""
    path = env.get("NEON_CM_HEALTH_FILE") or DEFAULT_HEALTH_FILE
    try:
        document = read_given(path)
    except OSError as error:
        raise CliError(
            f"unhealthy: cannot read the health file {path} ({describe_os_error(error)}); is the service running?"
        ) from None
    verdict = from_document(document, time.time())
    if not verdict.ok:
        raise CliError(f"unhealthy: {'; '.join(verdict.reasons)}")
    print("healthy")
    return OK


# --------------------------------------------------------------------------- the parser


Handler = Callable[[argparse.Namespace, Mapping[str, str]], int]


def build_parser() -> Parser:
    """The command line: `run` (the default), `definition get|put`, `vault status|auto-unlock`, `settings get|set`."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = Parser(
        prog=PROG,
        description="Keeps a Docker Swarm's cluster definition in Consul true and its Vaults unsealed. "
        "Without a command, runs the service.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    def command(group: Any, name: str, handler: Handler | None, summary: str, **kwargs: Any) -> Parser:
        sub: Parser = group.add_parser(name, help=summary, description=summary, formatter_class=formatter, **kwargs)
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub

    def group(name: str, summary: str) -> Any:
        sub = command(commands, name, None, summary)
        return sub.add_subparsers(title="commands", metavar="COMMAND", required=True)

    command(commands, "run", run_service, "run the service in the foreground (the default; log on stdout)")

    definition = group("definition", "read or publish the cluster definition in Consul")
    get = command(
        definition,
        "get",
        definition_get,
        f"print the published definition (checked against {HASH_KEY})",
        epilog="With --cache, FILE keeps the last verified definition, and the definition is downloaded\n"
        "only when the hash key differs from its hash. A line on stderr says which happened.",
    )
    get.add_argument(
        "--cache", type=file_path, metavar="FILE", help="the local copy to reuse while the hash is unchanged"
    )
    get.add_argument("--raw", action="store_true", help="the compact JSON bytes exactly as stored, no newline")
    put = command(
        definition,
        "put",
        definition_put,
        "publish a base definition from a JSON file, as cluster setup does; prints its hash",
        epilog="A definition without Name, Schema or Datacenter (what cluster setup always writes) is refused\n"
        "unless --force is given. Hosting, Docker.RegistryPassword, Consul.EncryptionKey and every RootToken\n"
        "are left out (a line on stderr names them). Nodes is kept as given: the running service replaces it at\n"
        "its next node poll.",
    )
    put.add_argument(
        "--force", action="store_true", help="publish even without Name, Schema or Datacenter (what setup writes)"
    )
    put.add_argument(
        "file", type=file_path, metavar="FILE", help="the definition (JSON object); - reads standard input"
    )

    vault = group("vault", "the Vault on every Swarm manager")
    status = command(
        vault,
        "status",
        vault_status,
        "one row per Swarm manager: Vault URL, state, detail",
        epilog="states: unsealed (detail: active or standby), sealed, not-initialized, unreachable,\n"
        "unexpected. The exit status is 0 whatever the states, unless --check is given.",
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

    command(
        commands,
        "health",
        health,
        "exit 0 if the running service is healthy (the Docker HEALTHCHECK)",
        epilog="Reads the health file the service rewrites every 5 s ($NEON_CM_HEALTH_FILE, default\n"
        f"{DEFAULT_HEALTH_FILE}): unhealthy when an actor is dead, no node listing succeeded for three\n"
        "poll intervals, or the file is stale (the service hung or gone).",
    )

    settings = group("settings", "the service's settings, kept in Consul")
    setting_names = ", ".join(PARSERS)
    show = command(settings, "get", settings_get, "print the effective settings, or one setting's value")
    show.add_argument("name", nargs="?", type=setting_name, metavar="NAME", help=f"one of {setting_names}")
    change = command(settings, "set", settings_set, "validate a value as the service does, then store it")
    change.add_argument("name", type=setting_name, metavar="NAME", help=f"one of {setting_names}")
    change.add_argument("value", metavar="VALUE", help="plain text, e.g. 30 or http://{addr}:8200")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """The console script `neon-cluster-manager`: run a command, return its exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = getattr(args, "handler", run_service)
    try:
        return handler(args, os.environ if env is None else env)
    except CliError as error:
        return failed(str(error))
    except BrokenPipeError:
        # The reader (`| head`) went away; say nothing more on a closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILED
    except KeyboardInterrupt:
        return failed("interrupted")
    except OSError as error:  # a file or the terminal, outside any peer's error handling
        return failed(describe_os_error(error))
    # A bug of ours: still one line, never a traceback on an operator's screen.
    except Exception as error:  # noqa: BLE001 - the CLI's last resort, and it says it is a bug
        return failed(f"unexpected {type(error).__name__}: {reason(error)} (a bug; please report it)")


def failed(text: str) -> int:
    """The one `error:` line on stderr (whatever a peer said is folded onto it), and exit status 1."""
    print(f"{PROG}: error: {' '.join(text.splitlines())}", file=sys.stderr)
    return FAILED


if __name__ == "__main__":
    sys.exit(main())
