"""Block Kit building blocks every renderer shares, each one kept inside Slack's limits (pure).

Limits: 50 blocks a message, 100 a modal or Home view, 3,000 characters a section or context, 150 a
header, 75 a button's text and 2,000 its value. A renderer that could exceed a block limit ends with an
"…and N more" line instead (`message`, `view`), so Slack never rejects what we send."""

from __future__ import annotations

import re
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


# -- untrusted values ---------------------------------------------------------------------------------
# A value we did not write (a caller's number, a queue, agent or SIP user name, a hangup cause, a command
# argument) must read as the words it holds and do nothing else: no @channel, no mention, no disguised link,
# no bold "URGENT", no fake second line. See docs/security.md, "Hostile text".
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})  # Slack's three control characters
# Look-alikes for mrkdwn's markers (as jsx-slack's <Escape> uses): Slack has no escape for them.
_LOOKALIKE = {"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"}
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")  # newlines, tabs, other controls: one space
# Bidi embeddings, overrides and isolates reorder what follows them ("‮lanigiro" reads "original"): dropped.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # a lone one cannot be encoded as UTF-8 at all
# "@here" typed as a word is parsed by Slack where parsing is on (link_names, verbatim false): a word joiner
# (invisible) after the "@" keeps it a word.
_BROADCAST = re.compile(r"@(?=(?:here|channel|everyone)\b)", re.IGNORECASE)


def one_line(value: object) -> str:
    """`value` as one line of text: controls and line breaks become a space, bidi overrides and lone
    surrogates go. Enough for a plain_text field (Slack parses nothing in it); mrkdwn needs `escape`."""
    text = _SURROGATE.sub("\ufffd", str(value))
    return _BIDI.sub("", _BREAKS.sub(" ", text))


def escape(value: object, *, limit: int | None = None, code: bool = False) -> str:
    """An untrusted value made inert for mrkdwn (section, context, a message's `text`), cut to `limit`
    characters first: `&`, `<` and `>` become entities (no mention, link or @channel), and the markers
    `*`, `_`, `~` become look-alikes where they could format (not between two letters or digits, where Slack
    ignores them: `an_nguyen` stays as it is). A backtick always becomes a look-alike.

    `code=True` for a value our catalog wraps in backticks (a SIP user, a typed number): inside a code span
    only a backtick could break out, so the other markers are left exactly as typed.

    Never for our own catalog text, and only once: an escaped value escaped again shows its entities."""
    text = one_line(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"  # before escaping: an entity is never cut
    text = _BROADCAST.sub("@\u2060", text.translate(_ENTITIES))
    if code:
        return text.replace("`", _LOOKALIKE["`"])
    out = []
    for i, ch in enumerate(text):
        if ch in _LOOKALIKE and not (
            ch != "`" and 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
        ):
            ch = _LOOKALIKE[ch]
        out.append(ch)
    return "".join(out)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the cut shown with an ellipsis. The cut never splits an entity
    (`&amp;`), a `<…>` sequence or a code span: half of one would be a bare `&` or `<`, or a backtick that
    turns the rest of the line into code."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    lt = cut.rfind("<")
    if lt != -1 and ">" not in cut[lt:]:
        cut = cut[:lt]
    if cut.count("`") % 2:
        cut = cut[: cut.rfind("`")]
    return cut + "…"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object. `verbatim`: Slack still reads our marks and `<…>` sequences, but turns nothing
    else into a link or a mention (a bare URL, #channel or @name inside a value stays text)."""
    return {"type": "mrkdwn", "text": clip(text, SECTION_LIMIT), "verbatim": True}


def section(text: str, accessory: Block | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory:
        block["accessory"] = accessory
    return block


def context(text: str) -> Block:
    return {"type": "context", "elements": [mrkdwn(text)]}


def header(text: str) -> Block:
    return {"type": "header", "text": plain(clip(text, HEADER_LIMIT))}


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": plain(clip(text, BUTTON_TEXT_LIMIT)),
        "action_id": action_id,
        "value": _SURROGATE.sub("\ufffd", value[:BUTTON_VALUE_LIMIT]),  # else the request cannot be encoded
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
        line = clip(line, room)
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
