"""What every command shares: its one-line errors, the operator's notes, tables, and the gateways it talks through."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import consul
import urllib3

from gateways.consul import ConsulGateway, consul_client
from gateways.docker import ApiVersions, DockerGateway
from gateways.errors import REQUEST_ERRORS, acl_refusal, os_reason
from gateways.files import path_kind, read_text
from messages.consul_answers import ConsulRefused, ConsulUnreachable
from messages.docker import DockerGarbage, DockerUnreachable, NodesListed, NotAManager
from messages.swarm import SwarmNode
from neon_cm import docker_api
from neon_cm.environment import (
    TlsSettings,
    consul_access,
    consul_address,
    docker_host,
    parse_tls,
    switch_notes,
    tls_file_problems,
    tls_file_warnings,
)
from neon_cm.urls import masked

PROG = "neon-cluster-manager"
#: Exit codes: success, a command that failed or was refused, a command line argparse could not read.
OK, FAILED, USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, Mapping[str, str]], int]


class CliError(Exception):
    """A command that cannot be carried out; its text is the one line printed on stderr."""


class Refused(Exception):
    """Consul's ACLs refused a gateway call (ConsulRefused): consul_errors words it with Consul's address."""


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line (no usage block) and exit status 2."""

    def error(self, message: str) -> Any:  # argparse declares NoReturn; exit() raises SystemExit
        self.exit(USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


#: argparse's help layout for every command: epilogs keep their line breaks.
FORMATTER = argparse.RawDescriptionHelpFormatter


def command(group: Any, name: str, handler: Handler | None, summary: str, **kwargs: Any) -> Parser:
    """A command in `group` (argparse's subparsers) running `handler`, its summary as help and description."""
    sub: Parser = group.add_parser(name, help=summary, description=summary, formatter_class=FORMATTER, **kwargs)
    if handler is not None:
        sub.set_defaults(handler=handler)
    return sub


def command_group(commands: Any, name: str, summary: str) -> Any:
    """A group of commands (`definition`, `vault`, `settings`): the subparsers to add them to."""
    sub = command(commands, name, None, summary)
    return sub.add_subparsers(title="commands", metavar="COMMAND", required=True)


def note(text: str) -> None:
    """A line for the operator on stderr, so that stdout holds only the command's result."""
    print(f"{PROG}: {text}", file=sys.stderr)


def write_out(data: bytes) -> None:
    """Write bytes to stdout as they are (definitions are UTF-8 whatever the locale)."""
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def file_path(text: str) -> Path:
    """argparse type of a file name: not empty (Path('') would be the current folder, `.`)."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path is not a file name")
    return Path(text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(str(row[column])) for row in [headers, *rows]) for column in range(len(headers) - 1)]
    lines = [
        "  ".join([*(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)), str(row[-1])])
        for row in [headers, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines)


# --------------------------------------------------------------------------- errors from Consul and Docker


def tls_for(env: Mapping[str, str], peer: str, files_required: bool = True) -> TlsSettings:
    """`peer`'s TLS settings for a command that speaks TLS to it, its warnings noted once. With `files_required`,
    a certificate file that is missing or no file is the command's error (the request could not succeed)."""
    if files_required:
        problems = tls_file_problems(env, peer, path_kind)
        if problems:
            raise CliError(f"{'; '.join(problems)}: TLS to {peer.title()} cannot be set up")
    tls, warnings = parse_tls(env, peer)
    for warning in [*warnings, *([] if files_required else tls_file_warnings(env, peer, path_kind))]:
        note(warning)
    if tls.verify is False:
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # said once above
    return tls


def switches_noted(env: Mapping[str, str], peer: str) -> None:
    """Say once what is odd about `peer`'s yes/no variables."""
    for switch in switch_notes(env, peer):
        note(switch)


@contextlib.contextmanager
def consul_errors(env: Mapping[str, str], doing: str = "the request") -> Iterator[consul.Consul]:
    """A Consul client built as the service builds its own (neon_cm.environment.consul_access); its failures
    become one-line CliErrors naming Consul's address and, for a refusal, what was refused (`doing`)."""
    switches_noted(env, "CONSUL")
    try:
        address = consul_address(env)
        if address.scheme == "https":
            tls_for(env, "CONSUL")
        client = consul_client(consul_access(env, read_text))
    except ValueError as error:
        raise CliError(str(error)) from None
    try:
        yield client
    except Refused as error:
        raise CliError(f"Consul at {address} refused {doing}: {error}") from None
    except consul.ACLPermissionDenied as error:
        raise CliError(f"Consul at {address} refused {doing}: {acl_refusal(error)}") from None
    except consul.ConsulException as error:
        raise CliError(f"Consul at {address} refused {doing}: {error}") from None
    except REQUEST_ERRORS as error:
        raise CliError(f"cannot reach Consul at {address}: {os_reason(error)}") from None


def consul_answer(answer: Any) -> Any:
    """The Consul gateway's answer (messages.consul_answers); a refusal or a failure to reach Consul raised,
    inside consul_errors, for it to word as it words the client's own exceptions."""
    if isinstance(answer, ConsulRefused):
        raise Refused(answer.detail)
    if isinstance(answer, ConsulUnreachable):
        raise answer.cause if answer.cause is not None else CliError(f"Consul: {answer.reason}")
    return answer


def write_key(client: consul.Consul, key: str, text: str) -> None:
    """PUT /v1/kv/<key> through the gateway (inside consul_errors); CliError when Consul did not store it."""
    if not consul_answer(ConsulGateway(client).write_key(key, text)).stored:
        raise CliError(f"Consul did not store {key}")


def swarm_nodes(env: Mapping[str, str]) -> tuple[SwarmNode, ...]:
    """GET /nodes on DOCKER_HOST through the service's Docker gateway; what stops it, as one CliError."""
    pin, _ = docker_api.pinned(env.get("DOCKER_API_VERSION"))  # a bad pin is negotiated over, as by the service
    given = docker_host(env)
    outcome = DockerGateway(given, versions=ApiVersions(pin)).nodes()
    host = masked(given)  # as shown: a password in it reads <hidden>
    if isinstance(outcome, NodesListed):
        return outcome.nodes
    if isinstance(outcome, NotAManager):
        raise CliError(
            f"Docker at {host} is not a Swarm manager (a worker, or a daemon in no Swarm); point DOCKER_HOST "
            "at a manager's Docker"
        )
    if isinstance(outcome, DockerUnreachable) and outcome.connection is not None:
        raise CliError(f"cannot reach Docker at {host}: {outcome.connection}")
    if isinstance(outcome, DockerGarbage):
        raise CliError(f"Docker at {host} answered what is not a node listing: {outcome.reason}")
    raise CliError(f"Docker at {host}: {outcome.reason}")
