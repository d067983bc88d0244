"""Every command README.md shows is still valid: the two commands are the repository's scripts (CI runs the second,
tests/integration/test_demo.py the first), and the deployment block is the one the stack tests run."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from tests.deploy_docs import documented_commands

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def blocks(path: Path = README) -> list[list[list[str]]]:
    """Each shell block of a page: its commands, split as the shell would, comments left out."""
    text = path.read_text(encoding="utf-8")
    found = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    return [[shlex.split(line, comments=True) for line in block.splitlines() if line.strip()] for block in found]


def test_readme_shows_two_blocks_the_two_commands_then_the_deployment() -> None:
    """README has the two commands' block and the deployment's, no other, so this file checks all it shows."""
    assert 2 == len(blocks())


def test_the_two_commands_are_executable_scripts_and_ci_runs_the_second() -> None:
    """`scripts/demo` and `scripts/test` exist and are executable; `.ci/run` runs `scripts/test` and nothing else."""
    two, _ = blocks()
    assert [["scripts/demo"], ["scripts/test"]] == two
    for (script,) in two:
        assert os.access(ROOT / script, os.X_OK), f"{script} is not an executable file"
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert "exec bash scripts/test" == ci[-1]
    assert [] == [line for line in ci[:-1] if not line.startswith(("set ", "cd "))]


def test_the_deployment_block_is_the_one_the_stack_tests_run() -> None:
    """README's `docker secret create` and `docker stack deploy` commands are docs/deployment.md's `tested: stack`
    block, which tests/integration/test_stack_deploy.py runs on the test Swarm; the files they name are there."""
    _, deployment = blocks()
    assert documented_commands("stack") == deployment
    stack_file = next(command for command in deployment if command[:3] == ["docker", "stack", "deploy"])
    assert (ROOT / stack_file[stack_file.index("-c") + 1]).is_file()


def test_the_pages_readme_points_to_are_there() -> None:
    """Every relative link of README.md names a file of the repository (a link outside it is no link at all)."""
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    assert [] == [link for link in links if link.startswith(("http:", "https:", "..", "/"))]
    assert [] == [link for link in links if not (ROOT / link).exists()]
