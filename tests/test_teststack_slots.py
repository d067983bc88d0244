"""The test stack's slots: stacks of different slots share no state dir, node address or Consul port."""

from __future__ import annotations

import pytest

import teststack


def layout(monkeypatch: pytest.MonkeyPatch, slot: int) -> tuple[str, list[str], set[int]]:
    """Slot `slot`'s state dir, node addresses and Consul ports, as teststack computes them."""
    monkeypatch.delenv("NEON_CM_STACK_DIR", raising=False)
    monkeypatch.delenv("NEON_CM_CONSUL_PORT", raising=False)
    monkeypatch.setenv("NEON_CM_STACK_SLOT", str(slot))
    ports = {teststack.consul_port(), *teststack.consul_ports().values()}
    return teststack.state_dir(), [addr for _name, _role, addr in teststack.nodes()], ports


def test_slot_0_is_the_stack_as_it_always_was(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slot 0 (the default): /tmp/neon-cm-stack, 127.0.0.11-13 and .21-.22, Consul's default ports."""
    monkeypatch.delenv("NEON_CM_STACK_SLOT", raising=False)
    monkeypatch.delenv("NEON_CM_STACK_DIR", raising=False)
    monkeypatch.delenv("NEON_CM_CONSUL_PORT", raising=False)

    assert 0 == teststack.slot()
    assert "/tmp/neon-cm-stack" == teststack.state_dir()
    assert ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.21", "127.0.0.22"] == [
        addr for _name, _role, addr in teststack.nodes()
    ]
    assert (8500, {"server": 8300, "serf-lan": 8301, "serf-wan": 8302}) == (
        teststack.consul_port(),
        teststack.consul_ports(),
    )


def test_no_two_slots_share_a_state_dir_an_address_or_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every slot (0-200: runs of workers beside each other, on bases 10 or 20 apart too): all apart."""
    seen_dirs: set[str] = set()
    seen_addresses: set[str] = set()
    seen_ports: set[int] = set()
    for slot in range(201):
        state_dir, addresses, ports = layout(monkeypatch, slot)
        assert (set(), set(), set()) == (seen_dirs & {state_dir}, seen_addresses & set(addresses), seen_ports & ports)
        assert 4 == len(ports)
        seen_dirs.add(state_dir)
        seen_addresses |= set(addresses)
        seen_ports |= ports
    assert "/tmp/neon-cm-stack-3" == layout(monkeypatch, 3)[0]
    assert "127.0.3.11" == layout(monkeypatch, 3)[1][0]


def test_a_state_dir_named_outright_wins_over_the_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """NEON_CM_STACK_DIR keeps working, whatever the slot."""
    monkeypatch.setenv("NEON_CM_STACK_SLOT", "2")
    monkeypatch.setenv("NEON_CM_STACK_DIR", "/tmp/elsewhere")

    assert "/tmp/elsewhere" == teststack.state_dir()


@pytest.mark.parametrize("text", ["x", "-1", "201"])
def test_a_slot_that_is_not_a_number_is_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """NEON_CM_STACK_SLOT must be a slot number: anything else is a StackError naming it."""
    monkeypatch.setenv("NEON_CM_STACK_SLOT", text)

    with pytest.raises(teststack.StackError, match="NEON_CM_STACK_SLOT"):
        teststack.slot()
