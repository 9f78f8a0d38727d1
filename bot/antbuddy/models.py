"""Typed results of the REST calls and their tolerant parsers (pure: missing fields become None/0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.antbuddy.wire import timestamp_to_datetime


@dataclass(frozen=True)
class Token:
    value: str = field(repr=False)
    expires_at: datetime  # aware UTC


@dataclass(frozen=True)
class QueueStat:
    call_id: str | None
    queue_id: str | None
    status: str | None  # waiting / handled / processed / abandoned
    wait_time: int | None
    talk_time: int | None
    agent_id: str | None
    username: str | None
    hung_up_by: str | None
    end_call_reason: str | None  # falls back to Kazoo's abandoned_reason
    caller_id_number: str | None
    entered_at: datetime | None
    misses: tuple[dict[str, Any], ...]
    raw: dict[str, Any] = field(compare=False, repr=False)
    # ACDc marks a caller who asked to be called back (`is_callback`; the caller id name gets a "CB:" prefix):
    # the entry stays `waiting` until the queue's callback is handled (docs/call-model.md, queue callbacks).
    is_callback: bool = False


@dataclass(frozen=True)
class HistoryRecord:
    call_id: str | None
    caller_number: str | None
    caller_type: str | None
    callee_number: str | None
    callee_type: str | None
    callee_username: str | None
    call_class: str | None  # "class": one_one (internal) / trunking
    did_number: str | None
    direction: str | None  # to_ab (inbound) / from_ab (outbound)
    status_detail: str | None  # IVR / SUCCESS / CANCELLED / BUSY / UNSUCCESS
    duration_seconds: int
    billing_seconds: int
    started_at: datetime
    recording: str | None
    queue_stats: tuple[QueueStat, ...]
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class HistoryPage:
    """One page of history as it was read: which window of how many, the page number in it, how many records,
    and the earliest start among them (None on an empty page). `last` when the window has no more pages."""

    window: int  # 1-based
    windows: int
    window_start: datetime  # aware UTC
    window_end: datetime
    page: int  # 1-based, within the window
    records: int
    earliest: datetime | None
    last: bool


@dataclass(frozen=True)
class AgentStatus:
    agent_id: str | None
    username: str | None
    name: str | None
    status: str | None
    since: datetime | None
    extensions: tuple[str, ...]


@dataclass(frozen=True)
class QueueSummary:
    queue_id: str | None
    name: str | None
    offered: int = 0
    handled: int = 0
    abandoned: int = 0
    received: int = 0
    avg_waiting: int = 0
    max_waiting: int = 0
    avg_talking: int = 0
    waiting_now: int = 0
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class Dashboard:
    agent_counts: dict[str, int]
    agents: tuple[AgentStatus, ...]
    queues: tuple[QueueSummary, ...]


@dataclass(frozen=True)
class Queue:
    queue_id: str | None
    name: str | None
    agent_ids: tuple[str, ...]


@dataclass(frozen=True)
class Agent:
    agent_id: str | None
    username: str | None
    name: str | None
    extensions: tuple[str, ...]


# ---------------------------------------------------------------------------------------------- parsing
def _str(value: Any) -> str | None:
    if value is None or value == "" or isinstance(value, (dict, list)):
        return None
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None


def _object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (a missing or malformed part reads as empty)."""
    return value if isinstance(value, dict) else {}


def _first(raw: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if raw.get(key) not in (None, ""):
            return raw[key]
    return None


def _strings(value: Any) -> tuple[str, ...]:
    """`["8000", 8001]` / `"8000"` / `[{"id": ...}]` -> ("8000", "8001")."""
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict):
            item = _first(item, "id", "_id", "agent_id", "userId")
        if (s := _str(item)) is not None:
            out.append(s)
    return tuple(out)


def _party(value: Any) -> tuple[str | None, str | None, str | None]:
    """caller/callee `{number, type, username}` (or a bare number) -> (number, type, username)."""
    if isinstance(value, dict):
        return _str(value.get("number")), _str(value.get("type")), _str(value.get("username"))
    return _str(value), None, None


def parse_queue_stat(raw: dict[str, Any]) -> QueueStat:
    misses = raw.get("misses")
    return QueueStat(
        call_id=_str(raw.get("call_id")),
        queue_id=_str(raw.get("queue_id")),
        status=_str(raw.get("status")),
        wait_time=_int(raw.get("wait_time")),
        talk_time=_int(raw.get("talk_time")),
        agent_id=_str(raw.get("agent_id")),
        username=_str(raw.get("username")),
        hung_up_by=_str(raw.get("hung_up_by")),
        end_call_reason=_str(_first(raw, "end_call_reason", "abandoned_reason")),
        caller_id_number=_str(raw.get("caller_id_number")),
        entered_at=timestamp_to_datetime(raw.get("entered_timestamp")),
        misses=tuple(m for m in misses if isinstance(m, dict)) if isinstance(misses, list) else (),
        raw=raw,
        is_callback=_is_callback(raw),
    )


