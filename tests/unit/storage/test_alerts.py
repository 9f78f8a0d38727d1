"""Alerts: created open, every change bumps the version the outbox renders, only known columns and statuses."""

from __future__ import annotations

from typing import Any

import pytest

from storage import AlertStatus, Store
from tests.support.clock import FakeClock
from tests.support.rows import count_rows


def _new(store: Store, call_id: str = "c1", **kw: object) -> int:
    alert: dict[str, object] = {
        "call_id": call_id,
        "customer_number": "0987654321",
        "customer_key": "+84987654321",
        "outcome": "missed",
        "channel": "C0CALLS",
        **kw,
    }
    return store.create_alert(alert)


def _get(store: Store, alert_id: int) -> dict[str, Any]:
    row = store.get_alert(alert_id)
    assert row is not None
    return dict(row)


def test_a_new_alert_is_open_once_at_version_one(store: Store, clock: FakeClock) -> None:
    alert = _get(store, _new(store))
    assert alert["status"] is AlertStatus.OPEN and alert["status"] == "open"
    assert (alert["repeat_count"], alert["version"], alert["last_call_id"]) == (1, 1, "c1")
    assert alert["created_at"] == alert["updated_at"] == clock.now
    assert alert["resolved_detail"] == {}


def test_creating_an_alert_with_a_key_that_is_not_a_column_fails_and_stores_nothing(store: Store) -> None:
    with pytest.raises(ValueError, match="alerts: cannot set colour"):
        _new(store, colour="red")
    with pytest.raises(ValueError, match="'sleeping' is not a valid AlertStatus"):
        _new(store, status="sleeping")
    assert count_rows(store, "alerts") == 0


def test_an_update_bumps_the_version_and_returns_the_new_row(store: Store, clock: FakeClock) -> None:
    alert_id = _new(store)
    clock.advance(60)
    row = store.update_alert(alert_id, status=AlertStatus.HANDLED, handled_by="U0AN", handled_at=clock.now)
    assert row is not None
    assert (row["status"], row["handled_by"], row["version"], row["updated_at"]) == ("handled", "U0AN", 2, clock.now)
    bumped = store.update_alert(alert_id)
    assert bumped is not None and bumped["version"] == 3


def test_a_plain_string_status_is_accepted_and_read_back_as_the_enum(store: Store) -> None:
    alert_id = _new(store)
    store.update_alert(alert_id, status="calling_back", claimed_by="U0AN")
    assert _get(store, alert_id)["status"] is AlertStatus.CALLING_BACK


def test_resolved_detail_round_trips_as_json(store: Store) -> None:
    alert_id = _new(store)
    store.update_alert(alert_id, status="resolved", resolved_detail={"direction": "outbound", "talk_seconds": 42})
    assert _get(store, alert_id)["resolved_detail"] == {"direction": "outbound", "talk_seconds": 42}


def test_update_alert_refuses_unknown_columns_statuses_and_the_columns_it_keeps(store: Store) -> None:
    alert_id = _new(store)
    for fields, message in (
        ({"status = 'handled', ts": "1.1"}, "alerts: cannot set status = 'handled', ts"),
        ({"version": 9}, "cannot set version"),
        ({"updated_at": 0.0}, "cannot set updated_at"),
        ({"id": 7}, "cannot set id"),
        ({"status": "gone"}, "'gone' is not a valid AlertStatus"),
    ):
        with pytest.raises(ValueError, match=message):
            store.update_alert(alert_id, **fields)
    alert = _get(store, alert_id)
    assert (alert["status"], alert["version"], alert["ts"]) == ("open", 1, None)


def test_the_alert_for_a_call_is_the_one_it_raised_or_the_one_it_repeated_into(store: Store) -> None:
    alert_id = _new(store, "c1")
    store.update_alert(alert_id, repeat_count=2, last_call_id="c2")
    first, repeat = store.alert_for_call("c1"), store.alert_for_call("c2")
    assert first is not None and repeat is not None and first["id"] == repeat["id"] == alert_id
    assert store.alert_for_call("c3") is None


def test_a_callers_open_alert_is_the_newest_one_still_waiting_for_a_call_back(store: Store) -> None:
    older = _new(store, "c1")
    newer = _new(store, "c2")
    other = store.open_alert_for("+84987654321")
    assert other is not None and other["id"] == newer
    store.update_alert(newer, status="handled")
    store.update_alert(older, status="calling_back")
    claimed = store.open_alert_for("+84987654321")
    assert claimed is not None and claimed["id"] == older
    store.update_alert(older, status="resolved")
    assert store.open_alert_for("+84987654321") is None


def test_open_alerts_are_listed_oldest_first_and_counted(store: Store, clock: FakeClock) -> None:
    a = _new(store, "c1")
    clock.advance(1)
    b = _new(store, "c2", channel="C0OTHER")
    clock.advance(1)
    c = _new(store, "c3")
    store.update_alert(c, status="handled")
    assert [r["id"] for r in store.open_alerts()] == [a, b]
    assert [r["id"] for r in store.open_alerts(channel="C0OTHER")] == [b]
    assert [r["id"] for r in store.open_alerts(limit=1)] == [a]
    assert (store.count_open_alerts(), count_rows(store, "alerts")) == (2, 3)


def test_where_an_alert_was_posted_is_recorded_without_a_new_version(store: Store) -> None:
    alert_id = _new(store)
    store.set_alert_message(alert_id, ts="1.1", thread_ts="0.9")
    store.set_alert_message(alert_id, ts="1.2")  # no thread given: the fold it was posted under stays
    alert = _get(store, alert_id)
    assert (alert["ts"], alert["thread_ts"], alert["version"]) == ("1.2", "0.9", 1)
