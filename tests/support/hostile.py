"""Hostile values, and a checker that finds what Slack would act on in a rendered payload: shared by the unit
test that renders every message kind (tests/unit/slack/test_hostile_text.py) and the wire test that sends a
hostile call through the simulator (tests/wire/test_hostile_text.py).

What counts as live (`live_sequences`): a `<…>` that is not one of ours (`<@U…>`, `<#C…>`, our permalinks
and recording links), a bare `&`, `<` or `>`, a value's mrkdwn marker pair outside a code span where Slack
would read it, a word Slack may parse as a broadcast (`@here`), a value that starts a new line or a quote,
a bidi override, a lone surrogate. plain_text fields are not parsed by Slack, so only the last three apply
to them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

# Each piece is something a caller id, an AntBuddy name or a typed word could hold; BOLDX & co. mark them.
PIECES = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<!subteam^S0EVIL>",
    "<@UEVIL1>",
    "<#CEVIL1>",
    "<https://evil.example/x|click here>",
    "*BOLDX*",
    "_ITALX_",
    "~STRIKEX~",
    "`CODEX`",
    "```BLOCKX```",
    "&lt;ESCX&gt; &amp; &",
    "@here @channel @everyone",
    "\n> INJECTED quote",
    "\r\n*INJECTED* line\u2028INJECTED\u2029INJECTED",
    "\u202eRTLX\u202c \u2066ISOX\u2069",
    ":rotating_light:",
)
HOSTILE = " ".join(PIECES)
LONG = "*LONGX* <!channel> " * 400  # 7,600 characters: clipped, and the cut must not leave half an entity
VALUES = (HOSTILE, LONG, "*URGENT*", "<!here>", "\ud800 lone surrogate <!channel>")

_OURS = re.compile(
    r"<@[UW][A-Z0-9]+>"  # a mention we wrote (fixtures use ids without EVIL in them)
    r"|<#[CG][A-Z0-9]+>"
    r"|<https://slack\.com/archives/[A-Z0-9]+/p\d+\|[^<>|]+>"  # our permalinks
    r"|<https://rec\.example/[^<>|\s]+\|[^<>|]+>"  # the recording link (its URL is AntBuddy's, tested elsewhere)
)
# A value's marker pair formats unless both markers sit inside a word (Slack leaves `a*b*c` alone).
_FORMATTING = re.compile(
    r"(?<![^\W_])(\*(BOLDX|INJECTED|URGENT|LONGX)\*|_ITALX_|~STRIKEX~)"
    r"|(\*(BOLDX|INJECTED|URGENT|LONGX)\*|_ITALX_|~STRIKEX~)(?![^\W_])"
)
BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_NEVER = re.compile(r"[\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def live_mrkdwn(text: str) -> list[str]:
    """What in one mrkdwn string Slack would act on although a value put it there."""
    found = [f"unescaped sequence {m!r}" for m in re.findall(r"<[^<>]*>", text) if not _OURS.fullmatch(m)]
    found += [f"mention of {m!r}" for m in re.findall(r"<[@#!][^>]*EVIL[^>]*>", text)]
    bare = _OURS.sub("", text)
    found += [f"bare {c!r}" for c in "<>" if c in bare]
    found += [f"bare & at {m.start()}" for m in re.finditer(r"&(?!amp;|lt;|gt;)", text)]
    spans = text.split("`")
    if len(spans) % 2 == 0:
        found.append("an odd number of backticks: a value opened or closed a code span")
    outside = " ".join(spans[0::2])
    found += [f"formatting {m.group(0)!r}" for m in _FORMATTING.finditer(outside)]
    found += ["a value in a code span of its own"] if {"CODEX", "BLOCKX"} & set(spans[1::2]) else []
    found += [f"broadcast word {m.group(0)!r}" for m in BROADCAST.finditer(text)]
    found += ["a value starts a line"] if re.search(r"\n\s*(&gt;|>)?\s*\*?INJECTED", text) else []
    found += ["a line starts with a quote"] if re.search(r"(^|\n)\s*(&gt;|>)", text) else []
    found += [f"character U+{ord(c):04X}" for c in _NEVER.findall(text)]
    return found


def live_plain(text: str) -> list[str]:
    found = ["a value starts a line"] if "\nINJECTED" in text or "\n>" in text else []
    return found + [f"character U+{ord(c):04X}" for c in _NEVER.findall(text)]


_NOT_RENDERED = {"action_id", "block_id", "value", "private_metadata", "callback_id", "url", "style", "type"}


def rendered_texts(payload: Any) -> Iterator[tuple[str, str]]:
    """(kind, text) for every string Slack shows: 'mrkdwn' or 'plain'. A bare string is a message's text."""
    if isinstance(payload, str):
        yield "mrkdwn", payload
        return
    if isinstance(payload, tuple):  # (fallback text, blocks) as render_alert returns
        for part in payload:
            yield from rendered_texts(part)
        return
    if isinstance(payload, list):
        for item in payload:
            yield from rendered_texts(item)
        return
    if not isinstance(payload, dict):
        return
    kind = "plain" if payload.get("type") in ("plain_text", "plain_text_input") else "mrkdwn"
    for key, value in payload.items():
        if key in _NOT_RENDERED:
            continue
        if isinstance(value, str):
            yield ("plain" if key == "initial_value" else kind), value
        else:
            yield from rendered_texts(value)


def live_sequences(payload: Any) -> list[str]:
    out = []
    for kind, text in rendered_texts(payload):
        problems = live_mrkdwn(text) if kind == "mrkdwn" else live_plain(text)
        out += [f"{kind} {text[:80]!r}…: {p}" for p in problems]
    return out
