"""The operator CLI's command line and pure helpers (no Consul, Docker or Vault needed)."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from cli.common import table
from cli.main import main
from cli.vault import probe_manager
from gateways.errors import os_reason
from messages.swarm import SwarmNode
from neon_cm.confidential import strip_confidential
from neon_cm.encoding import canonical_json, with_hash
from neon_cm.environment import TlsSettings
from neon_cm.health import Health, stopped_document, to_document
from neon_cm.settings import PARSERS, setting_text
from neon_cm.stored_definition import DefinitionMismatch, StoredDefinition
from tests.service import ROOT
from tests.strategies import base_definitions, json_values

CLOSED_PORT = {"CONSUL_HTTP_ADDR": "127.0.0.1:1", "DOCKER_HOST": "tcp://127.0.0.1:1"}


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["definition"],
        ["definition", "get"],
        ["definition", "put"],
        ["vault"],
        ["vault", "status"],
        ["vault", "auto-unlock"],
        ["settings"],
        ["settings", "get"],
        ["settings", "set"],
    ],
)
def test_every_level_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` works on every command and group, exits 0 and shows its usage."""
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"], CLOSED_PORT)

    assert 0 == exited.value.code
    assert capsys.readouterr().out.startswith(f"usage: {' '.join(['neon-cluster-manager', *command])}")


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["definition"], "required: COMMAND"),
        (["definition", "delete"], "invalid choice: 'delete'"),
        (["vault", "auto-unlock", "maybe"], "invalid choice: 'maybe'"),
        (["settings", "set", "node_poll_seconds"], "required: VALUE"),
        (
            ["settings", "get", "poll"],
            "unknown setting 'poll'; the settings are node_poll_seconds, vault_poll_seconds, vault_url_template",
        ),
        (["settings", "set", "poll", "1"], "unknown setting 'poll'"),
    ],
)
def test_bad_command_lines_give_one_line_and_status_2(
    command: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command line argparse cannot read: exit 2, one line on stderr saying what is wrong."""
    with pytest.raises(SystemExit) as exited:
        main(command, CLOSED_PORT)
    stderr = capsys.readouterr().err

    assert 2 == exited.value.code
    assert 1 == len(stderr.splitlines()), stderr
    assert says in stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("node_poll_seconds", "abc"),
        ("vault_poll_seconds", "-1"),
        ("node_poll_seconds", "100000"),
        ("vault_url_template", "ftp://{hostname}"),
        ("vault_url_template", "https://{host}:8200"),
        ("node_poll_seconds", "\u0663"),
        ("node_poll_seconds", "1_0"),
        ("vault_url_template", "http://{addr}:99999"),
        ("vault_url_template", "http://my vault:8200"),
    ],
)
def test_settings_set_refuses_a_bad_value_before_reaching_consul(
    name: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The value is checked first, with the service's own parser and reason (Consul is not even reached)."""
    with pytest.raises(ValueError) as rejected:
        PARSERS[name](value)

    code = main(["settings", "set", name, value], CLOSED_PORT)
    stderr = capsys.readouterr().err

    assert 1 == code
    assert f"neon-cluster-manager: error: {name}={value!r} refused ({rejected.value}); nothing written\n" == stderr


def test_malformed_consul_address_is_one_line() -> None:
    """CONSUL_HTTP_ADDR that is not host:port: the service's own message, exit 1."""

    assert 1 == main(["settings", "get"], {"CONSUL_HTTP_ADDR": "ftp://consul"})


def test_strip_confidential_removes_the_setup_secrets_and_keeps_the_rest() -> None:
    """Hosting, Docker.RegistryPassword, Consul.EncryptionKey and RootToken at any depth go; all else stays."""
    definition = {
        "Name": "prod",
        "Hosting": {"Aws": {"SecretKey": "s3cr3t"}},
        "Docker": {"RegistryCache": True, "RegistryPassword": "hunter2"},
        "Consul": {"Version": "1.8.7", "EncryptionKey": "gossip-key"},
        "Vault": {"RootToken": "root", "Nested": [{"roottoken": "again"}, 1]},
        "Nodes": {"a": {"Name": "a"}},
        "Hash": None,
    }
    original = copy.deepcopy(definition)

    public, removed = strip_confidential(definition)

    assert {
        "Name": "prod",
        "Docker": {"RegistryCache": True},
        "Consul": {"Version": "1.8.7"},
        "Vault": {"Nested": [{}, 1]},
        "Nodes": {"a": {"Name": "a"}},
        "Hash": None,
    } == public
    assert [
        "Hosting",
        "Docker.RegistryPassword",
        "Consul.EncryptionKey",
        "Vault.RootToken",
        "Vault.Nested[0].roottoken",
    ] == removed
    assert original == definition, "the caller's definition is not modified"


def test_strip_confidential_matches_names_in_any_case() -> None:
    """.NET reads property names in any case, so every spelling of a confidential name goes."""
    definition = {"Docker": {"RegistryPassword": "a"}, "docker": {"registrypassword": "b", "Keep": 1}, "HOSTING": 1}

    public, removed = strip_confidential(definition)

    assert (
        {"Docker": {}, "docker": {"Keep": 1}},
        ["HOSTING", "Docker.RegistryPassword", "docker.registrypassword"],
    ) == (
        public,
        removed,
    )


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {key.lower() for key in value} | {key for child in value.values() for key in _keys(child)}
    if isinstance(value, list):
        return {key for child in value for key in _keys(child)}
    return set()


@given(base_definitions(), st.lists(st.tuples(st.sampled_from(["Vault", "Docker", "Extra"]), json_values), max_size=3))
def test_no_root_token_survives_at_any_depth(definition: dict[str, Any], extras: list[tuple[str, Any]]) -> None:
    """Whatever the shape, no RootToken remains, and stripping twice changes nothing more."""
    for parent, value in extras:
        definition[parent] = {"RootToken": "x", "Inner": [value, {"RootToken": value}]}

    public, _ = strip_confidential(definition)
    again, removed_again = strip_confidential(public)

    assert "roottoken" not in _keys(public)
    assert (public, []) == (again, removed_again)


def test_stored_definition_verifies_its_hash() -> None:
    """A definition whose content no longer matches its Hash is refused; the intact one is accepted."""
    definition = with_hash({"Name": "c", "Nodes": {}, "Hash": None})
    intact = canonical_json(definition)
    tampered = canonical_json({**definition, "Name": "evil"})

    stored = StoredDefinition.from_json(intact)

    assert (definition["Hash"], intact) == (stored.hash, stored.json_bytes)
    with pytest.raises(DefinitionMismatch, match="does not match its hash"):
        StoredDefinition.from_json(tampered)
    with pytest.raises(DefinitionMismatch, match=r'definition\.hash holds "other"'):
        StoredDefinition.from_json(intact, expected_hash="other")


def test_connection_failures_are_reduced_to_their_os_error() -> None:
    """requests' long nested texts become `[Errno N] text`; timeouts say so."""
    refused = requests.ConnectionError(
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /v1/kv/x (Caused by "
        'NewConnectionError("...: Failed to establish a new connection: [Errno 111] Connection refused"))'
    )
    socket_missing = requests.ConnectionError(ConnectionError("aborted", FileNotFoundError(2, "No such file")))

    assert "[Errno 111] Connection refused" == os_reason(refused)
    assert "[Errno 2] No such file" == os_reason(socket_missing)
    assert "no answer in time" == os_reason(requests.ReadTimeout("read timed out"))


def test_table_and_values_read_as_in_consul() -> None:
    """Columns line up; whole seconds print without a decimal point, as the defaults are written."""

    assert "A    BB\nccc  d" == table(("A", "BB"), [("ccc", "d")])
    assert ("30", "0.5", "http://{addr}:8200") == (
        setting_text(30.0),
        setting_text(0.5),
        setting_text("http://{addr}:8200"),
    )


def test_definition_json_round_trips_through_the_reader() -> None:
    """What `definition get --raw` prints is the stored JSON byte for byte (non-ASCII as UTF-8)."""
    definition = with_hash({"Name": "zürich ④", "Nodes": {}, "Hash": None})
    data = canonical_json(definition)

    assert data == StoredDefinition.from_json(data).json_bytes
    assert definition == json.loads(data)


def test_console_script_is_the_cli() -> None:
    """setup.py's console script is the CLI, which runs the service when given no command."""

    assert '"neon-cluster-manager = cli.main:main"' in (ROOT / "setup.py").read_text()


def test_settings_set_never_echoes_a_huge_value_in_full(capsys: pytest.CaptureFixture[str]) -> None:
    """A 120 KB value is refused for its length in one short line, which shows only its start."""
    value = "http://" + "x" * 120_000

    code = main(["settings", "set", "vault_url_template", value], CLOSED_PORT)
    stderr = capsys.readouterr().err

    assert 1 == code
    assert (
        f"neon-cluster-manager: error: vault_url_template={value[:60]!r}... (120007 characters) refused "
        "(120007 characters, over the 512 a setting may have); nothing written\n"
    ) == stderr


REFUSED = "neon-cluster-manager: error: cannot reach Consul at http://127.0.0.1:1: [Errno 111] Connection refused"


@pytest.mark.parametrize(
    ("document", "says"),
    [
        ({}, "no Name, Schema, Datacenter"),
        ({"Name": "x", "Schema": "1.0"}, "no Datacenter"),
        ({"Name": "", "Schema": "1.0", "Datacenter": "dc"}, 'Name is "", not a non-empty string'),
        ({"Name": "x", "Schema": None, "Datacenter": "dc"}, "Schema is null, not a non-empty string"),
    ],
)
def test_definition_put_refuses_what_setup_never_writes(
    document: dict[str, Any], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A definition without Name, Schema or Datacenter is refused before Consul is reached, saying what is missing."""
    path = tmp_path / "definition.json"
    path.write_text(json.dumps(document))

    code = main(["definition", "put", str(path)], CLOSED_PORT)
    stderr = capsys.readouterr().err

    assert 1 == code
    assert (
        f"neon-cluster-manager: error: {path} is not a cluster definition: {says} (cluster setup always writes "
        "Name, Schema, Datacenter); nothing published (--force publishes it anyway)\n"
    ) == stderr


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "is empty; a cluster definition is a JSON object"),
        (b" \n", "is empty; a cluster definition is a JSON object"),
        (b"{", "is not JSON: a property name in double quotes was expected at line 1, column 2"),
        (b"not json", "is not JSON: a value was expected at line 1, column 1"),
        (b"{} {}", "is not JSON: more text follows the JSON value at line 1, column 4"),
        (b"\xff{}", "is not JSON: not UTF-8 text (byte 0xff at offset 0)"),
        (b'"text"', "holds a string; a cluster definition is a JSON object"),
        (b"null", "holds null; a cluster definition is a JSON object"),
    ],
)
def test_definition_put_says_what_it_found_in_an_operators_words(
    data: bytes, says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No Python in the words: no `Expecting value`, `(char 0)`, `str` or `NoneType`."""
    path = tmp_path / "definition.json"
    path.write_bytes(data)

    code = main(["definition", "put", str(path)], CLOSED_PORT)

    assert (1, f"neon-cluster-manager: error: {path} {says}\n") == (code, capsys.readouterr().err)


def test_definition_put_accepts_a_bom_and_force_publishes_a_bare_definition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A UTF-8 BOM (Windows editors) is not content; --force passes the setup check: Consul is all that is missing."""
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + json.dumps({"Name": "n", "Schema": "1", "Datacenter": "d"}).encode())
    bare = tmp_path / "bare.json"
    bare.write_bytes(b"{}")

    codes = [main(["definition", "put", *args], CLOSED_PORT) for args in ([str(with_bom)], ["--force", str(bare)])]

    assert ([1, 1], [REFUSED, REFUSED]) == (codes, capsys.readouterr().err.splitlines())


def test_an_empty_path_is_refused_not_taken_for_the_current_folder(capsys: pytest.CaptureFixture[str]) -> None:
    """`--cache ''` is a command-line error (exit 2), never reported as `.`."""
    with pytest.raises(SystemExit) as exited:
        main(["definition", "get", "--cache", ""], CLOSED_PORT)
    stderr = capsys.readouterr().err

    assert 2 == exited.value.code
    assert "argument --cache: an empty path is not a file name" in stderr


def test_help_lists_every_environment_variable_readme_documents(capsys: pytest.CaptureFixture[str]) -> None:
    """`--help` names each variable of README's environment table, not a handful of them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Environment") : readme.index("### Settings in Consul")]
    documented = re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE)
    with pytest.raises(SystemExit):
        main(["--help"], {})
    helped = capsys.readouterr().out

    assert 25 == len(documented)
    assert [] == [name for name in documented if not re.search(rf"^  {name} ", helped, flags=re.MULTILINE)]


CONSUL_COMMANDS = [
    ["definition", "get"],
    ["definition", "put", "FILE"],
    ["settings", "get"],
    ["settings", "set", "node_poll_seconds", "5"],
    ["vault", "auto-unlock"],
    ["vault", "auto-unlock", "off"],
]


def bad_tls_paths(folder: Path) -> list[tuple[dict[str, str], str]]:
    """Each TLS variable naming what cannot be used, and what the one error line must say."""
    pem = folder / "cert.pem"
    pem.write_text("not read before the request")
    missing = str(folder / "nonexist" / "ca.pem")
    pair = {"CONSUL_CLIENT_KEY": str(pem)}
    return [
        ({"CONSUL_CACERT": missing}, f"CONSUL_CACERT={missing} does not exist"),
        ({"CONSUL_CACERT": str(folder)}, f"CONSUL_CACERT={folder} is a directory, not a PEM file"),
        ({"CONSUL_CAPATH": missing}, f"CONSUL_CAPATH={missing} does not exist"),
        ({"CONSUL_CAPATH": str(pem)}, f"CONSUL_CAPATH={pem} is not a directory (of PEM certificates)"),
        ({**pair, "CONSUL_CLIENT_CERT": missing}, f"CONSUL_CLIENT_CERT={missing} does not exist"),
        ({**pair, "CONSUL_CLIENT_CERT": str(folder)}, f"CONSUL_CLIENT_CERT={folder} is a directory, not a PEM file"),
    ]


@pytest.mark.parametrize("command", CONSUL_COMMANDS, ids=lambda command: "-".join(command))
def test_every_consul_command_says_a_bad_tls_path_in_one_line(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CONSUL_CACERT, CONSUL_CAPATH or the client certificate naming a missing file or a directory: one `error:`
    line naming the variable and what is wrong, exit 1 (was a 25-line traceback ending in requests' OSError)."""
    definition = tmp_path / "definition.json"
    definition.write_text(json.dumps({"Name": "n", "Schema": "1", "Datacenter": "d"}))
    argv = [str(definition) if arg == "FILE" else arg for arg in command]
    outcomes = []
    for variables, says in bad_tls_paths(tmp_path):
        code = main(argv, {**CLOSED_PORT, "CONSUL_HTTP_ADDR": "https://127.0.0.1:1", **variables})
        outcomes.append((code, capsys.readouterr().err, says))

    for code, stderr, says in outcomes:
        assert (1, [f"neon-cluster-manager: error: {says}: TLS to Consul cannot be set up"]) == (
            code,
            stderr.splitlines(),
        )


def test_tls_files_do_not_matter_to_a_plain_http_consul(capsys: pytest.CaptureFixture[str]) -> None:
    """Over http:// no certificate is read, so a missing one is no error: the command gets as far as Consul."""
    code = main(["settings", "get"], {**CLOSED_PORT, "CONSUL_CACERT": "/nonexist/ca.pem", "CONSUL_CLIENT_CERT": "/x",
                                      "CONSUL_CLIENT_KEY": "/y"})  # fmt: skip

    assert (1, f"{REFUSED}\n") == (code, capsys.readouterr().err)


def test_a_named_pipe_or_a_device_is_refused_never_waited_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO given to `definition put` or as CONSUL_HTTP_TOKEN_FILE hung the CLI with no output, and /dev/zero as
    the token file would be read forever: each is one line saying what the path is."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    os.mknod(zero, 0o666 | stat.S_IFCHR, os.makedev(1, 5))

    put = main(["definition", "put", str(fifo)], CLOSED_PORT)
    put_err = capsys.readouterr().err
    token_errors = []
    for path in (fifo, zero, tmp_path):
        main(["settings", "get"], {**CLOSED_PORT, "CONSUL_HTTP_TOKEN_FILE": str(path)})
        token_errors.append(capsys.readouterr().err)

    nobody = "is a named pipe nobody writes to, not a regular file"
    assert (1, f"neon-cluster-manager: error: cannot read {fifo}: {fifo} {nobody}\n") == (put, put_err)
    assert [
        f"neon-cluster-manager: error: CONSUL_HTTP_TOKEN_FILE={fifo} cannot be read: {fifo} {nobody}\n",
        f"neon-cluster-manager: error: CONSUL_HTTP_TOKEN_FILE={zero} cannot be read: {zero} is a character device, "
        "not a regular file\n",
        f"neon-cluster-manager: error: CONSUL_HTTP_TOKEN_FILE={tmp_path} cannot be read: {tmp_path} is a directory, "
        "not a regular file\n",
    ] == token_errors


def test_a_cache_path_through_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`definition get --cache c1.json/x` with c1.json a regular file ended in a NotADirectoryError traceback."""
    (tmp_path / "c1.json").write_text("{}")

    code = main(["definition", "get", "--cache", str(tmp_path / "c1.json" / "x")], CLOSED_PORT)

    assert (
        1,
        f"neon-cluster-manager: error: cannot use the cache: cannot create {tmp_path}/c1.json/x: {tmp_path}/c1.json "
        "is a file, not a folder\n",
    ) == (code, capsys.readouterr().err)


def test_a_template_with_a_password_is_refused_without_echoing_it(capsys: pytest.CaptureFixture[str]) -> None:
    """`settings set vault_url_template 'http://user:pw@{addr}:8200'` was stored; it is refused, the password hidden."""
    code = main(["settings", "set", "vault_url_template", "http://user:pw@{addr}:8200"], CLOSED_PORT)
    stderr = capsys.readouterr().err

    assert 1 == code
    assert "'http://<hidden>@{addr}:8200' refused (a user name or password" in stderr
    assert "pw@" not in stderr


def test_odd_switches_in_the_environment_are_said_once_by_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """CONSUL_HTTP_SSL_VERIFY=nope was silent over http://: one note, then the command's own outcome."""
    main(["settings", "get"], {**CLOSED_PORT, "CONSUL_HTTP_SSL_VERIFY": "nope"})

    assert [
        "neon-cluster-manager: CONSUL_HTTP_SSL_VERIFY='nope' is neither true nor false (yes/no, on/off and 1/0 are "
        "read too); taken as true (Consul's TLS certificates are verified)",
        REFUSED,
    ] == capsys.readouterr().err.splitlines()


def test_an_unexpected_error_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever a command meets, the CLI's last resort is one `error:` line and exit 1."""

    def broken(*args: Any) -> Any:
        raise KeyError("surprise")

    monkeypatch.setattr("cli.common.consul_client", broken)

    code = main(["settings", "get"], CLOSED_PORT)

    assert (1, "neon-cluster-manager: error: unexpected KeyError: 'surprise' (a bug; please report it)\n") == (
        code,
        capsys.readouterr().err,
    )


def test_vault_status_never_probes_a_manager_whose_hostname_would_steer_the_url() -> None:
    """Issue 26, defect 8: `vault status` fills the template as the service does; a hostname holding `@` is not
    probed (its URL would name another host), and its row says why."""
    row = probe_manager(
        SwarmNode("n9", "evil.example@127.0.0.1", "manager", "10.0.0.9"), "http://{hostname}:1", TlsSettings()
    )

    assert ("evil.example@127.0.0.1", "-", "unknown", "-") == row[:4]
    assert row[4].endswith("is not a host name: not probed")


@pytest.mark.parametrize("state", ["healthy", "degraded", "unhealthy", "stale", "stopped", "missing", "garbage"])
def test_the_images_healthcheck_says_what_health_says_without_importing_the_clients(state: str, tmp_path: Path) -> None:
    """The image's HEALTHCHECK runs the console script with `health` alone, which answers before the parser and
    the server clients are imported (cli/main.py's fast path): the same words and status as `health` through the
    parser, for every kind of health file, and not one client library loaded."""
    health_file = tmp_path / "health"
    now = time.time()
    documents = {
        "healthy": to_document(Health(True), now),
        "degraded": to_document(Health(True, degraded=("the metrics port is taken",)), now),
        "unhealthy": to_document(Health(False, ("actor swarm-watcher is not running",)), now),
        "stale": to_document(Health(True), now - 600),
        "stopped": stopped_document(now),
        "garbage": b"\x00{",
    }
    if state in documents:
        health_file.write_bytes(documents[state])
    env = {**os.environ, "NEON_CM_HEALTH_FILE": str(health_file)}
    # What the console script does: argv[0] is its path, then `from cli.main import main`.
    fast = (
        "import sys; sys.argv = ['/usr/local/bin/neon-cluster-manager', 'health']\n"
        "try:\n    import cli.main\n"
        "finally:\n    print(sorted({'consul', 'requests', 'docker', 'pykka'} & set(sys.modules)), file=sys.stderr)"
    )
    through_parser = subprocess.run([sys.executable, "-m", "cli", "health"], env=env, capture_output=True, text=True)
    image = subprocess.run([sys.executable, "-c", fast], env=env, capture_output=True, text=True, cwd=ROOT)
    *said, loaded = image.stderr.splitlines()

    def ages_apart(lines: list[str]) -> list[str]:  # the two commands read the clock a moment apart
        return [re.sub(r"\d+ s ago", "N s ago", line) for line in lines]

    assert (through_parser.returncode, through_parser.stdout) == (image.returncode, image.stdout)
    assert ages_apart(through_parser.stderr.splitlines()) == ages_apart(said)
    assert "[]" == loaded
    assert (0 if state in ("healthy", "degraded") else 1) == image.returncode


def test_health_on_a_device_says_it_is_no_health_file_not_that_the_service_may_be_down(tmp_path: Path) -> None:
    """NEON_CM_HEALTH_FILE=/dev/null: the service refuses to write there (one ERROR), and `health` said `...; is the
    service running?` of a running service. It says the path must be a regular file (the service's own words)."""
    from cli.healthcheck import verdict

    device = tmp_path / "null"
    os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))

    assert (
        False,
        f"unhealthy: cannot read the health file {device} ({device} is a character device, not a regular file); "
        "NEON_CM_HEALTH_FILE must name a regular file, a symlink to one or a new file in an existing folder",
    ) == verdict({"NEON_CM_HEALTH_FILE": str(device)})
