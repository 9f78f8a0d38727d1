"""Block Kit for `/ring` answers: help, agents, queues, history, missed, routes (pure; data in, message out).

Every function returns `{"text": fallback, "blocks": [...]}` within Slack's limits (50 blocks a message,
3,000 characters a section)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.calls.numbers import format_number
from bot.slack.ids import ACTION_MORE, ACTION_PLAY_RECORDING
from bot.slack.text import say

MAX_BLOCKS = 50
MAX_SECTION = 3000
HISTORY_PAGE = 20  # rows per history message: one section each, well inside 50 blocks

# Most useful first: who can take a call, who is on one, who is away.
AGENT_STATES: tuple[tuple[str, str], ...] = (
    ("ready", ":large_green_circle:"),
    ("ringing", ":bell:"),
    ("connected", ":telephone_receiver:"),
    ("busy", ":telephone_receiver:"),
    ("outbound", ":telephone_receiver:"),
    ("wrapup", ":memo:"),
    ("paused", ":double_vertical_bar:"),
    ("logged_in", ":white_circle:"),
    ("logged_out", ":black_circle:"),
)
_STATE_ORDER = {s: i for i, (s, _) in enumerate(AGENT_STATES)}
_STATE_EMOJI = dict(AGENT_STATES)

OUTCOMES: dict[str, tuple[str, str]] = {
    "answered": (":white_check_mark:", "answered"),
    "missed": (":x:", "missed"),
    "abandoned": (":hourglass:", "abandoned"),
    "outbound_answered": (":white_check_mark:", "answered"),
    "outbound_unanswered": (":heavy_minus_sign:", "no answer"),
}
MISSED_OUTCOMES = ("missed", "abandoned")


# ------------------------------------------------------------------------------------------------ helpers
def escape(text: Any) -> str:
    """Slack mrkdwn escaping for text we did not write (names, numbers)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def duration(seconds: float | int | None) -> str:
    """45s, 2m 14s, 1h 05m, 2d 3h."""
    s = max(0, int(seconds or 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s" if s % 60 else f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def short_duration(seconds: float | int | None) -> str:
    """Time in a state: 45s, 12m, 3h 05m, 2d 3h (no seconds past a minute)."""
    s = max(0, int(seconds or 0))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    return duration(s)


def clock(seconds: float | int | None) -> str:
    """A wait or talk time as m:ss."""
    s = max(0, int(round(seconds or 0)))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def local_time(ts: float | None, tz: tzinfo, now: datetime) -> str:
    """`14:05` today, `12/03 14:05` another day (day/month, as read in Vietnam)."""
    if ts is None:
        return "--:--"
    t = datetime.fromtimestamp(ts, tz)
    if t.date() == now.astimezone(tz).date():
        return t.strftime("%H:%M")
    return t.strftime("%d/%m %H:%M")


def message_link(channel: str | None, ts: str | None) -> str | None:
    """The permalink Slack would give (no chat.getPermalink round trip)."""
    if not channel or not ts:
        return None
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


def section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    if len(text) > MAX_SECTION:
        text = text[: MAX_SECTION - 1] + "…"
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if accessory:
        block["accessory"] = accessory
    return block


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION]}]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text[:75], "emoji": True},
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        b["style"] = style
    return b


