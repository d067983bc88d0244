"""When the SwarmWatcher lists the Swarm, and what it says about a listing (neon_cm/listing.py, pure logic)."""

from __future__ import annotations

import itertools
import math
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from messages.docker import DockerGarbage, DockerUnreachable, ListNodes, NodesListed, NotAManager
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeChanged, NodeEventsConnected, NodeListFailed, NodesObserved, SwarmNode
from neon_cm.decider import CancelTimer, Log, Publish, StartTimer, TimerFired
from neon_cm.listing import (
    BURST_TIMER,
    LONGEST_BURST_SECONDS,
    POLL_TIMER,
    QUIET_SECONDS,
    SETTINGS_TIMER,
    SETTINGS_WAIT_SECONDS,
    SwarmListing,
    WatcherStarted,
)

NODES = (SwarmNode("n1", "manager-1", "manager", "127.0.0.11"),)
CHANGED = NodeChanged("update", "n1")


class Shell:
    """What the actor shell does, on a clock of the test's: timers kept by key, every ListNodes answered at once."""

    def __init__(self, state: SwarmListing) -> None:
        self.state = state
        self.answer = NodesListed(NODES)
        self.timers: dict[str, float] = {}
        self.listings: list[float] = []
        self.seen: list[int] = []
        """For each listing, how many node events had come before it."""
        self.events_fed = 0
        self.effects: list[Any] = []

    def feed(self, event: Any, now: float) -> None:
        self.events_fed += isinstance(event, NodeChanged)
        self.state, effects = self.state.decide(event, now)
        self.effects.extend(effects)
        for effect in effects:
            if isinstance(effect, StartTimer):
                self.timers[effect.key] = now + effect.seconds
            elif isinstance(effect, CancelTimer):
                self.timers.pop(effect.key, None)
            elif isinstance(effect, ListNodes):
                self.listings.append(now)
                self.seen.append(self.events_fed)
                self.feed(self.answer, now)

    def run_until(self, until: float) -> None:
        """Fire every timer due up to `until`, in time order."""
        while self.timers:
            key, due = min(self.timers.items(), key=lambda item: item[1])
            if due > until:
                return
            del self.timers[key]
            self.feed(TimerFired(key), due)

    def events(self, times: list[float], then: float = math.inf) -> list[float]:
        """Node events at `times`; the listings they caused (timers run until `then`)."""
        for now in sorted(times):
            self.run_until(now)
            self.feed(CHANGED, now)
        self.run_until(then)
        return self.listings


def polling(interval: float = 1e9) -> SwarmListing:
    """A watcher whose settings are known and whose poll never fires within a test's events."""
    return SwarmListing(interval=interval, polled=0.0)


def bursts(times: list[float]) -> list[list[float]]:
    """The events split where one is at least QUIET_SECONDS after the one before (to the clock's precision: an event
    at the very instant the quiet timer falls due comes after that timer, as the Shell runs due timers first; in
    floats 0.563 - 0.413 < 0.15 while 0.413 + 0.15 == 0.563, hypothesis found)."""
    groups: list[list[float]] = []
    for now in sorted(times):
        if groups and now - groups[-1][-1] < QUIET_SECONDS - 1e-9:
            groups[-1].append(now)
        else:
            groups.append([now])
    return groups


def test_an_event_after_a_quiet_spell_is_listed_at_once() -> None:
    """One change alone: one listing, at the event."""
    assert [10.0] == Shell(polling()).events([10.0])


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=30))
def test_changes_each_waited_for_are_listed_within_the_quiet_spell(waits: list[float]) -> None:
    """An operator's script: change, wait until the change is in Consul (after its listing), `wait` more, change
    again. Each change is listed within QUIET_SECONDS of its event (about 1 s each before: a 1 s spell after each
    listing)."""
    shell = Shell(polling())
    now = 10.0
    for wait in waits:
        shell.events([now], then=now)
        if len(shell.listings) == 0 or shell.listings[-1] < now:
            shell.run_until(math.inf)
        latency = shell.listings[-1] - now

        assert 0 <= latency <= QUIET_SECONDS + 1e-9
        now = shell.listings[-1] + wait


