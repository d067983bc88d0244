"""HTTPS to a peer its certificate names differently from its address (*_TLS_SERVER_NAME), for Consul and Vault."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter

from neon_cm.environment import TlsSettings


class ServerNameAdapter(HTTPAdapter):
    """HTTPS that checks the server's certificate for `server_name` (and sends it as SNI), not the URL's host:
    the *_TLS_SERVER_NAME of Consul's and Vault's tools, for a peer reached by an address its certificate
    does not name."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self.server_name
        kwargs["assert_hostname"] = self.server_name
        super().init_poolmanager(*args, **kwargs)


def with_server_name(session: requests.Session, tls: TlsSettings) -> requests.Session:
    """The session, its https:// requests checked against `tls.server_name` when one is set."""
    if tls.server_name:
        session.mount("https://", ServerNameAdapter(tls.server_name))
    return session
