"""The one seam between the gateways and the network: a process-wide transport factory.

By default none is installed and every gateway talks to the real network (production). The simulator installs one
(`install`) for the length of a run: each gateway built while it is installed, and given no adapter or sockets of
its own, asks it for its transport to the server it is built for (`adapter_for("consul" | "vault", base_url)`,
`sockets_for("docker", host)`), and the factory answers with the simulated link of the calling instance to the
simulated server (sim/cluster.py). A factory may answer None: the real network for that one.

A requests session given a transport (an adapter of its own or a factory's) reads nothing from the process
environment (`trust_env` off: no proxy, CA bundle or .netrc): its requests do not go to the network that
environment describes, and the adapter would ignore what requests merged from it (the proxies, `verify`). In the
simulator that environment is the test runner's, not the simulated container's, and merging it cost a third of a
run's CPU. In production no transport is given and no factory installed: `mount` leaves the session as it is.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Protocol

import requests
from requests.adapters import BaseAdapter

#: Makes a gateway's sockets (gateways/docker.py).
SocketMaker = Callable[[socket.AddressFamily], socket.socket]


class TransportFactory(Protocol):
    """What the simulator installs."""

    def adapter_for(self, server: str, base_url: str) -> BaseAdapter | None:
        """A requests adapter for the client of `server` (`consul`, `vault`) at `base_url`; None: the network."""
        ...

    def sockets_for(self, server: str, host: str) -> SocketMaker | None:
        """The sockets of a gateway to `server` (`docker`) at `host` (DOCKER_HOST); None: real sockets."""
        ...


_installed: TransportFactory | None = None


def install(factory: TransportFactory | None) -> TransportFactory | None:
    """Install `factory` (None: the real network again); the one it replaces, to put back."""
    global _installed
    previous, _installed = _installed, factory
    return previous


def adapter_for(server: str, base_url: str) -> BaseAdapter | None:
    """The installed factory's adapter for `server` at `base_url`, or None (the real network)."""
    return _installed.adapter_for(server, base_url) if _installed is not None else None


def sockets_for(server: str, host: str) -> SocketMaker | None:
    """The installed factory's sockets for `server` at `host`, or None (real sockets)."""
    return _installed.sockets_for(server, host) if _installed is not None else None


def mount(session: requests.Session, server: str, base_url: str, adapter: BaseAdapter | None = None) -> None:
    """Mount `adapter` on `session` for `base_url`, or else the installed factory's for `server`, if any (then the
    session reads no settings from the process environment: see the module's docstring). Without either (always in
    production), nothing: the session is left as it is, on the real network."""
    if adapter is None:
        adapter = adapter_for(server, base_url)
    if adapter is not None:
        session.trust_env = False
        session.mount(base_url, adapter)
