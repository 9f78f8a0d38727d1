"""AlertService on a real temporary SQLite store: new / repeat / resolve / duplicate, routing, buttons, history."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.ownership import Refused
from bot.alerts.service import AlertNotFound, AlertService, NotAllowed
from bot.antbuddy import HistoryRecord, QueueStat
from bot.calls.classify import CallDecision, Outcome
from storage import NotSaved, Saved, Store
from storage.jobs import JobTable
from tests.support.clock import FakeClock
from tests.support.rows import count_rows

T0 = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "ringbot.db")
    yield s
    s.close()


@pytest.fixture
def wakes():
    return []


@pytest.fixture
def svc(store, wakes):
    return AlertService(
        store, default_channel="C0DEFAULT", clock=FakeClock(T0.timestamp() + 3600), wake=lambda: wakes.append(1)
    )


def decision(call_id="a1", outcome=Outcome.MISSED, number="0987654321", at=T0, **kw) -> CallDecision:
    base = dict(
        call_id=call_id,
        outcome=outcome,
        customer_number=number,
        dialled="02873019555",
        queue_id=None,
        started_at=at,
        ended_at=at + timedelta(seconds=30),
        ring_seconds=25,
        talk_seconds=0,
        hangup_cause="ORIGINATOR_CANCEL",
        agents_rung=("an",),
    )
    base.update(kw)
    return CallDecision(**base)


def outbox(store, kind=None):
    return [(r["kind"], r["alert_id"], r["channel"]) for r in store.pending_outbox(kind=kind)]


def test_missed_call_creates_one_alert_and_one_post_in_the_default_channel(svc, store, wakes):
    assert svc.handle_decision(decision()) == "new"
    alert = store.alert_for_call("a1")
    assert alert["channel"] == "C0DEFAULT" and alert["status"] == "open" and alert["customer_key"] == "+84987654321"
    assert outbox(store) == [("post", alert["id"], "C0DEFAULT")]
    call = store.get_call("a1")
    assert call["agents_rung"] == ["an"] and call["started_at"] == T0.timestamp() and call["source"] == "stream"
    assert wakes == [1]


def test_same_call_twice_is_a_duplicate_and_changes_nothing(svc, store, wakes):
    svc.handle_decision(decision())
    assert svc.handle_decision(decision(source="history")) == "duplicate"
    assert count_rows(store, "alerts") == 1 and len(store.pending_outbox()) == 1 and wakes == [1]


def test_repeat_call_from_same_number_in_another_spelling_updates_the_open_alert(svc, store):
    svc.handle_decision(decision())
    later = T0 + timedelta(minutes=4)
    assert (
        svc.handle_decision(
            decision("a2", number="+84 987 654 321", at=later, ring_seconds=12, hangup_cause="NO_ANSWER")
        )
        == "repeat"
    )
    alert = store.alert_for_call("a1")
    assert alert["repeat_count"] == 2 and alert["last_call_id"] == "a2" and alert["last_call_at"] == later.timestamp()
    assert count_rows(store, "alerts") == 1
    assert outbox(store) == [("post", 1, "C0DEFAULT"), ("update", 1, "C0DEFAULT"), ("reply", 1, "C0DEFAULT")]
    reply = store.pending_outbox(kind="reply")[0]
    assert reply["body"] == {"call_id": "a2"}  # worded when it is sent, in the channel's language then


def test_abandoned_call_is_alerted_like_a_missed_one(svc, store):
    assert svc.handle_decision(decision(outcome=Outcome.ABANDONED, queue_id="q1")) == "new"
    assert store.alert_for_call("a1")["outcome"] == "abandoned"


@pytest.mark.parametrize("outcome, direction", [(Outcome.ANSWERED, "inbound"), (Outcome.OUTBOUND_ANSWERED, "outbound")])
def test_later_answered_call_with_that_number_resolves_the_alert(svc, store, outcome, direction):
    store.save_link("U0AN", "an", "enc")
    svc.handle_decision(decision())
    res = svc.handle_decision(
        decision(
            "b1",
            outcome=outcome,
            at=T0 + timedelta(minutes=10),
            talk_seconds=134,
            answered_by="an",
            hangup_cause="NORMAL_CLEARING",
        )
    )
    assert res == "resolved"
    alert = store.alert_for_call("a1")
    assert alert["status"] == "resolved" and alert["resolved_by"] == "an"
    assert alert["resolved_detail"] == {
        "direction": direction,
        "talk_seconds": 134,
        "call_id": "b1",
        "agent": "an",
        "slack_user": "U0AN",
    }
    assert outbox(store, "update") == [("update", alert["id"], "C0DEFAULT")]


def test_answered_call_from_before_the_miss_does_not_resolve_it(svc, store):
    svc.handle_decision(decision())
    assert (
        svc.handle_decision(decision("b0", outcome=Outcome.ANSWERED, at=T0 - timedelta(minutes=5), answered_by="an"))
        == "recorded"
    )
    assert store.alert_for_call("a1")["status"] == "open"


def test_unanswered_outbound_and_unrelated_answered_calls_are_only_recorded(svc, store, wakes):
    assert svc.handle_decision(decision("o1", outcome=Outcome.OUTBOUND_UNANSWERED)) == "recorded"
    assert svc.handle_decision(decision("i1", outcome=Outcome.ANSWERED, number="0911222333")) == "recorded"
    assert count_rows(store, "alerts") == 0 and store.pending_outbox() == [] and wakes == []
    assert store.get_call("o1")["direction"] == "outbound"


def test_anonymous_callers_never_fold_into_each_other(svc, store):
    assert svc.handle_decision(decision("x1", number="")) == "new"
    assert svc.handle_decision(decision("x2", number="")) == "new"


def test_routing_prefers_queue_then_did_then_stored_default_then_configured(svc, store):
    store.set_route("queue:q1", "C0QUEUE")
    store.set_route("did:+842873019555", "C0DID")
    svc.handle_decision(decision("r1", number="0900000001", outcome=Outcome.ABANDONED, queue_id="q1"))
    svc.handle_decision(decision("r2", number="0900000002", dialled="028 7301 9555"))
    svc.handle_decision(decision("r3", number="0900000003", dialled="19001234"))
    store.set_route("default", "C0STORED")
    svc.handle_decision(decision("r4", number="0900000004", dialled="19001234"))
    assert [store.alert_for_call(c)["channel"] for c in ("r1", "r2", "r3", "r4")] == [
        "C0QUEUE",
        "C0DID",
        "C0DEFAULT",
        "C0STORED",
    ]


def test_decision_is_all_or_nothing_when_the_outbox_write_fails(svc, store, monkeypatch):
    def broken(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "enqueue", broken)
    with pytest.raises(RuntimeError):
        svc.handle_decision(decision())
    assert store.get_call("a1") is None and count_rows(store, "alerts") == 0
    monkeypatch.undo()
    assert svc.handle_decision(decision()) == "new"  # the retry is not mistaken for a duplicate


def test_claim_then_handled_then_undo_by_the_same_user(svc, store):
    svc.handle_decision(decision())
    alert_id = store.alert_for_call("a1")["id"]
    assert svc.claim(alert_id, "U0AN") is Saved.NOW
    claimed = store.get_alert(alert_id)
    assert claimed["status"] == "calling_back" and claimed["claimed_by"] == "U0AN"
    assert svc.mark_handled(alert_id, "U0AN") is Saved.NOW
    handled = store.get_alert(alert_id)
    assert handled["status"] == "handled" and handled["handled_by"] == "U0AN"
    assert svc.undo_handled(alert_id, "U0AN", is_admin=False) is Saved.NOW
    undone = store.get_alert(alert_id)
    assert undone["status"] == "calling_back" and undone["handled_by"] is None
    assert undone["version"] == 4
    assert svc.owners.get(alert_id)["owner"] == "U0AN"  # the Call back also made U0AN its owner, in the same edit
    assert [r["kind"] for r in store.pending_outbox()] == ["post", "update", "update", "update"]
    assert [a["action"] for a in store.audit(alert_id=alert_id)] == ["unhandled", "handled", "own"]


def test_only_the_marker_or_an_admin_may_undo_handled(svc, store):
    svc.handle_decision(decision())
    alert_id = store.alert_for_call("a1")["id"]
    svc.mark_handled(alert_id, "U0AN")
    with pytest.raises(NotAllowed):
        svc.undo_handled(alert_id, "U0BINH", is_admin=False)
    assert store.get_alert(alert_id)["status"] == "handled"
    assert svc.undo_handled(alert_id, "U0BOSS", is_admin=True) is Saved.NOW
    assert store.get_alert(alert_id)["status"] == "open"
    assert [(a["action"], a["result"]) for a in store.audit(alert_id=alert_id)] == [
        ("unhandled", "ok"),
        ("unhandled", "refused"),
        ("handled", "ok"),
    ]


def test_buttons_on_a_missing_alert_raise_alert_not_found(svc):
    with pytest.raises(AlertNotFound):
        svc.claim(999, "U0AN")


def test_resolved_alert_stays_resolved_when_marked_handled(svc, store):
    svc.handle_decision(decision())
    svc.handle_decision(decision("b1", outcome=Outcome.ANSWERED, at=T0 + timedelta(minutes=1), answered_by="an"))
    alert_id = store.alert_for_call("a1")["id"]
    assert svc.mark_handled(alert_id, "U0AN") is Saved.NOW
    assert store.get_alert(alert_id)["status"] == "resolved"


def _record(call_id="a1", wait=47, reason="member_timeout"):
    qs = QueueStat(
        call_id=call_id,
        queue_id="q1",
        status="abandoned",
        wait_time=wait,
        talk_time=None,
        agent_id=None,
        username=None,
        hung_up_by="caller",
        end_call_reason=reason,
        caller_id_number="0987654321",
        entered_at=None,
        misses=({"agent_id": "ag1", "reason": "NO_ANSWER"},),
        raw={},
    )
    return HistoryRecord(
        call_id=call_id,
        caller_number="0987654321",
        caller_type="realnumber",
        callee_number="q1",
        callee_type="queue",
        callee_username=None,
        call_class="trunking",
        did_number="02873019555",
        direction="to_ab",
        status_detail="SUCCESS",
        duration_seconds=50,
        billing_seconds=47,
        started_at=T0,
        recording="rec.mp3",
        queue_stats=(qs,),
        raw={},
    )


def test_history_enrichment_updates_the_alert_only_when_something_visible_changed(svc, store, wakes):
    svc.handle_decision(decision(outcome=Outcome.ABANDONED, queue_id="q1", hangup_cause="NORMAL_CLEARING"))
    alert = store.alert_for_call("a1")
    assert svc.enrich_from_history("a1", _record()) is True
    call = store.get_call("a1")
    assert call["in_history"] == 1 and call["recording"] == "rec.mp3"
    assert call["detail"]["queue_stat"]["end_call_reason"] == "member_timeout"
    assert call["detail"]["queue_stat"]["misses"] == [{"agent_id": "ag1", "reason": "NO_ANSWER"}]
    assert store.get_alert(alert["id"])["version"] == alert["version"] + 1
    assert len(store.pending_outbox(kind="update")) == 1
    assert svc.enrich_from_history("a1", _record()) is False  # the overlap re-reads it: nothing new
    assert len(store.pending_outbox(kind="update")) == 1


def test_enrichment_of_an_unknown_call_does_nothing(svc, store):
    assert svc.enrich_from_history("nope", _record("nope")) is False


# -- routes file (bot/alerts/routes.py) ------------------------------------------------------------------
from bot.alerts.routes import RoutesFileError, load_routes_file  # noqa: E402


def test_routes_file_in_yaml_fills_the_routes_table_and_steers_alerts(svc, store, tmp_path):
    path = tmp_path / "routes.yml"
    path.write_text("default: C0ALL\nqueues:\n  CSKH: C0CSKH\n  q_raw: C0RAW\ndids:\n  '028 7301 9555': C0HOT\n")
    assert load_routes_file(store, path, queue_ids={"cskh": "q1"}) == 4
    assert {r["key"]: r["channel"] for r in store.routes()} == {
        "default": "C0ALL",
        "queue:q1": "C0CSKH",
        "queue:q_raw": "C0RAW",
        "did:+842873019555": "C0HOT",
    }
    svc.handle_decision(decision("r1", outcome=Outcome.ABANDONED, queue_id="q1", number="0900000001"))
    svc.handle_decision(decision("r2", number="0900000002"))
    svc.handle_decision(decision("r3", number="0900000003", dialled="19001234"))
    assert [store.alert_for_call(c)["channel"] for c in ("r1", "r2", "r3")] == ["C0CSKH", "C0HOT", "C0ALL"]


def test_routes_file_in_json_can_replace_every_other_route(store, tmp_path):
    store.set_route("queue:old", "C0OLD")
    path = tmp_path / "routes.json"
    path.write_text('{"default": "C0ALL"}')
    load_routes_file(store, path, replace=True)
    assert [r["key"] for r in store.routes()] == ["default"]


@pytest.mark.parametrize(
    "content, words",
    [
        ("queues: [a, b]\n", "queues must be a mapping"),
        ("default: general\n", "default must be a channel id"),
        ("queues:\n  CSKH: 42\n", "queues.CSKH must be a channel id"),
        ("channels: {}\n", "unknown section(s) channels"),
        ("- C0ALL\n", "expected a mapping"),
        ("default: [C0ALL\n", "not valid YAML at line"),
        ("dids:\n  hotline: C0HOT\n", "'hotline' is not a number"),
    ],
)
def test_a_malformed_routes_file_is_refused_with_the_file_and_entry_named(store, tmp_path, content, words):
    path = tmp_path / "routes.yml"
    path.write_text(content)
    with pytest.raises(RoutesFileError) as err:
        load_routes_file(store, path)
    assert words in str(err.value) and str(path) in str(err.value)
    assert store.routes() == []


def test_a_missing_routes_file_says_so(store, tmp_path):
    with pytest.raises(RoutesFileError, match="cannot read it"):
        load_routes_file(store, tmp_path / "nope.yml")


def test_a_call_back_that_reaches_the_customer_is_credited_to_whoever_clicked(svc, store):
    svc.handle_decision(decision())
    alert = store.alert_for_call("a1")
    svc.claim(alert["id"], "U0CLICKER")
    svc.handle_decision(
        decision(
            "b1",
            outcome=Outcome.OUTBOUND_ANSWERED,
            at=T0 + timedelta(minutes=5),
            talk_seconds=60,
            answered_by="101",
            hangup_cause="NORMAL_CLEARING",
        )
    )
    alert = store.alert_for_call("a1")
    assert alert["status"] == "resolved"
    assert alert["resolved_detail"]["slack_user"] == "U0CLICKER"


def test_alerts_show_agent_names_instead_of_extensions_when_known(svc, store):
    from bot.slack.render.alert import render_alert

    svc.handle_decision(decision(agents_rung=("101", "102")))
    alert = store.alert_for_call("a1")
    call = store.get_call("a1")
    names = {"101": "Nguyễn Văn An"}.get
    text, blocks = render_alert(alert, call, queue_name=None, tz=svc.tz, now=T0.timestamp(), agent_name=names)
    shown = str(blocks)
    assert "Nguyễn Văn An, 102" in shown


def test_a_route_may_name_the_queue_instead_of_its_id(store):
    svc = AlertService(store, default_channel="C0DEFAULT", queue_name={"q-cskh-1": "CSKH"}.get)
    store.set_route("queue:CSKH", "C0CSKH")
    svc.handle_decision(decision(queue_id="q-cskh-1", outcome=Outcome.ABANDONED))
    assert store.alert_for_call("a1")["channel"] == "C0CSKH"


@pytest.mark.parametrize("number", ["anonymous", "Private", "unknown", ""])
def test_each_call_from_a_withheld_number_is_its_own_alert_and_no_answered_call_resolves_it(svc, store, number):
    assert svc.handle_decision(decision("w1", number=number)) == "new"
    assert svc.handle_decision(decision("w2", number=number, at=T0 + timedelta(minutes=1))) == "new"
    later = decision("w3", outcome=Outcome.ANSWERED, number=number, at=T0 + timedelta(minutes=2), talk_seconds=30)
    assert svc.handle_decision(later) == "recorded"
    assert count_rows(store, "alerts") == 2 and all(a["status"] == "open" for a in store.open_alerts())


# -- queue callbacks (docs/call-model.md) ------------------------------------------------------------------------
def _callback_decision(outcome: Outcome, *, talk: int = 0) -> CallDecision:
    return decision(
        "agent-cb",
        outcome=outcome,
        number="0987654321",
        at=T0 + timedelta(minutes=3),
        dialled=None,
        queue_id="q1",
        talk_seconds=talk,
        answered_by="101" if outcome is Outcome.OUTBOUND_ANSWERED else None,
        agents_rung=("101",),
        queue_callback_for="a1",
    )


def test_history_saying_the_caller_asked_for_a_callback_redraws_the_alert(svc, store):
    svc.handle_decision(decision(outcome=Outcome.ABANDONED, queue_id="q1", hangup_cause="NORMAL_CLEARING"))
    alert = store.alert_for_call("a1")
    stat = replace(_record().queue_stats[0], status="waiting", is_callback=True)
    assert svc.enrich_from_history("a1", replace(_record(), queue_stats=(stat,))) is True
    assert store.get_call("a1")["detail"]["queue_stat"]["is_callback"] is True
    assert store.get_alert(alert["id"])["version"] == alert["version"] + 1


def test_the_queues_callback_reaching_the_caller_resolves_their_alert(svc, store):
    svc.handle_decision(decision(outcome=Outcome.ABANDONED, queue_id="q1", hangup_cause="NORMAL_CLEARING"))
    # Whatever number they keyed in: the callback names the call it answers.
    back = replace(_callback_decision(Outcome.OUTBOUND_ANSWERED, talk=64), customer_number="0911000111")
    assert svc.handle_decision(back) == "resolved"
    alert = store.alert_for_call("a1")
    assert alert["status"] == "resolved"
    assert alert["resolved_detail"]["direction"] == "queue_callback" and alert["resolved_detail"]["talk_seconds"] == 64
    assert store.get_call("a1")["outcome"] == "abandoned"  # the caller's own call stays what it was
    assert [r["result"] for r in store.audit(action="resolved")] == ["queue_callback"]


def test_a_queue_callback_that_did_not_reach_the_caller_says_so_on_the_alert(svc, store):
    svc.handle_decision(decision(outcome=Outcome.ABANDONED, queue_id="q1", hangup_cause="NORMAL_CLEARING"))
    before = store.alert_for_call("a1")
    assert svc.handle_decision(_callback_decision(Outcome.OUTBOUND_UNANSWERED)) == "updated"
    alert = store.alert_for_call("a1")
    assert alert["status"] == "open" and alert["version"] == before["version"] + 1
    tried = store.get_call("a1")["detail"]["queue_callback"]
    assert tried["tried_at"] == (T0 + timedelta(minutes=3)).timestamp() and tried["agents"] == ["101"]


def test_a_queue_callback_for_a_call_without_an_alert_is_only_recorded(svc, store):
    assert svc.handle_decision(_callback_decision(Outcome.OUTBOUND_UNANSWERED)) == "recorded"
    assert count_rows(store, "alerts") == 0 and store.get_call("agent-cb") is not None


def test_history_of_the_queues_callback_resolves_without_rewriting_the_call(svc, store):
    svc.handle_decision(decision(outcome=Outcome.ABANDONED, queue_id="q1", hangup_cause="NORMAL_CLEARING"))
    answered = decision(outcome=Outcome.ANSWERED, source="history", queue_callback_for="a1", answered_by="an")
    assert svc.resolve_from_history("a1", answered) is True
    alert = store.alert_for_call("a1")
    assert alert["status"] == "resolved" and alert["resolved_detail"]["direction"] == "queue_callback"
    assert store.get_call("a1")["outcome"] == "abandoned"


# -- people's changes while the database refuses writes, and the owner's changes --------------------------------
@pytest.fixture
def quick(tmp_path):
    """The store as the running bot opens it (50 ms for another connection's lock), and a way to hold that lock."""
    s = Store.open(tmp_path / "quick.db", busy_timeout=0.05)
    yield s
    s.close()


def hold_lock(path) -> sqlite3.Connection:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    return other


def test_a_change_the_database_refuses_is_saved_later_written_in_order_and_drawn_then(quick, tmp_path):
    wakes: list[int] = []
    svc = AlertService(quick, default_channel="C0", clock=FakeClock(T0.timestamp()), wake=lambda: wakes.append(1))
    svc.handle_decision(decision())
    alert_id = quick.alert_for_call("a1")["id"]
    wakes.clear()
    other = hold_lock(tmp_path / "quick.db")
    try:
        assert svc.ownership.take(alert_id, "U0AN") is Saved.LATER
        assert svc.mark_handled(alert_id, "U0AN") is Saved.LATER
        assert quick.held_changes() == 2 and wakes == []  # nothing to send yet
        assert svc.owners.get(alert_id)["owner"] is None
    finally:
        other.rollback()
        other.close()
    assert quick.flush_held()
    assert svc.owners.get(alert_id)["owner"] == "U0AN" and quick.get_alert(alert_id)["status"] == "handled"
    assert [a["action"] for a in quick.audit(alert_id=alert_id)] == ["handled", "own"]
    assert [r["kind"] for r in quick.pending_outbox()] == ["post", "update", "update"]


def test_when_too_many_changes_wait_the_next_is_not_saved(quick, tmp_path, monkeypatch):
    monkeypatch.setattr("storage.store.MAX_HELD_CHANGES", 1)
    svc = AlertService(quick, default_channel="C0", clock=FakeClock(T0.timestamp()))
    svc.handle_decision(decision())
    svc.handle_decision(decision("a2", number="0901111222"))
    first, second = (quick.alert_for_call(c)["id"] for c in ("a1", "a2"))
    other = hold_lock(tmp_path / "quick.db")
    try:
        assert svc.claim(first, "U0AN") is Saved.LATER
        with pytest.raises(NotSaved):
            svc.ownership.take(second, "U0BINH")
    finally:
        other.rollback()
        other.close()


def test_reassign_tells_the_new_owner_in_the_same_transaction_and_cancels_the_escalation(svc, store):
    svc.handle_decision(decision())
    alert_id = store.alert_for_call("a1")["id"]
    jobs = JobTable(store)
    assert jobs.keys("escalate:") == [f"escalate:{alert_id}:1"]  # scheduled with the alert
    with pytest.raises(Refused):
        svc.ownership.reassign(alert_id, "U0BINH", by="U0AN", is_admin=False)
    assert svc.ownership.reassign(alert_id, "U0BINH", by="U0BOSS", is_admin=True) is Saved.NOW
    assert svc.owners.get(alert_id)["owner"] == "U0BINH" and jobs.keys("escalate:") == []
    [notice] = store.pending_outbox(kind="notice")
    assert notice["channel"] == "U0BINH" and notice["alert_id"] == alert_id
    assert notice["body"] == {
        "user": "U0BINH",
        "key": "own.given_to_you",
        "fields": {"by": "<@U0BOSS>", "number": "0987 654 321", "channel": "<#C0DEFAULT>"},
    }
    trail = [(a["action"], a["result"], a["slack_user"]) for a in store.audit(alert_id=alert_id)]
    assert trail == [("reassign", "ok", "U0BOSS"), ("reassign", "refused", "U0AN")]


def test_release_by_someone_else_is_refused_and_taking_your_own_again_changes_nothing(svc, store):
    svc.handle_decision(decision())
    alert_id = store.alert_for_call("a1")["id"]
    with pytest.raises(Refused) as not_owned:
        svc.ownership.release(alert_id, "U0AN", is_admin=False)
    assert not_owned.value.key == "own.not_owned"
    assert svc.ownership.take(alert_id, "U0AN") is Saved.NOW
    assert svc.ownership.take(alert_id, "U0AN") is Saved.NOW
    with pytest.raises(Refused) as taken:
        svc.ownership.take(alert_id, "U0BINH")
    assert (taken.value.key, taken.value.fields) == ("own.already_owned", {"user": "U0AN"})
    with pytest.raises(Refused):
        svc.ownership.release(alert_id, "U0BINH", is_admin=False)
    assert svc.ownership.release(alert_id, "U0BOSS", is_admin=True) is Saved.NOW
    assert svc.owners.get(alert_id)["owner"] is None
    assert [a["action"] for a in store.audit(alert_id=alert_id)] == ["release", "release", "own"]


def test_held_after_hours_short_and_dm_copy_are_carried_out_as_the_policy_says(svc, store):
    store.save_link("U0AN", "an", "enc")
    svc.owners.set_route_settings("default", {"min_ring_seconds": 5, "hours": {"mon-sun": "08:00-17:30"}}, by="U0")
    svc.clock.now = datetime(2026, 11, 24, 12, 0, tzinfo=TZ).timestamp()  # open
    assert svc.handle_decision(decision("s1", number="0911000111", ring_seconds=2)) == "short"
    assert svc.handle_decision(decision("p1", agents_rung=("an",))) == "new"
    alert_id = store.alert_for_call("p1")["id"]
    assert [(r["kind"], r["channel"]) for r in store.pending_outbox()] == [("post", "C0DEFAULT"), ("copy", "U0AN")]
    svc.clock.now = datetime(2026, 11, 24, 22, 0, tzinfo=TZ).timestamp()  # closed
    assert svc.handle_decision(decision("h1", number="0922000222")) == "held"
    assert len(store.pending_outbox()) == 2  # nobody is pinged at night
    digest_at = datetime(2026, 11, 25, 8, 0, tzinfo=TZ).timestamp()
    jobs = JobTable(store)
    assert jobs.keys() == [f"digest:C0DEFAULT:{int(digest_at)}", f"escalate:{alert_id}:1"]
    assert json.loads(jobs.get(f"digest:C0DEFAULT:{int(digest_at)}")["args"]) == {
        "channel": "C0DEFAULT",
        "min_ring": 5,
    }
