"""The console script `neon-cluster-manager`: the parser over every command group, and the one place errors end."""

from __future__ import annotations

import os
import sys

import neon_cm_stopping as stopping

if sys.argv[1:2] in ([], ["run"]) and sys.argv[0].endswith("neon-cluster-manager"):
    stopping.install()  # the service (the image's entry point): a stop during the imports below is a clean stop

if sys.argv[1:] == ["health"] and sys.argv[0].endswith("neon-cluster-manager"):
    # The image's HEALTHCHECK, run every interval in every task: the verdict without the parser and the server
    # clients it would import (seconds on a loaded manager, past the check's timeout). Says what `health` says.
    from cli.healthcheck import verdict

    passes, line = verdict(os.environ)
    if not passes:
        print(f"neon-cluster-manager: error: {' '.join(line.splitlines())}", file=sys.stderr)
        sys.exit(1)
    print(line)
    sys.exit(0)

from collections.abc import Mapping, Sequence

from cli import definition, health, run, settings, vault
from cli.common import FAILED, FORMATTER, PROG, CliError, Handler, Parser
from gateways.errors import reason
from neon_cm import __version__
from neon_cm.filewords import describe_os_error

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
  DOCKER_API_VERSION      pins the Docker API version (1.41-1.55; default: negotiated with the daemon)
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


def build_parser() -> Parser:
    """The command line: `run` (the default), `definition get|put`, `vault status|auto-unlock`, `settings get|set`,
    `health`."""
    parser = Parser(
        prog=PROG,
        description="Keeps a Docker Swarm's cluster definition in Consul true and its Vaults unsealed. "
        "Without a command, runs the service.",
        epilog=ENVIRONMENT_HELP,
        formatter_class=FORMATTER,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for group in (run, definition, vault, health, settings):  # the order --help lists them in
        group.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """The console script `neon-cluster-manager`: run a command, return its exit status."""
    args = build_parser().parse_args(argv)
    handler: Handler = getattr(args, "handler", run.run_service)
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