def test_a_burst_of_ten_within_a_second_costs_two_listings() -> None:
    """An operator's loop of ten label changes 0.09 s apart: the first listed at once, the rest once, when the
    burst has been quiet for QUIET_SECONDS."""
    times = [10.0 + 0.09 * n for n in range(10)]

    assert [10.0, round(10.81 + QUIET_SECONDS, 9)] == [round(at, 9) for at in Shell(polling()).events(times)]


def test_an_endless_burst_is_still_listed_every_longest_burst() -> None:
    """Events 0.1 s apart that never go quiet do not starve the listing: one LONGEST_BURST_SECONDS after the first
    event not yet listed."""
    listings = Shell(polling()).events([n * 0.1 for n in range(100)])

    assert 0.0 == listings[0]
    assert all(later - earlier <= LONGEST_BURST_SECONDS + 0.1 + 1e-9 for earlier, later in itertools.pairwise(listings))


def test_the_stream_connecting_is_an_event() -> None:
    """NodeEventsConnected lists the Swarm for whatever the stream missed."""
    _, effects = polling().decide(NodeEventsConnected(), 5.0)

    assert (ListNodes(),) == effects


def test_the_first_settings_list_and_start_the_poll() -> None:
    """Nothing is listed before the settings are known; then at once, and every node_poll_seconds."""
    state, effects = SwarmListing().decide(SettingsChanged(Settings(node_poll_seconds=30.0)), 1.0)

    assert (ListNodes(), StartTimer(POLL_TIMER, 30.0)) == effects
    assert (ListNodes(), StartTimer(POLL_TIMER, 30.0)) == state.decide(TimerFired(POLL_TIMER), 31.0)[1]


def test_settings_not_told_in_time_start_the_poll_on_the_default_interval() -> None:
    """Long-run seed 10420: the holder's settings actor died as it started (a crash loop of 31 s before its supervisor
    gave up, then health red until Docker replaced the container), so its SwarmWatcher never listed: its hung Docker
    never failed a listing, its Leadership never handed the lock over to the standby that could list, and a worker's
    leaving stayed out of the definition. Settings not told SETTINGS_WAIT_SECONDS after the start (the settings'
    first read gives up after the Consul client's 10 s and applies the defaults itself): one WARN, a listing, and
    the poll on the default interval; the settings, once told, set it as any change does."""
    state, started = SwarmListing().decide(WatcherStarted(), 1.0)
    state, effects = state.decide(TimerFired(SETTINGS_TIMER), 1.0 + SETTINGS_WAIT_SECONDS)
    default = Settings().node_poll_seconds
    _, told = state.decide(SettingsChanged(Settings(node_poll_seconds=3.0)), 12.0)

    assert (StartTimer(SETTINGS_TIMER, SETTINGS_WAIT_SECONDS),) == started
    assert [ListNodes(), StartTimer(POLL_TIMER, default)] == [e for e in effects if not isinstance(e, Log)]
    (warn,) = [e for e in effects if isinstance(e, Log)]
    assert warn.level == Level.WARN and f"every {default:g} s (the default)" in warn.text
    assert (StartTimer(POLL_TIMER, 2.0),) == told


def test_settings_told_in_time_leave_the_wait_without_effect() -> None:
    """The usual start: the settings come within milliseconds; the wait's timer, when it fires, does nothing."""
    state, _ = SwarmListing().decide(WatcherStarted(), 1.0)
    state, _ = state.decide(SettingsChanged(Settings(node_poll_seconds=30.0)), 1.01)

    assert (state, ()) == state.decide(TimerFired(SETTINGS_TIMER), 1.0 + SETTINGS_WAIT_SECONDS)


def test_a_new_poll_interval_counts_from_the_last_poll() -> None:
    """node_poll_seconds 30 -> 10, 4 s after the last poll: the next poll in 6 s; the same interval again: nothing."""
    state, _ = SwarmListing().decide(SettingsChanged(Settings(node_poll_seconds=30.0)), 100.0)
    state, effects = state.decide(SettingsChanged(Settings(node_poll_seconds=10.0)), 104.0)

    assert (StartTimer(POLL_TIMER, 6.0),) == effects
    assert () == state.decide(SettingsChanged(Settings(node_poll_seconds=10.0)), 105.0)[1]


