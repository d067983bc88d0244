"""Showing a URL (or a URL template) in a message without the user-info it may carry (`user:password@`)."""

from __future__ import annotations

import re

#: What stands in for the user-info; not `***`, which the log keeps for a masked secret.
HIDDEN = "<hidden>"
#: scheme://, then the authority up to the last `@` before any path, query or fragment.
USER_INFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def masked(url: str) -> str:
    """`url` with its user-info replaced by `<hidden>`: `http://<hidden>@{addr}:8200`; anything else as it is."""
    return USER_INFO.sub(lambda found: f"{found.group(1)}{HIDDEN}@", url, count=1)


def has_user_info(url: str) -> bool:
    """Whether `url` carries user-info (`user@`, `user:password@`) in its authority."""
    return USER_INFO.match(url) is not None
