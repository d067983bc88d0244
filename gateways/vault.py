"""The Vault gateway: every request to a Vault node, each answer or failure turned into a typed outcome."""

from __future__ import annotations

import io
import json
import math
import time
from collections.abc import Callable
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import BaseAdapter

from gateways import transport
from gateways.errors import CLOSED_UNANSWERED, PLAIN_HTTP, answered_plain_http, reason
from gateways.tls import with_server_name
from messages.vault import VaultState
from neon_cm.credentials import Secret, UnsealCredentials
from neon_cm.environment import TlsSettings
from neon_cm.jsonwords import json_type
from neon_cm.vault import (
    Garbage,
    HealthAnswer,
    HealthRole,
    NotSent,
    Observation,
    Rejected,
    RemovedFromCluster,
    SealAnswer,
    SealStatus,
    Unreachable,
    UnreachableKind,
    UnsealAnswer,
    observation,
)

#: (connect, read) seconds for Vault: a hung Vault must not hold a monitor or the Unsealer for long.
VAULT_TIMEOUT = (2.0, 3.0)
#: What requests and urllib3 raise for a request that got no usable HTTP answer: refused, reset, timed out, TLS
#: trouble, a CA or client certificate file that cannot be read (a plain OSError), a URL that cannot be used.
NO_ANSWER = (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError)
#: Vault's own words are cut here: a proxy may answer with anything, of any length.
WORDS_LIMIT = 200
#: `GET /v1/sys/health` codes meaning an unsealed standby (OpenBao: 429; Vault adds DR and performance standbys).
STANDBY_CODES = (429, 472, 473)
#: Vault 1.19+: a node removed from its raft cluster.
REMOVED_CODE = 530
#: Vault 1.19+: a standby that cannot reach the active node.
HA_UNHEALTHY_CODE = 474


def vault_session(tls: TlsSettings) -> requests.Session:
    """A session for Vault's unauthenticated endpoints (sys/seal-status, sys/health, sys/unseal), checking the
    server's name as `tls` says (the gateway gives verify and cert with each request). It sends no token: not even
    VAULT_TOKEN or ~/.vault-token, which hvac would pick up for every manager."""
    return with_server_name(requests.Session(), tls)


def never() -> bool:
    """No cancellation: a request that only its deadline can stop."""
    return False