def test_a_poll_in_the_middle_of_a_burst_leaves_the_listing_to_it() -> None:
    """A poll while a burst waits for its listing, or just after its leading listing, lists nothing (the burst's own
    listings stand for it, so it still costs two) and comes again a whole interval later; one after the burst
    lists."""
    shell = Shell(polling(60.0))
    shell.feed(CHANGED, 10.0)
    shell.feed(TimerFired(POLL_TIMER), 10.05)
    shell.feed(CHANGED, 10.09)
    shell.feed(TimerFired(POLL_TIMER), 10.1)
    shell.run_until(11.0)
    shell.feed(TimerFired(POLL_TIMER), 11.0)

    assert [10.0, 10.24, 11.0] == [round(at, 9) for at in shell.listings]
    assert {POLL_TIMER: 71.0} == shell.timers


def test_a_listing_is_published_and_kept() -> None:
    """Nodes listed: DEBUG line, NodesObserved (with the listing's time) published and kept for a restarted
    subscriber."""
    state, effects = polling().decide(NodesListed(NODES), 1.0)

    assert (Log(Level.DEBUG, "listed 1 nodes"), Publish(NodesObserved(NODES, at=1.0))) == effects
    assert NodesObserved(NODES, at=1.0) == state.last


def test_the_api_version_of_a_listing_is_said_when_it_changes() -> None:
    """The first listing says the Docker API version it was made in, at INFO; the same again says nothing; another
    (the daemon changed under the service) says the new one."""
    state = polling()
    said: list[str] = []
    for version in ("1.52", "1.52", "1.41", ""):
        state, effects = state.decide(NodesListed(NODES, version, f"the daemon speaks up to {version}"), 1.0)
        said += [effect.text for effect in effects if isinstance(effect, Log) and effect.level is Level.INFO]

    assert [
        "speaking Docker API 1.52 (the daemon speaks up to 1.52)",
        "speaking Docker API 1.41 (the daemon speaks up to 1.41)",
    ] == said
    assert "1.41" == state.api_version


def test_a_failure_is_one_error_while_it_lasts_and_one_info_when_it_ends() -> None:
    """Docker unreachable twice, then not a manager: one ERROR (the problem is "docker" all along); NodeListFailed
    every time; then a listing says it works again."""
    state = polling()
    said: list[Any] = []
    for outcome, now in [
        (DockerUnreachable("ConnectionRefusedError: [Errno 111] Connection refused"), 1.0),
        (DockerUnreachable("TimeoutError: no answer within 10 s"), 2.0),
        (NotAManager("HTTP 503: This node is not a swarm manager."), 3.0),
        (NodesListed(NODES), 4.0),
    ]:
        state, effects = state.decide(outcome, now)
        said.extend(effects)

    errors = [effect for effect in said if isinstance(effect, Log) and effect.level is Level.ERROR]
    expected = "cannot list the Swarm's nodes through Docker; no manager is listed yet: until a listing succeeds"
    assert [expected] == [error.text[: len(expected)] for error in errors]
    assert 3 == sum(isinstance(effect, Publish) and isinstance(effect.message, NodeListFailed) for effect in said)
    assert Log(Level.INFO, "listing the Swarm's nodes again") in said


def test_a_manager_demoted_under_a_listing_is_a_warn_then_an_error_if_it_lasts() -> None:
    """A node that listed and then answers 503 `not a swarm manager` was demoted (a planned `docker node demote`
    ends with Swarm stopping this task): a WARN saying so, not an ERROR; should it last 5 minutes, the reminder is
    an ERROR. Never a manager at all (DOCKER_HOST at a worker): an ERROR at once."""
    refusal = NotAManager("HTTP 503: This node is not a swarm manager.")
    state, _ = polling().decide(NodesListed(NODES), 1.0)
    state, demoted = state.decide(refusal, 2.0)
    state, quiet = state.decide(refusal, 3.0)
    _, lasting = state.decide(refusal, 303.0)
    _, worker = polling().decide(refusal, 1.0)

    assert [Level.WARN] == [effect.level for effect in demoted if isinstance(effect, Log)]
    assert demoted[0].text.startswith("this node is no longer a Swarm manager (demoted, or it left the Swarm)")
    assert [] == [effect for effect in quiet if isinstance(effect, Log)]
    assert [Level.ERROR] == [effect.level for effect in lasting if isinstance(effect, Log)]
    assert [Level.ERROR] == [effect.level for effect in worker if isinstance(effect, Log)]


