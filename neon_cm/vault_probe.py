"""Reading one Vault node's state over HTTP (the monitor's poll and the CLI's `vault status`)."""

from __future__ import annotations

import json

import hvac
import requests
import urllib3.exceptions

from gateways.errors import PLAIN_HTTP, VAULT_ERRORS, answered_plain_http, describe, reason
from messages.vault import VaultObserved, VaultState
from neon_cm.vault import SealStatus, health_role

#: A probe also refuses an answer that is JSON but not a seal-status or health body (ValueError).
PROBE_ERRORS = (*VAULT_ERRORS, ValueError)


def describe_failure(error: Exception) -> tuple[VaultState, str]:
    """The state and reason for a failed request: TLS, connection, timeouts and a CA file that cannot be
    read make a Vault unreachable; an answer that is not what Vault says is unexpected."""
    if isinstance(error, (json.JSONDecodeError, requests.exceptions.JSONDecodeError)):
        return VaultState.UNEXPECTED, "the answer is not JSON"
    if isinstance(error, requests.exceptions.SSLError) and answered_plain_http(error):
        return VaultState.UNREACHABLE, PLAIN_HTTP
    if isinstance(error, requests.exceptions.SSLError):
        # Our verification of its certificate, or the Vault refusing ours (no or an untrusted client certificate).
        failed = "TLS verification failed" if "CERTIFICATE_VERIFY_FAILED" in str(error) else "TLS handshake failed"
        return VaultState.UNREACHABLE, f"{failed}: {reason(error)}"
    if isinstance(error, requests.exceptions.Timeout):
        return VaultState.UNREACHABLE, "no answer in time"
    if isinstance(error, (OSError, urllib3.exceptions.HTTPError)):
        return VaultState.UNREACHABLE, f"cannot connect: {reason(error)}"
    return VaultState.UNEXPECTED, describe(error)


def probe(client: hvac.Client, hostname: str, url: str) -> VaultObserved:
    """GET /v1/sys/seal-status, then GET /v1/sys/health?standbyok=true when unsealed (to tell active from standby)."""
    try:
        status = SealStatus.from_json(client.sys.read_seal_status())
        if status.state is not VaultState.UNSEALED:
            detail = f"{status.progress}/{status.threshold} unseal keys submitted" if status.sealed else ""
            return VaultObserved(hostname, url, status.state, detail)
        health = client.sys.read_health_status(method="GET", standby_ok=True)
        if not isinstance(health, dict):
            raise ValueError(f"health answered {getattr(health, 'status_code', '?')} without JSON")
        return VaultObserved(hostname, url, VaultState.UNSEALED, health_role(health))
    except PROBE_ERRORS as error:
        state, reason = describe_failure(error)
        return VaultObserved(hostname, url, state, reason)
