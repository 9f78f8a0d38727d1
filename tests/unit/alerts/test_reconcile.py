"""Reconciliation from a fake history source into a real temporary store: what becomes an alert, matching with
the stream (call id, or number ±120 s), enrichment, and the watermark."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.reconcile import Reconciler
from bot.alerts.service import AlertService
from bot.antbuddy import HistoryRecord, QueueStat
from bot.calls.classify import CallDecision, Outcome, classify_record
from storage import Store
from tests.support.rows import count_rows

NOW = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
T0 = NOW - timedelta(minutes=10)


def rec(
    call_id,
    *,
    number="0987654321",
    direction="to_ab",
    cls="trunking",
    status="CANCELLED",
    at=T0,
    duration=25,
    billing=0,
    callee="02873019555",
    callee_username=None,
    queue_stats=(),
    raw=None,
):
    return HistoryRecord(
        call_id=call_id,
        caller_number=number if direction == "to_ab" else "101",
        caller_type="realnumber",
        callee_number=callee if direction == "to_ab" else number,
        callee_type="user",
        callee_username=callee_username,
        call_class=cls,
        did_number="02873019555" if direction == "to_ab" else None,
        direction=direction,
        status_detail=status,
        duration_seconds=duration,
        billing_seconds=billing,
        started_at=at,
        recording=None,
        queue_stats=tuple(queue_stats),
        raw=raw or {},
    )


def qstat(call_id, status="abandoned", wait=47, reason="member_hangup", misses=({"agent_id": "ag1"},)):
    return QueueStat(
        call_id=call_id,
        queue_id="q1",
        status=status,
        wait_time=wait,
        talk_time=None,
        agent_id=None,
        username=None,
        hung_up_by="caller",
        end_call_reason=reason,
        caller_id_number="0987654321",
        entered_at=None,
        misses=tuple(misses),
        raw={},
    )


class FakeHistory:
    """AntBuddyClient.history's contract: an async generator of HistoryRecords for [start, end)."""

    def __init__(self, records, *, fail_after: int | None = None) -> None:
        self.records = list(records)
        self.fail_after = fail_after
        self.windows: list[tuple[datetime, datetime]] = []

    async def history(self, start, end):
        self.windows.append((start, end))
        for i, r in enumerate(self.records):
            if self.fail_after is not None and i >= self.fail_after:
                raise ConnectionError("AntBuddy answered 503")
            if start <= r.started_at < end:
                yield r


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "ringbot.db")
    yield s
    s.close()


@pytest.fixture
def alerts(store):
    return AlertService(store, default_channel="C0CALLS", clock=lambda: NOW.timestamp())


def reconciler(store, alerts, source, **kw):
    return Reconciler(store, source, alerts, clock=lambda: NOW.timestamp(), **kw)


MIXED = [
    rec("m1", number="0900000001", status="CANCELLED"),
    rec("m2", number="0900000002", status="IVR"),
    rec("ab1", number="0900000003", status="SUCCESS", duration=50, billing=47, queue_stats=[qstat("ab1")]),
    rec("ok1", number="0900000004", status="SUCCESS", billing=60, callee_username="an"),
    rec("out1", number="0900000005", direction="from_ab", status="SUCCESS", billing=30),
    rec("out2", number="0900000006", direction="from_ab", status="CANCELLED"),
    rec("int1", number="102", cls="one_one", status="CANCELLED"),
]


async def test_one_alert_per_missed_or_abandoned_record_and_none_for_the_rest(store, alerts):
    result = await reconciler(store, alerts, FakeHistory(MIXED)).run_once()
    assert (result.records, result.decisions, result.new_alerts, result.skipped, result.errors) == (7, 6, 3, 1, 0)
    assert sorted(a["call_id"] for a in store.open_alerts()) == ["ab1", "m1", "m2"]
    abandoned = store.get_call("ab1")
    assert abandoned["outcome"] == "abandoned" and abandoned["queue_id"] == "q1" and abandoned["ring_seconds"] == 47
    assert abandoned["hangup_cause"] == "member_hangup" and abandoned["agents_rung"] == ["ag1"]
    assert abandoned["source"] == "history"
    assert store.get_call("ok1")["answered_by"] == "an"
    assert store.get_call("out1")["outcome"] == "outbound_answered"
    assert store.get_call("out1")["customer_key"] == "+84900000005"
    assert store.get_call("int1") is None
    assert len(store.pending_outbox(kind="post")) == 3


