"""Forwarding a request a test's proxy took to the real server behind it, and its answer back."""

from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler

#: Headers that belong to one hop, never forwarded (the length is set anew for the answer read whole).
HOP_HEADERS = frozenset({"connection", "proxy-connection", "keep-alive", "transfer-encoding", "content-length"})


def relay(handler: BaseHTTPRequestHandler, upstream: http.client.HTTPConnection, path: str, body: bytes | None) -> None:
    """Send the request `handler` holds (its method, its headers but the hop's, `body`) to `upstream` at `path`,
    and its answer back to the handler's client, read whole. The caller closes `upstream`."""
    headers = {name: value for name, value in handler.headers.items() if name.lower() not in HOP_HEADERS | {"host"}}
    upstream.request(handler.command, path, body=body, headers=headers)
    answer = upstream.getresponse()
    data = answer.read()
    handler.send_response(answer.status)
    for name, value in answer.getheaders():
        if name.lower() not in HOP_HEADERS:
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
