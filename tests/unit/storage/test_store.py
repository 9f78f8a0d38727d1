"""Store details the rest relies on: decisions stored once, routes by queue id or name, requeue, pruning."""

from __future__ import annotations


def test_a_call_is_stored_once(store) -> None:
    assert store.insert_call({"call_id": "a", "direction": "inbound", "outcome": "missed"})
    assert not store.insert_call({"call_id": "a", "direction": "inbound", "outcome": "answered"})
    assert store.get_call("a")["outcome"] == "missed"


def test_routes_prefer_queue_id_then_queue_name_then_did_then_default(store) -> None:
    store.set_route("default", "C0DEF")
    store.set_route("did:+842873019555", "C0DID")
    store.set_route("queue:CSKH", "C0NAME")
    assert store.route_for(queue_id=None, did_key=None) == "C0DEF"
    assert store.route_for(queue_id="q1", did_key="+842873019555") == "C0DID"
    assert store.route_for(queue_id="q1", did_key="+842873019555", queue_name="CSKH") == "C0NAME"
    store.set_route("queue:q1", "C0ID")
    assert store.route_for(queue_id="q1", did_key=None, queue_name="CSKH") == "C0ID"


def test_prune_drops_old_legs_and_sent_outbox_rows_but_keeps_calls_and_pending_rows(store) -> None:
    store.save_legs(
        [{"leg_id": "old", "created_at": 100.0, "destroyed_at": 130.0}, {"leg_id": "new", "created_at": 9_000.0}]
    )
    old_sent = store.enqueue("post", "C1", alert_id=1)
    store.mark_outbox(old_sent, "sent", ts="1.1", sent_at=200.0)
    pending = store.enqueue("post", "C1", alert_id=2)
    store.insert_call({"call_id": "c", "direction": "inbound", "outcome": "missed", "started_at": 100.0})
    assert store.prune(legs_before=1_000.0, outbox_before=1_000.0) == {"legs": 1, "outbox": 1}
    assert store.count_legs() == 1
    assert store.get_outbox(pending)["status"] == "pending"
    assert store.get_call("c") is not None