def packed_sections(lines: Iterable[str], *, max_blocks: int, more: str = "…and {n} more") -> list[dict[str, Any]]:
    """Lines packed into as few sections as fit 3,000 characters each, at most `max_blocks` of them;
    what does not fit becomes a final "…and N more" line."""
    lines = list(lines)
    blocks: list[dict[str, Any]] = []
    current: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        line = line[: MAX_SECTION - 40]
        if current and size + len(line) + 1 > MAX_SECTION - 40:
            if len(blocks) + 1 >= max_blocks:  # keep the last block for the "more" line
                current.append(more.format(n=len(lines) - i))
                break
            blocks.append(section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def _message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(blocks) <= MAX_BLOCKS, len(blocks)
    return {"text": text, "blocks": blocks}


# ------------------------------------------------------------------------------------------------ help
HELP_LINES: tuple[tuple[str, str], ...] = (
    ("agents", "agent states: counts, and each agent with time in state"),
    ("queues", "per-queue figures: offered, handled, abandoned, waiting now, wait and talk times"),
    ("history [number|@user] [today|24h|7d|Nd] [missed]", "recent calls, newest first, with recordings"),
    ("missed", "open missed and abandoned calls, oldest first"),
    ("call <number>", "ring your own phone, then dial the number"),
    ("link · unlink · me", "connect your SIP phone to your Slack account, remove it, or see it"),
    ("routes", "which channel gets which alerts"),
    ("route <queue|DID|default> #channel", "send those alerts to a channel (admins)"),
)


def render_help() -> dict[str, Any]:
    lines = [f"• `/ring {cmd}` — {what}" for cmd, what in HELP_LINES]
    blocks = [
        section("*/ring* — your call center in Slack\n" + "\n".join(lines)),
        context(say("commands.help_footer")),
    ]
    return _message("/ring sub-commands: " + ", ".join(c.split()[0] for c, _ in HELP_LINES), blocks)


# ------------------------------------------------------------------------------------------------ agents
@dataclass(frozen=True)
class AgentRow:
    name: str
    extension: str | None
    state: str
    since: datetime | None


def agent_rows(dashboard: Any, directory_agents: Sequence[Any] = ()) -> list[AgentRow]:
    """Dashboard statuses joined with the agent list (for extensions); listed agents with no status are
    logged out (AntBuddy's document: "if not in the list, then logged out")."""
    by_id = {a.agent_id: a for a in directory_agents if getattr(a, "agent_id", None)}
    rows: list[AgentRow] = []
    seen: set[str] = set()
    for st in dashboard.agents:
        known = by_id.get(st.agent_id)
        exts = st.extensions or (known.extensions if known else ())
        name = st.name or (known.name if known else None) or st.username or st.agent_id or "?"
        rows.append(AgentRow(name, exts[0] if exts else None, (st.status or "unknown").lower(), st.since))
        if st.agent_id:
            seen.add(st.agent_id)
    for agent in directory_agents:
        if agent.agent_id and agent.agent_id not in seen:
            exts = agent.extensions
            rows.append(
                AgentRow(agent.name or agent.username or agent.agent_id, exts[0] if exts else None, "logged_out", None)
            )
    rows.sort(key=lambda r: (_STATE_ORDER.get(r.state, len(_STATE_ORDER)), r.name.casefold()))
    return rows


def render_agents(dashboard: Any, *, now: datetime, directory_agents: Sequence[Any] = ()) -> dict[str, Any]:
    rows = agent_rows(dashboard, directory_agents)
    counts = {k: v for k, v in dashboard.agent_counts.items()}
    if not counts:
        for r in rows:
            counts[r.state] = counts.get(r.state, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (_STATE_ORDER.get(kv[0], len(_STATE_ORDER)), kv[0]))
    summary = " · ".join(
        f"{_STATE_EMOJI.get(k, ':grey_question:')} {k.replace('_', ' ')} *{v}*" for k, v in ordered
    ) or say("commands.agents_none")
    blocks: list[dict[str, Any]] = [section("*Agents*  " + summary)]
    lines = []
    for r in rows:
        who = escape(r.name) + (f" ({escape(r.extension)})" if r.extension else "")
        state = r.state.replace("_", " ")
        since = f" for {short_duration((now - r.since).total_seconds())}" if r.since else ""
        lines.append(f"{_STATE_EMOJI.get(r.state, ':grey_question:')} {who} — {state}{since}")
    if lines:
        blocks += packed_sections(lines, max_blocks=MAX_BLOCKS - 1)
    else:
        blocks.append(context(say("commands.agents_none")))
    text = "Agents: " + ", ".join(f"{k} {v}" for k, v in ordered)
    return _message(text, blocks)


# ------------------------------------------------------------------------------------------------ queues
def _queue_label(q: Any, names: Mapping[str, str]) -> str:
    if q.queue_id is None and not q.name:
        return "All queues"
    return q.name or names.get(str(q.queue_id)) or f"queue {q.queue_id}"


def render_queues(
    dashboard: Any | None,
    totals: Sequence[Mapping[str, Any]],
    names: Mapping[str, str],
    *,
    since_label: str,
    error: str | None = None,
) -> dict[str, Any]:
    """AntBuddy's live figures (its dashboard may give one aggregate: "All queues") and, beside them,
    ringbot's own per-queue counts since local midnight from the calls it recorded."""
    blocks: list[dict[str, Any]] = [header("Queues")]
    if error:
        blocks.append(section(f":warning: {error}"))
    elif dashboard is not None:
        blocks.append(context(say("commands.queues_live")))
        if not dashboard.queues:
            blocks.append(section(say("commands.queues_none")))
        for q in dashboard.queues[:20]:
            blocks.append(
                section(
                    f"*{escape(_queue_label(q, names))}*\n"
                    f"offered *{q.offered}* · handled *{q.handled}* · abandoned *{q.abandoned}* · "
                    f"waiting now *{q.waiting_now}*\n"
                    f"wait avg {clock(q.avg_waiting)} / max {clock(q.max_waiting)} · talk avg {clock(q.avg_talking)}"
                )
            )
    blocks.append(context(say("commands.queues_ours", since=since_label)))
    if not totals:
        blocks.append(section(say("commands.queues_ours_none")))
    lines = []
    for t in totals:
        qid = t.get("queue_id")
        name = names.get(str(qid)) or f"queue {qid}"
        lines.append(
            f"*{escape(name)}* — offered *{t.get('offered') or 0}* · handled *{t.get('handled') or 0}* · "
            f"abandoned *{t.get('abandoned') or 0}* · missed *{t.get('missed') or 0}*\n"
            f"      wait avg {clock(t.get('avg_wait'))} / max {clock(t.get('max_wait'))} · "
            f"talk avg {clock(t.get('avg_talk'))}"
        )
    blocks += packed_sections(lines, max_blocks=MAX_BLOCKS - len(blocks))
    parts = (
        []
        if dashboard is None
        else [
            f"{_queue_label(q, names)}: offered {q.offered}, handled {q.handled}, abandoned {q.abandoned}, "
            f"waiting {q.waiting_now}"
            for q in dashboard.queues
        ]
    )
    text = "Queues — " + ("; ".join(parts) if parts else (error or "no live figures"))
    return _message(text, blocks)


# ------------------------------------------------------------------------------------------------ history
def history_row(
    row: Mapping[str, Any],
    *,
    tz: tzinfo,
    now: datetime,
    callback: Mapping[str, Any] | None = None,
    agent_name: Callable[[str], str | None] | None = None,
) -> str:
    """One call on one line: time, direction, number, agent (by name when known), outcome, duration,
    who called back."""

    def named(who: Any) -> str:
        return str((agent_name(str(who)) if agent_name else None) or who)

    arrow = "↙" if row.get("direction") == "inbound" else "↗"
    emoji, word = OUTCOMES.get(row.get("outcome") or "", (":grey_question:", row.get("outcome") or "?"))
    number = escape(format_number(row.get("customer_number")) or "unknown")
    parts = [f"`{local_time(row.get('started_at'), tz, now)}` {arrow} *{number}*"]
    agent = named(row["answered_by"]) if row.get("answered_by") else None
    if not agent and isinstance(row.get("agents_rung"), list) and row["agents_rung"]:
        rung = [named(a) for a in row["agents_rung"]]
        agent = ", ".join(rung[:3]) + (f" +{len(rung) - 3}" if len(rung) > 3 else "")
    if agent:
        parts.append(escape(agent))
    outcome = row.get("outcome") or ""
    if outcome in ("answered", "outbound_answered"):
        parts.append(f"{emoji} {word} {duration(row.get('talk_seconds'))}")
    else:
        waited = "waited" if outcome == "abandoned" else "rang"
        parts.append(f"{emoji} {word} ({waited} {duration(row.get('ring_seconds'))})")
    if callback and outcome in MISSED_OUTCOMES and (callback.get("at") or 0) >= (row.get("started_at") or 0):
        parts.append(f"called back by <@{callback['slack_user']}>")
    return " · ".join(parts)


def more_value(query: Mapping[str, Any], offset: int) -> str:
    """The "More" button's value: the query and where to continue (well under 2,000 characters)."""
    return json.dumps({"q": dict(query), "o": offset}, separators=(",", ":"))


def render_history(
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str,
    tz: tzinfo,
    now: datetime,
    callbacks: Mapping[str, Mapping[str, Any]] | None = None,
    more: str | None = None,
    offset: int = 0,
    agent_name: Callable[[str], str | None] | None = None,
) -> dict[str, Any]:
    """A page of calls newest first (`title` is our own mrkdwn); `callbacks` maps customer_key -> latest call-back audit row;
    `more` is the value for the "More" button (None on the last page)."""
    callbacks = callbacks or {}
    blocks: list[dict[str, Any]] = [section(f"*{title}*" + (f" (from #{offset + 1})" if offset else ""))]
    if not rows:
        blocks.append(section(say("commands.history_empty")))
    for row in rows[:HISTORY_PAGE]:
        text = history_row(
            row, tz=tz, now=now, callback=callbacks.get(row.get("customer_key") or ""), agent_name=agent_name
        )
        accessory = None
        if row.get("recording"):
            accessory = button("▶ Play recording", ACTION_PLAY_RECORDING, str(row["call_id"]))
        blocks.append(section(text, accessory))
    if more:
        blocks.append({"type": "actions", "elements": [button("More", ACTION_MORE, more)]})
    text = f"{title}: {len(rows)} call(s)"
    return _message(text, blocks)


# ------------------------------------------------------------------------------------------------ missed
def render_missed(
    alerts: Sequence[Mapping[str, Any]],
    *,
    tz: tzinfo,
    now: datetime,
    calls: Mapping[str, Mapping[str, Any]] | None = None,
    queue_names: Mapping[str, str] | None = None,
    total: int | None = None,
    max_blocks: int = MAX_BLOCKS,
) -> dict[str, Any]:
    """Open alerts oldest first, each with a link to its alert message when it has been posted."""
    calls = calls or {}
    queue_names = queue_names or {}
    total = len(alerts) if total is None else total
    if not alerts:
        return _message(say("commands.missed_none"), [section(say("commands.missed_none"))])
    lines = []
    for a in alerts:
        emoji, word = OUTCOMES.get(a.get("outcome") or "", (":x:", a.get("outcome") or "missed"))
        number = escape(format_number(a.get("customer_number")) or "unknown")
        line = f"`{local_time(a.get('created_at'), tz, now)}` {emoji} *{number}* {word}"
        if (a.get("repeat_count") or 1) > 1:
            line += f" ×{a['repeat_count']}"
        call = calls.get(a.get("call_id") or "")
        if call and call.get("queue_id"):
            line += f" · {escape(queue_names.get(str(call['queue_id'])) or 'queue ' + str(call['queue_id']))}"
        elif call and call.get("dialled"):
            line += f" · to {escape(format_number(call['dialled']))}"
        if a.get("status") == "calling_back" and a.get("claimed_by"):
            line += f" · <@{a['claimed_by']}> is calling back"
        if link := message_link(a.get("channel"), a.get("ts")):
            line += f" · <{link}|open alert>"
        lines.append(line)
    title = say("commands.missed_title", n=total)
    blocks = [section(f"*{title}*")] + packed_sections(lines, max_blocks=max_blocks - 1)
    return _message(title, blocks)


# ------------------------------------------------------------------------------------------------ routes
def route_label(key: str, queue_names: Mapping[str, str]) -> str:
    """`queue:<id>` -> the queue's name, `did:<key>` -> the number as read, `default`."""
    kind, _, value = key.partition(":")
    if kind == "queue":
        return f"queue *{escape(queue_names.get(value) or value)}*"
    if kind == "did":
        return f"DID *{escape(format_number(value) or value)}*"
    return "*default*"


def render_routes(
    routes: Sequence[Mapping[str, Any]], *, default_channel: str, queue_names: Mapping[str, str]
) -> dict[str, Any]:
    """Where alerts go: by queue, then by DID, then the default (stored, else RINGBOT_ALERT_CHANNEL)."""
    stored_default = next((r for r in routes if r["key"] == "default"), None)
    lines = [
        f"• {route_label(r['key'], queue_names)} → <#{r['channel']}>"
        + (f" (set by <@{r['set_by']}>)" if r.get("set_by") else "")
        for r in routes
        if r["key"] != "default"
    ]
    if stored_default:
        lines.append(
            f"• *default* → <#{stored_default['channel']}>"
            + (f" (set by <@{stored_default['set_by']}>)" if stored_default.get("set_by") else "")
        )
    else:
        lines.append(f"• *default* → <#{default_channel}> (RINGBOT_ALERT_CHANNEL)")
    blocks = [section("*Alert routes* — " + say("commands.routes_order"))]
    blocks += packed_sections(lines, max_blocks=MAX_BLOCKS - 2)
    blocks.append(context(say("commands.routes_hint")))
    return _message("Alert routes: " + str(len(routes)) + " set", blocks)
