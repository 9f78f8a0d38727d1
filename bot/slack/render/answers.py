"""Block Kit for `/ring` answers: help, agents, queues, history, missed, routes (pure; data in, message out).

Every function returns `{"text": fallback, "blocks": [...]}` within Slack's limits (bot/slack/blocks.py).
What AntBuddy or a caller wrote (names, numbers, states) is escaped where it enters a line, in the blocks and
the fallback alike."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from bot.antbuddy.models import Agent, Dashboard, QueueSummary
from bot.calls.numbers import format_number
from bot.slack.blocks import (
    MAX_MESSAGE_BLOCKS,
    Block,
    actions,
    button,
    context,
    escape,
    message,
    packed_sections,
    section,
)
from bot.slack.format import channel_mention, duration, list_time, mention, message_link
from bot.slack.ids import ACTION_MORE, ACTION_PLAY_RECORDING
from bot.slack.text import MESSAGES, say

HISTORY_PAGE = 20  # rows per history message: one section each, well inside 50 blocks
MAX_QUEUES_SHOWN = 20
MAX_AGENTS_NAMED = 3  # on one history row; the rest are counted

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
_UNKNOWN_EMOJI = ":grey_question:"

# outcome -> (emoji, catalog key of its word)
OUTCOMES: dict[str, tuple[str, str]] = {
    "answered": (":white_check_mark:", "commands.outcome.answered"),
    "missed": (":x:", "commands.outcome.missed"),
    "abandoned": (":hourglass:", "commands.outcome.abandoned"),
    "outbound_answered": (":white_check_mark:", "commands.outcome.answered"),
    "outbound_unanswered": (":heavy_minus_sign:", "commands.outcome.no_answer"),
}
MISSED_OUTCOMES = ("missed", "abandoned")


def _outcome(outcome: str | None, *, default_emoji: str, default_word: str) -> tuple[str, str]:
    known = OUTCOMES.get(outcome or "")
    return (known[0], say(known[1])) if known else (default_emoji, escape(outcome or default_word, limit=40))


def _number(raw: str | None) -> str:
    return escape(format_number(raw) or say("commands.number_unknown"))


# ------------------------------------------------------------------------------------------------ help
def render_help(lines: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """`lines`: (sub-command, its help line) in the order `/ring help` lists them."""
    blocks = [
        section(say("help.title") + "\n" + "\n".join(line for _, line in lines)),
        context(say("commands.help_footer")),
    ]
    return message(say("help.fallback", names=", ".join(name for name, _ in lines)), blocks)


# ------------------------------------------------------------------------------------------------ agents
@dataclass(frozen=True)
class AgentRow:
    name: str
    extension: str | None
    state: str
    since: datetime | None


def agent_rows(dashboard: Dashboard, directory_agents: Sequence[Agent] = ()) -> list[AgentRow]:
    """Dashboard statuses joined with the agent list (for extensions); listed agents with no status are
    logged out (AntBuddy's document: "if not in the list, then logged out")."""
    by_id = {a.agent_id: a for a in directory_agents if a.agent_id}
    rows: list[AgentRow] = []
    seen: set[str] = set()
    for st in dashboard.agents:
        known = by_id.get(st.agent_id) if st.agent_id else None
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


def render_agents(dashboard: Dashboard, *, now: datetime, directory_agents: Sequence[Agent] = ()) -> dict[str, Any]:
    rows = agent_rows(dashboard, directory_agents)
    counts = dict(dashboard.agent_counts)
    if not counts:
        for r in rows:
            counts[r.state] = counts.get(r.state, 0) + 1
    ordered = sorted(counts.items(), key=lambda kv: (_STATE_ORDER.get(kv[0], len(_STATE_ORDER)), kv[0]))
    summary = " · ".join(
        f"{_STATE_EMOJI.get(k, _UNKNOWN_EMOJI)} {agent_state(k)} *{_count(v)}*" for k, v in ordered
    ) or say("commands.agents_none")
    blocks: list[Block] = [section(say("agents.title", summary=summary))]
    lines = []
    for r in rows:
        since = (
            say("agents.since", duration=duration((now - r.since).total_seconds(), precise=False)) if r.since else ""
        )
        lines.append(
            say(
                "agents.line",
                emoji=_STATE_EMOJI.get(r.state, _UNKNOWN_EMOJI),
                who=escape(r.name) + (f" ({escape(r.extension)})" if r.extension else ""),
                state=agent_state(r.state),
                since=since,
            )
        )
    if lines:
        blocks += packed_sections(lines, max_blocks=MAX_MESSAGE_BLOCKS - 1)
    else:
        blocks.append(context(say("commands.agents_none")))
    return message(
        say("agents.fallback", counts=", ".join(f"{agent_state(k)} {_count(v)}" for k, v in ordered)), blocks
    )


def agent_state(state: str) -> str:
    """An agent state as read ('logged out', 'đã đăng xuất'); AntBuddy may send one we do not know, so that one is
    shown as sent, escaped."""
    if f"agent.state.{state}" in MESSAGES:
        return say(f"agent.state.{state}")
    return escape(str(state).replace("_", " "), limit=40)


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) else escape(value, limit=20)