class VaultGateway:
    """Talks to one Vault node at `url`. Every method answers with an outcome; none raises for anything the
    node, a proxy in front of it or the network can do (an exception out of here is a bug of ours).

    With `adapter`, every request to the node goes through it instead of the network, and `clock` is what a
    share's deadline is checked against (the simulator's transport and virtual clock, sim/transport.py)."""

    def __init__(
        self,
        url: str,
        tls: TlsSettings,
        adapter: BaseAdapter | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.tls = tls
        self.clock = clock
        """The monotonic clock a share's deadline (`not_after`) is on: the actors' runtime's."""
        self.session = vault_session(tls)
        transport.mount(self.session, "vault", url, adapter)

    def close(self) -> None:
        self.session.close()

    def seal_status(self) -> SealAnswer:
        """GET /v1/sys/seal-status: a SealStatus (200), else why not."""
        answer = self.request("GET", "/v1/sys/seal-status")
        if not isinstance(answer, tuple):
            return answer
        status, body = answer
        if status != 200:
            return Garbage(f"seal-status answered {shown(status, body)}")
        return parsed(body)

    def health(self) -> HealthAnswer:
        """GET /v1/sys/health?standbyok=true: active or standby for an unsealed node, else why not. Vault 1.19+
        answers 530 for a node removed from its raft cluster and 474 for a standby that cannot reach the active
        node (before `standbyok` is looked at); the body says the same (`removed_from_cluster`,
        `ha_connection_healthy`), read too in case a proxy or the query changed the code."""
        answer = self.request("GET", "/v1/sys/health", params={"standbyok": "true"})
        if not isinstance(answer, tuple):
            return answer
        status, body = answer
        fields = body if isinstance(body, dict) else {}
        if status == REMOVED_CODE or (status == 200 and fields.get("removed_from_cluster") is True):
            return RemovedFromCluster()
        if status == HA_UNHEALTHY_CODE or (
            status in (200, *STANDBY_CODES) and fields.get("ha_connection_healthy") is False
        ):
            return HealthRole("standby", reaches_active=False)
        if status in (200, *STANDBY_CODES) and isinstance(body, dict):
            standby = status in STANDBY_CODES or body.get("standby") is True
            return HealthRole("standby" if standby else "active")
        return Garbage(f"health answered {shown(status, body)}")

    def probe(self) -> Observation:
        """The node's state and detail: its seal status, and its role (health) when unsealed."""
        seal = self.seal_status()
        unsealed = isinstance(seal, SealStatus) and seal.state is VaultState.UNSEALED
        return observation(seal, self.health() if unsealed else None)

    def submit_share(
        self, share: Secret, not_after: float = math.inf, cancelled: Callable[[], bool] = never
    ) -> UnsealAnswer:
        """PUT /v1/sys/unseal {"key": share}: the seal status after it, or Vault's refusal (never with the share).
        Sent only if the connection is up (TCP and TLS) before `not_after` (monotonic seconds) and `cancelled()` is
        still False then: NotSent otherwise."""
        return self.unseal({"key": share.value}, share, not_after, cancelled)

    def reset(self, not_after: float = math.inf, cancelled: Callable[[], bool] = never) -> UnsealAnswer:
        """PUT /v1/sys/unseal {"reset": true}: discard the node's current unseal attempt (before `not_after`, unless
        `cancelled()` by then)."""
        return self.unseal({"reset": True}, None, not_after, cancelled)

    def unseal(
        self, payload: dict[str, Any], share: Secret | None, not_after: float, cancelled: Callable[[], bool] = never
    ) -> UnsealAnswer:
        # The body is written once the connection is up, and only if the deadline has not come by then and the attempt
        # was not cancelled meanwhile: a slow connect or TLS handshake (up to the connect timeout) can no longer carry a
        # share past the lease, nor past a release of the lock (Leadership releases it once the Unsealer cancelled).
        body = DeadlineBody(json.dumps(payload).encode(), not_after, self.clock, cancelled)
        # Every answer is scrubbed, its body before it is read and its words after: Vault never echoes the share,
        # but a proxy's error page (a 502 quoting the request) may, in any of its forms.
        try:
            answer = self.request(
                "PUT", "/v1/sys/unseal", data=body, headers={"Content-Type": "application/json"}, scrub=share
            )
        except DeadlinePassed as stopped:
            return NotSent(str(stopped) or "the lease's deadline came before the share could go out")
        if not isinstance(answer, tuple):
            return answer
        status, body = answer
        if status == 200:
            return parsed(body)
        # 400: a share that is malformed or, once the threshold is reached, a combination that fails; Vault 1.3 to
        # 1.12 said the latter with 500, as Vault 1.19 says "node was removed". Either way: this attempt is over.
        words = vault_words(body)
        if status in (400, 500) and words:
            return Rejected(scrubbed(words, share))
        return Garbage(scrubbed(f"unseal answered {shown(status, body)}", share))

    def request(
        self, method: str, path: str, scrub: Secret | None = None, **kwargs: Any
    ) -> tuple[int, Any] | Unreachable | Garbage:
        """One request: (status, JSON body) when the node answered with JSON, else the outcome saying why not. With
        `scrub`, every form of that share is taken out of the body before it is read."""
        answer = self.send(method, path, **kwargs)
        if not isinstance(answer, requests.Response):
            return answer
        text = scrubbed(answer.text, scrub)
        try:
            return answer.status_code, json.loads(text) if text.strip() else None
        except RecursionError:  # JSON nested deeper than Python's stack: a proxy's or an attacker's, never Vault's
            return Garbage(f"{path} answered HTTP {answer.status_code} with JSON nested too deep to read")
        except ValueError:
            kind = answer.headers.get("Content-Type", "no content type").split(";")[0].strip()
            return Garbage(f"{path} answered HTTP {answer.status_code} with a body that is not JSON ({kind})")

    def send(self, method: str, path: str, **kwargs: Any) -> requests.Response | Unreachable:
        """The request and its whole body, or why no answer came."""
        try:
            # verify and cert per request: a session's are overridden by REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE from
            # the environment, which would replace VAULT_CACERT (and even VAULT_SKIP_VERIFY) without a word.
            response = self.session.request(
                method,
                f"{self.url}{path}",
                timeout=VAULT_TIMEOUT,
                verify=self.tls.verify,
                cert=self.tls.cert if self.url.lower().startswith("https://") else None,  # no TLS, no certificate
                **kwargs,
            )
            response.text  # noqa: B018 (the whole body, read here: a failure reading it is no answer)
        except NO_ANSWER as error:
            return unreachable(error)
        return response


class DeadlinePassed(Exception):
    """Raised by a DeadlineBody read after its deadline: the request is abandoned before its body is written. Not
    an OSError, so neither urllib3 nor requests takes it for a network failure (or retries)."""


class DeadlineBody:
    """A request body that can be read (written to the socket) only before `not_after` and while `cancelled()` is
    False, checked at the first read: requests and urllib3 read a body only once the connection is up and the headers
    are sent."""

    def __init__(
        self,
        data: bytes,
        not_after: float,
        clock: Callable[[], float] = time.monotonic,
        cancelled: Callable[[], bool] = never,
    ) -> None:
        self.data = io.BytesIO(data)
        self.length = len(data)
        self.not_after = not_after
        self.clock = clock
        self.cancelled = cancelled

    def __len__(self) -> int:
        return self.length  # Content-Length, not a chunked body

    def read(self, size: int = -1) -> bytes:
        if self.data.tell() == 0 and self.clock() >= self.not_after:
            raise DeadlinePassed()
        if self.data.tell() == 0 and self.cancelled():
            raise DeadlinePassed("the attempt was cancelled before the share could go out")
        return self.data.read(size)


def unreachable(error: BaseException) -> Unreachable:
    """The outcome of a request that got no HTTP answer (TLS, timeout, connection, a file that cannot be read)."""
    if isinstance(error, requests.exceptions.SSLError) and answered_plain_http(error):
        return Unreachable(UnreachableKind.TLS, PLAIN_HTTP)
    if isinstance(error, requests.exceptions.SSLError):
        # Our verification of its certificate, or the Vault refusing ours (no or an untrusted client certificate).
        failed = "TLS verification failed" if "CERTIFICATE_VERIFY_FAILED" in str(error) else "TLS handshake failed"
        return Unreachable(UnreachableKind.TLS, f"{failed}: {reason(error)}")
    # Said with the timeout that ran out, as the Consul side's lines say theirs (`no answer within 1 s`).
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return Unreachable(UnreachableKind.TIMEOUT, f"no connection within {VAULT_TIMEOUT[0]:g} s")
    if isinstance(error, requests.exceptions.Timeout):
        return Unreachable(UnreachableKind.TIMEOUT, f"no answer within {VAULT_TIMEOUT[1]:g} s")
    why = reason(error)
    if why == CLOSED_UNANSWERED:  # it took the connection (a Vault stopping as it was asked): no "cannot connect"
        return Unreachable(UnreachableKind.CONNECT, why)
    return Unreachable(UnreachableKind.CONNECT, f"cannot connect: {why}")


def parsed(body: Any) -> SealStatus | Garbage:
    """A 200 body that should be a seal status."""
    try:
        return SealStatus.from_json(body)
    except ValueError as error:
        return Garbage(f"HTTP 200 but {error}")


def vault_words(body: Any) -> str:
    """Vault's `errors` from an error body (`{"errors": ["..."]}`), joined and cut; "" when there are none."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return ""
    words = "; ".join(str(item) for item in errors if isinstance(item, str) and item.strip())
    return words if len(words) <= WORDS_LIMIT else words[:WORDS_LIMIT] + "..."


def shown(status: int, body: Any) -> str:
    """An error answer in words: `HTTP 503 (JSON null)`, or with Vault's words when it gave some."""
    words = vault_words(body)
    return f"HTTP {status}: {words}" if words else f"HTTP {status} (JSON {json_type(body)})"


def scrubbed(words: str, share: Secret | None) -> str:
    """Vault's words with any form of the share taken out (Vault never echoes it; a proxy might)."""
    if share is None:
        return words
    for form in UnsealCredentials((share,), 1).forms():
        words = words.replace(form, "<share>")
    return words
