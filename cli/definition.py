"""`definition get` and `definition put`: the cluster definition in Consul, read and published as cluster setup does."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cli.common import OK, CliError, command, command_group, consul_answer, consul_errors, file_path, note, write_out
from gateways.consul import ConsulGateway, Write
from gateways.definition_reader import fetch_if_changed
from gateways.files import read_given, replaceable, write_replacing
from messages.consul_answers import ConsulRefused
from neon_cm.confidential import REQUIRED_PROPERTIES, setup_problems, strip_confidential
from neon_cm.encoding import DefinitionFormatError, encode_definition
from neon_cm.filewords import NotARegularFile, describe_os_error
from neon_cm.jsonwords import json_problem, json_type
from neon_cm.keys import DEFINITION_KEY, HASH_KEY, MAX_DEFINITION_BYTES
from neon_cm.stored_definition import DefinitionMismatch, DefinitionUnavailable, StoredDefinition


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
    never over a device, a directory or anything else that is not a regular file (gateways/files.py)."""
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
            fetched = consul_answer(fetch_if_changed(ConsulGateway(client), cached))
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


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def definition_put(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    """Publish a base definition: confidential fields stripped, definition and hash in one transaction."""
    source = "standard input" if str(args.file) == "-" else str(args.file)
    try:
        # A device given as the file is refused, a pipe nobody writes to too, never waited on (gateways/files.py).
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
        consul_answer(answer)  # consul_errors words a failure to reach Consul, naming its address
    if problems:
        note(f"published without what cluster setup writes (--force): {'; '.join(problems)}")
    if removed:
        note(f"not published (confidential): {', '.join(removed)}")
    print(new_hash)
    return OK


def add_commands(commands: Any) -> None:
    """`definition get` and `definition put`."""
    definition = command_group(commands, "definition", "read or publish the cluster definition in Consul")
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
