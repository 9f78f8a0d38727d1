"""Decided calls: stored once, JSON columns round-trip, only known columns change, and the queries behind
history, reconciliation and the queue view."""

from __future__ import annotations

from typing import Any

import pytest

from storage import Store
from tests.support.clock import FakeClock


def _call(call_id: str, **kw: object) -> dict[str, object]:
    return {"call_id": call_id, "direction": "inbound", "outcome": "missed", **kw}


def test_a_call_is_stored_once(store: Store) -> None:
    assert store.insert_call(_call("a"))
    assert not store.insert_call(_call("a", outcome="answered"))
    row = store.get_call("a")
    assert row is not None and row["outcome"] == "missed"


def test_a_call_gets_defaults_for_what_the_decision_left_out(store: Store, clock: FakeClock) -> None:
    store.insert_call(_call("a", in_history=True, note="not a column"))
    row = store.get_call("a")
    assert row is not None
    assert row["agents_rung"] == [] and row["detail"] == {}
    assert row["source"] == "stream" and row["in_history"] == 1 and row["decided_at"] == clock.now


def test_json_columns_come_back_as_python(store: Store) -> None:
    store.insert_call(_call("a", agents_rung=["user_an101", "user_binh"], detail={"history": {"call_id": "h1"}}))
    row = store.get_call("a")
    assert row is not None
    assert row["agents_rung"] == ["user_an101", "user_binh"]
    assert row["detail"] == {"history": {"call_id": "h1"}}


def test_an_unknown_call_is_none(store: Store) -> None:
    assert store.get_call("nope") is None


def test_update_call_changes_the_given_columns_and_encodes_json(store: Store) -> None:
    store.insert_call(_call("a"))
    store.update_call("a", detail={"queue_stat": {"wait_time": 12}}, in_history=1, recording="r.mp3")
    row = store.get_call("a")
    assert row is not None
    assert row["detail"] == {"queue_stat": {"wait_time": 12}}
    assert (row["in_history"], row["recording"], row["outcome"]) == (1, "r.mp3", "missed")


def test_update_call_refuses_a_column_it_does_not_know_and_writes_nothing(store: Store) -> None:
    store.insert_call(_call("a"))
    # Column names go into SQL text: a name from outside must not get that far.
    injected: dict[str, Any] = {"recording": "r.mp3", "outcome = 'answered', recording": "x"}
    with pytest.raises(ValueError, match="calls: cannot set outcome = 'answered', recording"):
        store.update_call("a", **injected)
    with pytest.raises(ValueError, match="cannot set call_id"):
        store.update_call("a", **{"call_id": "b"})
    row = store.get_call("a")
    assert row is not None and row["recording"] is None and row["outcome"] == "missed"


def test_update_call_with_nothing_to_change_does_nothing(store: Store) -> None:
    store.insert_call(_call("a"))
    store.update_call("a")
    assert store.get_call("a") is not None


def test_the_call_nearest_in_time_from_the_same_caller_is_found_within_the_window(store: Store) -> None:
    store.insert_call(_call("far", customer_key="+84987654321", started_at=1_000.0))
    store.insert_call(_call("near", customer_key="+84987654321", started_at=1_100.0))
    store.insert_call(_call("out", customer_key="+84987654321", started_at=1_130.0, direction="outbound"))
    store.insert_call(_call("other", customer_key="+84900000000", started_at=1_100.0))
    near = store.find_call_near("+84987654321", 1_090.0, direction="inbound")
    assert near is not None and near["call_id"] == "near"
    nearest = store.find_call_near("+84987654321", 1_125.0)
    assert nearest is not None and nearest["call_id"] == "out"
    assert store.find_call_near("+84987654321", 2_000.0, window=120.0) is None


def test_calls_are_listed_newest_first_and_filtered(store: Store) -> None:
    store.insert_call(_call("a", customer_key="k1", started_at=100.0, answered_by="user_an101", outcome="answered"))
    store.insert_call(_call("b", customer_key="k1", started_at=200.0, agents_rung=["user_an101"]))
    store.insert_call(_call("c", customer_key="k2", started_at=300.0, outcome="abandoned"))
    assert [c["call_id"] for c in store.calls()] == ["c", "b", "a"]
    assert [c["call_id"] for c in store.calls(customer_key="k1")] == ["b", "a"]
    assert [c["call_id"] for c in store.calls(answered_by="user_an101")] == ["b", "a"]
    assert [c["call_id"] for c in store.calls(since=150.0, until=300.0)] == ["b"]
    assert [c["call_id"] for c in store.calls(outcomes=["missed", "abandoned"])] == ["c", "b"]
    assert [c["call_id"] for c in store.calls(limit=1, offset=1)] == ["b"]


def test_calls_from_a_caller_are_counted_by_direction_since_a_moment(store: Store) -> None:
    store.insert_call(_call("a", customer_key="k1", started_at=100.0))
    store.insert_call(_call("b", customer_key="k1", started_at=200.0))
    store.insert_call(_call("c", customer_key="k1", started_at=250.0, direction="outbound"))
    assert store.count_calls_from("k1", 150.0) == 1
    assert store.count_calls_from("k1", 0.0, direction="outbound") == 1