def agent_counts_text(counts: Mapping[str, object]) -> str:
    """'ready 1 · connected 2', AntBuddy's state names escaped (App Home's queue footer)."""
    return " · ".join(f"{agent_state(k)} {_count(v)}" for k, v in counts.items())


# ------------------------------------------------------------------------------------------------ queues
def queue_label(q: QueueSummary, names: Mapping[str, str]) -> str:
    """A queue's name; AntBuddy's dashboard may give one aggregate with neither id nor name: "All queues"."""
    if q.queue_id is None and not q.name:
        return say("queues.all")
    return q.name or names.get(str(q.queue_id)) or say("queues.unnamed", queue_id=q.queue_id)


def queue_figures(q: QueueSummary) -> dict[str, object]:
    """The fields every queue line shows, durations written the one way."""
    return {
        "offered": q.offered,
        "handled": q.handled,
        "abandoned": q.abandoned,
        "waiting": q.waiting_now,
        "avg_wait": duration(q.avg_waiting),
        "max_wait": duration(q.max_waiting),
        "avg_talk": duration(q.avg_talking),
    }


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

    def named(who: object) -> str:
        return str((agent_name(str(who)) if agent_name else None) or who)

    arrow = "↙" if row.get("direction") == "inbound" else "↗"
    outcome = row.get("outcome") or ""
    emoji, word = _outcome(outcome, default_emoji=_UNKNOWN_EMOJI, default_word="?")
    parts = [f"`{list_time(row.get('started_at'), tz, now)}` {arrow} *{_number(row.get('customer_number'))}*"]
    agent = named(row["answered_by"]) if row.get("answered_by") else None
    if not agent and isinstance(row.get("agents_rung"), list) and row["agents_rung"]:
        rung = [named(a) for a in row["agents_rung"]]
        agent = ", ".join(rung[:MAX_AGENTS_NAMED])
        if len(rung) > MAX_AGENTS_NAMED:
            agent += " " + say("commands.history_agents_more", count=len(rung) - MAX_AGENTS_NAMED)
    if agent:
        parts.append(escape(agent, limit=200))
    if outcome in ("answered", "outbound_answered"):
        parts.append(f"{emoji} {word} {duration(row.get('talk_seconds'))}")
    else:
        how_long = say(
            "alert.waited" if outcome == "abandoned" else "alert.rang", duration=duration(row.get("ring_seconds"))
        )
        parts.append(f"{emoji} {word} ({how_long})")
    if callback and outcome in MISSED_OUTCOMES and (callback.get("at") or 0) >= (row.get("started_at") or 0):
        parts.append(say("commands.history_called_back", user=mention(callback["slack_user"])))
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
    """A page of calls newest first (`title` is our own mrkdwn, its values escaped by whoever built it:
    handlers/answers.py `history_title`); `callbacks` maps customer_key -> latest
    call-back audit row; `more` is the value for the "More" button (None on the last page)."""
    callbacks = callbacks or {}
    page_from = say("commands.history_from", n=offset + 1) if offset else ""
    blocks: list[Block] = [section(f"*{title}*{page_from}")]
    if not rows:
        blocks.append(section(say("commands.history_empty")))
    for row in rows[:HISTORY_PAGE]:
        text = history_row(
            row, tz=tz, now=now, callback=callbacks.get(row.get("customer_key") or ""), agent_name=agent_name
        )
        accessory = None
        if row.get("recording"):
            accessory = button(say("commands.button.play"), ACTION_PLAY_RECORDING, str(row["call_id"]))
        blocks.append(section(text, accessory))
    if more:
        blocks.append(actions([button(say("commands.button.more"), ACTION_MORE, more)]))
    return message(say("commands.history_fallback", title=title, n=len(rows)), blocks)


