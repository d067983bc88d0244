"""Building a Vault client (no request is made here). Until the Vault gateway owns it."""

from __future__ import annotations

import hvac
import requests

from gateways.tls import with_server_name
from neon_cm.environment import TlsSettings

#: (connect, read) seconds for Vault: a hung Vault must not hold a monitor or the Unsealer for long.
VAULT_TIMEOUT = (2.0, 3.0)


def vault_client(url: str, tls: TlsSettings) -> hvac.Client:
    """An unauthenticated hvac client for one Vault node (only sys/seal-status, sys/health, sys/unseal).

    The empty token keeps hvac from picking up VAULT_TOKEN or ~/.vault-token and sending it to every manager.
    The client certificate goes only to an https:// Vault: requests looks for its files even for http://, so a
    missing one would make a plain-HTTP Vault look unreachable.
    """
    session = with_server_name(requests.Session(), tls)
    https = url.lower().startswith("https://")
    session.verify, session.cert = tls.verify, tls.cert if https else None  # hvac prefers a given session's
    # Not None for http://: hvac would take VAULT_CLIENT_CERT from the environment itself; () is "no certificate".
    cert = tls.cert if https and tls.cert else ()
    return hvac.Client(url=url, token="", verify=tls.verify, cert=cert, timeout=VAULT_TIMEOUT, session=session)
