"""The stop request (neon_cm_stopping.py): SIGTERM's handler may run between any two bytecodes of the main thread's
wait, and must end it there, never deadlock on a lock the interrupted wait holds."""

from __future__ import annotations

import functools
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import neon_cm_stopping as stopping
from tests.service import RUNNING, Service

Handler = Callable[[int, FrameType | None], Any]


def handler_at(
    position: int, work: Callable[[], Any], handler: Handler, signum: int = signal.SIGTERM
) -> tuple[str, Any]:
    """Run `work` in a thread, and the signal `handler` in that thread at `work`'s `position`-th bytecode, as CPython
    runs a signal's handler in the main thread between two of its bytecodes: where it ran (an empty text: `work` is
    shorter than that) and what `work` returned (NEVER: it did not return within 5 s, a deadlock)."""
    where: list[str] = []
    returned: list[Any] = []

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode" and not where:
            trace.count += 1  # type: ignore[attr-defined]
            if trace.count > position:  # type: ignore[attr-defined]
                where.append(f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}")
                handler(signum, frame)
        return trace

    trace.count = 0  # type: ignore[attr-defined]

    def run() -> None:
        sys.settrace(trace)
        try:
            returned.append(work())
        finally:
            sys.settrace(None)

    worker = threading.Thread(target=run, daemon=True)  # a deadlocked one must not hold up pytest's exit
    worker.start()
    worker.join(timeout=5)
    return (where[0] if where else ""), (returned[0] if returned else NEVER)


#: What `handler_at` says `work` returned when it never did.
NEVER = object()


def test_sigterm_handled_between_any_two_bytecodes_of_the_wait_ends_the_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At every bytecode of the main loop's wait in turn, the installed SIGTERM handler runs (as a SIGTERM arriving
    there makes CPython run it): the wait returns, and the request is set. With a threading.Event as the request,
    the handler's `set` waits forever for the lock the interrupted `wait` holds: the process never exits."""
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        stopping.install()
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        positions = 0
        for position in range(10_000):
            request = type(stopping.requested)()
            monkeypatch.setattr(stopping, "requested", request)  # the handler sets the module's request
            started = time.monotonic()
            where, returned = handler_at(position, functools.partial(request.wait, timeout=0.2), handler)
            if not where:
                break  # past the wait's last bytecode
            positions += 1
            assert returned is not NEVER, f"the wait never returned after SIGTERM's handler ran at {where}"
            assert request.is_set() and request.wait(0) is True, where
            assert time.monotonic() - started < 1.0, f"the wait did not end at once after the handler ran at {where}"
        assert positions > 3, "the handler ran nowhere in the wait"
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def test_a_request_wakes_a_wait_in_another_thread_at_once() -> None:
    """A request set from elsewhere (another thread, as the simulator's stop) ends a wait without limit at once, and
    every later wait returns at once; cleared, a wait times out again."""
    request = stopping.StopRequest()
    woke: list[float] = []

    def wait() -> None:
        request.wait()
        woke.append(time.monotonic())

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    time.sleep(0.1)
    assert [] == woke and not request.is_set() and request.wait(0.01) is False
    set_at = time.monotonic()
    request.set()
    waiter.join(timeout=2)

    assert 1 == len(woke) and woke[0] - set_at < 0.5
    assert request.wait(None) is True and request.wait(0) is True
    request.clear()
    assert request.wait(0.01) is False


def test_a_service_that_does_not_exit_after_a_stop_signal_fails_with_its_stacks_and_its_log(tmp_path: Path) -> None:
    """The harness's side (tests/service.py): a service still running when `stop` times out is SIGABRTed, and the
    failure says so, with every thread's stack (the faulthandler's) and the log's tail. SIGWINCH, which the
    service ignores, stands for a stop it does not act on. No Consul, Docker or Vault is needed to start."""
    service = Service(
        {
            "CONSUL_HTTP_ADDR": f"127.0.0.1:{closed_port()}",
            "DOCKER_HOST": f"unix://{tmp_path}/docker.sock",
            "NEON_CM_HEALTH_FILE": str(tmp_path / "health"),
        }
    )
    service.wait_for(r"\[INFO\] \[module:main\] neon-cluster-manager .* starting")

    with pytest.raises(AssertionError) as failed:
        service.stop(signal.SIGWINCH, timeout=1.0)

    text = str(failed.value)
    assert f"did not exit within 1 s of SIGWINCH; SIGABRT then ended it ({-signal.SIGABRT})" in text
    # The main thread, in its wait for a stop request; each other thread with its own stack.
    assert re.search(r"thread 0x[0-9a-f]+ \(most recent call first\):\n  File .*neon_cm_stopping\.py", text, re.I)
    assert text.count("(most recent call first)") > 5 and "consul_watch.py" in text
    assert re.search(r"\[INFO\] \[module:main\] neon-cluster-manager .* starting", text)
    assert service not in RUNNING


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
