"""A Consul blocking query's index, kept as Consul's documentation asks, and what each answer means for the watch.

Pure: the ConsulWatch shell makes the reads and the waits. Consul's rules for a blocking query: an index that did
not move means the wait ran out with nothing changed; one that went backwards (a restored or restarted Consul) is
taken as it is; and an index below 1 (an answer with `X-Consul-Index: 0` or none, from a proxy or an odd server) is
no index at all: a query on it returns at once, so a watch that kept it would read in a loop. Without an index the
watch polls (with backoff) and tells a change only when the values change.

An index that did not move, answered before the wait could run out, is Consul dropping the store it held the query
on: a snapshot restore answers every held query at once with what the old store held and the index waited on (Consul
1.8.7, measured; rpc.go's blockingQuery returns when the store's abandon channel closes), and so does its shutdown.
The restored store's indexes are lower: a read blocking on the old index waits out its whole wait (30 s) before the
restored values are seen. The next read is a fresh one (no index), its values told only if they changed.
"""

from __future__ import annotations

import attrs

from messages.consul_answers import KeysRead


@attrs.frozen
class Watched:
    """What the watch knows of its prefix between two reads."""

    index: int | None = None
    """The index the next read blocks on; None: read at once (the first read, after a failure, or without one)."""
    values: tuple[tuple[str, bytes | None], ...] | None = None
    """The values last told; None before the first and after a failure (the next are news whatever they are)."""
    indexless: bool = False
    """Whether the last answer carried no usable index (the watch then polls with backoff)."""
    afresh: bool = False
    """Whether the last answer was an unchanged index before the wait could run out (Consul dropped its store): the
    next read is a fresh one, after a pause (the watch's backoff), so that a server doing it every time is no loop."""

    def answered(self, read: KeysRead, early: bool = False) -> tuple[Watched, bool]:
        """The state after `read` (with `early`: a blocking read answered before its wait could run out), and whether
        its values are news to tell."""
        if read.index < 1:
            return Watched(None, read.values, indexless=True), read.values != self.values
        if self.index is not None and read.index == self.index:
            if early:
                return Watched(None, self.values, afresh=True), False  # Consul dropped its store: read afresh
            return self, False  # the wait ran out with nothing changed
        return Watched(read.index, read.values), read.values != self.values

    def failed(self) -> Watched:
        """After a failed read: Consul may have restarted with a lower index, so the next read starts afresh, and
        its values are told whatever they are (the watcher hears the outage ended)."""
        return Watched()
