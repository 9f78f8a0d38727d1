"""Thresholds, how bad a queue is, and one breach's lifecycle (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.queues.health import (
    NOTHING,
    POST,
    UPDATE,
    Level,
    Snapshot,
    Thresholds,
    WatchSyntax,
    assess,
    parse_thresholds,
    step,
)

T = Thresholds(waiting=3, wait_seconds=90)


def snap(waiting: int = 0, longest: float = 0.0, ready: int | None = 1, abandoned: int = 0, left: int = 0) -> Snapshot:
    return Snapshot(waiting, longest, ready, abandoned, left)


def test_watch_words_parse_and_print_back() -> None:
    t = parse_thresholds(["waiting>=3", "wait>=2m", "abandon>=30%", "noready"])
    assert t == Thresholds(waiting=3, wait_seconds=120, no_agent_ready=True, abandon_pct=30)
    assert t.spec() == "waiting>=3 wait>=120s abandon>=30% noready"
    assert parse_thresholds(t.spec().split()) == t
    assert parse_thresholds(["waiting>2"]) == Thresholds(waiting=3)  # > n is >= n+1
    assert parse_thresholds(["OFF"]) is None


@pytest.mark.parametrize("words", [[], ["waiting>=x"], ["abandon>=150%"], ["wait>=0s"], ["waiting>=3s"], ["hello"]])
def test_unreadable_watch_words_are_refused(words: list[str]) -> None:
    with pytest.raises(WatchSyntax):
        parse_thresholds(words)


def test_levels_one_breach_warns_two_or_double_is_critical() -> None:
    assert assess(snap(2, 30), T) == (Level.OK, ())
    assert assess(snap(3, 30), T) == (Level.WARNING, ("waiting",))
    assert assess(snap(4, 95), T) == (Level.CRITICAL, ("waiting", "wait"))
    assert assess(snap(6, 10), T)[0] == Level.CRITICAL  # twice the waiting threshold
    assert assess(snap(1, 200), T)[0] == Level.CRITICAL  # twice the longest wait
    noready = Thresholds(no_agent_ready=True)
    assert assess(snap(1, 1, ready=0), noready) == (Level.WARNING, ("noready",))
    assert assess(snap(1, 1, ready=None), noready)[0] == Level.OK  # unknown is not zero
    assert assess(snap(0, 0, ready=0), noready)[0] == Level.OK  # nobody waiting: nothing to fix
    rate = Thresholds(abandon_pct=30)
    assert assess(snap(abandoned=2, left=4), rate)[0] == Level.OK  # too few callers to mean anything
    assert assess(snap(abandoned=2, left=5), rate) == (Level.WARNING, ("abandon",))


def test_a_breach_is_posted_worsened_recovered_and_reopened_within_the_cooldown() -> None:
    b, act = step(None, "q", Level.WARNING, ("waiting",), snap(3, 10), 1000.0, cooldown=600)
    assert act == POST and b is not None and b.open
    b, act = step(b, "q", Level.WARNING, ("waiting",), snap(3, 20), 1001.0, cooldown=600)
    assert act == NOTHING and b is not None and b.peak_wait == 20
    b, act = step(b, "q", Level.CRITICAL, ("waiting", "wait"), snap(5, 95), 1002.0, cooldown=600)
    assert act == UPDATE and b is not None and b.level == Level.CRITICAL and b.peak_waiting == 5
    b, act = step(b, "q", Level.OK, (), snap(0, 0), 1360.0, cooldown=600)
    assert act == UPDATE and b is not None and b.recovered_at == 1360.0 and b.peak_waiting == 5
    b, act = step(b, "q", Level.WARNING, ("waiting",), snap(3, 1), 1400.0, cooldown=600)
    assert act == UPDATE and b is not None and b.open and b.reopened == 1  # flapping: the same message
    b, act = step(b, "q", Level.OK, (), snap(), 1410.0, cooldown=600)
    assert act == UPDATE
    b, act = step(b, "q", Level.WARNING, ("waiting",), snap(3, 1), 1410.0 + 600, cooldown=600)
    assert act == POST and b is not None and b.reopened == 0  # after the cool-down: a new message


@given(st.lists(st.tuples(st.integers(0, 10), st.floats(0, 400)), max_size=60))
def test_a_queue_gets_at_most_one_new_message_per_cooldown(samples: list[tuple[int, float]]) -> None:
    breach, posts, now = None, [], 0.0
    for waiting, longest in samples:
        now += 5.0
        level, reasons = assess(snap(waiting, longest), T)
        breach, act = step(breach, "q", level, reasons, snap(waiting, longest), now, cooldown=600)
        if act == POST:
            posts.append(now)
    assert all(b - a >= 600 for a, b in zip(posts, posts[1:], strict=False))