def test_an_empty_listing_and_garbage_are_failures_never_a_swarm() -> None:
    """No node listed, or garbage: an ERROR and NodeListFailed, never NodesObserved."""
    _, empty = polling().decide(NodesListed(()), 1.0)
    _, garbage = polling().decide(DockerGarbage("the node listing is a dict, not a list of nodes"), 2.0)

    assert Publish(NodeListFailed("empty listing", at=1.0)) == empty[-1]
    assert "the Swarm listed no nodes" in empty[0].text
    assert "not a node list" in garbage[0].text
    assert "the node listing is a dict" == garbage[0].error[:26]
    assert not any(isinstance(effect, Publish) and isinstance(effect.message, NodesObserved) for effect in empty)


timings = st.lists(st.floats(0, 20, allow_nan=False).map(lambda t: round(t, 3)), min_size=1, max_size=60)


@given(timings)
def test_every_event_is_listed_within_the_longest_burst(times: list[float]) -> None:
    """However events fall, each one is followed by a listing no later than LONGEST_BURST_SECONDS after it, and
    within QUIET_SECONDS when the next event is at least that far away (a change waited for)."""
    listings = Shell(polling()).events(times)
    ordered = sorted(times)

    for event, following in zip(ordered, [*ordered[1:], math.inf], strict=True):
        after = [at - event for at in listings if at >= event]
        assert after
        assert after[0] <= LONGEST_BURST_SECONDS + 1e-9
        if following - event >= QUIET_SECONDS:
            assert after[0] <= QUIET_SECONDS + 1e-9


@given(timings)
@example([0.563, 0.375, 0.413])  # an event at the instant the quiet timer falls due (the oracle's float boundary)
def test_a_burst_shorter_than_the_longest_costs_at_most_two_listings(times: list[float]) -> None:
    """Events each closer than QUIET_SECONDS to the one before, spanning less than LONGEST_BURST_SECONDS: at most
    two listings from its first event until the next burst (one for an event alone), and never more than two
    listings in any QUIET_SECONDS."""
    shell = Shell(polling())
    listings = shell.events(times)
    groups = bursts(times)
    first = 0
    for group in groups:
        # A listing belongs to the burst of the last event that came before it.
        caused = [at for at, seen in zip(listings, shell.seen, strict=True) if first < seen <= first + len(group)]
        first += len(group)
        if len(group) == 1:
            assert 1 == len(caused)
        elif group[-1] - group[0] < LONGEST_BURST_SECONDS:
            assert len(caused) <= 2
    assert all(later - earlier >= QUIET_SECONDS - 1e-9 for earlier, later in zip(listings, listings[2:], strict=False))


@given(timings, st.lists(st.floats(0, 20, allow_nan=False), max_size=5))
def test_polls_at_any_moment_leave_no_event_unlisted_and_add_no_listing_to_a_burst(
    times: list[float], polls: list[float]
) -> None:
    """Node polls at any moments: every event is still listed after it, and a burst shorter than
    LONGEST_BURST_SECONDS still costs at most two listings from its first event until it has been quiet for
    QUIET_SECONDS (polls after that are polls of a quiet Swarm)."""
    shell = Shell(polling(1e9))
    for now, kind in sorted([(t, "event") for t in times] + [(t, "poll") for t in polls]):
        shell.run_until(now)
        shell.feed(CHANGED if kind == "event" else TimerFired(POLL_TIMER), now)
    shell.timers.pop(POLL_TIMER, None)
    shell.run_until(math.inf)

    assert all(any(at >= event for at in shell.listings) for event in times)
    first = 0
    for group in bursts(times):
        caused = [
            at
            for at, seen in zip(shell.listings, shell.seen, strict=True)
            if first < seen <= first + len(group) and at <= group[-1] + QUIET_SECONDS
        ]
        first += len(group)
        if group[-1] - group[0] < LONGEST_BURST_SECONDS:
            assert len(caused) <= 2


def test_no_event_no_listing() -> None:
    """An idle Swarm: nothing but the poll lists it."""
    shell = Shell(polling(60.0))
    shell.feed(TimerFired(BURST_TIMER), 5.0)  # a stale timer of a burst already listed

    assert [] == shell.listings
