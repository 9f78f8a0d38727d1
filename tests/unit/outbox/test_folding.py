"""Burst folding: which alerts go under a summary, and what the summary last said (a real store, a fake clock)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from bot.outbox.folding import META_PREFIX, RESUME_WINDOW, Bursts, Fold
from tests.support.clock import FakeClock
from tests.support.rows import outbox_row

THRESHOLD = 3
IDLE = 60.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def bursts(store, clock) -> Bursts:
    return Bursts(
        store, clock, threshold=THRESHOLD, idle_seconds=IDLE, refresh_seconds=5.0, tz=ZoneInfo("Asia/Ho_Chi_Minh")
    )


def queue_posts(store, n: int, channel: str = "C1") -> list[int]:
    return [store.enqueue("post", channel) for _ in range(n)]


def test_a_fold_survives_a_round_trip_through_the_store_format():
    fold = Fold(ts="1.5", outbox_id=9, upto_id=12, last_at=100.0)
    assert Fold.from_json(fold.to_json()) == fold


@pytest.mark.parametrize("raw", [None, "", "{}", "not json", "[1, 2]", '{"upto_id": "many"}'])
def test_an_unreadable_fold_is_no_fold(raw):
    assert Fold.from_json(raw) is None


def test_a_few_waiting_posts_are_posted_plainly(store, bursts):
    ids = queue_posts(store, THRESHOLD)
    assert bursts.thread_for(outbox_row(store, ids[0])) is None
    assert store.pending_outbox(kind="summary") == []


def test_more_than_the_threshold_queues_one_summary_first(store, bursts, clock):
    ids = queue_posts(store, THRESHOLD + 2)
    assert bursts.thread_for(outbox_row(store, ids[0])) == ""  # the summary goes first
    (summary,) = store.pending_outbox(kind="summary")
    assert summary["body"] == {"upto_id": ids[-1], "count": THRESHOLD + 2}
    assert bursts.load("C1") == Fold(ts=None, outbox_id=summary["id"], upto_id=ids[-1], last_at=clock())


def test_once_the_summary_is_posted_the_burst_goes_in_its_thread(store, bursts):
    ids = queue_posts(store, THRESHOLD + 2)
    bursts.thread_for(outbox_row(store, ids[0]))
    (summary,) = store.pending_outbox(kind="summary")
    bursts.summary_posted(summary, "1.0001")
    assert all(bursts.thread_for(outbox_row(store, i)) == "1.0001" for i in ids)


def test_a_burst_that_goes_on_keeps_its_thread_and_one_that_paused_starts_another(store, bursts, clock):
    ids = queue_posts(store, THRESHOLD + 2)
    bursts.thread_for(outbox_row(store, ids[0]))
    (summary,) = store.pending_outbox(kind="summary")
    bursts.summary_posted(summary, "1.0001")
    more = queue_posts(store, 2)
    clock.advance(IDLE - 1)
    assert bursts.thread_for(outbox_row(store, more[0])) == "1.0001"
    assert bursts.load("C1").upto_id == more[-1]  # the summary now covers them too
    later = queue_posts(store, 1)
    clock.advance(IDLE + 1)
    assert bursts.thread_for(outbox_row(store, later[0])) == ""  # quiet too long: a new summary
    assert len(store.pending_outbox(kind="summary")) == 2


def test_widening_takes_in_every_post_already_waiting(store, bursts):
    ids = queue_posts(store, THRESHOLD + 2)
    bursts.thread_for(outbox_row(store, ids[0]))
    more = queue_posts(store, 3)
    assert bursts.widen("C1", ids[-1]) == more[-1]
    assert bursts.load("C1").upto_id == more[-1]
    assert bursts.widen("C1", more[-1] + 5) == more[-1] + 5  # never narrower


def test_an_alert_posted_in_the_thread_leaves_the_count_behind(store, bursts, clock):
    bursts.save("C1", Fold(ts="1.0001", outbox_id=1, upto_id=5, last_at=clock()))
    clock.advance(30)
    bursts.alert_posted_in("C1", "1.0001")
    assert bursts.stale == {("C1", "1.0001")}
    assert bursts.load("C1").last_at == clock()


def test_a_summary_is_edited_only_when_its_text_changes_and_not_too_often(bursts, clock):
    bursts.shown("C1", "1.0001", "3 missed calls", at=clock())
    assert bursts.says_already("C1", "1.0001", "3 missed calls")
    assert not bursts.says_already("C1", "1.0001", "4 missed calls")
    assert not bursts.says_already("C1", "2.0002", "3 missed calls")
    assert bursts.refresh_due_at("C1", "1.0001") == clock() + 5.0
    assert bursts.refresh_due_at("C1", "2.0002") == 5.0  # never shown: due at once


def test_after_a_restart_recent_summaries_get_their_count_checked(store, bursts, clock):
    bursts.save("C1", Fold(ts="1.0001", outbox_id=1, upto_id=5, last_at=clock() - 60))
    bursts.save("C2", Fold(ts="2.0002", outbox_id=2, upto_id=6, last_at=clock() - RESUME_WINDOW - 1))
    bursts.save("C3", Fold(ts=None, outbox_id=3, upto_id=7, last_at=clock()))  # never posted
    store.set_meta(META_PREFIX + "C4", "garbage")
    bursts.resume()
    assert bursts.stale == {("C1", "1.0001")}
