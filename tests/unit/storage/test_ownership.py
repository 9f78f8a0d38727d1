"""The ownership tables (storage/ownership.py): owner and escalation state, held alerts, DM copies, short
hang-ups and per-route settings, on a real SQLite file."""

from __future__ import annotations

import pytest

from storage import OwnershipStore, Store
from tests.support.clock import FakeClock


@pytest.fixture
def owners(store: Store) -> OwnershipStore:
    return OwnershipStore(store)


def alert(store: Store, n: int, *, channel: str = "C0", key: str | None = None, created: float = 0.0) -> int:
    return store.create_alert(
        {
            "call_id": f"c{n}",
            "customer_number": f"09000000{n:02d}",
            "customer_key": key if key is not None else f"+849000000{n:02d}",
            "outcome": "missed",
            "channel": channel,
            "last_call_at": created,
        }
    )


def call(n: int, *, key: str = "+84900000001", at: float = 1000.0) -> dict[str, object]:
    return {
        "call_id": f"call{n}",
        "direction": "inbound",
        "outcome": "missed",
        "customer_number": "0900000001",
        "customer_key": key,
        "started_at": at,
        "ended_at": at + 3,
        "ring_seconds": 3,
        "decided_at": at + 5,
    }


def test_an_alert_without_a_row_reads_as_unowned_and_never_escalated(owners) -> None:
    assert owners.get(42) == {
        "alert_id": 42,
        "owner": None,
        "owned_at": None,
        "escalation_step": 0,
        "escalated_at": None,
        "held": None,
        "digested_at": None,
    }


def test_owner_escalation_and_hold_are_kept_apart_in_one_row(store, owners) -> None:
    a = alert(store, 1)
    owners.hold(a, "after_hours")
    owners.set_escalation(a, 1, 900.0)
    owners.set_owner(a, "U0AN", 1000.0)
    row = owners.get(a)
    assert (row["owner"], row["owned_at"], row["escalation_step"], row["escalated_at"], row["held"]) == (
        "U0AN",
        1000.0,
        1,
        900.0,
        "after_hours",
    )
    owners.set_owner(a, None, 2000.0)  # released: no owner, no time
    assert (owners.get(a)["owner"], owners.get(a)["owned_at"]) == (None, None)


def test_owned_open_lists_only_the_persons_open_alerts_oldest_first(store, owners) -> None:
    first, second, closed, other = (alert(store, n) for n in range(1, 5))
    for a in (second, first, closed):
        owners.set_owner(a, "U0AN", 1.0)
    owners.set_owner(other, "U0BINH", 1.0)
    store.update_alert(closed, status="handled")
    assert [a["id"] for a in owners.owned_open("U0AN")] == [first, second]


def test_held_alerts_are_per_channel_and_listed_until_a_digest_marks_them(store, owners) -> None:
    a, b, elsewhere, posted = alert(store, 1), alert(store, 2), alert(store, 3, channel="C1"), alert(store, 4)
    for x in (a, b, elsewhere):
        owners.hold(x, "after_hours")
    assert posted not in [r["id"] for r in owners.held_alerts("C0")]
    assert [r["id"] for r in owners.held_alerts("C0")] == [a, b]
    owners.mark_digested([a], 5.0)
    assert [r["id"] for r in owners.held_alerts("C0")] == [b]
    assert [r["id"] for r in owners.held_alerts("C1")] == [elsewhere]


def test_a_dm_copy_is_added_once_and_learns_where_its_message_is(store, owners) -> None:
    a = alert(store, 1)
    owners.add_copy(a, "U0AN")
    owners.add_copy(a, "U0AN")
    assert owners.copies(a) == [{"alert_id": a, "user": "U0AN", "channel": None, "ts": None}]
    owners.set_copy_message(a, "U0AN", channel="D0AN", ts="1.5")
    assert owners.get_copy(a, "U0AN") == {"alert_id": a, "user": "U0AN", "channel": "D0AN", "ts": "1.5"}
    assert owners.get_copy(a, "U0BINH") is None


def test_short_hang_ups_by_channel_pending_until_digested_and_by_id(store, owners) -> None:
    owners.add_short_hangup(call(2, at=200.0), "C0")
    owners.add_short_hangup(call(1, at=100.0), "C0")
    owners.add_short_hangup(call(3, at=300.0), "C1")
    owners.add_short_hangup(call(1, at=100.0), "C0")  # the same call again: once
    assert [r["call_id"] for r in owners.short_hangups(channel="C0")] == ["call1", "call2"]
    owners.mark_short_digested(["call1"], 400.0)
    assert [r["call_id"] for r in owners.short_hangups(channel="C0")] == ["call2"]
    assert [r["call_id"] for r in owners.short_hangups(pending=False, since=150.0)] == ["call2", "call3"]
    assert [r["call_id"] for r in owners.short_hangups_by_id(["call3", "call1", "nope"])] == ["call1", "call3"]
    assert owners.short_hangups_by_id([]) == []


def test_earlier_calls_count_a_window_before_this_call_only(store, owners) -> None:
    for n, at in ((1, 100.0), (2, 200.0), (3, 300.0)):
        assert store.insert_call(call(n, at=at))
    assert owners.earlier_calls_from("+84900000001", before=300.0, since=150.0) == 1
    assert owners.earlier_calls_from("+84900000001", before=300.0, since=0.0) == 2
    assert owners.earlier_calls_from("+84999999999", before=300.0, since=0.0) == 0


def test_route_settings_are_stored_as_json_and_unreadable_ones_read_as_none(store, owners, clock: FakeClock) -> None:
    assert owners.route_settings("default") is None
    owners.set_route_settings("queue:q1", {"escalate_after": 5, "supervisors": ["U0BOSS"]}, by="UADMIN")
    assert owners.route_settings("queue:q1") == {"escalate_after": 5, "supervisors": ["U0BOSS"]}
    row = store.conn.execute("SELECT set_by, set_at FROM route_settings WHERE key = 'queue:q1'").fetchone()
    assert tuple(row) == ("UADMIN", clock.now)
    store.conn.execute("INSERT INTO route_settings(key, settings, set_at) VALUES ('did:1', 'not json', 0)")
    store.conn.execute("INSERT INTO route_settings(key, settings, set_at) VALUES ('did:2', '[1, 2]', 0)")
    assert owners.route_settings("did:1") is None and owners.route_settings("did:2") is None
