"""A URL shown in a message never carries its user-info (pure logic)."""

from __future__ import annotations

import pytest

from neon_cm.environment import parse_consul_address
from neon_cm.urls import masked


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@{addr}:8200", "http://<hidden>@{addr}:8200"),
        ("https://user@vault:8200/v1?x=@", "https://<hidden>@vault:8200/v1?x=@"),
        ("http://{addr}:8200", "http://{addr}:8200"),
        ("http://vault:8200/a@b", "http://vault:8200/a@b"),
        ("not a url user:pw@host", "not a url user:pw@host"),
    ],
)
def test_user_info_is_hidden_and_the_rest_kept(url: str, shown: str) -> None:
    """Only the authority's user-info is replaced; an `@` in a path or query is not user-info."""

    assert shown == masked(url)


def test_a_malformed_consul_address_with_a_password_never_shows_it() -> None:
    """CONSUL_HTTP_ADDR=http://admin:s3cret@consul:99999 is refused without the password in the words."""
    with pytest.raises(ValueError) as rejected:
        parse_consul_address("http://admin:s3cret@consul:99999")

    assert "CONSUL_HTTP_ADDR='http://<hidden>@consul:99999' has an invalid port" == str(rejected.value)
