"""What a ConsulWatch tells about the keys it watches."""

from __future__ import annotations

import attrs


@attrs.frozen
class KeysChanged:
    """The keys under a watched prefix, after a change (and once when the watch starts)."""

    prefix: str
    """The watched prefix."""
    values: tuple[tuple[str, bytes | None], ...]
    """(key, value) pairs under the prefix; a key with no value has None."""


@attrs.frozen
class WatchFailed:
    """A blocking query on the prefix failed; the watch retries with backoff."""

    prefix: str
    """The watched prefix."""
    error: str
    """What went wrong, as the client said it."""
