"""The outbox table: rows queued with the change they report, moved through their states, and the queries the
outbox worker paces, folds and recovers with."""

from __future__ import annotations

from typing import Any

import pytest

from storage import OutboxKind, OutboxStatus, Store
from tests.support.clock import FakeClock
from tests.support.rows import outbox_row


def _row(store: Store, row_id: int) -> dict[str, Any]:
    row = outbox_row(store, row_id)
    assert row is not None
    return dict(row)


def test_a_queued_row_is_pending_with_its_body_and_no_attempts(store: Store, clock: FakeClock) -> None:
    row_id = store.enqueue("reply", "C1", alert_id=7, thread_ts="1.1", body={"text": "called again"}, not_before=5.0)
    row = _row(store, row_id)
    assert row["kind"] is OutboxKind.REPLY and row["status"] is OutboxStatus.PENDING
    assert (row["alert_id"], row["thread_ts"], row["body"]) == (7, "1.1", {"text": "called again"})
    assert (row["attempts"], row["next_at"], row["created_at"]) == (0, 5.0, clock.now)


def test_a_row_without_a_body_has_an_empty_one(store: Store) -> None:
    assert _row(store, store.enqueue(OutboxKind.POST, "C1", alert_id=1))["body"] == {}


def test_an_unknown_kind_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="'shout' is not a valid OutboxKind"):
        store.enqueue("shout", "C1")
    assert store.outbox_depth() == 0


def test_going_inflight_counts_an_attempt_and_sent_records_the_message(store: Store) -> None:
    row_id = store.enqueue("post", "C1", alert_id=1)
    store.mark_outbox(row_id, "inflight", thread_ts="0.9")
    assert _row(store, row_id)["status"] == "inflight"
    assert [r["id"] for r in store.inflight_outbox()] == [row_id]
    store.mark_outbox(row_id, OutboxStatus.SENT, ts="1.1", sent_at=10.0)
    row = _row(store, row_id)
    assert (row["status"], row["attempts"], row["ts"], row["sent_at"], row["thread_ts"]) == (
        "sent",
        1,
        "1.1",
        10.0,
        "0.9",
    )


def test_mark_outbox_refuses_unknown_statuses_and_columns_and_leaves_the_row_alone(store: Store) -> None:
    row_id = store.enqueue("post", "C1", alert_id=1)
    with pytest.raises(ValueError, match="'lost' is not a valid OutboxStatus"):
        store.mark_outbox(row_id, "lost")
    bad: list[dict[str, Any]] = [{"ts = '1', error": "x"}, {"attempts": 0}, {"status": "sent"}, {"id": 2}]
    for fields in bad:
        with pytest.raises(ValueError, match="outbox: cannot set"):
            store.mark_outbox(row_id, "dead", **fields)
    row = _row(store, row_id)
    assert (row["status"], row["attempts"], row["ts"]) == ("pending", 0, None)


def test_a_requeue_sets_the_next_try_and_a_429_gives_back_the_attempt(store: Store) -> None:
    row_id = store.enqueue("post", "C1", alert_id=1)
    store.mark_outbox(row_id, "inflight")
    store.requeue_outbox(row_id, next_at=30.0, error="timeout")
    row = _row(store, row_id)
    assert (row["status"], row["next_at"], row["error"], row["attempts"]) == ("pending", 30.0, "timeout", 1)
    store.mark_outbox(row_id, "inflight")
    store.requeue_outbox(row_id, next_at=31.0, error="ratelimited", count_attempt=False)
    assert _row(store, row_id)["attempts"] == 1


def test_dead_rows_are_revived_per_channel_and_look_already_tried(store: Store) -> None:
    a = store.enqueue("post", "C1", alert_id=1)
    b = store.enqueue("post", "C2", alert_id=2)
    for row_id in (a, b):
        store.mark_outbox(row_id, "dead", error="channel_not_found")
    assert store.requeue_dead(channel="C1") == 1
    revived = _row(store, a)
    assert (revived["status"], revived["next_at"], revived["attempts"]) == ("pending", 0.0, 1)
    assert _row(store, b)["status"] == "dead"
    assert store.requeue_dead() == 1


def test_pending_rows_are_listed_in_id_order_by_channel_and_kind(store: Store) -> None:
    a = store.enqueue("post", "C1", alert_id=1)
    b = store.enqueue("update", "C1", alert_id=1)
    c = store.enqueue("post", "C2", alert_id=2)
    store.mark_outbox(c, "sent")
    assert [r["id"] for r in store.pending_outbox()] == [a, b]
    assert [r["id"] for r in store.pending_outbox(kind="update")] == [b]
    assert store.pending_outbox(channel="C2") == []


def test_each_channels_head_is_its_oldest_pending_message_that_posts(store: Store) -> None:
    store.enqueue("update", "C1", alert_id=1)
    c1_post = store.enqueue("post", "C1", alert_id=2)
    store.enqueue("reply", "C1", alert_id=2)
    c2_summary = store.enqueue("summary", "C2", body={"upto_id": 9})
    sent = store.enqueue("post", "C3", alert_id=3)
    store.mark_outbox(sent, "sent")
    assert [r["id"] for r in store.outbox_post_heads()] == [c1_post, c2_summary]


