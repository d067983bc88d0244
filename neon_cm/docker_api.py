"""Which Docker Engine API version to speak: the negotiation the Docker CLI does, as pure functions.

The service speaks API 1.41 (Engine 20.10) to NEWEST, the newest version whose node listing (GET /nodes) and node
events (GET /events) were checked against Docker's API reference: neither changed in a way the service reads
(1.52 dropped the events' deprecated `status`/`id`/`from` fields, which it never read; 1.53 added an optional
`application/jsonl` content type, which it never asks for). Engine 29 refuses every version below 1.44, Engine
20.10 every version above 1.41, so a fixed version cannot serve both.

The version is the highest both speak: min(NEWEST, the daemon's `API-Version`), as long as that is not below the
daemon's minimum (which only `GET /version` tells). DOCKER_API_VERSION pins it, as for the Docker CLI.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

#: The API versions the service is written and tested for, as (major, minor).
OLDEST = (1, 41)
NEWEST = (1, 55)
#: What a daemon says when the path's version is outside its range (400), e.g. Engine 29's
#: `client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client ...` and
#: Engine 20.10's `client version 1.52 is too new. Maximum supported API version is 1.41`.
_REFUSAL = re.compile(
    r"client version (?P<asked>\d+\.\d+) is too (?P<which>old|new)\. (?:Minimum|Maximum) supported API version is "
    r"(?P<bound>\d+\.\d+)",
    re.IGNORECASE,
)
_VERSION = re.compile(r"(\d{1,3})\.(\d{1,3})", re.ASCII)


def parse_version(text: Any) -> tuple[int, int] | None:
    """`1.44` as (1, 44); None for anything else (a missing header, garbage, `1.44.0`, ` 1.44`, `v1.44`)."""
    if not isinstance(text, str):
        return None
    match = _VERSION.fullmatch(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


#: The service's range as said in log lines and docs.
SUPPORTED = f"{text(OLDEST)}-{text(NEWEST)}"


@attrs.frozen
class Chosen:
    """The version to put in every path (`/v1.44/nodes`), and how it was chosen (for the INFO line)."""

    version: tuple[int, int]
    how: str
    """E.g. `the daemon speaks up to 1.52; this service 1.41-1.55`, or `pinned by DOCKER_API_VERSION`."""

    @property
    def path_prefix(self) -> str:
        return f"/v{text(self.version)}"

    def describe(self) -> str:
        return f"Docker API {text(self.version)} ({self.how})"


@attrs.frozen
class NoCommonVersion:
    """The daemon and the service share no version: said in one ERROR, naming both ranges."""

    reason: str


@attrs.frozen
class AskVersion:
    """The ping left the daemon's minimum unknown and it matters: ask GET /version (MinAPIVersion)."""

    daemon_newest: tuple[int, int] | None


def pinned(value: str | None) -> tuple[Chosen | None, str | None]:
    """DOCKER_API_VERSION: (the pinned version or None, a warning or None). Unset or empty: negotiate. A value
    that is not `1.NN`, or outside the service's range, is a warning and negotiation is used instead (a version the
    service was not tested for would only fail later, and less clearly)."""
    if value is None or not value.strip():
        return None, None
    version = parse_version(value.strip())
    if version is None:
        return None, (
            f"DOCKER_API_VERSION={value[:20]!r} is not an API version like 1.44; negotiating the version with the"
            " daemon instead"
        )
    if not OLDEST <= version <= NEWEST:
        return None, (
            f"DOCKER_API_VERSION={value.strip()} is outside the versions this service speaks ({SUPPORTED});"
            " negotiating the version with the daemon instead"
        )
    return Chosen(version, "pinned by DOCKER_API_VERSION"), None


def after_ping(api_version_header: str | None) -> Chosen | NoCommonVersion | AskVersion:
    """What `GET /_ping`'s `API-Version` header decides. The daemon's newest version below ours: it (a daemon's
    minimum is never above its newest). Above ours: ours, unless the daemon's minimum is above it, which only
    GET /version says. Missing or garbage: GET /version."""
    newest = parse_version(api_version_header)
    if newest is None:
        return AskVersion(None)
    if newest < OLDEST:
        return _none_in_common(newest, None)
    if newest <= NEWEST:
        return Chosen(newest, f"the daemon speaks up to {text(newest)}; this service {SUPPORTED}")
    return AskVersion(newest)


def after_version(asked: AskVersion, body: Any) -> Chosen | NoCommonVersion:
    """What `GET /version`'s `ApiVersion` and `MinAPIVersion` decide, after a ping that left it open (`body` is the
    decoded JSON, or None when the call failed). Nothing usable from either: the oldest version, which every daemon
    up to Engine 28 speaks; a daemon that refuses it says its range in the 400 (see `after_refusal`)."""
    fields = body if isinstance(body, dict) else {}
    newest = parse_version(fields.get("ApiVersion")) or asked.daemon_newest
    oldest = parse_version(fields.get("MinAPIVersion"))
    if newest is None:
        return Chosen(OLDEST, f"the daemon did not say its API version; this service {SUPPORTED}, trying the oldest")
    if newest < OLDEST or (oldest is not None and oldest > NEWEST):
        return _none_in_common(newest, oldest)
    version = min(newest, NEWEST)
    speaks = f"{text(oldest)}-{text(newest)}" if oldest is not None else f"up to {text(newest)}"
    return Chosen(version, f"the daemon speaks {speaks}; this service {SUPPORTED}")


def refusal(message: str) -> tuple[int, int] | None:
    """The version a daemon's `client version X is too old/new` 400 names as its bound; None for any other text."""
    match = _REFUSAL.search(message)
    return parse_version(match.group("bound")) if match else None


def is_refusal(message: str) -> bool:
    """Whether a 400's message is the daemon refusing the path's API version (the daemon changed under us)."""
    return _REFUSAL.search(message) is not None


def after_refusal(message: str, previous: Chosen) -> Chosen | NoCommonVersion | None:
    """A version refused by a daemon that did not say its range otherwise (no ping, no /version): the bound its 400
    names, if the service speaks it; None when the message is not a version refusal."""
    match = _REFUSAL.search(message)
    if match is None:
        return None
    bound = parse_version(match.group("bound"))
    if bound is None:
        return None
    if match.group("which").lower() == "old":
        if bound > NEWEST:
            return _none_in_common(None, bound)
        return Chosen(bound, f"the daemon refused {text(previous.version)}: its oldest is {text(bound)}")
    if bound < OLDEST:
        return _none_in_common(bound, None)
    return Chosen(bound, f"the daemon refused {text(previous.version)}: its newest is {text(bound)}")


def _none_in_common(newest: tuple[int, int] | None, oldest: tuple[int, int] | None) -> NoCommonVersion:
    if newest is not None and oldest is not None:
        speaks = f"{text(oldest)}-{text(newest)}"
    elif newest is not None:
        speaks = f"up to {text(newest)}"
    else:
        assert oldest is not None
        speaks = f"{text(oldest)} and newer"
    return NoCommonVersion(f"no Docker API version in common: the daemon speaks {speaks}, this service {SUPPORTED}")