# ------------------------------------------------------------------------------------------------ missed
def render_missed(
    alerts: Sequence[Mapping[str, Any]],
    *,
    tz: tzinfo,
    now: datetime,
    calls: Mapping[str, Mapping[str, Any]] | None = None,
    queue_names: Mapping[str, str] | None = None,
    total: int | None = None,
    max_blocks: int = MAX_MESSAGE_BLOCKS,
    workspace_url: str | None = None,
) -> dict[str, Any]:
    """Open alerts oldest first, each with a link to its alert message when it has been posted (on the
    workspace's own address from auth.test, when known)."""
    calls = calls or {}
    queue_names = queue_names or {}
    total = len(alerts) if total is None else total
    if not alerts:
        return message(say("commands.missed_none"), [section(say("commands.missed_none"))])
    lines = []
    for a in alerts:
        emoji, word = _outcome(a.get("outcome"), default_emoji=":x:", default_word="missed")
        line = f"`{list_time(a.get('created_at'), tz, now)}` {emoji} *{_number(a.get('customer_number'))}* {word}"
        if (a.get("repeat_count") or 1) > 1:
            line += f" ×{_count(a['repeat_count'])}"
        call = calls.get(a.get("call_id") or "")
        if call and call.get("queue_id"):
            qid = str(call["queue_id"])
            line += f" · {escape(queue_names.get(qid) or say('queues.unnamed', queue_id=qid))}"
        elif call and call.get("dialled"):
            line += " · " + say("commands.missed_to", number=escape(format_number(call["dialled"])))
        if a.get("status") == "calling_back" and a.get("claimed_by"):
            line += " · " + say("commands.missed_calling_back", user=mention(a["claimed_by"]))
        if link := message_link(a.get("channel"), a.get("ts"), workspace_url):
            line += f" · <{link}|{say('commands.missed_open')}>"
        lines.append(line)
    title = say("commands.missed_title", n=total)
    blocks = [section(f"*{title}*"), *packed_sections(lines, max_blocks=max_blocks - 1)]
    return message(title, blocks)


# ------------------------------------------------------------------------------------------------ routes
def route_label(key: str, queue_names: Mapping[str, str]) -> str:
    """`queue:<id>` -> the queue's name, `did:<key>` -> the number as read, `default`."""
    kind, _, value = key.partition(":")
    if kind == "queue":
        return say("commands.route_label.queue", name=escape(queue_names.get(value) or value))
    if kind == "did":
        return say("commands.route_label.did", number=escape(format_number(value) or value))
    return say("commands.route_label.default")


def render_routes(
    routes: Sequence[Mapping[str, Any]], *, default_channel: str, queue_names: Mapping[str, str]
) -> dict[str, Any]:
    """Where alerts go: by queue, then by DID, then the default (stored, else RINGBOT_ALERT_CHANNEL)."""

    def line(route: Mapping[str, Any]) -> str:
        by = say("commands.routes_set_by", user=mention(route["set_by"])) if route.get("set_by") else ""
        return say(
            "commands.routes_line",
            target=route_label(route["key"], queue_names),
            channel=channel_mention(route["channel"]),
            by=by,
        )

    stored_default = next((r for r in routes if r["key"] == "default"), None)
    lines = [line(r) for r in routes if r["key"] != "default"]
    if stored_default:
        lines.append(line(stored_default))
    else:
        lines.append(say("commands.routes_env_default", channel=channel_mention(default_channel)))
    blocks = [section(say("commands.routes_title", order=say("commands.routes_order")))]
    blocks += packed_sections(lines, max_blocks=MAX_MESSAGE_BLOCKS - 2)
    blocks.append(context(say("commands.routes_hint")))
    return message(say("commands.routes_fallback", n=len(routes)), blocks)
