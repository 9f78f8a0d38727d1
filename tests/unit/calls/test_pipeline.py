"""The pipeline: payloads in, decisions committed with their alerts, malformed input counted, legs batched."""

from __future__ import annotations

import json

from bot.alerts.service import AlertService
from bot.calls.pipeline import Pipeline
from bot.calls.tracker import Tracker
from tests.support.clock import FakeClock
from tests.support.payloads import ANSWERED_7_1, ring_group
from tests.support.rows import count_rows


def build(store, grace: float = 2.0) -> tuple[Pipeline, FakeClock]:
    clock = FakeClock(1000.0)
    alerts = AlertService(store, default_channel="C0ALERTS")
    return Pipeline(Tracker(grace_seconds=grace), store, alerts, clock=clock), clock


def test_a_missed_call_becomes_one_alert_and_one_outbox_row_after_the_grace_window(store) -> None:
    pipeline, clock = build(store)
    scenario = ring_group(1, "kazoo", ("101", "102"), answer=None, a_cause="ORIGINATOR_CANCEL")
    for name, body in scenario.events:
        pipeline.on_event(name, body)
    assert pipeline.flush() == []  # still inside the grace window: nothing decided, legs written
    assert count_rows(store, "legs") == 3
    clock.now += 2.5
    decisions = pipeline.flush()
    assert [d.outcome.value for d in decisions] == ["missed"]
    assert count_rows(store, "alerts") == 1
    assert [r["kind"] for r in store.pending_outbox()] == ["post"]
    # the same events again (a replay after reconnect) change nothing
    for name, body in scenario.events:
        pipeline.on_event(name, body)
    clock.now += 5
    pipeline.flush()
    assert count_rows(store, "alerts") == 1


def test_an_answered_call_is_recorded_without_an_alert(store) -> None:
    pipeline, clock = build(store)
    for name, body in ANSWERED_7_1:
        pipeline.on_event(name, body)
    clock.now += 3
    assert [d.outcome.value for d in pipeline.flush()] == ["answered"]
    assert count_rows(store, "alerts") == 0
    assert store.get_call("5e2a91c07d1b4f1e8a3b@203.0.113.10")["outcome"] == "answered"


def test_malformed_payloads_are_counted_and_the_stream_goes_on(store) -> None:
    pipeline, clock = build(store)
    for name, payload in [
        ("CHANNEL_CREATE", {"no": "call id"}),
        ("CHANNEL_DESTROY", "not json {"),
        ("CHANNEL_CREATE", 42),
        ("CHANNEL_CREATE", {"call_id": {"nested": True}}),
        ("CHANNEL_CREATE", json.dumps({"call_id": "", "x": "y" * 1_000_000})),
    ]:
        pipeline.on_event(name, payload)
    assert pipeline.stats.rejected == 5
    scenario = ring_group(2, "snake", ("101",), answer=None, a_cause="NO_ANSWER")
    for name, body in scenario.events:
        pipeline.on_event(name, body)
    clock.now += 3
    assert [d.outcome.value for d in pipeline.flush()] == ["missed"]


def test_while_another_program_holds_the_lock_decisions_and_legs_wait_and_none_is_lost(tmp_path) -> None:
    import sqlite3

    from storage import Store

    store = Store.open(tmp_path / "busy.db", busy_timeout=0.05)
    pipeline, clock = build(store)
    other = sqlite3.connect(tmp_path / "busy.db", timeout=0, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        for n in range(3):
            scenario = ring_group(n, "kazoo", ("101",), answer=None, a_cause="ORIGINATOR_CANCEL")
            for name, body in scenario.events:
                pipeline.on_event(name, body)
        clock.now += 2.5
        assert pipeline.flush() == []  # refused: held
        assert pipeline.held() == (3, 6)
        clock.now += 0.1
        assert pipeline.flush() == []  # too soon to try again: still held, nothing lost
        clock.now += 5
        assert pipeline.flush() == [] and pipeline.held()[0] == 3  # tried again, still locked
    finally:
        other.rollback()
        other.close()
    clock.now += 5
    decided = pipeline.flush()
    assert [d.outcome.value for d in decided] == ["missed"] * 3
    assert pipeline.held() == (0, 0)
    assert all(store.get_call(d.call_id) for d in decided) and count_rows(store, "legs") == 6
    assert count_rows(store, "alerts") >= 1 and store.outbox_depth() >= 1
    assert pipeline.stats.decisions["missed"] == 3  # counted once, when committed
    store.close()
