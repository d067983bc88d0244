"""The Logger actor for real: masking unseal keys in every form, and the SIGUSR1 thread dump."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
import signal
import threading
from collections.abc import Callable

import pytest

from actors.logger import Log, LogSink, dump_threads_on_signal, install_logging_bridge, log_thread_dump
from messages.log import Level
from neon_cm.credentials import parse_credentials_json
from neon_cm.logformat import FORMATTERS
from tests.test_stopping import NEVER, handler_at
from tests.waiting import wait_until

RAW_A, RAW_B = bytes(range(32)), bytes(range(100, 132))
GIVEN_A = base64.b64encode(RAW_A).decode()  # given as base64, as `bao operator init` prints it
GIVEN_B = RAW_B.hex()  # given as hex
CREDENTIALS = parse_credentials_json(json.dumps({"UnsealKeys": [GIVEN_A, GIVEN_B], "KeyThreshold": 2}), "test")
EVERY_FORM = [GIVEN_A, RAW_A.hex(), GIVEN_B, base64.b64encode(RAW_B).decode()]


def logged(format_name: str, write: Callable[[Log], None]) -> list[str]:
    """The lines a real Logger (masking CREDENTIALS' keys) writes for what `write(log)` logs."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, frozenset(CREDENTIALS.forms()), FORMATTERS[format_name], stream)
    sink.start()
    log = Log("test", sink)
    bridge = install_logging_bridge(log.child("python"))
    try:
        write(log)
    finally:
        logging.getLogger().removeHandler(bridge)
        sink.stop()
    return stream.getvalue().splitlines()


@pytest.mark.parametrize("format_name", ["text", "json"])
@pytest.mark.parametrize("form", EVERY_FORM)
def test_the_logger_masks_a_key_in_each_of_its_forms(format_name: str, form: str) -> None:
    """A key as given, in base64 and in hex, in a message, an exception and a library's log record: masked."""

    def write(log: Log) -> None:
        log.info(f"message with {form} in it")
        log.error("failure", ValueError(f"exception text with {form}"))
        logging.getLogger("hvac.adapters").warning("library record with %s", form)

    lines = logged(format_name, write)

    assert 3 == len(lines)
    assert [] == [line for line in lines if any(shown in line for shown in EVERY_FORM)]
    assert [True, True, True] == ["***" in line for line in lines]


def test_sigusr1_dump_is_info_with_a_header_and_one_entry_per_thread() -> None:
    """The thread dump an operator asks for: INFO (nothing to page anyone for), a header, then each thread."""
    lines = logged("text", log_thread_dump)
    header = re.search(r"\[INFO\] \[module:test\] thread dump requested \(SIGUSR1\): (\d+) threads", lines[0])

    assert header is not None
    assert int(header.group(1)) == len(lines) - 1
    assert [] == [line for line in lines if "[INFO]" not in line]
    assert [] == [line for line in lines[1:] if not re.search(r"\[module:test\] thread \S+ \(\d+\):\\n", line)]
    assert any("thread MainThread" in line and "test_sigusr1_dump" in line for line in lines)


def test_an_entry_after_the_stop_is_still_a_line_of_the_stream(capsys: pytest.CaptureFixture[str]) -> None:
    """At exit an actor left behind (busy with a peer past its stop budget) may log after the Logger stopped: the
    entry is written to the log stream, masked, not to stderr (which an operator reads as something broken)."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, frozenset(CREDENTIALS.forms()), FORMATTERS["text"], stream)
    sink.start()
    log = Log("unsealer", sink)
    sink.stop()
    sink.ref.actor_stopped.wait(5)  # type: ignore[union-attr]

    log.info(f"unsealed the Vault on manager-2 after {GIVEN_A}")

    [line] = stream.getvalue().splitlines()
    assert "" == capsys.readouterr().err
    assert line.endswith("[module:unsealer] unsealed the Vault on manager-2 after ***")


def test_sigusr1_handled_between_any_two_bytecodes_of_a_log_call_dumps_the_threads_and_never_deadlocks() -> None:
    """At every bytecode of a `log.info` in turn (the main thread logs at start and at stop), SIGUSR1's handler runs
    (as a SIGUSR1 arriving there makes CPython run it): the log call returns, and each dump is logged. A dump made in
    the handler itself would wait forever for the Logger inbox's lock, which the interrupted call holds."""
    stream = io.StringIO()
    sink = LogSink(Level.DEBUG, stream=stream)
    sink.start()
    log = Log("test", sink)
    handler = dump_threads_on_signal(log)
    try:
        positions = 0
        for position in range(100_000):
            where, returned = handler_at(position, lambda: log.info("an entry"), handler, signal.SIGUSR1)
            if not where:
                break  # past the call's last bytecode
            positions += 1
            assert returned is not NEVER, f"log.info never returned after SIGUSR1's handler ran at {where}"
        assert positions > 10, "the handler ran nowhere in the call"
        wait_until(lambda: dumps(stream) == positions, 30, "every dump", lambda: f"{dumps(stream)} of {positions}")
    finally:
        # Not in this thread: after a deadlock, the Logger's inbox stays locked and a stop would wait for ever.
        threading.Thread(target=sink.stop, daemon=True).start()


def dumps(stream: io.StringIO) -> int:
    """The thread dumps' headers in `stream` (a dump's stacks may quote the header's source line: not counted)."""
    return len(
        re.findall(r"\[INFO\] \[module:test\] thread dump requested \(SIGUSR1\): \d+ threads", stream.getvalue())
    )