async def test_overlapping_passes_never_raise_a_second_alert(store, alerts):
    source = FakeHistory(MIXED)
    await reconciler(store, alerts, source).run_once()
    again = await reconciler(store, alerts, source).run_once()
    assert again.records == 7 and again.new_alerts == 0 and again.decisions == 0 and again.matched == 6
    assert count_rows(store, "alerts") == 3


def _stream(alerts, call_id, *, number="0987654321", at=T0, outcome=Outcome.ABANDONED):
    return alerts.handle_decision(
        CallDecision(
            call_id=call_id,
            outcome=outcome,
            customer_number=number,
            dialled="02873019555",
            queue_id="q1",
            started_at=at,
            ended_at=at + timedelta(seconds=40),
            ring_seconds=38,
            talk_seconds=0,
            hangup_cause="NORMAL_CLEARING",
            agents_rung=("an",),
        )
    )


async def test_call_the_stream_decided_is_matched_by_call_id_and_enriched(store, alerts):
    assert _stream(alerts, "leg-a") == "new"
    record = rec("other-id", status="SUCCESS", duration=50, queue_stats=[qstat("leg-a", reason="member_timeout")])
    result = await reconciler(store, alerts, FakeHistory([record])).run_once()
    assert (result.matched, result.enriched, result.decisions, result.new_alerts) == (1, 1, 0, 0)
    assert count_rows(store, "alerts") == 1
    call = store.get_call("leg-a")
    assert call["in_history"] == 1 and call["detail"]["queue_stat"]["end_call_reason"] == "member_timeout"
    assert len(store.pending_outbox(kind="update")) == 1  # the alert is edited to show what history added


async def test_call_the_stream_decided_under_another_id_is_matched_by_number_within_120_s(store, alerts):
    _stream(alerts, "leg-b", number="+84 987 654 321", at=T0)
    near = rec("hist-1", number="0987654321", at=T0 + timedelta(seconds=100), queue_stats=[qstat("q-leg")])
    far = rec("hist-2", number="0987654321", at=T0 + timedelta(seconds=200), status="CANCELLED")
    result = await reconciler(store, alerts, FakeHistory([near, far])).run_once()
    assert result.matched == 1 and result.decisions == 1
    assert store.get_call("leg-b")["in_history"] == 1
    assert result.outcomes == {"repeat": 1}  # the far one is a second call: it folds into the open alert
    assert count_rows(store, "alerts") == 1


async def test_a_stream_call_is_matched_by_only_one_history_record(store, alerts):
    _stream(alerts, "leg-c", number="0987654321", at=T0, outcome=Outcome.MISSED)
    first = rec("h1", at=T0 + timedelta(seconds=5))
    second = rec("h2", at=T0 + timedelta(seconds=30))
    result = await reconciler(store, alerts, FakeHistory([first, second])).run_once()
    assert result.matched == 1 and result.decisions == 1


async def test_history_answer_resolves_the_alert_the_stream_raised(store, alerts):
    _stream(alerts, "leg-d", number="0987654321", at=T0, outcome=Outcome.MISSED)
    back = rec(
        "cb1",
        number="0987654321",
        direction="from_ab",
        status="SUCCESS",
        billing=134,
        at=T0 + timedelta(minutes=5),
        raw={"caller": {"number": "101", "username": "an"}},
    )
    await reconciler(store, alerts, FakeHistory([back])).run_once()
    alert = store.alert_for_call("leg-d")
    assert alert["status"] == "resolved" and alert["resolved_by"] == "an"
    assert alert["resolved_detail"]["direction"] == "outbound" and alert["resolved_detail"]["talk_seconds"] == 134


async def test_first_run_reads_the_lookback_and_the_watermark_then_advances(store, alerts):
    source = FakeHistory([])
    r = reconciler(store, alerts, source, settle_seconds=60, overlap_seconds=600, first_run_lookback=900)
    await r.run_once()
    assert source.windows == [(NOW - timedelta(seconds=1500), NOW - timedelta(seconds=60))]
    assert r.watermark() == NOW - timedelta(seconds=60)
    await r.run_once()
    assert source.windows[1] == (NOW - timedelta(seconds=660), NOW - timedelta(seconds=60))


async def test_an_antbuddy_failure_keeps_the_watermark_and_the_rerun_is_still_exactly_once(store, alerts):
    r = reconciler(store, alerts, FakeHistory(MIXED, fail_after=2))
    result = await r.run_once()
    assert result.errors == 1 and result.new_alerts == 2 and r.watermark() is None
    r.antbuddy = FakeHistory(MIXED)
    result = await r.run_once()
    assert result.errors == 0 and result.new_alerts == 1 and result.matched == 2 and r.watermark() is not None
    assert count_rows(store, "alerts") == 3


