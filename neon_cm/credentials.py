"""Vault unseal credentials: parsed once, held in a type that never shows the keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from neon_cm.filewords import describe_os_error
from neon_cm.jsonwords import json_problem

HEX_SHARE = re.compile(r"^[0-9a-fA-F]+$")
PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")
#: What the credentials JSON looks like, for messages (never the value found).
EXPECTED_JSON = '{"UnsealKeys": ["<share>", ...], "KeyThreshold": N}'


class CredentialsError(ValueError):
    """Credentials that cannot be used; the message says what is wrong and never holds the value."""


@attrs.frozen(repr=False)
class Secret:
    """A secret string; its repr and str hide the value, so logging one by accident shows nothing."""

    value: str = attrs.field(repr=False)

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@attrs.frozen(repr=False)
class UnsealCredentials:
    """Unseal key shares and how many of them unseal the Vault."""

    keys: tuple[Secret, ...]
    """Distinct shares, in the order given (base64 or hex, as Vault accepts either)."""
    threshold: int
    """Shares needed to unseal."""

    def __repr__(self) -> str:
        return f"UnsealCredentials(<{len(self.keys)} keys hidden>, threshold={self.threshold})"

    __str__ = __repr__

    def forms(self) -> set[str]:
        """Every way a key could be written (as given, base64 and hex of its bytes, each URL-encoded with upper- or
        lower-case escapes, as a URL or a proxy's echo of one may carry it): what must never be logged."""
        found: set[str] = set()
        for key in self.keys:
            raw = share_bytes(key.value)
            for form in (key.value, base64.b64encode(raw).decode(), raw.hex()):
                encoded = urllib.parse.quote(form, safe="")
                found |= {form, encoded, PERCENT_ESCAPE.sub(lambda escape: escape.group().lower(), encoded)}
        return found

    def fingerprint(self) -> str:
        """A short name for this set of keys (8 hex digits), shown at start and by `vault status` so that an operator
        sees which set is loaded; the same for the same shares in any order or encoding.

        Why a plain hash is safe here: each share Vault hands out is 32 random bytes (plus its index byte), so the
        input has at least 256 bits of entropy and no guess can be checked against it; of a SHA-256 digest only
        32 bits are shown, which is all one can learn about the keys from it. No salt or key is needed (and
        the command line could not share one with the service): a salt only helps against guessable input. The
        prefix keeps it from matching any other hash of the same bytes."""
        digest = hashlib.sha256(KEY_SET_DOMAIN)
        for share in sorted(share_bytes(key.value) for key in self.keys):
            digest.update(len(share).to_bytes(4, "big") + share)
        return digest.hexdigest()[:8]

    def describe(self) -> str:
        """`3 keys, threshold 2, key set 1a2b3c4d`: what the start line and `vault status` say of them."""
        return f"{len(self.keys)} keys, threshold {self.threshold}, key set {self.fingerprint()}"


#: What a key set's fingerprint hashes first (domain separation).
KEY_SET_DOMAIN = b"neon-cluster-manager unseal key set v1\0"


def share_bytes(share: str) -> bytes:
    """The bytes of a share written as hex or base64 (what Vault accepts)."""
    if HEX_SHARE.match(share) and len(share) % 2 == 0:
        return bytes.fromhex(share)
    return base64.b64decode(share, validate=True)


class Members(dict[str, Any]):
    """A JSON object's members, and how many times each name was given (a name given twice keeps the last value)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.given: dict[str, int] = {}
        for name, _ in pairs:
            self.given[name] = self.given.get(name, 0) + 1


def json_kind(value: object) -> str:
    """What a JSON value is, in words, for a message that must not show it (it may be a share put in the wrong
    place)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number with a decimal point"
    kinds = {str: "a string", list: "a list", dict: "an object"}
    return next((kind for cls, kind in kinds.items() if isinstance(value, cls)), "another kind of value")


def parse_credentials_json(text: str, source: str) -> UnsealCredentials:
    """Credentials from `{"UnsealKeys": [...], "KeyThreshold": N}`; `source` names where the text came from."""
    try:
        document: Any = json.loads(text, object_pairs_hook=Members)
    except ValueError as error:  # json_problem names a position and what was expected, never the text
        raise CredentialsError(f"{source} is not JSON ({json_problem(error)}); expected {EXPECTED_JSON}") from None
    if not isinstance(document, Members):
        raise CredentialsError(f"{source} is JSON but not an object")
    for name in ("UnsealKeys", "KeyThreshold"):
        # JSON readers disagree on which of two same-named members counts (Python's and .NET's the last, others
        # the first): a hand-edited secret holding one twice does not say which keys or threshold it means.
        if document.given.get(name, 0) > 1:
            raise CredentialsError(f"{source}: {name} is given {document.given[name]} times; write it once")
    keys = document.get("UnsealKeys")
    threshold = document.get("KeyThreshold")
    if not isinstance(keys, list) or not keys:
        raise CredentialsError(f"{source} has no UnsealKeys list")
    for position, key in enumerate(keys, start=1):
        if not isinstance(key, str) or not key.strip():
            raise CredentialsError(f"{source}: UnsealKeys entry {position} is not a non-empty string")
        try:
            share_bytes(key.strip())
        except (binascii.Error, ValueError):
            raise CredentialsError(f"{source}: UnsealKeys entry {position} is neither base64 nor hex") from None
    if "KeyThreshold" not in document:
        raise CredentialsError(f"{source}: KeyThreshold is missing")
    if isinstance(threshold, bool) or not isinstance(threshold, int):
        raise CredentialsError(f"{source}: KeyThreshold is {json_kind(threshold)}, not an integer")
    # One share given twice, even in two encodings (base64 and hex), is one share.
    by_bytes: dict[bytes, str] = {}
    for key in keys:
        by_bytes.setdefault(share_bytes(key.strip()), key.strip())
    distinct = tuple(by_bytes.values())
    if threshold < 1:
        raise CredentialsError(f"{source}: KeyThreshold is {threshold}; it must be at least 1")
    if threshold > len(distinct):
        raise CredentialsError(
            f"{source}: KeyThreshold is {threshold} but only {len(distinct)} distinct unseal "
            + ("key is given" if len(distinct) == 1 else "keys are given")
        )
    return UnsealCredentials(tuple(Secret(key) for key in distinct), threshold)


def parse_credentials_base64(text: str, source: str) -> UnsealCredentials:
    """Credentials from base64 of the JSON (what VAULT_CREDENTIALS holds); line breaks and spaces are ignored,
    as `base64` wraps its output at 76 columns."""
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        if text.lstrip().startswith("{"):
            raise CredentialsError(
                f"{source} holds plain JSON; it takes the base64 of it (base64 -w0 FILE), or name the file in "
                "VAULT_CREDENTIALS_FILE"
            ) from None
        raise CredentialsError(f"{source} is not base64 of UTF-8 text") from None
    return parse_credentials_json(decoded, f"{source} (decoded)")


def is_base64_json(text: str) -> bool:
    """Whether `text` is base64 (wrapped or not) of a JSON object: VAULT_CREDENTIALS's form, not the file's."""
    try:
        decoded = base64.b64decode("".join(text.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return False
    return decoded.lstrip().startswith("{")


def parse_credentials_file(text: str, source: str) -> UnsealCredentials:
    """Credentials from a file's text: the plain JSON, after a UTF-8 BOM if there is one (Windows editors)."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise CredentialsError(f"{source} is empty; expected the plain JSON {EXPECTED_JSON}")
    if not text.lstrip().startswith("{") and is_base64_json(text):
        raise CredentialsError(
            f"{source} holds base64 (the form VAULT_CREDENTIALS takes); the file holds the plain JSON {EXPECTED_JSON}"
        )
    return parse_credentials_json(text, source)


def credentials_from_env(env: Mapping[str, str], read_text: Callable[[str], str]) -> UnsealCredentials | None:
    """Credentials from VAULT_CREDENTIALS (base64 JSON) or VAULT_CREDENTIALS_FILE (plain JSON, a Docker secret).

    None when neither is set; CredentialsError (never echoing the value) when they cannot be used.
    """
    inline = env.get("VAULT_CREDENTIALS", "").strip()
    path = env.get("VAULT_CREDENTIALS_FILE", "").strip()
    if inline and path:
        raise CredentialsError("both VAULT_CREDENTIALS and VAULT_CREDENTIALS_FILE are set; set only one")
    if inline:
        return parse_credentials_base64(inline, "VAULT_CREDENTIALS")
    if path:
        try:
            text = read_text(path)
        except OSError as error:
            why = describe_os_error(error)
            raise CredentialsError(f"VAULT_CREDENTIALS_FILE {path} cannot be read ({why})") from None
        except UnicodeDecodeError:
            raise CredentialsError(
                f"VAULT_CREDENTIALS_FILE {path} is not UTF-8 text; expected the plain JSON {EXPECTED_JSON}"
            ) from None
        return parse_credentials_file(text, f"VAULT_CREDENTIALS_FILE {path}")
    return None