def _is_callback(raw: dict[str, Any]) -> bool:
    flag = _first(raw, "is_callback", "callback")
    if isinstance(flag, str):
        return flag.strip().lower() in ("true", "1", "yes")
    if flag is True or (isinstance(flag, int) and flag == 1):
        return True
    name = raw.get("caller_id_name")
    return isinstance(name, str) and name.upper().startswith("CB:")


def parse_history_record(raw: dict[str, Any]) -> HistoryRecord | None:
    """One history item; None when it has no usable start time (the caller logs and skips it)."""
    started_at = timestamp_to_datetime(_first(raw, "unix_timestamp", "timestamp", "created_at", "createdAt"))
    if started_at is None:
        return None
    stats_raw = raw.get("queue_stat") or raw.get("queue_stats") or []
    if not isinstance(stats_raw, list):
        stats_raw = []
    stats = tuple(parse_queue_stat(s) for s in stats_raw if isinstance(s, dict))
    call_id = _str(_first(raw, "call_id", "callid", "_id", "id"))
    if call_id is None:
        call_id = next((s.call_id for s in stats if s.call_id), None)
    caller, caller_type, _ = _party(raw.get("caller"))
    callee, callee_type, callee_username = _party(raw.get("callee"))
    return HistoryRecord(
        call_id=call_id,
        caller_number=caller,
        caller_type=caller_type,
        callee_number=callee,
        callee_type=callee_type,
        callee_username=callee_username,
        call_class=_str(raw.get("class")),
        did_number=_str(raw.get("did_number")),
        direction=_str(raw.get("direction")),
        status_detail=_str(raw.get("status_detail")),
        duration_seconds=_int(raw.get("duration_seconds")) or 0,
        billing_seconds=_int(raw.get("billing_seconds")) or 0,
        started_at=started_at,
        recording=_str(raw.get("recording")),
        queue_stats=stats,
        raw=raw,
    )


def parse_agent_status(raw: dict[str, Any]) -> AgentStatus:
    agent_id = _str(_first(raw, "agent_id", "userId"))
    if agent_id is None and (row_id := _str(raw.get("id"))):
        agent_id = row_id.split("::", 1)[0]  # dashboard rows are "<agent_id>::<timestamp>"
    since = timestamp_to_datetime(raw.get("unix_timestamp")) or timestamp_to_datetime(raw.get("timestamp"))
    return AgentStatus(
        agent_id=agent_id,
        username=_str(raw.get("username")),
        name=_str(raw.get("name")),
        status=_str(raw.get("status")),
        since=since,
        extensions=_strings(_first(raw, "ext", "extensions")),
    )


_QUEUE_TOTALS = ("offered", "handled", "abandoned", "received", "avg_waiting", "max_waiting", "avg_talking")


def parse_queue_summary(raw: dict[str, Any], queue_id: str | None = None) -> QueueSummary:
    counts = {k: _int(raw.get(k)) or 0 for k in _QUEUE_TOTALS}
    if raw.get("abandoned") is None:
        counts["abandoned"] = _int(raw.get("abandoned_calls")) or 0
    logs = raw.get("waiting_call_logs")
    waiting = _first(raw, "waiting", "waiting_calls")
    if isinstance(logs, list):
        waiting_now = len(logs)
    elif isinstance(waiting, list):
        waiting_now = len(waiting)
    else:
        waiting_now = _int(waiting) or 0
    return QueueSummary(
        queue_id=queue_id or _str(_first(raw, "queue_id", "id", "_id")),
        name=_str(raw.get("name")),
        waiting_now=waiting_now,
        raw=raw,
        **counts,
    )


def parse_dashboard(body: dict[str, Any]) -> Dashboard:
    """`agent` counts + status_details; `queue` as one aggregate, a mapping id -> stats, or a list."""
    agent = _object(body.get("agent"))
    counts = {k: v for k, v in agent.items() if isinstance(v, int) and not isinstance(v, bool)}
    details = agent.get("status_details")
    if not isinstance(details, list):
        details = []
    agents = tuple(parse_agent_status(d) for d in details if isinstance(d, dict))
    queue = body.get("queue", body.get("queues"))
    queues: list[QueueSummary] = []
    if isinstance(queue, list):
        queues = [parse_queue_summary(q) for q in queue if isinstance(q, dict)]
    elif isinstance(queue, dict):
        if any(k in queue for k in (*_QUEUE_TOTALS, "waiting_call_logs", "abandoned_calls")):
            queues = [parse_queue_summary(queue)]
        else:
            queues = [parse_queue_summary(v, str(k)) for k, v in queue.items() if isinstance(v, dict)]
    return Dashboard(agent_counts=counts, agents=agents, queues=tuple(queues))


def parse_queue(raw: dict[str, Any]) -> Queue:
    return Queue(
        queue_id=_str(_first(raw, "id", "_id", "queue_id")),
        name=_str(raw.get("name")),
        agent_ids=_strings(raw.get("agents")),
    )


def parse_agent(raw: dict[str, Any]) -> Agent:
    agent_id = _first(raw, "anttel.userId") or _object(raw.get("anttel")).get("userId") or _first(raw, "id", "_id")
    return Agent(
        agent_id=_str(agent_id),
        username=_str(raw.get("username")),
        name=_str(raw.get("name")),
        extensions=_strings(_first(raw, "ext", "extensions")),
    )
