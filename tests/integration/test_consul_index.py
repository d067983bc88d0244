"""The settings watch behind a proxy that gives Consul's answers no usable index (`X-Consul-Index: 0`)."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import consul
import pytest

from neon_cm.keys import SETTINGS_PREFIX
from tests.service import Service

#: Headers the proxy does not pass on as they came (it sends the whole body with its length).
HOP_HEADERS = {"connection", "transfer-encoding", "content-length", "keep-alive"}


class IndexZeroProxy(ThreadingHTTPServer):
    """Passes every request to Consul at `upstream`; answers to reads of the settings prefix say index 0."""

    upstream: tuple[str, int]
    settings_reads: int
    guard: threading.Lock


class Forward(BaseHTTPRequestHandler):
    server: IndexZeroProxy

    def forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        settings_read = self.command == "GET" and self.path.startswith(f"/v1/kv/{SETTINGS_PREFIX}")
        if settings_read:
            with self.server.guard:
                self.server.settings_reads += 1
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=60)
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_HEADERS}
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_HEADERS and not (settings_read and name.lower() == "x-consul-index"):
                self.send_header(name, value)
        if settings_read:
            self.send_header("X-Consul-Index", "0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = forward

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def index_zero_proxy(real_stack: dict[str, Any]) -> Iterator[IndexZeroProxy]:
    proxy = IndexZeroProxy(("127.0.0.1", 0), Forward)
    host, port = real_stack["consul"]["http_addr"].rsplit(":", 1)
    proxy.upstream, proxy.settings_reads, proxy.guard = (host, int(port)), 0, threading.Lock()
    proxy.daemon_threads = True
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_a_consul_answering_index_zero_is_polled_with_backoff_not_read_in_a_loop(
    start_service: Callable[..., Service], kv: consul.Consul, index_zero_proxy: IndexZeroProxy
) -> None:
    """Issue 26, defect 3: behind a proxy saying `X-Consul-Index: 0`, the settings watch read the prefix in a loop
    with no wait, no backoff and no log line (3,889 reads in 10 s). Now: one WARN, a poll with backoff (at most
    every 10 s once it has backed off), and a change of a setting still applies."""
    service = start_service(CONSUL_HTTP_ADDR=f"127.0.0.1:{index_zero_proxy.server_address[1]}")
    service.wait_for(r"\[INFO\] \[module:settings\] settings: ")
    service.wait_for(r"\[WARN\] .*without an X-Consul-Index: polling it every 10 s at most")

    before = index_zero_proxy.settings_reads
    time.sleep(10.0)  # the window reads are counted in: a busy loop makes thousands, a backoff a handful
    in_window = index_zero_proxy.settings_reads - before
    mark = service.mark()
    kv.kv.put(SETTINGS_PREFIX + "vault_poll_seconds", "7")
    service.wait_for(r"settings: .*vault_poll_seconds=7", after=mark, timeout=60)

    assert in_window <= 50, f"{in_window} reads of the settings prefix in 10 s"
    assert 1 == len(service.lines(r"without an X-Consul-Index"))
