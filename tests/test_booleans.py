"""One reader of yes/no switches for the environment, Consul values and the CLI (pure logic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neon_cm.booleans import parse_switch, switch_text
from neon_cm.config import load_config
from neon_cm.environment import consul_address, parse_tls, switch_notes


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("false", False),
        (" TRUE ", True),
        ("False", False),
        ("true\n", True),
        (None, False),
        ("", False),
    ],
)
def test_true_and_false_in_any_case_are_read_silently(text: str | None, value: bool) -> None:
    """The two words themselves, in any case and with whitespace around them (a stored `true\\n`), need no note."""

    assert (value, None) == parse_switch(text)


@pytest.mark.parametrize(("text", "value"), [("yes", True), ("ON", True), ("1", True), ("no", False), ("off", False)])
def test_other_spellings_are_read_and_said(text: str, value: bool) -> None:
    """yes/on/1 and no/off/0 mean what they say, and the note says how they were read."""

    assert (value, f"{text!r} read as {str(value).lower()}") == parse_switch(text, default=not value)


@pytest.mark.parametrize("default", [True, False])
def test_anything_else_keeps_the_default_and_says_so(default: bool) -> None:
    """`maybe` is neither: the caller's default, and a note that names the value and what was done."""
    value, note = parse_switch("maybe", default)

    assert default is value
    assert (
        f"'maybe' is neither true nor false (yes/no, on/off and 1/0 are read too); taken as {str(default).lower()}"
        == (note)
    )


@given(st.text(max_size=20), st.booleans())
def test_every_text_gives_a_value_and_a_note_only_when_odd(text: str, default: bool) -> None:
    """Whatever is stored, a value comes back; a note exactly when the text is not blank, true or false."""
    value, note = parse_switch(text, default)

    plain = not text.strip() or text.strip().lower() in ("true", "false")
    assert isinstance(value, bool)
    assert plain == (note is None)


def test_a_stored_value_with_a_newline_is_shown_without_a_raw_newline() -> None:
    """`true\\n` in Consul is shown quoted (`'true\\n'`), so a message stays one line; a plain value as it is."""

    assert ("'true\\n'", "true", "<missing>", "''") == (
        switch_text("true\n"),
        switch_text("true"),
        switch_text(None),
        switch_text(""),
    )


def test_the_environment_reads_every_switch_alike_and_says_each_odd_one() -> None:
    """CONSUL_HTTP_SSL=yes is https (said once), CONSUL_HTTP_SSL_VERIFY=nope and VAULT_SKIP_VERIFY=maybe keep
    verification on (said, with what it means); the service's start-up warnings carry the same lines."""
    env = {"CONSUL_HTTP_ADDR": "consul:8501", "CONSUL_HTTP_SSL": "yes", "CONSUL_HTTP_SSL_VERIFY": "nope",
           "VAULT_SKIP_VERIFY": "maybe"}  # fmt: skip

    notes = switch_notes(env)

    assert "https" == consul_address(env).scheme
    assert (True, True) == (parse_tls(env, "CONSUL")[0].verify, parse_tls(env, "VAULT")[0].verify)
    assert (
        "CONSUL_HTTP_SSL='yes' read as true",
        "CONSUL_HTTP_SSL_VERIFY='nope' is neither true nor false (yes/no, on/off and 1/0 are read too); taken as "
        "true (Consul's TLS certificates are verified)",
        "VAULT_SKIP_VERIFY='maybe' is neither true nor false (yes/no, on/off and 1/0 are read too); taken as false "
        "(Vault's TLS certificates are verified)",
    ) == notes
    assert set(notes) <= set(load_config(env, lambda path: "").warnings)


def test_a_switch_odd_over_plain_http_is_still_said() -> None:
    """CONSUL_HTTP_SSL_VERIFY=nope with an http:// Consul was silent: a typo is said whatever the scheme."""
    warnings = load_config({"CONSUL_HTTP_SSL_VERIFY": "nope"}, lambda path: "").warnings

    assert [] != [warning for warning in warnings if warning.startswith("CONSUL_HTTP_SSL_VERIFY='nope'")]
