"""Routes: which channel an alert goes to, by queue id, then queue name, then DID, then the stored default."""

from __future__ import annotations

from storage import Store
from tests.support.clock import FakeClock


def test_routes_prefer_queue_id_then_queue_name_then_did_then_default(store: Store) -> None:
    store.set_route("default", "C0DEF")
    store.set_route("did:+842873019555", "C0DID")
    store.set_route("queue:CSKH", "C0NAME")
    assert store.route_for(queue_id=None, did_key=None) == "C0DEF"
    assert store.route_for(queue_id="q1", did_key="+842873019555") == "C0DID"
    assert store.route_for(queue_id="q1", did_key="+842873019555", queue_name="CSKH") == "C0NAME"
    store.set_route("queue:q1", "C0ID")
    assert store.route_for(queue_id="q1", did_key=None, queue_name="CSKH") == "C0ID"


def test_without_any_route_there_is_no_channel(store: Store) -> None:
    assert store.route_for(queue_id="q1", did_key="+842873019555") is None


def test_setting_a_route_again_replaces_it_and_records_who_and_when(store: Store, clock: FakeClock) -> None:
    store.set_route("queue:q1", "C0OLD", by="U0ADMIN")
    clock.advance(60)
    store.set_route("queue:q1", "C0NEW")
    assert store.routes() == [{"key": "queue:q1", "channel": "C0NEW", "set_by": None, "set_at": clock.now}]


def test_routes_are_listed_by_key_and_deleted_one_by_one(store: Store) -> None:
    store.set_route("queue:q1", "C1")
    store.set_route("default", "C0")
    assert [r["key"] for r in store.routes()] == ["default", "queue:q1"]
    assert store.delete_route("queue:q1") is True
    assert store.delete_route("queue:q1") is False
    assert [r["key"] for r in store.routes()] == ["default"]
