"""Settings and environment parsing (pure logic)."""

from __future__ import annotations

import pytest

from messages.log import Level
from messages.settings import Settings
from neon_cm.environment import ConsulAddress, parse_consul_address, parse_log_level
from neon_cm.keys import SETTINGS_PREFIX
from neon_cm.settings import (
    default_text,
    default_written,
    describe_settings,
    describe_unknown_setting,
    parse_seconds,
    parse_settings,
    parse_url_template,
    template_caveat,
    unknown_settings,
)


def test_missing_settings_take_defaults() -> None:
    """Nothing stored: the spec's defaults."""

    assert (Settings(30.0, 30.0, "https://{hostname}.neon-vault.cluster:8200"), []) == parse_settings({})


def test_valid_settings_are_used() -> None:
    """Plain-text doubles and a template with known placeholders parse."""
    settings, problems = parse_settings(
        {"node_poll_seconds": " 2.5 ", "vault_poll_seconds": "1", "vault_url_template": "http://{addr}:8200"}
    )

    assert (Settings(2.5, 1.0, "http://{addr}:8200"), []) == (settings, problems)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("node_poll_seconds", "-1"),
        ("node_poll_seconds", "0"),
        ("node_poll_seconds", ""),
        ("node_poll_seconds", "fast"),
        ("node_poll_seconds", "nan"),
        ("node_poll_seconds", "inf"),
        ("vault_poll_seconds", "1e300"),
        ("node_poll_seconds", "1e-300"),
        ("vault_poll_seconds", "0.01"),
        ("vault_url_template", "http://{host}:8200"),
        ("vault_url_template", "{hostname}:8200"),
        ("vault_url_template", "http://{hostname"),
        ("vault_url_template", "http://{0}:8200"),
        ("node_poll_seconds", "\u0663"),
        ("node_poll_seconds", "1_0"),
        ("node_poll_seconds", "1e3"),
        ("node_poll_seconds", "0x10"),
        ("vault_url_template", "http://{addr}:99999"),
        ("vault_url_template", "http://{addr}:0"),
        ("vault_url_template", "http://{addr}:"),
        ("vault_url_template", "http://my vault:8200"),
        ("vault_url_template", "http://{addr}\t:8200"),
        ("vault_url_template", "http://v\u00e4ult:8200"),
        ("vault_url_template", "http://:8200"),
        ("vault_url_template", "http://" + "v" * 600),
    ],
)
def test_bad_setting_is_rejected_with_its_name_and_value(name: str, value: str) -> None:
    """A bad value gives one problem naming the key and the value; the default is used."""
    settings, problems = parse_settings({name: value})

    assert getattr(Settings(), name) == getattr(settings, name)
    assert [name] == [problem.name for problem in problems]
    assert name in problems[0].describe() and repr(value[:60]) in problems[0].describe()


def test_unknown_placeholder_is_named() -> None:
    """A template with a placeholder other than {hostname} or {addr} says which one."""
    _, problems = parse_settings({"vault_url_template": "https://{host}:8200"})

    assert "unknown placeholder(s) host" in problems[0].reason


def test_default_text_is_what_gets_written() -> None:
    """Defaults are written as plain text that parses back to themselves."""

    assert ("30", "https://{hostname}.neon-vault.cluster:8200") == (
        default_text("node_poll_seconds"),
        default_text("vault_url_template"),
    )


@pytest.mark.parametrize(
    ("text", "level", "warned"),
    [
        (None, Level.INFO, False),
        ("debug", Level.DEBUG, False),
        ("Warning", Level.WARN, False),
        ("INFORMATION", Level.INFO, False),
        ("none", Level.NONE, False),
        ("FATAL", Level.FATAL, False),
        ("loud", Level.INFO, True),
    ],
)
def test_log_level(text: str | None, level: Level, warned: bool) -> None:
    """LOG_LEVEL is case-insensitive with aliases; anything else is INFO plus a warning."""
    parsed, warning = parse_log_level(text)

    assert (level, warned) == (parsed, warning is not None)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        (None, ConsulAddress("http", "127.0.0.1", 8500)),
        ("10.0.0.5:8501", ConsulAddress("http", "10.0.0.5", 8501)),
        ("https://consul.local:8501", ConsulAddress("https", "consul.local", 8501)),
        ("consul.local", ConsulAddress("http", "consul.local", 8500)),
    ],
)
def test_consul_address(text: str | None, address: ConsulAddress) -> None:
    """CONSUL_HTTP_ADDR follows the Consul CLI's convention."""

    assert address == parse_consul_address(text)


