"""The blocking query's index as the ConsulWatch keeps it (neon_cm/watching.py)."""

from __future__ import annotations

from messages.consul_answers import KeysRead
from neon_cm.watching import Watched

A = (("neon/a", b"1"),)
B = (("neon/a", b"2"),)


def test_the_first_read_is_news_and_the_next_blocks_on_its_index() -> None:
    """The first answer is told; the next read blocks on its index."""
    watched, news = Watched().answered(KeysRead(A, 7))

    assert news
    assert 7 == watched.index
    assert not watched.indexless


def test_an_index_that_did_not_move_is_no_news() -> None:
    """The wait ran out with nothing changed."""
    watched, _ = Watched().answered(KeysRead(A, 7))

    assert (watched, False) == watched.answered(KeysRead(A, 7))


def test_a_change_is_news_and_an_index_gone_backwards_is_taken() -> None:
    """A new index with new values is told; a lower one (a restored Consul) is blocked on from then on."""
    watched, _ = Watched().answered(KeysRead(A, 7))
    watched, news = watched.answered(KeysRead(B, 3))

    assert news
    assert 3 == watched.index


def test_an_answer_without_an_index_is_never_blocked_on() -> None:
    """Issue 26, defect 3: `X-Consul-Index: 0` (or none) was kept as the index, so every next read returned at once
    and was read again in a loop (3,889 reads in 10 s behind such a proxy). Index 0 is no index: the watch
    polls with backoff (indexless), and tells the values only when they change."""
    watched, first = Watched().answered(KeysRead(A, 0))
    watched, same = watched.answered(KeysRead(A, 0))
    watched, changed = watched.answered(KeysRead(B, 0))

    assert (True, False, True) == (first, same, changed)
    assert watched.indexless
    assert None is watched.index


def test_after_a_failure_the_next_answer_is_news_whatever_it_holds() -> None:
    """The watcher hears that reading works again, even with the same values, and the read starts afresh."""
    watched, _ = Watched().answered(KeysRead(A, 7))
    watched, news = watched.failed().answered(KeysRead(A, 7))

    assert news
    assert 7 == watched.index


def test_an_unchanged_index_answered_before_the_wait_is_read_afresh() -> None:
    """Consul answers a query held on an unchanged index before its wait only when it dropped the store the query
    was held on: a snapshot restore (measured on 1.8.7: at once, with what the old store held and the index waited
    on) or its shutdown. The restored store's indexes are lower: blocking on the old one waited out the next wait
    (30 s) before the restored values were seen. The next read is a fresh one, its values told only if they changed."""
    watched, _ = Watched().answered(KeysRead(A, 7))
    watched, news = watched.answered(KeysRead(A, 7), early=True)

    assert (None, False) == (watched.index, news)
    assert watched.afresh and not watched.indexless
    restored, news = watched.answered(KeysRead(B, 4))
    assert news and (4, False) == (restored.index, restored.afresh)
    again, news = watched.answered(KeysRead(A, 4))
    assert not news and 4 == again.index


def test_an_unchanged_index_at_the_end_of_the_wait_is_blocked_on_again() -> None:
    """The wait ran out (not early): nothing changed, the next read blocks on the same index."""
    watched, _ = Watched().answered(KeysRead(A, 7))

    assert (watched, False) == watched.answered(KeysRead(A, 7), early=False)
