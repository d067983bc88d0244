"""README's first command, `scripts/demo`, run as a newcomer runs it: it starts (or reuses) the stack and runs the
service in the foreground; then what it prints to try in another terminal is typed as printed, and each works."""

from __future__ import annotations

import shlex
import signal
import subprocess
from typing import Any

import consul

from tests.integration.conftest import unseal_key_forms
from tests.integration.test_definition_pipeline import read_definition
from tests.service import ROOT, Service
from tests.waiting import wait_until

#: The shell variables a newcomer's terminal does not have: the demo sets what the service needs itself.
UNSET = ("DOCKER_HOST", "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "VAULT_CREDENTIALS", "VAULT_CREDENTIALS_FILE")
#: `env` run with these unset, in a newcomer's clean terminal.
CLEAN = ["env", *[word for name in UNSET for word in ("-u", name)]]


def suggested(demo: Service) -> list[list[str]]:
    """The commands the demo printed to try (its indented lines), split as the shell would."""
    return [shlex.split(line) for line in demo.stderr if line.startswith("  ")]


def typed(command: list[str]) -> str:
    """Run a suggested command from the repository's root, as the newcomer's shell would; its output."""
    result = subprocess.run([*CLEAN, *command], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert 0 == result.returncode, f"{shlex.join(command)}: {result.stderr}"
    return result.stdout


def cores(kv: consul.Consul) -> Any:
    """worker-1's `ComputeCores` in the definition in Consul (None before the first publish)."""
    try:
        definition = read_definition(kv)[0]
    except TypeError:  # no definition yet
        return None
    return definition["Nodes"]["worker-1"]["Labels"].get("ComputeCores")


def test_scripts_demo_runs_the_service_and_what_it_suggests_works(kv: consul.Consul, vault: dict[str, Any]) -> None:
    """`scripts/demo` publishes the definition and watches every Vault; the printed label command reaches Consul,
    the printed OpenBao restart is unsealed again, and Ctrl-C stops the service with exit 0 and no key in the log."""
    demo = Service({}, argv=[*CLEAN, "bash", "scripts/demo"])
    try:
        demo.wait_for(r"^Starting neon-cluster-manager", timeout=300, stream="stderr")
        demo.wait_for(r"published the cluster definition: 5 nodes", timeout=30)
        add, remove, restart = suggested(demo)
        assert (["docker", "-H"], ["docker", "-H"]) == (add[:2], remove[:2])
        try:
            typed(add)
            wait_until(lambda: cores(kv) == 8, 15, "the demo's label in Consul", lambda: demo.stdout[-5:])
        finally:
            typed(remove)
        wait_until(lambda: cores(kv) != 8, 15, "the label gone from Consul", lambda: demo.stdout[-5:])
        mark = demo.mark()
        typed(restart)
        demo.wait_for(r"\[ERROR\] .*Vault on manager-2 .* is sealed", timeout=30, after=mark)
        demo.wait_for(r"\[INFO\] .*unsealed the Vault on manager-2", timeout=30, after=mark)
    finally:
        code, _ = demo.stop(signal.SIGINT)
    assert 0 == code, "\n".join(demo.stdout[-20:] + demo.stderr[-20:])
    assert [] == [line for line in demo.stderr if "Traceback" in line]
    secrets = unseal_key_forms({"vault": vault})
    assert [] == [line for line in demo.stdout if any(secret in line for secret in secrets)]