@pytest.mark.parametrize("text", ["ftp://x:1", "host:port", "http://h:99999", "http://h:1/path"])
def test_malformed_consul_address(text: str) -> None:
    """A malformed address is a clear error."""
    with pytest.raises(ValueError, match="CONSUL_HTTP_ADDR"):
        parse_consul_address(text)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30", 30.0), ("0.5", 0.5), (".5", 0.5), ("5.", 5.0), (" +2 ", 2.0), ("86400", 86400.0)]
)
def test_plain_ascii_decimals_are_seconds(text: str, seconds: float) -> None:
    """What every reader of a number reads alike is accepted."""

    assert seconds == parse_seconds(text)


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("http://{addr}:99999", "the port must be a number from 1 to 65535"),
        ("http://my host:8200", "a URL has no spaces or other whitespace in it"),
        ("http://h\u00f6st:8200", "a URL is ASCII (write an international host name in its xn-- form)"),
        ("http://:8200", "'' is not a host name or address"),
    ],
)
def test_a_template_that_cannot_build_a_valid_url_says_why(template: str, reason: str) -> None:
    """A template that would make every Vault look unreachable is a configuration error, named as such."""
    with pytest.raises(ValueError) as rejected:
        parse_url_template(template)

    assert reason == str(rejected.value)


@pytest.mark.parametrize(
    "template", ["http://{addr}:8200", "https://{hostname}.vault:8200/", "http://{addr}", "http://[::1]:8200"]
)
def test_templates_that_build_valid_urls_are_kept(template: str) -> None:
    """Host names, IPv4 and bracketed IPv6 addresses, with or without a port, are valid."""

    assert template == parse_url_template(template)


def test_a_huge_value_is_described_in_one_short_line() -> None:
    """A 120 KB stored value: the WARN names the key and shows the value's start and its length, not all of it."""
    value = "9" * 120_000
    _, problems = parse_settings({"node_poll_seconds": value})
    line = problems[0].describe()

    assert (
        f"setting neon/services/neon-cluster-manager/node_poll_seconds={value[:60]!r}... (120000 characters) "
        "rejected (120000 characters, over the 512 a setting may have); using the default"
    ) == line


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (
            "http://user:pw@{addr}:8200",
            "a user name or password (user:password@) is never sent to Vault, and would show in the log; remove it",
        ),
        (
            "http://{addr}:8200/v1",
            "a path (/v1) has no place in a Vault's address: the service asks for /v1/sys/... itself; end the template "
            "at the port",
        ),
        ("http://{addr}:8200?x=1", "a query (?...) has no place in a Vault's address; end the template at the port"),
        ("http://{addr}:8200#top", "a fragment (#...) has no place in a Vault's address; end the template at the port"),
        (
            "http://{addr}{hostname}:8200",
            "{addr}{hostname} run two values together; put text (a dot, a colon) between placeholders",
        ),
        (
            "http://[{addr}]:8200",
            "write {addr} without brackets: an IPv6 manager address already carries them in {addr}",
        ),
        ("http://[10.0.0.1]:8200", "not a URL (a host in brackets must be an IPv6 address)"),
        ("http://{addr!r}:8200", "write {addr} plain: a placeholder takes no conversion (!r) or format (:>20)"),
        (
            "http://{hostname:>20}:8200",
            "write {hostname} plain: a placeholder takes no conversion (!r) or format (:>20)",
        ),
    ],
)
def test_a_template_that_cannot_reach_vault_as_meant_is_refused_in_the_services_words(
    template: str, reason: str
) -> None:
    """User-info, a path, a query, a fragment, glued placeholders and `[{addr}]` were accepted (or refused in
    urllib's words): each is refused, saying why, without echoing a password."""
    with pytest.raises(ValueError) as rejected:
        parse_url_template(template)

    assert reason == str(rejected.value)
    assert "pw" not in str(rejected.value)