async def test_backfill_starts_at_local_midnight_and_never_moves_the_watermark_back(store, alerts):
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    source = FakeHistory([])
    r = reconciler(store, alerts, source, tz=tz)
    store.set_meta("history_watermark", str((NOW + timedelta(hours=1)).timestamp()))
    await r.backfill(date(2026, 11, 20))
    assert source.windows[0][0] == datetime(2026, 11, 19, 17, 0, tzinfo=UTC)
    assert r.watermark() == NOW + timedelta(hours=1)


def test_a_record_without_any_call_id_gets_a_stable_synthetic_one():
    a = classify_record(rec(None))
    b = classify_record(rec(None))
    assert a.call_id == b.call_id and a.call_id.startswith("hist-") and a.outcome is Outcome.MISSED


def test_queue_abandon_followed_by_an_answer_in_another_queue_is_answered():
    record = rec(
        "x",
        status="SUCCESS",
        billing=40,
        callee_username="binh",
        queue_stats=[qstat("x"), qstat("x", status="processed")],
    )
    assert classify_record(record).outcome is Outcome.ANSWERED


async def test_a_call_that_only_just_ended_is_left_to_the_stream_and_read_again_next_pass(store, alerts):
    """History filters by start time: a 5-minute call that started before the settle cut but ended 5 s ago
    is deferred (the stream decides it with more detail), and the watermark stops before it."""
    long_call = rec("long1", number="0900000009", at=NOW - timedelta(seconds=305), duration=300)
    early = rec("e1", number="0900000010", at=T0)
    r = reconciler(store, alerts, FakeHistory([early, long_call]), settle_seconds=60, overlap_seconds=0)
    result = await r.run_once()
    assert result.deferred == 1 and result.new_alerts == 1
    assert store.get_call("long1") is None
    assert r.watermark() == long_call.started_at
    # ten minutes later it has settled: the next pass raises it (once)
    later = Reconciler(
        store,
        FakeHistory([early, long_call]),
        alerts,
        clock=lambda: (NOW + timedelta(minutes=10)).timestamp(),
        settle_seconds=60,
        overlap_seconds=0,
    )
    result = await later.run_once()
    assert result.deferred == 0 and result.new_alerts == 1
    assert store.get_call("long1")["outcome"] == "missed"


async def test_history_success_for_a_call_the_stream_decided_missed_resolves_it_with_the_reason_audited(store, alerts):
    _stream(alerts, "leg-e", number="0987654321", at=T0, outcome=Outcome.MISSED)
    answered = rec("leg-e", status="SUCCESS", duration=80, billing=61, callee_username="an")
    result = await reconciler(store, alerts, FakeHistory([answered])).run_once()
    assert (result.matched, result.resolved_by_history, result.new_alerts) == (1, 1, 0)
    alert = store.alert_for_call("leg-e")
    assert alert["status"] == "resolved" and alert["resolved_by"] == "an"
    assert alert["resolved_detail"]["reason"] == "history_success"
    assert store.get_call("leg-e")["outcome"] == "answered"
    rows = store.audit(alert_id=alert["id"])
    assert [(r["action"], r["result"], r["detail"]) for r in rows] == [("resolved", "history_success", "leg-e")]


async def test_backfill_read_newest_first_still_resolves_a_miss_followed_by_an_answered_call(store, alerts):
    later = rec("ok2", status="SUCCESS", billing=40, callee_username="an", at=T0 + timedelta(minutes=3))
    missed = rec("m3", status="CANCELLED", at=T0)
    result = await reconciler(store, alerts, FakeHistory([later, missed])).run_once()  # history lists newest first
    assert result.new_alerts == 1
    alert = store.alert_for_call("m3")
    assert alert["status"] == "resolved" and alert["resolved_detail"]["call_id"] == "ok2"
    assert alert["resolved_detail"]["reason"] == "later_call"


async def test_calls_the_stream_still_holds_open_are_let_go_when_history_decides_them(store, alerts):
    asked: list[list[str]] = []

    def settle(ids: list[str]) -> int:
        asked.append(ids)
        return 1 if ids == ["never-ended"] else 0

    source = FakeHistory([rec("never-ended", status="CANCELLED")])
    result = await reconciler(store, alerts, source, settle=settle).run_once()
    assert asked == [["never-ended"]] and result.settled_open == 1 and result.new_alerts == 1
