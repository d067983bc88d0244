"""Unseal credentials: parsing, clear errors that never echo the value, and a repr that hides the keys."""

from __future__ import annotations

import base64
import json
import random
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neon_cm.credentials import (
    CredentialsError,
    Secret,
    credentials_from_env,
    parse_credentials_base64,
    parse_credentials_json,
    share_bytes,
)
from tests import strategies

KEY_A = base64.b64encode(b"A" * 33).decode()
KEY_B = (b"B" * 33).hex()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@given(strategies.credentials_json())
def test_valid_credentials_parse_and_never_show_a_key(document: tuple[str, list[str], int]) -> None:
    """Keys in base64 or hex with any threshold up to their number parse; repr and str hide every key."""
    text, keys, threshold = document
    credentials = parse_credentials_base64(b64(text), "VAULT_CREDENTIALS")

    assert (keys, threshold) == ([key.value for key in credentials.keys], credentials.threshold)
    for shown in (repr(credentials), str(credentials), repr(credentials.keys), str(list(credentials.keys))):
        assert not any(key in shown for key in keys)


def test_secret_repr_hides_value() -> None:
    """A Secret prints as Secret(***)."""

    assert ("Secret(***)", "Secret(***)") == (repr(Secret(KEY_A)), str(Secret(KEY_A)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("not base64 at all!", "is not base64"),
        (b64("not json"), "is not JSON"),
        (b64("[1, 2]"), "not an object"),
        (b64(json.dumps({"KeyThreshold": 1})), "no UnsealKeys list"),
        (b64(json.dumps({"UnsealKeys": [], "KeyThreshold": 1})), "no UnsealKeys list"),
        (b64(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": 0})), "must be at least 1"),
        (b64(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": 2})), "only 1 distinct unseal key is given"),
        (b64(json.dumps({"UnsealKeys": [KEY_A, KEY_A], "KeyThreshold": 2})), "only 1 distinct unseal key is given"),
        (b64(json.dumps({"UnsealKeys": [KEY_A, KEY_B], "KeyThreshold": 3})), "only 2 distinct unseal keys are given"),
        (b64(json.dumps({"UnsealKeys": [KEY_A, 7], "KeyThreshold": 1})), "entry 2 is not a non-empty string"),
        (b64(json.dumps({"UnsealKeys": [""], "KeyThreshold": 1})), "entry 1 is not a non-empty string"),
        (b64(json.dumps({"UnsealKeys": [KEY_A + "!"], "KeyThreshold": 1})), "neither base64 nor hex"),
        (b64(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": "2"})), "KeyThreshold is a string, not an integer"),
        (b64(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": True})), "KeyThreshold is a boolean, not an integer"),
        (b64(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": 1.5})), "KeyThreshold is a number with a decimal"),
        (b64(json.dumps({"UnsealKeys": [KEY_A]})), "KeyThreshold is missing"),
        (b64(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": None})), "KeyThreshold is null, not an integer"),
        # A hand-edited secret holding a member twice: JSON readers disagree on which one counts (Python's and
        # .NET's take the last, others the first), so the operator cannot know which threshold or keys apply.
        (
            b64(f'{{"UnsealKeys": ["{KEY_A}"], "KeyThreshold": 1, "KeyThreshold": 2}}'),
            "KeyThreshold is given 2 times; write it once",
        ),
        (
            b64(f'{{"UnsealKeys": ["{KEY_B}"], "UnsealKeys": ["{KEY_A}"], "KeyThreshold": 1}}'),
            "UnsealKeys is given 2 times; write it once",
        ),
        # What VAULT_CREDENTIALS_FILE holds, given to VAULT_CREDENTIALS: said so, with the two ways to fix it.
        (
            json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": 1}),
            "VAULT_CREDENTIALS holds plain JSON; it takes the base64 of it (base64 -w0 FILE), "
            "or name the file in VAULT_CREDENTIALS_FILE",
        ),
    ],
)
def test_malformed_credentials_say_what_is_wrong_without_the_value(value: str, expected: str) -> None:
    """Each malformation gets its own message; neither the value nor a key appears in it."""
    with pytest.raises(CredentialsError) as caught:
        parse_credentials_base64(value, "VAULT_CREDENTIALS")

    message = str(caught.value)
    assert expected in message
    assert value not in message and KEY_A not in message and KEY_B not in message
    assert (caught.value.__cause__ is None and caught.value.__context__ is None) or caught.value.__suppress_context__


def test_env_reads_inline_or_file_and_refuses_both(tmp_path: Path) -> None:
    """VAULT_CREDENTIALS is base64 JSON, VAULT_CREDENTIALS_FILE plain JSON; both at once is an error; none is None."""
    document = json.dumps({"UnsealKeys": [KEY_A, KEY_B], "KeyThreshold": 2})
    secret_file = tmp_path / "vault-credentials"
    secret_file.write_text(document)

    def read(path: str) -> str:
        return Path(path).read_text()

    assert 2 == len(credentials_from_env({"VAULT_CREDENTIALS": b64(document)}, read).keys)  # type: ignore[union-attr]
    assert 2 == credentials_from_env({"VAULT_CREDENTIALS_FILE": str(secret_file)}, read).threshold  # type: ignore[union-attr]
    assert credentials_from_env({}, read) is None
    with pytest.raises(CredentialsError, match="set only one"):
        credentials_from_env({"VAULT_CREDENTIALS": b64(document), "VAULT_CREDENTIALS_FILE": str(secret_file)}, read)
    with pytest.raises(CredentialsError, match="cannot be read"):
        credentials_from_env({"VAULT_CREDENTIALS_FILE": str(tmp_path / "missing")}, read)


def test_forms_cover_base64_and_hex_of_every_key() -> None:
    """What the Logger masks: each key as given, in base64 and in hex."""
    credentials = parse_credentials_json(json.dumps({"UnsealKeys": [KEY_A, KEY_B], "KeyThreshold": 1}), "x")

    assert {KEY_A, (b"A" * 33).hex(), KEY_B, base64.b64encode(b"B" * 33).decode()} == credentials.forms()


def test_forms_cover_the_url_encoded_base64_of_a_key() -> None:
    """Issue 26, defect 7: a base64 share URL-encoded (`+`, `/`, `=` as `%2B`, `%2F`, `%3D`, either case) is masked
    too: a proxy or a URL in an error may carry it so."""
    share = base64.b64encode(b"\xfb\xff" * 16 + b"\xfe").decode()
    credentials = parse_credentials_json(json.dumps({"UnsealKeys": [share], "KeyThreshold": 1}), "x")
    encoded = share.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")

    assert "%" in encoded
    assert {encoded, encoded.replace("%2B", "%2b").replace("%2F", "%2f").replace("%3D", "%3d")} <= credentials.forms()


def test_base64_wrapped_at_76_columns_is_accepted() -> None:
    """`VAULT_CREDENTIALS=$(base64 creds.json)`: base64 wraps at 76 columns; the line breaks are not data."""
    document = json.dumps({"UnsealKeys": ["a" * 44, "b" * 44, "c" * 44], "KeyThreshold": 2}).encode()
    encoded = base64.b64encode(document).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\n"

    assert 2 == parse_credentials_base64(wrapped, "VAULT_CREDENTIALS").threshold


def test_one_share_in_two_encodings_is_one_key() -> None:
    """The same share as base64 and as hex is one distinct key, so it cannot make up a threshold of two."""
    raw = bytes(range(33))
    same_twice = json.dumps({"UnsealKeys": [base64.b64encode(raw).decode(), raw.hex()], "KeyThreshold": 2})

    with pytest.raises(CredentialsError, match="KeyThreshold is 2 but only 1 distinct unseal key is given"):
        parse_credentials_json(same_twice, "VAULT_CREDENTIALS_FILE f")


def read_as_the_service_does(path: str) -> str:
    """What neon_cm_main passes as read_text."""
    return Path(path).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "is empty; expected the plain JSON "),
        (b"\n  \n", "is empty; expected the plain JSON "),
        (b"\xef\xbb\xbf", "is empty; expected the plain JSON "),
        (None, "holds base64 (the form VAULT_CREDENTIALS takes); the file holds the plain JSON "),
        (b"\xff\xfe{}", "is not UTF-8 text; expected the plain JSON "),
        (b"UnsealKeys: abc", "is not JSON (a value was expected at line 1, column 1); expected "),
    ],
)
def test_credentials_file_says_what_it_found_and_what_is_expected(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    """An empty file, the base64 form, or bytes that are not UTF-8: the error says which, and what belongs there."""
    document = json.dumps({"UnsealKeys": [KEY_A, KEY_B], "KeyThreshold": 2})
    secret_file = tmp_path / "vault-credentials"
    secret_file.write_bytes(
        content if content is not None else (b64(document)[:40] + "\n" + b64(document)[40:]).encode()
    )

    with pytest.raises(CredentialsError) as caught:
        credentials_from_env({"VAULT_CREDENTIALS_FILE": str(secret_file)}, read_as_the_service_does)

    message = str(caught.value)
    assert (
        f"VAULT_CREDENTIALS_FILE {secret_file} {says}" == message[: len(f"VAULT_CREDENTIALS_FILE {secret_file} {says}")]
    )
    assert message.endswith('{"UnsealKeys": ["<share>", ...], "KeyThreshold": N}')
    assert KEY_A not in message and b64(document)[:20] not in message


def test_credentials_file_with_a_bom_is_read(tmp_path: Path) -> None:
    """A UTF-8 BOM, as Windows editors write, is not content."""
    secret_file = tmp_path / "vault-credentials"
    secret_file.write_bytes(b"\xef\xbb\xbf" + json.dumps({"UnsealKeys": [KEY_A, KEY_B], "KeyThreshold": 2}).encode())

    credentials = credentials_from_env({"VAULT_CREDENTIALS_FILE": str(secret_file)}, read_as_the_service_does)

    assert (2, 2) == (len(credentials.keys), credentials.threshold)  # type: ignore[union-attr]


@given(strategies.credentials_json(), st.randoms(use_true_random=False))
def test_the_key_set_fingerprint_names_the_set_and_shows_no_key(
    document: tuple[str, list[str], int], shuffler: random.Random
) -> None:
    """The fingerprint is 8 hex digits, the same for the same shares in any order and encoding (base64 or hex), and
    holds no form of any key (the shares recoded as hex, shuffled)."""
    text, keys, threshold = document
    credentials = parse_credentials_json(text, "test")
    recoded = [share_bytes(key).hex() for key in keys]
    shuffler.shuffle(recoded)
    again = parse_credentials_json(json.dumps({"UnsealKeys": recoded, "KeyThreshold": threshold}), "test")
    fingerprint = credentials.fingerprint()

    assert re.fullmatch(r"[0-9a-f]{8}", fingerprint)
    assert fingerprint == again.fingerprint()
    assert not any(fingerprint in form or form in credentials.describe() for form in credentials.forms())


def test_another_key_set_has_another_fingerprint() -> None:
    """A rotated set (one share changed) and a subset each get their own fingerprint; the start line's words."""
    first = parse_credentials_json(json.dumps({"UnsealKeys": [KEY_A, KEY_B], "KeyThreshold": 1}), "test")
    rotated = parse_credentials_json(json.dumps({"UnsealKeys": [KEY_A, (b"C" * 33).hex()], "KeyThreshold": 1}), "t")
    subset = parse_credentials_json(json.dumps({"UnsealKeys": [KEY_A], "KeyThreshold": 1}), "test")

    assert 3 == len({first.fingerprint(), rotated.fingerprint(), subset.fingerprint()})
    assert f"2 keys, threshold 1, key set {first.fingerprint()}" == first.describe()