@pytest.mark.parametrize("template", ["http://127.0.0.11:8200", "https://vault.example:8200", "http://[::1]:8200"])
def test_a_template_without_a_placeholder_is_taken_with_a_caveat(template: str) -> None:
    """Operator tryout 2026-12-07: `http://127.0.21.11:8200` was taken without a word, every manager's monitor polled
    that one Vault, and the log said `Vault on manager-2 (http://127.0.21.11:8200) is unsealed: active` of
    manager-1's. It is still taken (a single manager, or one address in front of every Vault, is what it is for), and
    the caveat says what it means; a template with a placeholder has none."""
    settings, problems = parse_settings({"vault_url_template": template})

    assert ([], template) == (problems, settings.vault_url_template)
    assert (
        f"vault_url_template {template} has no {{addr}} or {{hostname}}: every manager's Vault is polled at this one "
        "URL, which is right for a single manager or one address in front of every Vault, and wrong when each manager "
        "runs its own (the one reached is reported as each manager's, the others go unwatched)"
    ) == template_caveat(template)
    assert None is template_caveat("http://{addr}:8200") is template_caveat("https://{hostname}.vault:8200")


def test_keys_under_the_prefix_that_are_no_setting_are_named() -> None:
    """A typo (`node_poll_second`), a key with a trailing slash (`node_poll_seconds/`, a folder in Consul's UI) or
    one inside such a folder is no setting: the service names each, so the operator sees why a value has no
    effect; the settings themselves are not."""
    stored = [
        (SETTINGS_PREFIX + "node_poll_seconds", b"5"),
        (SETTINGS_PREFIX + "node_poll_seconds/", b"7"),
        (SETTINGS_PREFIX + "node_poll_seconds/sub", b"9"),
        (SETTINGS_PREFIX + "vault_poll_second", None),
    ]
    unknown = unknown_settings(stored)

    assert ("node_poll_seconds/", "node_poll_seconds/sub", "vault_poll_second") == unknown
    assert (
        f"{SETTINGS_PREFIX}node_poll_seconds/ is no setting of this service, so it has no effect (the settings are "
        "node_poll_seconds, vault_poll_seconds, vault_url_template)"
    ) == describe_unknown_setting(unknown[0])


def test_a_rejected_template_with_a_password_is_shown_without_it() -> None:
    """The WARN about a stored template naming user:password@ hides the user-info."""
    _, problems = parse_settings({"vault_url_template": "http://admin:s3cret@{addr}:8200"})

    assert "s3cret" not in problems[0].describe()
    assert "'http://<hidden>@{addr}:8200'" in problems[0].describe()


def test_whole_seconds_are_logged_as_written() -> None:
    """A stored `5` is logged `5`, not `5.0`; 0.5 stays 0.5."""

    assert "node_poll_seconds=5 vault_poll_seconds=0.5 vault_url_template=http://{addr}:8200" == describe_settings(
        parse_settings(
            {"node_poll_seconds": "5", "vault_poll_seconds": "0.5", "vault_url_template": "http://{addr}:8200"}
        )[0]
    )


def test_a_default_written_in_place_of_another_value_in_use_is_a_warn_naming_that_value() -> None:
    """Helper wtry3 on the real stack: after a dev Consul restarted without its data, both instances wrote the
    defaults with an INFO each, and the active one moved every Vault to the default template's URLs, all unreachable;
    the operator's template was gone without a word above INFO. A default written where another value was in use
    (the key deleted, or lost with Consul's data) is a WARN naming that value; at the start, or where the default was
    in use anyway, an INFO as before. A URL's user-info stays hidden."""
    plain = f"setting {SETTINGS_PREFIX}node_poll_seconds was missing; wrote the default 30"
    assert (False, plain) == default_written("node_poll_seconds", None)
    assert (False, plain) == default_written("node_poll_seconds", Settings())

    warn, line = default_written("node_poll_seconds", Settings(node_poll_seconds=5.0))
    assert warn
    assert line == (
        f"{plain} in place of '5', the value in use until now (the key deleted, or lost by Consul with its data): set "
        "it again if '5' is meant"
    )
    warn, line = default_written("vault_url_template", Settings(vault_url_template="http://me:pw@{addr}:8200"))
    assert warn and "'http://<hidden>@{addr}:8200'" in line and "pw" not in line
