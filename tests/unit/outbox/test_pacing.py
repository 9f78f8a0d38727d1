"""Pacing: token buckets, Retry-After pauses and retry backoff, on a fake clock (pure; no Slack, no store)."""

from __future__ import annotations

import pytest

from bot.outbox.pacing import PERSISTENT_429, UPDATES, Pacer, TokenBucket, post_lane, retry_delay
from tests.support.clock import FakeClock


def pacer(clock: FakeClock, **kw) -> Pacer:
    kw = {"posts_per_second": 1.0, "burst": 3, "updates_per_second": 1.0, "updates_per_minute": 50.0, **kw}
    return Pacer(clock, **kw)


def test_a_bucket_lets_a_burst_through_then_one_per_period():
    bucket = TokenBucket(rate=2.0, burst=3, now=100.0)
    for _ in range(3):
        assert bucket.ready_at(100.0) == 100.0
        bucket.take(100.0)
    assert bucket.ready_at(100.0) == 100.5
    assert bucket.ready_at(100.25) == 100.5  # half way there
    bucket.take(100.5)
    assert bucket.ready_at(100.5) == 101.0


def test_a_bucket_saves_up_no_more_than_its_burst():
    bucket = TokenBucket(rate=1.0, burst=2, now=0.0)
    bucket.take(0.0)
    bucket.take(0.0)
    assert bucket.ready_at(1000.0) == 1000.0
    bucket.take(1000.0)
    bucket.take(1000.0)
    assert bucket.ready_at(1000.0) == 1001.0


def test_posts_are_paced_per_channel():
    clock = FakeClock(0.0)
    p = pacer(clock, burst=1)
    p.take_post("C1", 0.0)
    assert p.post_ready_at("C1", 0.0) == 1.0
    assert p.post_ready_at("C2", 0.0) == 0.0  # another channel has its own bucket


def test_updates_are_paced_per_channel():
    clock = FakeClock(0.0)
    p = pacer(clock, updates_per_second=2.0, updates_per_minute=6000.0)
    p.take_update("C1", 0.0)
    assert p.update_ready_at("C1", 0.0) == 0.5
    assert p.update_ready_at("C2", 0.0) == 0.0
    assert p.post_ready_at("C1", 0.0) == 0.0  # posts are another lane


def test_updates_share_one_budget_across_the_workspace():
    clock = FakeClock(0.0)
    p = pacer(clock, updates_per_second=10.0, updates_per_minute=6.0)  # one every 10 s overall, none saved up
    p.take_update("C1", 0.0)
    assert p.update_ready_at("C2", 0.0) == 10.0  # C2's own bucket is full, the workspace's is not


def test_a_429_on_posts_pauses_that_channel_only():
    clock = FakeClock(50.0)
    p = pacer(clock)
    assert p.rate_limited(post_lane("C1"), 30.0) == 80.0
    assert p.post_ready_at("C1", 50.0) == 80.0
    assert p.post_ready_at("C2", 50.0) == 50.0
    assert p.update_ready_at("C1", 50.0) == 50.0


def test_a_429_on_updates_pauses_every_update_but_no_post():
    clock = FakeClock(0.0)
    p = pacer(clock)
    p.rate_limited(UPDATES, 10.0)
    assert p.update_ready_at("C1", 0.0) == p.update_ready_at("C2", 0.0) == 10.0
    assert p.post_ready_at("C1", 0.0) == 0.0


def test_a_shorter_pause_never_cuts_a_longer_one():
    clock = FakeClock(0.0)
    p = pacer(clock)
    p.rate_limited(post_lane("C1"), 30.0)
    p.succeeded()
    p.rate_limited(post_lane("C1"), 5.0)
    assert p.post_ready_at("C1", 0.0) == 30.0


def test_429s_in_a_row_pause_everything_until_a_call_succeeds():
    clock = FakeClock(0.0)
    p = pacer(clock)
    for _ in range(PERSISTENT_429 - 1):
        p.rate_limited(post_lane("C1"), 10.0)
    assert p.post_ready_at("C2", 0.0) == 0.0
    p.rate_limited(post_lane("C1"), 10.0)
    assert p.post_ready_at("C2", 0.0) == p.update_ready_at("C3", 0.0) == 10.0
    p.succeeded()
    assert p.consecutive_429 == 0
    p.rate_limited(post_lane("C1"), 20.0)  # a lone 429 after a success pauses its lane only
    assert p.post_ready_at("C2", 0.0) == 10.0 and p.post_ready_at("C1", 0.0) == 20.0


@pytest.mark.parametrize(("attempts", "delay"), [(1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (500, 300.0)])
def test_retries_back_off_by_doubling_up_to_the_cap(attempts, delay):
    assert retry_delay(attempts, base=1.0, cap=300.0, jitter=1.0) == delay


def test_jitter_shortens_the_wait():
    assert retry_delay(3, base=1.0, cap=300.0, jitter=0.5) == 2.0
