"""A real Prometheus server and promtool for tests: Debian's binaries, unpacked by scripts/install-deps."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import teststack
from tests.server_process import ServerProcess
from tests.service import ROOT

CACHE = os.environ.get("NEON_CM_CACHE") or "/var/cache/neon-cm-stack"
ALERTS = ROOT / "examples" / "prometheus" / "alerts.yml"
JOB = "neon-cluster-manager"
OPERATIONS = ROOT / "docs" / "operations.md"


def documented_config(docker_host: str = "unix:///var/run/docker.sock", port: int = 9102) -> str:
    """docs/operations.md's prometheus.yml as written, but for the rules file (this repository's), the Docker it
    discovers the Swarm through and the metrics port."""
    text = OPERATIONS.read_text(encoding="utf-8")
    start = text.index("```yaml\n# prometheus.yml\n") + len("```yaml\n")
    config = text[start : text.index("```", start)]
    for written, used in (
        ("/etc/prometheus/neon-cluster-manager-alerts.yml", str(ALERTS)),
        ("unix:///var/run/docker.sock", docker_host),
        ('"$1:9102"', f'"$1:{port}"'),
    ):
        assert 1 == config.count(written), f"docs/operations.md's prometheus.yml no longer says {written}"
        config = config.replace(written, used)
    return config


def binary(name: str) -> str:
    """`prometheus` or `promtool` from the cache install-deps fills, else from PATH."""
    cached = Path(CACHE) / "bin" / name
    if cached.exists():
        return str(cached)
    found = shutil.which(name)
    if found is None:
        raise AssertionError(f"{name} is not installed ({cached}, PATH): run scripts/install-deps")
    return found


#: The ports free_port hands out: a window of its own to each stack slot (so parallel workers never pick the same
#: one between probing it and binding it), below the kernel's ephemeral range (so no outgoing connection has it).
PORTS_BASE, PORTS_PER_SLOT = 20000, 500
_next_port = itertools.count()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` now, from this process's stack slot's window, never the same twice in a row."""
    first = PORTS_BASE + PORTS_PER_SLOT * teststack.slot()
    for _ in range(PORTS_PER_SLOT):
        port = first + next(_next_port) % PORTS_PER_SLOT
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port on {host} in {first}-{first + PORTS_PER_SLOT - 1}")


class Prometheus(ServerProcess):
    """One Prometheus process scraping `targets` under job="neon-cluster-manager" every second, evaluating
    examples/prometheus/alerts.yml every second, with its TSDB in `directory`."""

    name = "Prometheus"

    def __init__(self, targets: list[str], directory: Path, config_text: str | None = None) -> None:
        """`config_text`: a prometheus.yml with its rules and scrape configurations, instead of `targets`."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        timing = {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"}
        config_file = directory / "prometheus.yml"
        if config_text is None:
            config = {
                "global": timing,
                "rule_files": [str(ALERTS)],
                "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": targets}]}],
            }
            config_file.write_text(json.dumps(config))  # JSON is YAML
        else:
            config_file.write_text(f"global: {json.dumps(timing)}\n{config_text}")
        self.log = directory / "prometheus.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    binary("prometheus"),
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={directory / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    # The web UI's templates, beside the binary (Debian's build looks in /usr/share otherwise).
                    f"--web.local-assets={Path(binary('prometheus')).resolve().parent.parent / 'share/prometheus/web'}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        """GET /-/ready until it answers 200 (urlopen raises for anything else)."""
        self.wait_until_answering(lambda: urllib.request.urlopen(f"{self.url}/-/ready", timeout=2).close(), timeout)

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>: its `data`, after checking `status` is success."""
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as response:
            answer = json.loads(response.read())
        assert "success" == answer["status"], answer
        return answer["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """GET /api/v1/query: the instant vector's samples."""

        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result
