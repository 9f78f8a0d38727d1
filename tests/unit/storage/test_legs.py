"""Legs are saved in batches; a leg seen again keeps its first times and fills in what was missing."""

from __future__ import annotations

from storage import Store
from tests.support.rows import count_rows


def _leg(store: Store, leg_id: str) -> dict[str, object]:
    cur = store.conn.execute("SELECT * FROM legs WHERE leg_id = ?", (leg_id,))
    names = [d[0] for d in cur.description]
    return dict(zip(names, cur.fetchone(), strict=True))


def test_a_batch_of_legs_is_saved_and_counted(store: Store) -> None:
    store.save_legs([{"leg_id": "a", "call_id": "c1", "created_at": 10.0}, {"leg_id": "b", "created_at": 11.0}])
    assert count_rows(store, "legs") == 2
    assert _leg(store, "a")["call_id"] == "c1"
    assert _leg(store, "b")["call_id"] is None


def test_an_empty_batch_writes_nothing(store: Store) -> None:
    store.save_legs([])
    assert count_rows(store, "legs") == 0


def test_a_leg_seen_again_keeps_its_first_times_and_takes_newly_known_names(store: Store) -> None:
    store.save_legs([{"leg_id": "a", "direction": "inbound", "created_at": 10.0, "answered_at": 12.0}])
    store.save_legs(
        [
            {
                "leg_id": "a",
                "call_id": "c1",
                "username": "user_an101",
                "created_at": 99.0,
                "answered_at": 99.0,
                "destroyed_at": 30.0,
                "hangup_cause": "NORMAL_CLEARING",
            }
        ]
    )
    leg = _leg(store, "a")
    assert count_rows(store, "legs") == 1
    assert (leg["created_at"], leg["answered_at"], leg["destroyed_at"]) == (10.0, 12.0, 30.0)
    assert (leg["call_id"], leg["direction"], leg["username"]) == ("c1", "inbound", "user_an101")
    assert leg["hangup_cause"] == "NORMAL_CLEARING"


def test_keys_that_are_not_leg_columns_are_ignored(store: Store) -> None:
    store.save_legs([{"leg_id": "a", "caller_name": "An", "created_at": 10.0}])
    assert _leg(store, "a")["created_at"] == 10.0
