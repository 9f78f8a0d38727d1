"""The audit trail: who did what and how it went, newest first; and who last called a number back."""

from __future__ import annotations

from storage import Store
from storage.store import refusals_in
from tests.support.clock import FakeClock


def test_an_audit_entry_is_stored_with_the_time_and_read_back_newest_first(store: Store, clock: FakeClock) -> None:
    first = store.add_audit("link", "ok", slack_user="U0AN", sip_user="user_an101")
    clock.advance(1)
    second = store.add_audit("click_to_call", "offline", slack_user="U0AN", number="0987654321", alert_id=7)
    rows = store.audit()
    assert [r["id"] for r in rows] == [second, first]
    assert rows[0] == {
        "id": second,
        "at": clock.now,
        "slack_user": "U0AN",
        "sip_user": None,
        "number": "0987654321",
        "alert_id": 7,
        "action": "click_to_call",
        "result": "offline",
        "detail": None,
    }


def test_the_audit_trail_is_filtered_by_alert_user_action_and_time(store: Store, clock: FakeClock) -> None:
    store.add_audit("handled", "ok", slack_user="U0AN", alert_id=1)
    clock.advance(10)
    store.add_audit("unhandled", "ok", slack_user="U0BINH", alert_id=1)
    store.add_audit("route", "refused", slack_user="U0AN")
    assert [r["action"] for r in store.audit(alert_id=1)] == ["unhandled", "handled"]
    assert [r["action"] for r in store.audit(slack_user="U0AN")] == ["route", "handled"]
    assert [r["action"] for r in store.audit(action="route")] == ["route"]
    assert len(store.audit(since=clock.now)) == 2
    assert len(store.audit(limit=1)) == 1


def test_detail_stays_the_text_it_was_written_as(store: Store) -> None:
    store.add_audit("click_to_call", "error", detail="404")
    store.add_audit("route", "ok", detail="queue:q1 -> C0CALLS")
    assert [r["detail"] for r in store.audit()] == ["queue:q1 -> C0CALLS", "404"]


def test_the_latest_successful_call_back_per_number_since_a_moment(store: Store, clock: FakeClock) -> None:
    since = clock.now
    store.add_audit("click_to_call", "ok", slack_user="U0AN", number="0987654321")
    clock.advance(60)
    store.add_audit("click_to_call", "ok", slack_user="U0BINH", number="0987654321")
    store.add_audit("click_to_call", "offline", slack_user="U0CHI", number="0987654321")
    store.add_audit("click_to_call", "ok", slack_user="U0AN", number="0911111111")
    store.add_audit("handled", "ok", slack_user="U0AN", number="0922222222")
    found = store.callbacks_for_numbers(["0987654321", "0987654321", "0922222222", "0933333333"], since)
    assert found == {"0987654321": {"number": "0987654321", "slack_user": "U0BINH", "at": clock.now}}
    assert store.callbacks_for_numbers([], since) == {}
    assert store.callbacks_for_numbers(["0911111111"], clock.now + 1) == {}


def test_the_same_refusal_within_a_minute_is_counted_in_one_row(store: Store, clock: FakeClock) -> None:
    clock.now = 1_700_000_040.0  # on a minute
    first = store.add_audit("route", "refused", slack_user="U0AN", detail="queue:Q1")
    for _ in range(4):
        clock.advance(10)
        assert store.add_audit("route", "refused", slack_user="U0AN", detail="queue:Q2") == first
    rows = store.audit()
    assert (
        len(rows) == 1 and rows[0]["detail"] == "queue:Q1 [5 times this minute]" and refusals_in(rows[0]["detail"]) == 5
    )
    clock.advance(20)  # the next minute: a row of its own
    assert store.add_audit("route", "refused", slack_user="U0AN") != first
    assert len(store.audit()) == 2


def test_refusals_are_counted_per_person_action_and_result_and_nothing_else_is(store: Store, clock: FakeClock) -> None:
    clock.now = 1_700_000_040.0
    for _ in range(2):
        store.add_audit("route", "refused", slack_user="U0AN")
        store.add_audit("route", "refused", slack_user="U0BINH")
        store.add_audit("queue_watch", "refused", slack_user="U0AN")
        store.add_audit("click_to_call", "duplicate", slack_user="U0AN")
        store.add_audit("click_to_call", "ok", slack_user="U0AN")  # a call made is never folded into another
        store.add_audit("route", "refused")  # nobody to count it against
    rows = store.audit(limit=100)
    assert len(rows) == 4 + 2 + 2
    assert sorted(refusals_in(r["detail"]) for r in rows if r["result"] != "ok" and r["slack_user"]) == [2, 2, 2, 2]
