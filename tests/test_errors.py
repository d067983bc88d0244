"""Short, stable error descriptions (pure logic)."""

from __future__ import annotations

from neon_cm.errors import describe


def test_connection_error_is_reduced_to_the_os_error() -> None:
    """requests' nested text, with object addresses that change per attempt, becomes the errno part."""
    text = (
        "HTTPConnectionPool(host='127.0.0.1', port=8500): Max retries exceeded with url: /v1/kv/x (Caused by "
        "NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f12ab>: Failed to establish a new "
        "connection: [Errno 111] Connection refused'))"
    )

    assert "ConnectionError: [Errno 111] Connection refused" == describe(ConnectionError(text))


def test_other_errors_keep_their_text_without_addresses() -> None:
    """Anything else keeps its message; only object addresses go."""

    assert "ValueError: bad <thing>" == describe(ValueError("bad <thing at 0xdeadbeef>"))
