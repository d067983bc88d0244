"""The Docker API version negotiation (neon_cm/docker_api.py): ranges that overlap, that don't, a missing header,
garbage, a pin, and a daemon's own refusal."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neon_cm import docker_api
from neon_cm.docker_api import AskVersion, Chosen, NoCommonVersion, after_ping, after_refusal, after_version, pinned

ENGINE_29_REFUSAL = (
    "client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a newer"
    " version"
)
ENGINE_20_REFUSAL = "client version 1.52 is too new. Maximum supported API version is 1.41"


@pytest.mark.parametrize(
    ("header", "version"),
    [
        ("1.41", (1, 41)),  # Engine 20.10: its newest is our oldest
        ("1.43", (1, 43)),  # Engine 24
        ("1.52", (1, 52)),  # Engine 29.0: within our range, so its newest (its oldest, 1.44, is below it)
        ("1.55", docker_api.NEWEST),
    ],
)
def test_a_daemon_whose_newest_version_is_in_our_range_is_spoken_to_in_it(
    header: str, version: tuple[int, int]
) -> None:
    chosen = after_ping(header)
    assert isinstance(chosen, Chosen)
    assert chosen.version == version
    assert chosen.path_prefix == f"/v{header}"
    assert f"up to {header}" in chosen.describe()


def test_a_daemon_newer_than_us_needs_its_minimum_from_version() -> None:
    """Its newest is above ours: ours, unless its oldest is above ours too, which only GET /version says."""
    asked = after_ping("1.60")
    assert asked == AskVersion((1, 60))
    chosen = after_version(asked, {"ApiVersion": "1.60", "MinAPIVersion": "1.44"})
    assert isinstance(chosen, Chosen) and chosen.version == docker_api.NEWEST
    assert "the daemon speaks 1.44-1.60; this service 1.41-1.55" in chosen.how


def test_ranges_that_do_not_overlap_are_one_error_naming_both() -> None:
    too_new = after_version(AskVersion((1, 70)), {"ApiVersion": "1.70", "MinAPIVersion": "1.60"})
    assert too_new == NoCommonVersion(
        "no Docker API version in common: the daemon speaks 1.60-1.70, this service 1.41-1.55"
    )
    too_old = after_ping("1.40")
    assert too_old == NoCommonVersion(
        "no Docker API version in common: the daemon speaks up to 1.40, this service 1.41-1.55"
    )


def test_a_version_answer_that_is_lost_keeps_ours_when_the_daemon_is_newer() -> None:
    """GET /version refused (a proxy that allows only the ping): ours, the daemon's 400 will say if it is not."""
    chosen = after_version(AskVersion((1, 60)), None)
    assert isinstance(chosen, Chosen) and chosen.version == docker_api.NEWEST


GARBAGE_HEADERS = [None, "", "abc", "1", "1.44.0", " 1.44", "v1.44", "1.4a", "1.44\n"]
GARBAGE_HEADERS += ["\u0661.\u0664\u0664", "1." + "9" * 50]  # other scripts' digits; a number too long


@pytest.mark.parametrize("header", GARBAGE_HEADERS)
def test_a_missing_or_garbage_header_asks_version(header: str | None) -> None:
    assert after_ping(header) == AskVersion(None)


@pytest.mark.parametrize(
    "body",
    [
        None,
        "garbage",
        [],
        42,
        {},
        {"ApiVersion": 1.44},
        {"ApiVersion": "new"},
        {"ApiVersion": None, "MinAPIVersion": []},
    ],
)
def test_nothing_usable_anywhere_tries_the_oldest(body: object) -> None:
    """Neither the ping nor /version says a version (an old proxy, a stand-in): the oldest, which every daemon up to
    Engine 28 speaks; one that does not says its range in its 400."""
    chosen = after_version(AskVersion(None), body)
    assert isinstance(chosen, Chosen) and chosen.version == docker_api.OLDEST
    assert "did not say its API version" in chosen.how


def test_version_alone_decides_when_the_ping_said_nothing() -> None:
    chosen = after_version(AskVersion(None), {"ApiVersion": "1.52", "MinAPIVersion": "1.44", "Version": "29.1.2"})
    assert isinstance(chosen, Chosen) and chosen.version == (1, 52)


def test_a_daemons_refusal_names_the_bound_to_use() -> None:
    """A daemon that cannot be pinged still says its range when it refuses: Engine 29 its oldest, 20.10 its newest."""
    old = after_refusal(ENGINE_29_REFUSAL, Chosen((1, 41), "x"))
    assert isinstance(old, Chosen) and old.version == (1, 44)
    new = after_refusal(ENGINE_20_REFUSAL, Chosen((1, 52), "x"))
    assert isinstance(new, Chosen) and new.version == (1, 41)
    beyond = after_refusal(
        "client version 1.55 is too old. Minimum supported API version is 1.60, ...", Chosen((1, 55), "x")
    )
    assert isinstance(beyond, NoCommonVersion) and "1.60 and newer" in beyond.reason
    assert after_refusal("page not found", Chosen((1, 41), "x")) is None
    assert docker_api.is_refusal(ENGINE_29_REFUSAL) and docker_api.is_refusal(ENGINE_20_REFUSAL)
    assert not docker_api.is_refusal("client version is fine")


@pytest.mark.parametrize(
    ("value", "version", "warns"),
    [
        (None, None, False),
        ("", None, False),
        ("1.44", (1, 44), False),
        (" 1.41 ", (1, 41), False),
        ("1.40", None, True),  # outside our range: negotiated instead, said once
        ("1.99", None, True),
        ("latest", None, True),
        ("1.44\n", (1, 44), False),
    ],
)
def test_docker_api_version_pins_a_version_we_speak(
    value: str | None, version: tuple[int, int] | None, warns: bool
) -> None:
    chosen, warning = pinned(value)
    assert (chosen.version if chosen else None) == version
    assert (warning is not None) == warns
    if warning:
        assert "DOCKER_API_VERSION" in warning and "negotiating" in warning


@given(st.one_of(st.none(), st.text(max_size=12)))
def test_any_header_gives_a_decision_never_an_exception(header: str | None) -> None:
    decided = after_ping(header)
    assert isinstance(decided, (Chosen, NoCommonVersion, AskVersion))
    if isinstance(decided, Chosen):
        assert docker_api.OLDEST <= decided.version <= docker_api.NEWEST


@given(st.tuples(st.integers(0, 3), st.integers(0, 99)), st.tuples(st.integers(0, 3), st.integers(0, 99)))
def test_the_chosen_version_is_the_highest_in_both_ranges(low: tuple[int, int], high: tuple[int, int]) -> None:
    """Whatever the daemon's range: a version in both ranges, the highest such; none only when they do not meet."""
    oldest, newest = min(low, high), max(low, high)
    decided = after_ping(docker_api.text(newest))
    if isinstance(decided, AskVersion):
        decided = after_version(
            decided, {"ApiVersion": docker_api.text(newest), "MinAPIVersion": docker_api.text(oldest)}
        )
    overlap = max(oldest, docker_api.OLDEST) <= min(newest, docker_api.NEWEST)
    if overlap:
        assert isinstance(decided, Chosen)
        assert decided.version == min(newest, docker_api.NEWEST)
    else:
        assert isinstance(decided, NoCommonVersion)
