"""The shape of every row the Store hands out, and the closed sets of values some columns hold."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypedDict

# A JSON column decoded: its values are whatever JSON holds, so `Any` is the honest type of what is inside.
JSONObject = dict[str, Any]


class AlertStatus(StrEnum):
    """Where an alert stands. A StrEnum equals its string, so `row["status"] == "open"` keeps working."""

    OPEN = "open"
    CALLING_BACK = "calling_back"  # someone clicked Call back; still counts as open
    HANDLED = "handled"  # an agent said they dealt with it
    RESOLVED = "resolved"  # a later answered call from the same caller settled it


# Alerts that still want someone's attention: listed in /ring open and App Home, and a repeat call folds into them.
OPEN_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.CALLING_BACK)


class OutboxKind(StrEnum):
    """What an outbox row asks of Slack."""

    POST = "post"  # the alert's own message
    UPDATE = "update"  # redraw the alert's message with its newest state
    REPLY = "reply"  # a threaded reply under the alert (a repeat call)
    SUMMARY = "summary"  # the one message a burst of alerts is folded under
    COPY = "copy"  # the alert's copy in the DM of the person rung: posted the first time, then updated
    # Rendered when sent, in the reader's language, by the kind's renderer (bot/outbox/message.py). The body holds
    # what to render (ids, a step, a day) and, for a person's DM, `user`; never the words.
    ESCALATION = "escalation"  # the thread reply under an alert nobody took (body: step, due_at)
    ESCALATION_DM = "escalation_dm"  # a supervisor told of an alert nobody took (body: user, minutes, due_at)
    OVERNIGHT_DIGEST = "overnight_digest"  # what came in while a channel was closed (body: alert_ids, short_ids...)
    QUEUE_ALERT = "queue_alert"  # a queue breach's message: posted once, then edited in place (body: breach_id)
    DAILY_DIGEST = "daily_digest"  # the day's figures for a channel (body: day, due_at, queue_ids)
    DIGEST_CHART = "digest_chart"  # the daily digest's chart, uploaded into its thread (body: day, ...)
    NOTICE = "notice"  # one catalog sentence for a channel or a person (body: key, fields, user)
    MESSAGE = "message"  # pre-rendered text (rows written before rendering moved to send time; none are made now)


class OutboxStatus(StrEnum):
    """Where an outbox row is on its way to Slack."""

    PENDING = "pending"  # waiting for its `next_at`
    INFLIGHT = "inflight"  # being sent; found in this state at start-up means a crash mid-send
    SENT = "sent"
    DEAD = "dead"  # gave up (a permanent Slack error, or too many attempts); `ringbot outbox requeue` revives it


class GivenUp(TypedDict):
    """Outbox rows given up in one channel (or a person's DM) that kept refusing them, and why (the newest reason)."""

    channel: str
    rows: int
    error: str


class LegRow(TypedDict):
    """One leg of a call as the stream reported it (kept for diagnostics; pruned when old)."""

    leg_id: str
    call_id: str | None
    direction: str | None
    caller: str | None
    destination: str | None
    username: str | None
    created_at: float | None
    answered_at: float | None
    destroyed_at: float | None
    hangup_cause: str | None


class CallRow(TypedDict):
    """A decided call, stored once (from the stream or from AntBuddy's history)."""

    call_id: str
    direction: str  # inbound | outbound
    outcome: str  # a bot.calls.classify.Outcome value
    customer_number: str | None
    customer_key: str | None  # one key per caller, however the number was spelt
    dialled: str | None
    queue_id: str | None
    started_at: float | None
    ended_at: float | None
    ring_seconds: int | None
    talk_seconds: int | None
    hangup_cause: str | None
    agents_rung: list[str]
    answered_by: str | None
    source: str  # stream | history
    in_history: int  # 1 once reconciliation saw the call in AntBuddy's history
    recording: str | None
    detail: JSONObject  # what history added (queue_stat, history)
    decided_at: float


class AlertRow(TypedDict):
    """A missed or abandoned call someone should call back; one Slack message, kept up to date."""

    id: int
    call_id: str
    customer_number: str | None
    customer_key: str | None
    outcome: str  # missed | abandoned
    channel: str
    ts: str | None  # the Slack message, once posted
    thread_ts: str | None  # the burst summary it was folded under, if any
    status: AlertStatus
    repeat_count: int
    last_call_id: str | None
    last_call_at: float | None
    claimed_by: str | None
    claimed_at: float | None
    handled_by: str | None
    handled_at: float | None
    resolved_at: float | None
    resolved_by: str | None
    resolved_detail: JSONObject  # direction, talk_seconds, call_id of the call that resolved it
    version: int  # bumped on every change; the outbox renders the newest
    created_at: float
    updated_at: float


class OutboxRow(TypedDict):
    """One thing to tell Slack, written in the same transaction as the change it reports."""

    id: int
    alert_id: int | None
    kind: OutboxKind
    channel: str
    thread_ts: str | None
    body: JSONObject  # what the kind needs beyond the alert (a reply's text, a summary's range)
    status: OutboxStatus
    attempts: int
    next_at: float
    created_at: float
    sent_at: float | None
    ts: str | None
    error: str | None


class RouteRow(TypedDict):
    """Which channel an alert goes to: key is `queue:<id or name>`, `did:<number key>` or `default`."""

    key: str
    channel: str
    set_by: str | None
    set_at: float


class LinkRow(TypedDict):
    """A Slack user's SIP device, for click-to-call. The password is stored encrypted, never in plain text."""

    slack_user: str
    sip_user: str
    sip_password_enc: str
    linked_by: str
    linked_at: float


class DialRuleRow(TypedDict):
    """An admin's dial rule (`/ring dial allow|deny`): a region or a number prefix, allowed or denied."""

    rule: str
    kind: str  # allow | deny
    set_by: str | None
    set_at: float


class AuditRow(TypedDict):
    """Who did what, and how it went (click-to-call, handled, link, route...)."""

    id: int
    at: float
    slack_user: str | None
    sip_user: str | None
    number: str | None
    alert_id: int | None
    action: str
    result: str  # ok | offline | refused | error ...
    detail: str | None


class CallbackRow(TypedDict):
    """The latest successful click-to-call to a number."""

    number: str
    slack_user: str | None
    at: float


class FoldStats(TypedDict):
    """The alerts a burst summary covers: how many, and the first and last call time among them."""

    count: int
    first_at: float | None
    last_at: float | None


class CallChanges(TypedDict, total=False):
    """Columns `Store.update_call` may change: every one but the call id."""

    direction: str
    outcome: str
    customer_number: str | None
    customer_key: str | None
    dialled: str | None
    queue_id: str | None
    started_at: float | None
    ended_at: float | None
    ring_seconds: int | None
    talk_seconds: int | None
    hangup_cause: str | None
    agents_rung: list[str]
    answered_by: str | None
    source: str
    in_history: int
    recording: str | None
    detail: JSONObject
    decided_at: float


class AlertChanges(TypedDict, total=False):
    """Columns `Store.update_alert` may change: all but the id, the version and `updated_at`, which it keeps."""

    call_id: str
    customer_number: str | None
    customer_key: str | None
    outcome: str
    channel: str
    ts: str | None
    thread_ts: str | None
    status: str  # an AlertStatus (a plain string of the same value is accepted)
    repeat_count: int
    last_call_id: str | None
    last_call_at: float | None
    claimed_by: str | None
    claimed_at: float | None
    handled_by: str | None
    handled_at: float | None
    resolved_at: float | None
    resolved_by: str | None
    resolved_detail: JSONObject
    created_at: float


class OutboxChanges(TypedDict, total=False):
    """Columns `Store.mark_outbox` may set beside the status (it counts attempts itself)."""

    channel: str
    thread_ts: str | None
    body: JSONObject
    next_at: float
    sent_at: float | None
    ts: str | None
    error: str | None