def test_pending_updates_and_an_alerts_update_ids(store: Store) -> None:
    u1 = store.enqueue("update", "C1", alert_id=1)
    store.enqueue("post", "C1", alert_id=1)
    u2 = store.enqueue("update", "C1", alert_id=2)
    u3 = store.enqueue("update", "C1", alert_id=1)
    assert [r["id"] for r in store.pending_updates()] == [u1, u2, u3]
    assert [r["id"] for r in store.pending_updates(limit=1)] == [u1]
    assert store.pending_update_ids(1) == [u1, u3]


def test_waiting_posts_in_a_channel_are_counted_with_the_newest_id(store: Store) -> None:
    assert store.pending_posts_in("C1") == (0, None)
    store.enqueue("post", "C1", alert_id=1)
    newest = store.enqueue("post", "C1", alert_id=2)
    store.enqueue("reply", "C1", alert_id=2)
    store.enqueue("post", "C2", alert_id=3)
    assert store.pending_posts_in("C1") == (2, newest)


def test_an_alerts_post_row_is_its_first_post(store: Store) -> None:
    store.enqueue("update", "C1", alert_id=1)
    post = store.enqueue("post", "C1", alert_id=1)
    found = store.outbox_post_for_alert(1)
    assert found is not None and found["id"] == post
    assert store.outbox_post_for_alert(2) is None


def test_a_burst_fold_covers_alerts_posted_under_it_and_posts_still_waiting(store: Store) -> None:
    def alert(call_id: str, started_at: float, **kw: object) -> int:
        store.insert_call({"call_id": call_id, "direction": "inbound", "outcome": "missed", "started_at": started_at})
        return store.create_alert({"call_id": call_id, "outcome": "missed", "channel": "C1", **kw})

    alert("c1", 100.0, thread_ts="9.9")  # already posted in the fold's thread
    waiting = store.enqueue("post", "C1", alert_id=alert("c2", 200.0))
    store.enqueue("post", "C1", alert_id=alert("c3", 300.0))  # queued after the summary's range
    assert store.fold_stats("C1", "9.9", waiting) == {"count": 2, "first_at": 100.0, "last_at": 200.0}
    assert store.fold_stats("C1", None, waiting) == {"count": 1, "first_at": 200.0, "last_at": 200.0}
    assert store.fold_stats("C2", None, waiting) == {"count": 0, "first_at": None, "last_at": None}


def test_depth_counts_rows_not_yet_delivered_and_counts_are_per_status(store: Store) -> None:
    a = store.enqueue("post", "C1", alert_id=1)
    b = store.enqueue("post", "C1", alert_id=2)
    c = store.enqueue("post", "C1", alert_id=3)
    store.enqueue("post", "C1", alert_id=4)
    store.mark_outbox(a, "inflight")
    store.mark_outbox(b, "sent")
    store.mark_outbox(c, "dead")
    assert store.outbox_depth() == 2
    assert store.outbox_counts() == {"pending": 1, "inflight": 1, "sent": 1, "dead": 1}


def test_a_row_waiting_out_its_backoff_does_not_head_its_channel(store: Store) -> None:
    backing_off = store.enqueue("post", "C1", alert_id=1)
    store.requeue_outbox(backing_off, next_at=300.0, error="slack 500: internal_error")
    due = store.enqueue("post", "C1", alert_id=2)
    later = store.enqueue("post", "C2", alert_id=3, not_before=200.0)
    soonest = store.enqueue("post", "C2", alert_id=4, not_before=100.0)
    assert [r["id"] for r in store.outbox_post_heads(10.0)] == [due, soonest]
    assert [r["id"] for r in store.outbox_post_heads(400.0)] == [backing_off, later]  # all due: oldest first


def test_claiming_a_row_is_a_compare_and_set_across_connections(store: Store, tmp_path) -> None:
    other = Store.open(tmp_path / "ringbot.db")
    try:
        row_id = store.enqueue("post", "C1", alert_id=1)
        assert store.claim_outbox(row_id, thread_ts="1.5") is True
        assert other.claim_outbox(row_id) is False  # already inflight: the other worker must not send it
        row = _row(store, row_id)
        assert (row["status"], row["attempts"], row["thread_ts"]) == (OutboxStatus.INFLIGHT, 1, "1.5")
        store.mark_outbox(row_id, "sent")
        assert other.claim_outbox(row_id) is False
    finally:
        other.close()


def test_a_row_our_code_failed_on_counts_the_attempt_once(store: Store) -> None:
    pending = store.enqueue("post", "C1", alert_id=1)
    store.requeue_outbox_after_error(pending, next_at=5.0, error="internal: OverflowError")
    claimed = store.enqueue("post", "C1", alert_id=2)
    store.claim_outbox(claimed)
    store.requeue_outbox_after_error(claimed, next_at=5.0, error="internal: KeyError")
    assert [(_row(store, i)["status"], _row(store, i)["attempts"]) for i in (pending, claimed)] == [
        (OutboxStatus.PENDING, 1),
        (OutboxStatus.PENDING, 1),
    ]
