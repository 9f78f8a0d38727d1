"""Block Kit building blocks every renderer shares, each one kept inside Slack's limits (pure).

Limits: 50 blocks a message, 100 a modal or Home view, 3,000 characters a section or context, 150 a
header, 75 a button's text and 2,000 its value. A renderer that could exceed a block limit ends with an
"…and N more" line instead (`message`, `view`), so Slack never rejects what we send."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.slack.text import say

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BUTTON_TEXT_LIMIT = 75
BUTTON_VALUE_LIMIT = 2000
PACKING_MARGIN = 40  # room left in a packed section for the "…and N more" line

Block = dict[str, Any]


def escape(text: object) -> str:
    """Slack mrkdwn escaping for text we did not write (names, numbers): only &, < and > need it."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut shown with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}}
    if accessory:
        block["accessory"] = accessory
    return block


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, SECTION_LIMIT)}]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(clip(text, HEADER_LIMIT))}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": plain(clip(text, BUTTON_TEXT_LIMIT)),
        "action_id": action_id,
        "value": value[:BUTTON_VALUE_LIMIT],
    }
    if style:
        b["style"] = style
    return b


def actions(elements: list[Block], *, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": elements}
    if block_id:
        block["block_id"] = block_id
    return block


def packed_sections(lines: Iterable[str], *, max_blocks: int) -> list[Block]:
    """Lines packed into as few sections as fit 3,000 characters each, at most `max_blocks` of them;
    what does not fit becomes a final "…and N more" line."""
    lines = list(lines)
    room = SECTION_LIMIT - PACKING_MARGIN
    blocks: list[Block] = []
    current: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        line = line[:room]
        if current and size + len(line) + 1 > room:
            if len(blocks) + 1 >= max_blocks:  # keep the last block for the "more" line
                current.append(say("blocks.more", n=len(lines) - i))
                break
            blocks.append(section("\n".join(current)))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        blocks.append(section("\n".join(current)))
    return blocks


def within(blocks: list[Block], limit: int) -> list[Block]:
    """`blocks` if they fit `limit`, else the first ones and a last "…and N more" line in their place."""
    if len(blocks) <= limit:
        return blocks
    kept = blocks[: limit - 1]
    return [*kept, context(say("blocks.more", n=len(blocks) - len(kept)))]


def message(text: str, blocks: list[Block]) -> dict[str, Any]:
    """A message (`text` is the notification fallback) that Slack accepts whatever the data."""
    return {"text": text, "blocks": within(blocks, MAX_MESSAGE_BLOCKS)}


def view(kind: str, blocks: list[Block], **fields: Any) -> dict[str, Any]:
    """A modal or Home view (`kind`), cut to its 100 blocks."""
    return {"type": kind, **fields, "blocks": within(blocks, MAX_VIEW_BLOCKS)}
