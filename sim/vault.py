"""A simulated Vault (OpenBao) node: seal state, Shamir shares with a threshold, progress and nonce, reset,
wrong shares rejected with 400 at the threshold, raft followers that finish unsealing in the background,
restarts (back sealed), partial unseals by someone else, and garbage answers (503 with a body `null`).

It answers as OpenBao 2.7 does (docs/interfaces.md, docs/design-vault.md), checked against the real one by
tests/test_sim_servers.py and tests/integration/test_vault_semantics.py.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from sim.consul import NO_ANSWER, Reply
from sim.http import HttpAnswer, HttpRequest, Reach, json_answer

WRONG_SHARE = (
    "unable to retrieve stored keys: invalid key: failed to decrypt keys from storage: "
    "cipher: message authentication failed"
)


class SimVault:
    """One node of the cluster; `shares` are the cluster's valid shares (any `threshold` of them unseal it)."""

    def __init__(self, hostname: str, shares: tuple[str, ...], threshold: int, follower_delay: float) -> None:
        self.hostname = hostname
        self.shares = shares
        self.threshold = threshold
        self.follower_delay = follower_delay
        """How long this node takes to unseal in the background once the threshold is reached (0: at once). Harsher
        than OpenBao 2.7, on purpose: a node already in its raft cluster, restarted, answers the share reaching the
        threshold with `sealed: false` (measured on the test stack's followers, helper w4914: 3 of 3, in 4-10 ms);
        only a node still joining (retry_join; `unsealWithRaft` in OpenBao's internal/vault/core.go) answers sealed
        with progress 0 and unseals in the background, checking the keys only there (wrong ones stall for good,
        where this node refuses them with 400). So the Unsealer meets background unseals here at every restart of
        such a node, and a restart before one finishes (seed 4914) looks to it like keys that do not unseal it."""
        self.sealed = True
        self.attempt: list[str] = []
        self.nonce = ""
        self.nonces = 0
        self.unsealing_at: float | None = None
        self.refused = 0
        """Attempts refused at the threshold (a wrong share among them)."""
        self.garbage_until = 0.0
        self.hung_until = 0.0
        self.sealed_since: float | None = 0.0
        """When it last became sealed (None while unsealed): what the reporting invariant times."""
        self.joined_through: SimVault | None = None
        """After a whole-cluster restart, the node this one joins through (retry_join): while that one is sealed,
        this one says `initialized: false` (seen on OpenBao 2.7; it is not a node that lost its storage)."""
        self.active = hostname.endswith("-1")
        """Unsealed, whether this node is the raft cluster's active node (else a standby)."""
        self.nested_until = 0.0
        """Until then every answer is JSON nested 100,000 deep (a broken proxy, an attacker on the path)."""
        self.echo_until = 0.0
        """Until then a proxy in front of it answers each request with a body 502, echoing it (a share, for an
        unseal); reads pass through."""
        self.down_until = 0.0
        """Until then the process is gone: connections are refused (a hung one: `hung_until`)."""
        self.watchers: list[Callable[[], None]] = []
        self.restarts = 0
        self.slow_until = 0.0
        """Until then a request's answer (made when it arrives) comes back `slow_by` seconds later (a node or a proxy
        slow to answer, not hung: before the client's timeout; sim/transport.py's Link adds it)."""
        self.slow_by = 0.0
        self.connect_by = 0.0
        """Until `slow_until`, a connection takes this longer to be made (a TLS handshake that crawls)."""
        self.receive_by = 0.0
        """Until `slow_until`, a request takes this longer to come in once connected (a proxy buffering it)."""
        self.receive_slow: dict[str, tuple[float, float]] = {}
        """Per sender: until when, and how much longer, a request of that sender's alone takes to come in (one
        client's connection through a proxy that buffers it: sim/cluster.py relock_on_stop)."""
        """How often the process restarted (what an attempt it was given is lost with)."""

    # ------------------------------------------------------------------ faults

    def restart(self, now: float) -> None:
        """The process restarts: it comes back sealed, any attempt forgotten."""
        self.settle(now)
        self.restarts += 1
        if not self.sealed:
            self.sealed_since = now
        self.sealed, self.attempt, self.nonce, self.unsealing_at = True, [], "", None

    def settle(self, now: float) -> None:
        """A follower unsealing in the background finishes."""
        if self.unsealing_at is not None and now >= self.unsealing_at:
            self.sealed, self.unsealing_at, self.sealed_since = False, None, None

    def answers(self, now: float) -> bool:
        """False while hung (the caller times out)."""
        return now >= self.hung_until

    # ------------------------------------------------------------------ API

    @property
    def initialized(self) -> bool:
        if self.joined_through is not None and not self.joined_through.sealed:
            self.joined_through = None  # it joined: initialized from now on
        return self.joined_through is None

    def status_body(self) -> dict[str, Any]:
        """OpenBao 2.7's seal status (the cluster's name and ID only once unsealed)."""
        initialized = self.initialized
        body: dict[str, Any] = {
            "type": "shamir",
            "initialized": initialized,
            "sealed": self.sealed,
            "t": self.threshold if initialized else 0,
            "n": len(self.shares) if initialized else 0,
            "progress": len(self.attempt),
            "nonce": self.nonce,
            "version": "2.7.2",
            "build_date": "2025-11-19T10:00:00Z",
            "migration": False,
            "recovery_seal": False,
            "storage_type": "raft",
        }
        if not self.sealed:
            body.update(cluster_name="vault-cluster-sim", cluster_id="5e1f0c7a-0000-4000-8000-000000000001")
        return body

    def seal_status(self, now: float) -> Reply:
        """GET /v1/sys/seal-status."""
        self.settle(now)
        if not self.answers(now):
            return NO_ANSWER
        if now < self.garbage_until:
            return Reply(503, None)
        return Reply(200, self.status_body())

    def health(self, now: float, active: bool) -> Reply:
        """GET /v1/sys/health?standbyok=true: 200 with `standby` in the body."""
        self.settle(now)
        if not self.answers(now):
            return NO_ANSWER
        if now < self.garbage_until:
            return Reply(503, None)
        return Reply(200, {"initialized": self.initialized, "sealed": self.sealed, "standby": not active})

    def unseal(self, now: float, share: str | None, reset: bool = False) -> Reply:
        """PUT /v1/sys/unseal with one share, or `{"reset": true}`."""
        self.settle(now)
        if not self.answers(now):
            return NO_ANSWER
        if now < self.garbage_until:
            return Reply(503, None)
        if reset:
            if not self.sealed:
                return Reply(400, {"errors": ["vault is unsealed"]})
            self.attempt, self.nonce = [], ""
            return Reply(200, self.status_body())
        if not self.initialized:
            return Reply(400, {"errors": ["Vault is not initialized"]})
        if not self.sealed or self.unsealing_at is not None:
            return Reply(200, self.status_body())
        if not share:
            return Reply(400, {"errors": ["'key' must be specified in request body as JSON, or 'reset' set to true"]})
        if share in self.attempt:
            return Reply(200, self.status_body())  # a share it already has: ignored
        if not self.attempt:
            self.nonces += 1
            self.nonce = f"nonce-{self.hostname}-{self.nonces}"
        self.attempt.append(share)
        if len(self.attempt) < self.threshold:
            return Reply(200, self.status_body())
        valid = all(given in self.shares for given in self.attempt)
        self.attempt, self.nonce = [], ""  # the attempt ends whatever the result
        if not valid:
            self.refused += 1
            return Reply(400, {"errors": [WRONG_SHARE]})
        if self.follower_delay > 0:
            self.unsealing_at = now + self.follower_delay
            return Reply(200, self.status_body())  # sealed, progress 0: it unseals in the background
        self.sealed, self.sealed_since = False, None
        return Reply(200, self.status_body())

    # ------------------------------------------------------------------ the HTTP face

    def reach(self, now: float) -> Reach:
        if now < self.down_until:
            return Reach.REFUSED
        return Reach.UP if self.answers(now) else Reach.HUNG

    def next_change(self, now: float) -> float | None:
        return self.unsealing_at if self.unsealing_at is not None and self.unsealing_at > now else None

    def handle(self, request: HttpRequest, now: float) -> HttpAnswer:
        """The three unauthenticated endpoints the service calls, as OpenBao 2.7 answers them
        (/work/shared/spec/vault-api.md; tests/integration/test_vault_semantics.py pins them on the real one)."""
        path, method = request.path, request.method
        if now < self.nested_until:
            return HttpAnswer(200, (("Content-Type", "application/json"),), b"[" * NESTED + b"]" * NESTED)
        if now < self.echo_until and request.body:
            echoed = request.body.decode("utf-8", "replace")
            return json_answer(502, {"errors": [f"bad gateway: upstream closed the connection; request was {echoed}"]})
        if path == "/v1/sys/seal-status" and method == "GET":
            return self._answer(self.seal_status(now))
        if path == "/v1/sys/health" and method in ("GET", "HEAD"):
            return self._health(request, now)
        if path == "/v1/sys/unseal" and method in ("PUT", "POST"):
            return self._unseal(request, now)
        if path.startswith("/v1/sys/"):
            return _errors(405, "unsupported operation")
        return _errors(403, "permission denied")  # no token: every other path

    @staticmethod
    def _answer(reply: Reply, note: str = "") -> HttpAnswer:
        return json_answer(reply.status, reply.body, note=note)

    def _health(self, request: HttpRequest, now: float) -> HttpAnswer:
        """Codes in Vault's order: 501 not initialised, 503 sealed, 429 standby, 200 active; each overridden by
        ?uninitcode, ?sealedcode, ?standbycode, ?activecode, and a standby 200 with ?standbyok=true."""
        self.settle(now)
        if now < self.garbage_until:
            return json_answer(503, None)
        initialized = self.initialized
        standby = not self.sealed and not self.active

        def code(name: str, default: int) -> int:
            given = request.arg(name)
            return int(given) if given and given.isdigit() else default

        if not initialized:
            status = code("uninitcode", 501)
        elif self.sealed:
            status = code("sealedcode", 503)
        elif standby:
            ok = (request.arg("standbyok") or "").lower() in ("true", "1", "t")
            status = code("standbycode", 200 if ok else 429)
        else:
            status = code("activecode", 200)
        body = {
            "initialized": initialized,
            "sealed": self.sealed,
            "standby": standby if initialized and not self.sealed else True,
            "performance_standby": False,
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "disabled",
            "server_time_utc": int(now),
            "version": "2.7.2",
        }
        if not self.sealed:
            body.update(cluster_name="vault-cluster-sim", cluster_id="5e1f0c7a-0000-4000-8000-000000000001")
        return json_answer(status, body)

    def _unseal(self, request: HttpRequest, now: float) -> HttpAnswer:
        """`{"reset": true}` (it wins over a key) or `{"key": share}`: a key that is neither hex nor base64, or
        whose bytes cannot be a share (shorter than 16, longer than 33), is refused on its own (400)."""
        self.settle(now)
        if now < self.garbage_until:
            return json_answer(503, None)
        try:
            fields = request.json() or {}
            if not isinstance(fields, dict):
                raise ValueError("not an object")
        except ValueError as error:
            return _errors(400, f"failed to parse JSON input: {error}")
        if fields.get("reset") is True:
            return self._answer(self.unseal(now, None, reset=True), "reset")
        key = fields.get("key")
        if isinstance(key, str) and key and self.initialized and self.sealed and self.unsealing_at is None:
            length = _share_length(key)
            if length is None:
                return _errors(400, "'key' must be a valid hex or base64 string", "share")
            if length < SHARE_BYTES[0]:
                return _errors(400, f"invalid key: key is shorter than minimum {SHARE_BYTES[0]} bytes", "share")
            if length > SHARE_BYTES[1]:
                return _errors(400, f"invalid key: key is longer than maximum {SHARE_BYTES[1]} bytes", "share")
        return self._answer(self.unseal(now, key if isinstance(key, str) else None), "share" if key else "")


#: How deep a nested answer's JSON is.
NESTED = 100_000
#: The length a share's bytes must have (Vault's barrier key length, 16 to 32, plus Shamir's one byte).
SHARE_BYTES = (16, 33)


def _share_length(key: str) -> int | None:
    """The bytes a share stands for, as Vault decodes it (hex first, then base64); None when it is neither."""
    if len(key) % 2 == 0 and all(char in "0123456789abcdefABCDEF" for char in key):
        return len(key) // 2
    try:
        return len(base64.b64decode(key, validate=True))
    except (ValueError, binascii.Error):
        return None


def _errors(status: int, words: str, note: str = "") -> HttpAnswer:
    return json_answer(status, {"errors": [words]}, note=note)
