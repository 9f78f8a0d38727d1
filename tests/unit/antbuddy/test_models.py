"""Envelope tolerance and the typed parsers of history, dashboard, queues and agents (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.antbuddy.errors import ApiError, AuthError, EnvelopeError
from bot.antbuddy.models import Token, parse_agent, parse_dashboard, parse_history_record, parse_queue, parse_queue_stat
from bot.antbuddy.wire import unwrap_list, unwrap_object

UTC = UTC
GREGORIAN = 62167219200

# The document's queue_stat example, verbatim.
DOC_QUEUE_STAT = {
    "_id": "65fa9d8c1b2e4a7c9e001234", "call_id": "call_1707286400@pbx.antbuddy", "queue_id": "queue_support_01",
    "__v": 0, "org": "org_625e200826e8844fa2cd673c", "wait_time": 12, "caller_id_number": "0987654321",
    "caller_id_name": "0987654321", "status": "processed", "entered_timestamp": 1707286388,
    "handled_timestamp": 1707286400, "processed_timestamp": 1707286520, "agent_id": "agent_support01",
    "username": "support01", "talk_time": 95, "hung_up_by": "agent", "end_call_reason": "agent_hungup", "misses": [],
}  # fmt: skip
DOC_RECORD = {
    "caller": {"number": "01693608879", "type": "realnumber"},
    "callee": {"number": "thutranhtkbee", "type": "user", "username": "thutran"},
    "class": "trunking", "did_number": "02873019555", "direction": "from_ab", "status_detail": "SUCCESS",
    "duration_seconds": 50, "unix_timestamp": 1519639917, "billing_seconds": 43,
    "recording": "call_recording_dl5m5j5hfh4n8njj1oor.mp3", "queue_stat": [DOC_QUEUE_STAT],
}  # fmt: skip
DOC_DASHBOARD = {
    "agent": {
        "ready": 2, "logged_out": 1, "wrapup": 0, "logged_in": 3, "connected": 0, "paused": 0,
        "status_details": [{
            "timestamp": 63936806933, "status": "ready", "id": "df67983ccdeee7d834e8f5d345db1f45::63936806933",
            "agent_id": "df67983ccdeee7d834e8f5d345db1fe5", "start_idle_time": 63936806933, "idle_time": 765140,
            "waiting_calls": [], "unix_timestamp": 1769587733, "username": "nguyenvana", "name": "Nguyễn Văn A",
        }],
    },
    "queue": {
        "abandoned": 0, "abandoned_detail": {}, "offered": 12, "handled": 12, "avg_waiting": 6, "max_waiting": 15,
        "avg_talking": 180, "abandoned_calls": 0, "received": 12, "status_details": [], "waiting_call_logs": [],
    },
}  # fmt: skip


# ------------------------------------------------------------------------------------------ envelopes
@pytest.mark.parametrize(
    "body",
    [
        {"value": "tok", "expire": 3600},
        {"data": {"value": "tok", "expire": 3600}},
        {"status": "success", "message": "ok", "data": {"value": "tok", "expire": 3600}},
        {"success": True, "code": 200, "data": {"value": "tok", "expire": 3600}},
    ],
)
def test_object_is_accepted_bare_or_wrapped_in_data(body):
    assert unwrap_object(body, "auth_token", ("value",))["value"] == "tok"


@pytest.mark.parametrize(
    "body",
    [
        [{"a": 1}],
        {"data": [{"a": 1}]},
        {"status": "ok", "message": "", "data": [{"a": 1}]},
        {"data": {"items": [{"a": 1}]}},
        {"data": {"docs": [{"a": 1}], "total": 1}},
        {"data": {"rows": [{"a": 1}]}},
    ],
)
def test_list_is_accepted_bare_wrapped_or_in_items_docs_rows(body):
    assert unwrap_list(body, "history") == [{"a": 1}]


def test_null_data_is_an_empty_list():
    assert unwrap_list({"status": "success", "data": None}, "history") == []
    assert unwrap_list({"data": []}, "history") == []


@pytest.mark.parametrize(
    "body",
    [
        {"status": "error", "message": "Database busy"},
        {"status": False, "message": "Database busy"},
        {"success": False, "msg": "Database busy"},
        {"code": 500, "message": "Database busy", "data": None},
    ],
)
def test_error_envelope_raises_api_error_with_its_message(body):
    with pytest.raises(ApiError, match="Database busy"):
        unwrap_list(body, "history")
    with pytest.raises(ApiError, match="Database busy"):
        unwrap_object(body, "dashboard", ("agent",))


@pytest.mark.parametrize(
    "body",
    [
        {"status": "error", "message": "Invalid hash"},
        {"status": False, "message": "Unauthorized"},
        {"code": 401, "message": "nope"},
    ],
)
def test_error_envelope_about_credentials_raises_auth_error(body):
    with pytest.raises(AuthError):
        unwrap_list(body, "history")


def test_error_envelope_message_is_scrubbed_of_secrets():
    with pytest.raises(ApiError) as info:
        unwrap_list({"status": "error", "message": "bad request, echo: TOPSECRET"}, "history", ["TOPSECRET"])
    assert "TOPSECRET" not in str(info.value) and "TOPSECRET" not in info.value.excerpt


@pytest.mark.parametrize("body", [{"foo": 1}, "hello", 42, None, {"data": "x"}, {"data": {"foo": 1}}])
def test_anything_else_is_an_envelope_error_naming_the_endpoint(body):
    with pytest.raises(EnvelopeError, match="history"):
        unwrap_list(body, "history")
    with pytest.raises(EnvelopeError, match="auth_token"):
        unwrap_object(body, "auth_token", ("value",))


# ------------------------------------------------------------------------------------------ history
def test_document_history_record_parses_every_field():
    r = parse_history_record(DOC_RECORD)
    assert r is not None
    assert (r.caller_number, r.caller_type) == ("01693608879", "realnumber")
    assert (r.callee_number, r.callee_type, r.callee_username) == ("thutranhtkbee", "user", "thutran")
    assert (r.call_class, r.did_number, r.direction, r.status_detail) == (
        "trunking",
        "02873019555",
        "from_ab",
        "SUCCESS",
    )
    assert (r.duration_seconds, r.billing_seconds) == (50, 43)
    assert r.started_at == datetime.fromtimestamp(1519639917, UTC)
    assert r.recording == "call_recording_dl5m5j5hfh4n8njj1oor.mp3"
    assert r.call_id == "call_1707286400@pbx.antbuddy"  # no own id: the first queue_stat's call_id
    (q,) = r.queue_stats
    assert (q.queue_id, q.status, q.wait_time, q.talk_time) == ("queue_support_01", "processed", 12, 95)
    assert (q.agent_id, q.username, q.hung_up_by, q.end_call_reason) == (
        "agent_support01",
        "support01",
        "agent",
        "agent_hungup",
    )
    assert q.caller_id_number == "0987654321" and q.misses == ()
    assert q.entered_at == datetime.fromtimestamp(1707286388, UTC)
    assert r.raw is DOC_RECORD


@pytest.mark.parametrize("key", ["call_id", "callid", "_id", "id"])
def test_record_own_id_wins_over_queue_stat_call_id(key):
    assert parse_history_record({**DOC_RECORD, key: "own-1"}).call_id == "own-1"


def test_record_without_any_id_or_queue_has_no_call_id_and_empty_recording_is_none():
    raw = {**DOC_RECORD, "queue_stat": [], "recording": ""}
    r = parse_history_record(raw)
    assert r.call_id is None and r.recording is None and r.queue_stats == ()


def test_record_tolerates_strings_for_numbers_and_a_bare_caller_number():
    r = parse_history_record({"caller": "0909123456", "duration_seconds": "25", "unix_timestamp": "1519639917"})
    assert r.caller_number == "0909123456" and r.caller_type is None
    assert r.duration_seconds == 25 and r.billing_seconds == 0
    assert r.started_at == datetime.fromtimestamp(1519639917, UTC)


def test_record_without_a_time_is_not_parsed():
    assert parse_history_record({"caller": {"number": "1"}}) is None


def test_abandoned_queue_stat_falls_back_to_abandoned_reason_and_reads_gregorian_entry_time():
    q = parse_queue_stat({
        "call_id": "c1", "status": "abandoned", "abandoned_reason": "member_hangup",
        "entered_timestamp": 1707286388 + GREGORIAN, "misses": [{"agent_id": "a1", "reason": "timeout"}, "junk"],
    })  # fmt: skip
    assert q.end_call_reason == "member_hangup"
    assert q.entered_at == datetime.fromtimestamp(1707286388, UTC)
    assert q.misses == ({"agent_id": "a1", "reason": "timeout"},)
    assert q.wait_time is None


# ------------------------------------------------------------------------------------------ dashboard
def test_document_dashboard_gives_counts_agents_and_one_aggregate_queue():
    d = parse_dashboard(DOC_DASHBOARD)
    assert d.agent_counts == {"ready": 2, "logged_out": 1, "wrapup": 0, "logged_in": 3, "connected": 0, "paused": 0}
    (a,) = d.agents
    assert (a.agent_id, a.username, a.name, a.status) == (
        "df67983ccdeee7d834e8f5d345db1fe5",
        "nguyenvana",
        "Nguyễn Văn A",
        "ready",
    )
    assert a.since == datetime.fromtimestamp(1769587733, UTC)
    (q,) = d.queues
    assert q.queue_id is None
    assert (q.offered, q.handled, q.abandoned, q.received) == (12, 12, 0, 12)
    assert (q.avg_waiting, q.max_waiting, q.avg_talking, q.waiting_now) == (6, 15, 180, 0)


def test_agent_since_falls_back_to_the_gregorian_timestamp():
    d = parse_dashboard({"agent": {"status_details": [{"id": "ag9::1", "timestamp": 63936806933, "status": "paused"}]}})
    assert d.agents[0].since == datetime.fromtimestamp(63936806933 - GREGORIAN, UTC)
    assert d.agents[0].agent_id == "ag9"


def test_dashboard_queue_mapping_gives_one_summary_per_queue():
    d = parse_dashboard({"agent": {}, "queue": {
        "q1": {"offered": 5, "waiting_call_logs": [{}, {}]},
        "q2": {"name": "Sales", "abandoned_calls": 3, "waiting": 4},
    }})  # fmt: skip
    by_id = {q.queue_id: q for q in d.queues}
    assert by_id["q1"].offered == 5 and by_id["q1"].waiting_now == 2
    assert by_id["q2"].name == "Sales" and by_id["q2"].abandoned == 3 and by_id["q2"].waiting_now == 4


def test_dashboard_queue_list_reads_ids_from_queue_id_or_id():
    d = parse_dashboard({"queue": [{"queue_id": "q1", "handled": 1}, {"id": "q2", "waiting_calls": [{}]}, "junk"]})
    assert [(q.queue_id, q.handled, q.waiting_now) for q in d.queues] == [("q1", 1, 0), ("q2", 0, 1)]
    assert d.agent_counts == {} and d.agents == ()


# ------------------------------------------------------------------------------------------ queues, agents
def test_queue_item_reads_id_name_and_agents():
    q = parse_queue(
        {
            "_id": "q1",
            "name": "Staging Queue",
            "agents": ["Eab4ebf976c53d22d393e94f3ed085dc", "da80ca52e8ab9d6b26b7f2eb960545ae"],
        }
    )
    assert q == parse_queue(
        {
            "id": "q1",
            "name": "Staging Queue",
            "agents": [{"id": "Eab4ebf976c53d22d393e94f3ed085dc"}, "da80ca52e8ab9d6b26b7f2eb960545ae"],
        }
    )
    assert q.queue_id == "q1" and len(q.agent_ids) == 2


@pytest.mark.parametrize(
    "raw",
    [
        {"anttel.userId": "eab4", "username": "userstaging2", "name": "User Staging 2", "ext": ["8000", "8001"]},
        {"anttel": {"userId": "eab4"}, "username": "userstaging2", "name": "User Staging 2", "ext": [8000, 8001]},
        {"_id": "eab4", "username": "userstaging2", "name": "User Staging 2", "extensions": ["8000", "8001"]},
    ],
)
def test_agent_item_reads_id_from_flat_or_nested_anttel_user_id_or_id(raw):
    assert parse_agent(raw) == parse_agent(
        {"anttel.userId": "eab4", "username": "userstaging2", "name": "User Staging 2", "ext": ["8000", "8001"]}
    )
    assert parse_agent(raw).agent_id == "eab4" and parse_agent(raw).extensions == ("8000", "8001")


def test_token_hides_its_value_from_repr():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    token = Token(value="tok-SECRET", expires_at=now + timedelta(seconds=90))
    assert "tok-SECRET" not in repr(token)
