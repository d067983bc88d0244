"""What the Vault fleet decides (neon_cm/fleet.py): which managers' Vaults are monitored at which URL, what
changes when managers, the URL template or the poll interval change, and what the monitors are told."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from messages.consul_answers import ConsulUnreachable, DefinitionRead, StoredKey
from messages.leadership import BecameLeader, LostLeadership, StandingBy
from messages.log import Level
from messages.settings import Settings, SettingsChanged
from messages.swarm import NodeListFailed, NodesObserved, SwarmNode
from messages.timing import SetInterval
from messages.vault import MonitoringStopped, ReportingRole, VaultsToMonitor
from neon_cm.decider import Log, Publish
from neon_cm.encoding import deflate
from neon_cm.fleet import Fleet, ReadStoredManagers, StartMonitor, StopMonitor, TellMonitors, Watched, wanted
from neon_cm.keys import DEFINITION_KEY
from tests.strategies import swarm_nodes

TEMPLATE = "http://{addr}:8200"


def manager(node_id: str, hostname: str, addr: str = "10.0.0.1") -> SwarmNode:
    return SwarmNode(node_id, hostname, "manager", addr, addr)


def settings(template: str = TEMPLATE, poll: float = 30.0) -> SettingsChanged:
    return SettingsChanged(Settings(vault_poll_seconds=poll, vault_url_template=template))


def run(state: Fleet, *events: Any) -> tuple[Fleet, list[Any]]:
    """Feed `events` in order; the last state and every effect."""
    effects: list[Any] = []
    for event in events:
        state, decided = state.decide(event, 0.0)
        effects.extend(decided)
    return state, effects


def of(kind: type, effects: list[Any]) -> list[Any]:
    return [effect for effect in effects if isinstance(effect, kind)]


ONE = NodesObserved((manager("n1", "Manager-1", "10.0.0.1"), SwarmNode("w1", "worker-1", "worker", "10.0.0.9")))


def test_nothing_is_monitored_before_the_settings_then_every_manager_is() -> None:
    """Managers alone start nothing (the template is not known yet); with the settings, each manager's monitor
    starts at its URL (workers never), and health hears which managers are watched."""
    state, before = run(Fleet(), ONE)
    state, effects = run(state, settings())

    assert [] == before
    assert [StartMonitor("n1", "manager-1", "http://10.0.0.1:8200")] == of(StartMonitor, effects)
    assert Publish(VaultsToMonitor(("manager-1",))) == effects[-1]


def test_a_departed_manager_is_stopped_and_said() -> None:
    """A manager missing from the listing: its monitor stops, MonitoringStopped is told, INFO names it."""
    state, _ = run(Fleet(), settings(), ONE)

    state, effects = run(state, NodesObserved((SwarmNode("w1", "worker-1", "worker", "10.0.0.9"),)))

    assert [StopMonitor("n1", "manager-1")] == of(StopMonitor, effects)
    assert Publish(MonitoringStopped("manager-1")) in effects
    assert Log(Level.INFO, "no longer monitoring the Vault on manager-1 (http://10.0.0.1:8200)") in effects
    assert {} == state.watched


def test_a_new_template_restarts_each_monitor_at_its_new_url() -> None:
    """vault_url_template changed: each monitor is stopped and started again at the new URL."""
    state, _ = run(Fleet(), settings(), ONE)

    state, effects = run(state, settings("https://{hostname}.vault:8200"))

    assert [StopMonitor("n1", "manager-1")] == of(StopMonitor, effects)
    assert [StartMonitor("n1", "manager-1", "https://manager-1.vault:8200")] == of(StartMonitor, effects)


def test_a_new_poll_interval_is_told_to_every_monitor_without_a_restart() -> None:
    """vault_poll_seconds changed: one SetInterval for every monitor; no monitor stops or starts."""
    state, _ = run(Fleet(), settings(), ONE)

    state, effects = run(state, settings(poll=5.0))

    assert [TellMonitors(SetInterval(5.0))] == of(TellMonitors, effects)
    assert ([], []) == (of(StartMonitor, effects), of(StopMonitor, effects))
    assert 5.0 == state.interval


def test_a_bad_template_is_said_once_per_template() -> None:
    """A template that cannot be filled in: one ERROR for it, none when it is seen again, one for another."""
    state, first = run(Fleet(), ONE, settings("http://{nope}:8200"))
    state, again = run(state, ONE, settings("http://{nope}:8200"))
    state, other = run(state, settings("http://{addr:8200"))

    assert 1 == len([e for e in of(Log, first) if e.level is Level.ERROR])
    assert [] == [e for e in of(Log, again) if e.level is Level.ERROR]
    assert 1 == len([e for e in of(Log, other) if e.level is Level.ERROR])
    assert [] == of(StartMonitor, first + again + other)


def test_a_manager_without_an_address_is_said_once_and_monitored_once_it_has_one() -> None:
    """A promotion in progress (no manager address yet): one INFO; once the address comes, its monitor starts."""
    promoting = NodesObserved((manager("n2", "manager-2", ""),))
    state, first = run(Fleet(), settings(), promoting)
    state, again = run(state, promoting)
    state, promoted = run(state, NodesObserved((manager("n2", "manager-2", "10.0.0.2"),)))

    assert 1 == len(of(Log, first)) and [] == of(StartMonitor, first)
    assert [] == of(Log, again)
    assert [StartMonitor("n2", "manager-2", "http://10.0.0.2:8200")] == of(StartMonitor, promoted)


@pytest.mark.parametrize(
    ("template", "node", "why"),
    [
        ("http://{hostname}:8200", manager("n9", "evil.example@vault-1"), "its hostname 'evil.example@vault-1'"),
        ("http://{hostname}:8200", manager("n9", "other.host/x"), "its hostname 'other.host/x'"),
        ("https://{hostname}.vault:8200", manager("n9", "other:9999"), "its hostname 'other:9999'"),
        ("http://{addr}:8200", manager("n9", "manager-9", "10.0.0.9@evil"), "its manager address '10.0.0.9@evil'"),
    ],
)
def test_a_hostname_or_address_that_would_steer_the_url_is_one_error_and_never_monitored(
    template: str, node: SwarmNode, why: str
) -> None:
    """Issue 26, defect 8: a hostname holding `@`, `/` or `:` (Docker's are anyone's with access to a node) made a
    URL for another host, which got the shares. Now: one ERROR naming the node, no monitor (so no unseal), and the
    other managers are monitored as ever."""
    state, first = run(Fleet(), settings(template), NodesObserved((node, manager("n1", "manager-1"))))
    state, again = run(state, NodesObserved((node, manager("n1", "manager-1"))))
    errors = [e.text for e in of(Log, first + again) if e.level is Level.ERROR]

    assert 1 == len(errors)
    assert errors[0].startswith(f"not monitoring or unsealing the Vault on manager n9: {why} is not ")
    assert ["n1"] == [start.node_id for start in of(StartMonitor, first + again)]


def test_the_role_is_told_to_the_monitors_when_it_changes_and_given_to_new_ones() -> None:
    """Leadership's answers: the first and every change reach the monitors; a repeat does not; a monitor started
    later is given the role as it is then."""
    state, first = run(Fleet(), BecameLeader("me"))
    state, repeat = run(state, LostLeadership("gone"))
    state, standby = run(state, StandingBy("peer:1:x"))

    assert [TellMonitors(ReportingRole(None))] == first
    assert [] == repeat
    assert [TellMonitors(ReportingRole("peer:1:x"))] == standby
    assert ReportingRole("peer:1:x") == state.role
    assert Fleet().role is None


def test_defect_6_two_managers_with_one_hostname_get_a_monitor_each_keyed_by_node_id() -> None:
    """Issue 17 defect 6: two managers both called manager-1 (a rebuilt node not yet removed): two monitors,
    one per node ID; the one that leaves is the one stopped, and the other is known by its hostname again."""
    both = NodesObserved((manager("n1", "manager-1", "10.0.0.1"), manager("n9", "manager-1", "10.0.0.9")))
    state, effects = run(Fleet(), settings(), both)
    state, left = run(state, NodesObserved((manager("n9", "manager-1", "10.0.0.9"),)))

    assert {"n1", "n9"} == {start.node_id for start in of(StartMonitor, effects)}
    assert "n1" in [stop.node_id for stop in of(StopMonitor, left)]
    assert {"n9": Watched("manager-1", "http://10.0.0.9:8200")} == dict(state.watched)


def test_two_managers_with_one_hostname_are_known_downstream_by_names_of_their_own() -> None:
    """Issue 26, defect 6: the monitors were keyed by node ID, but what they told (readings, unseal requests) and
    what Metrics and the Unsealer keep was keyed by hostname: one series flipped 1, 0, 1, 0 between the two Vaults
    (VaultSealed never fired) and one Vault's unseal request was dropped while the other's ran. While two managers
    share a hostname, each is known by its hostname and node ID: its monitor's name, its readings, its requests,
    its series."""
    both = NodesObserved((manager("n1", "Manager-1", "10.0.0.1"), manager("n9", "manager-1", "10.0.0.9")))
    _, effects = run(Fleet(), settings(), both)
    told = [effect.message for effect in of(Publish, effects) if isinstance(effect.message, VaultsToMonitor)]

    assert [
        StartMonitor("n1", "manager-1 (node n1)", "http://10.0.0.1:8200"),
        StartMonitor("n9", "manager-1 (node n9)", "http://10.0.0.9:8200"),
    ] == of(StartMonitor, effects)
    assert VaultsToMonitor(("manager-1 (node n1)", "manager-1 (node n9)")) == told[-1]


events = st.one_of(
    st.lists(swarm_nodes(), min_size=1, max_size=4).map(lambda nodes: NodesObserved(tuple(nodes))),
    st.sampled_from([TEMPLATE, "https://{hostname}:8200", "http://{bad}:1", "http://{addr}:{hostname}"]).map(settings),
)


@given(st.lists(events, max_size=12))
def test_the_monitors_running_are_always_those_the_last_listing_and_settings_call_for(feed: list[Any]) -> None:
    """Whatever the order of listings and settings: a monitor is never started twice nor stopped when not running,
    and after each event the running monitors are exactly `wanted(managers, template)`."""
    state = Fleet()
    running: dict[str, str] = {}
    for event in feed:
        state, effects = state.decide(event, 0.0)
        for effect in effects:
            if isinstance(effect, StopMonitor):
                assert effect.node_id in running
                del running[effect.node_id]
            elif isinstance(effect, StartMonitor):
                assert effect.node_id not in running
                running[effect.node_id] = effect.url
        if state.settings is not None:
            want = wanted(state.managers, state.settings.vault_url_template).watched
            assert {node_id: watched.url for node_id, watched in want.items()} == running


def stored(*managers: tuple[str, str], workers: tuple[str, ...] = ()) -> DefinitionRead:
    """A DefinitionRead holding a definition whose Nodes name `managers` (name, private address) and `workers`."""
    nodes: dict[str, Any] = {
        name: {"Name": name, "PrivateAddress": address, "Role": "manager", "IsManager": True}
        for name, address in managers
    }
    nodes.update({name: {"Name": name, "PrivateAddress": "10.0.0.9", "Role": "worker"} for name in workers})
    value = deflate(json.dumps({"Name": "c", "Nodes": nodes}).encode())
    return DefinitionRead((StoredKey(DEFINITION_KEY, 7, value),))


def test_with_no_listing_since_start_the_stored_definitions_managers_are_watched() -> None:
    """Docker refuses every listing from start: the managers the stored definition names are monitored (at the URL
    the template makes of their PrivateAddress), said once at WARN; workers never."""
    state, _ = run(Fleet(), settings())
    state, asked = run(state, NodeListFailed("HTTP 400: client version 1.41 is too old"))
    assert [ReadStoredManagers()] == asked

    state, effects = run(state, stored(("manager-1", "10.0.0.1"), ("manager-2", "10.0.0.2"), workers=("worker-1",)))

    assert [
        StartMonitor("stored:manager-1", "manager-1", "http://10.0.0.1:8200"),
        StartMonitor("stored:manager-2", "manager-2", "http://10.0.0.2:8200"),
    ] == of(StartMonitor, effects)
    (warn,) = [effect for effect in of(Log, effects) if effect.level == Level.WARN]
    assert "stored cluster definition names (manager-1, manager-2) until a listing succeeds" in warn.text
    # More failures read nothing more and say nothing more.
    assert ([], state) == run(state, NodeListFailed("again"))[::-1]


def test_the_first_listing_replaces_the_stored_managers() -> None:
    state, _ = run(Fleet(), settings(), NodeListFailed("refused"), stored(("manager-1", "10.0.0.1")))
    state, effects = run(state, ONE)

    assert [StopMonitor("stored:manager-1", "manager-1")] == of(StopMonitor, effects)
    assert [StartMonitor("n1", "manager-1", "http://10.0.0.1:8200")] == of(StartMonitor, effects)
    assert "Docker listed the Swarm" in of(Log, effects)[0].text
    assert [] == run(state, NodeListFailed("refused"))[1]  # once listed, a failure keeps the last listing's managers


def test_a_listing_that_came_first_is_never_replaced_by_the_stored_definition() -> None:
    """The read was under way when a listing succeeded: its answer changes nothing."""
    state, _ = run(Fleet(), settings(), NodeListFailed("refused"), ONE)
    state, effects = run(state, stored(("manager-7", "10.0.0.7")))
    assert [] == effects
    assert ("manager-1",) == state.hostnames()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (DefinitionRead(()), "no cluster definition at neon/cluster/definition.deflate"),
        (DefinitionRead((StoredKey(DEFINITION_KEY, 3, b"not deflated"),)), "is unreadable"),
        (stored(), "names no manager"),
        (ConsulUnreachable("reading neon/cluster/definition.*", "ConnectionError: refused"), "Consul: ConnectionError"),
    ],
)
def test_no_stored_manager_is_said_once_and_read_again_on_the_next_failure(answer: Any, why: str) -> None:
    state, _ = run(Fleet(), settings(), NodeListFailed("refused"))
    state, effects = run(state, answer)
    (warn,) = of(Log, effects)
    assert Level.WARN == warn.level and why in warn.text and "no Vault is monitored" in warn.text
    assert [] == of(StartMonitor, effects)
    state, again = run(state, NodeListFailed("refused"))
    assert [ReadStoredManagers()] == again
    state, effects = run(state, stored(("manager-1", "10.0.0.1")))
    assert 1 == len(of(StartMonitor, effects))
    assert not [effect for effect in of(Log, effects) if effect.level == Level.WARN]  # said once
