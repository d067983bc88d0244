"""UnderLock: the Vault requests this instance sent under the lock that may still reach their server, and the gate
they pass to go out. Not an actor: one per process (neon_cm_main's tree gives it to Leadership and the Unsealer).

A share or a reset written to its socket is out of the sender's hands until its answer comes back or the client
gives up on it (the read timeout): Vault may still take it in until then (seed 4153: a reset reached a slow Vault
66 ms after a standby took the released lock, 0.63 s after it was written). So before the lock is given up on
purpose (a stop, a handover), Leadership shuts the gate, which no request passes any more, and waits until every
request that passed it has been answered or given up on. The Unsealer asks the gate the moment a request's body
would be written (actors/unsealer.py), under the same lock that shuts it: a request either passed before the gate
shut, and is waited for, or never goes out.
"""

from __future__ import annotations

from itertools import count

from actors.runtime import runtime


class UnderLock:
    """The gate for requests sent under the lock (shares and resets), and those that passed it and are on their way.

    Open from the start: an Unsealer only decides a share while it holds a lease, and a lease is only told by a
    Leadership that opened the gate when it took the lock. Every method may be called from any thread."""

    def __init__(self) -> None:
        self.guard = runtime().lock()
        self.quiet = runtime().event()
        self.quiet.set()
        self.open = True
        self.tokens = count(1)
        self.on_the_way: dict[int, float] = {}
        """Each request that passed the gate and is not answered yet: until when it may still reach its server."""

    def __repr__(self) -> str:
        with self.guard:
            return f"UnderLock(open={self.open}, on_the_way={len(self.on_the_way)})"

    def pass_gate(self, give_up: float) -> int | None:
        """Let one request out, if the gate is open: a token to hand back once it is answered (`arrived`), or None
        (it must not be written). `give_up`: the moment after which it can no longer reach its server (the client's
        read timeout from now)."""
        with self.guard:
            if not self.open:
                return None
            token = next(self.tokens)
            self.on_the_way[token] = give_up
            self.quiet.clear()
            return token

    def arrived(self, token: int) -> None:
        """The request of `token` was answered, or given up on: it can no longer reach its server."""
        with self.guard:
            self.on_the_way.pop(token, None)
            if not self.on_the_way:
                self.quiet.set()

    def reopen(self) -> None:
        """The lock is held again: requests may go out."""
        with self.guard:
            self.open = True

    def shut(self) -> None:
        """No request passes any more (until `reopen`)."""
        with self.guard:
            self.open = False

    def on_its_way(self) -> int:
        """How many requests that passed are not answered yet (nor given up on)."""
        with self.guard:
            now = runtime().now()
            return sum(1 for give_up in self.on_the_way.values() if give_up > now)

    def wait_quiet(self, until: float) -> bool:
        """Wait until no request that passed is on its way, or `until` (monotonic seconds): whether none is."""
        while True:
            with self.guard:
                now = runtime().now()
                latest = max(self.on_the_way.values(), default=0.0)
                if latest <= now:
                    return True  # none left, or only requests their client has given up on
                if now >= until:
                    return False
                timeout = min(latest, until) - now
            self.quiet.wait(timeout=timeout)
